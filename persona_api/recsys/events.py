"""Interactions and reviews: validated bulk ingestion, and the reads that serving and export need.

A batch is all or nothing: an unknown item anywhere rejects the whole batch with every unknown id
named. Interactions with a client ``event_id`` are idempotent: a replayed event is counted as a
duplicate and not stored twice. Users named in a batch are created on first sight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.errors import FieldProblem, InvalidInput
from persona_api.kernel.embed import Embedder, to_bytes
from persona_api.recsys.catalog import Catalog
from persona_api.recsys.signals import Event
from persona_api.recsys.tables import CatalogItem, Interaction, Review
from persona_api.store.db import flush_or_conflict
from persona_api.store.tables import User, utcnow

HISTORY_LIMIT = 1000
"""Newest events read per user at request time; older ones no longer shape the next item."""


@dataclass(frozen=True, kw_only=True)
class InteractionIn:
    user: str
    item: str
    kind: str
    value: float | None = None
    weight: float | None = None
    at: datetime | None = None
    event_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReviewIn:
    user: str
    item: str
    text: str
    rating: float | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    users_created: int


def _check_interactions(batch: Sequence[InteractionIn]) -> None:
    problems = []
    for i, ev in enumerate(batch):
        if ev.kind == "rating" and ev.value is None:
            problems.append(FieldProblem(f"[{i}].value", "a rating needs a value between 0 and 5"))
        if ev.kind != "rating" and ev.value is not None:
            problems.append(FieldProblem(f"[{i}].value", "only rating events carry a value"))
        if ev.at is not None and ev.at.tzinfo is None:
            problems.append(
                FieldProblem(f"[{i}].at", "timestamps need a timezone, e.g. 2026-01-31T12:00:00Z")
            )
    if problems:
        raise InvalidInput("invalid interactions", problems)


async def ensure_users(
    session: AsyncSession, tenant_id: str, external_ids: Sequence[str]
) -> tuple[dict[str, int], int]:
    """Row ids of the named users, creating the missing ones (flushed, not committed)."""
    wanted = sorted(set(external_ids))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = await session.execute(
            select(User.external_id, User.id).where(User.tenant_id == tenant_id, User.external_id.in_(chunk))
        )
        found.update((e, i) for e, i in rows.tuples())
    missing = [e for e in wanted if e not in found]
    now = utcnow()
    new_users = [
        User(tenant_id=tenant_id, external_id=e, attributes={}, created_at=now, updated_at=now)
        for e in missing
    ]
    session.add_all(new_users)
    await session.flush()
    found.update((u.external_id, u.id) for u in new_users)
    return found, len(new_users)


class Events:
    def __init__(self, session: AsyncSession, tenant_id: str, embedder: Embedder) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.embedder = embedder
        self.catalog = Catalog(session, tenant_id, embedder)

    async def interactions_of(
        self, user: User, *, limit: int, offset: int
    ) -> tuple[list[tuple[Interaction, str]], int]:
        """A user's interactions, newest first, each with its item's external id.

        Written out rather than through the repository of :mod:`persona_api.store.pages`: each row
        carries a column of the joined catalog item, which a repository's rows of one table lack.
        """
        where = Interaction.user_id == user.id
        total = await self.session.scalar(select(func.count()).select_from(Interaction).where(where)) or 0
        rows = await self.session.execute(
            select(Interaction, CatalogItem.external_id)
            .join(CatalogItem, CatalogItem.id == Interaction.item_id)
            .where(where)
            .order_by(Interaction.at.desc(), Interaction.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(rows.tuples()), total

    async def add_interactions(self, batch: Sequence[InteractionIn]) -> IngestResult:
        _check_interactions(batch)
        items = await self.catalog.resolve([ev.item for ev in batch], "item")
        users, created = await ensure_users(self.session, self.tenant_id, [ev.user for ev in batch])
        stored = await self._stored_event_ids(
            [(users[ev.user], ev.event_id) for ev in batch if ev.event_id is not None]
        )
        now = utcnow()
        rows = []
        duplicates = 0
        for ev in batch:
            key = (users[ev.user], ev.event_id)
            if ev.event_id is not None:
                if key in stored:
                    duplicates += 1
                    continue
                stored.add(key)
            rows.append(
                {
                    "tenant_id": self.tenant_id,
                    "user_id": users[ev.user],
                    "item_id": items[ev.item],
                    "kind": ev.kind,
                    "value": ev.value,
                    "weight": ev.weight,
                    "at": ev.at or now,
                    "event_id": ev.event_id,
                    "created_at": now,
                }
            )
        if rows:
            await self.session.execute(insert(Interaction), rows)
        await flush_or_conflict(
            self.session, "some of these events were stored concurrently; retry the batch"
        )
        return IngestResult(accepted=len(rows), duplicates=duplicates, users_created=created)

    async def _stored_event_ids(self, keys: Sequence[tuple[int, str | None]]) -> set[tuple[int, str | None]]:
        found: set[tuple[int, str | None]] = set()
        unique = sorted(set(keys), key=lambda k: (k[0], k[1] or ""))
        for start in range(0, len(unique), 300):
            chunk = unique[start : start + 300]
            rows = await self.session.execute(
                select(Interaction.user_id, Interaction.event_id).where(
                    tuple_(Interaction.user_id, Interaction.event_id).in_(chunk)
                )
            )
            found.update(rows.tuples())
        return found

    async def add_reviews(self, batch: Sequence[ReviewIn]) -> IngestResult:
        """Store reviews; a user's new review of an item replaces the old one."""
        problems = [
            FieldProblem(f"[{i}].at", "timestamps need a timezone")
            for i, r in enumerate(batch)
            if r.at is not None and r.at.tzinfo is None
        ]
        pairs = [(r.user, r.item) for r in batch]
        if len(set(pairs)) != len(pairs):
            problems.append(FieldProblem("reviews", "one review per user and item in a batch"))
        if problems:
            raise InvalidInput("invalid reviews", problems)
        items = await self.catalog.resolve([r.item for r in batch], "item")
        users, created = await ensure_users(self.session, self.tenant_id, [r.user for r in batch])
        vectors = await asyncio.to_thread(self.embedder.encode, [r.text for r in batch])
        existing = {
            (row.user_id, row.item_id): row
            for row in await self.session.scalars(
                select(Review).where(
                    Review.tenant_id == self.tenant_id,
                    tuple_(Review.user_id, Review.item_id).in_(
                        [(users[r.user], items[r.item]) for r in batch]
                    ),
                )
            )
        }
        now = utcnow()
        replaced = 0
        for r, vec in zip(batch, vectors, strict=True):
            key = (users[r.user], items[r.item])
            row = existing.get(key)
            if row is None:
                row = Review(tenant_id=self.tenant_id, user_id=key[0], item_id=key[1], created_at=now)
                self.session.add(row)
            else:
                replaced += 1
            row.text, row.rating, row.at, row.embedding = r.text, r.rating, r.at or now, to_bytes(vec)
        await flush_or_conflict(self.session, "a review was written concurrently; retry the batch")
        return IngestResult(accepted=len(batch) - replaced, duplicates=replaced, users_created=created)


_EVENT_COLUMNS = (
    Interaction.item_id,
    Interaction.kind,
    Interaction.value,
    Interaction.weight,
    Interaction.at,
)


async def user_events(session: AsyncSession, user_pk: int, *, limit: int = HISTORY_LIMIT) -> list[Event]:
    """The user's newest ``limit`` events, oldest first."""
    return await _events(session, select(*_EVENT_COLUMNS).where(Interaction.user_id == user_pk), limit)


async def user_events_by_external_id(
    session: AsyncSession, tenant_id: str, external_id: str, *, limit: int = HISTORY_LIMIT
) -> list[Event]:
    """Like :func:`user_events`, found by the client's user id in one query (empty if unknown)."""
    stmt = (
        select(*_EVENT_COLUMNS)
        .join(User, User.id == Interaction.user_id)
        .where(User.tenant_id == tenant_id, User.external_id == external_id)
    )
    return await _events(session, stmt, limit)


async def _events(
    session: AsyncSession, stmt: Select[tuple[int, str, float | None, float | None, datetime]], limit: int
) -> list[Event]:
    rows = await session.execute(stmt.order_by(Interaction.at.desc(), Interaction.id.desc()).limit(limit))
    events = [Event(item=i, kind=k, value=v, weight=w, at=a) for i, k, v, w, a in rows.tuples()]
    events.reverse()
    return events
