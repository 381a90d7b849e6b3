"""Memories of one user: explicit writes, reads, history, deletion, and hybrid search.

Callers name a memory by its ``number`` within the user (see :mod:`persona_api.memory.rendering`);
row ids stay inside the service, its indexes and the change feed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.errors import FieldProblem, InvalidInput, NotFound
from persona_api.memory.context import MemoryContext
from persona_api.memory.events import announce_deleted
from persona_api.memory.feed import DELETE, lock_head, record_changes
from persona_api.memory.index_types import SearchFilter
from persona_api.memory.lexical import tokenize
from persona_api.memory.names import named_subjects
from persona_api.memory.rendering import Found, Rendered, render_memories
from persona_api.memory.tables import ConversationSession, Memory, MemoryLink, Partner
from persona_api.memory.writer import NewMemory, WriteResult, write_memories
from persona_api.store.pages import list_and_count
from persona_api.store.tables import User, utcnow


@dataclass(frozen=True)
class Query:
    text: str
    k: int = 10
    partner: str | None = None
    subject: str | None = None
    """``"user"`` for memories about the user, or a partner id (same as ``partner``)."""
    session: str | None = None
    observed_from: datetime | None = None
    observed_to: datetime | None = None
    include_superseded: bool = False
    include_linked: bool = False


class Memories:
    def __init__(self, ctx: MemoryContext) -> None:
        self.ctx = ctx
        self.session: AsyncSession = ctx.session

    # --- writes ---------------------------------------------------------------------------
    async def add(
        self,
        user: User,
        *,
        text: str,
        partner: str | None = None,
        session: str | None = None,
        turn_ids: Sequence[str] = (),
        observed_at: datetime | None = None,
        valid_from: datetime | None = None,
        key: str | None = None,
    ) -> WriteResult:
        """Store one explicit memory (about the user, or about ``partner``)."""
        subject = await self._partner(user, partner, "partner") if partner else None
        conv = await self._session(user, session, "session") if session else None
        [vector] = await asyncio.to_thread(self.ctx.embedder.encode, [text])
        item = NewMemory(
            text=text,
            subject_partner_id=subject.id if subject else None,
            vector=vector,
            observed_at=observed_at or utcnow(),
            origin="client",
            session_id=conv.id if conv else None,
            source_turn_ids=tuple(turn_ids),
            valid_from=valid_from,
            fact_key=key,
        )
        [result] = await write_memories(
            self.session,
            tenant_id=self.ctx.tenant_id,
            user_id=user.id,
            items=[item],
            indexes=self.ctx.indexes,
            policy=self.ctx.policy,
        )
        await self.session.flush()
        return result

    async def delete(self, user: User, number: int) -> None:
        memory = await self.get(user, number)
        await lock_head(self.session, self.ctx.tenant_id)
        await self.session.execute(delete(Memory).where(Memory.id == memory.id))
        await record_changes(self.session, self.ctx.tenant_id, [(memory.id, DELETE)])
        await announce_deleted(self.session, self.ctx.tenant_id, user, [number])
        await self.session.flush()

    async def delete_about(self, user: User, partner: str) -> int:
        """Delete every memory about ``partner``; returns how many."""
        subject = await self._partner(user, partner, "partner", not_found=True)
        await lock_head(self.session, self.ctx.tenant_id)
        rows = (
            await self.session.execute(
                select(Memory.id, Memory.number)
                .where(Memory.user_id == user.id, Memory.subject_partner_id == subject.id)
                .order_by(Memory.number)
            )
        ).all()
        ids = [row.id for row in rows]
        if ids:
            await self.session.execute(delete(Memory).where(Memory.id.in_(ids)))
            await record_changes(self.session, self.ctx.tenant_id, [(i, DELETE) for i in ids])
            await announce_deleted(self.session, self.ctx.tenant_id, user, [r.number for r in rows], partner)
        await self.session.flush()
        return len(ids)

    # --- reads ----------------------------------------------------------------------------
    async def get(self, user: User, number: int) -> Memory:
        """The user's memory with this number; :class:`NotFound` if the user has none."""
        memory = await self.session.scalar(
            select(Memory).where(Memory.user_id == user.id, Memory.number == number)
        )
        if memory is None:
            raise NotFound(f"memory {number} not found")
        return memory

    async def listing(
        self, user: User, *, partner: str | None, include_superseded: bool, limit: int, offset: int
    ) -> tuple[list[Memory], int]:
        conditions: list[Any] = [Memory.user_id == user.id]
        if partner is not None:
            subject = await self._partner(user, partner, "partner")
            conditions.append(Memory.subject_partner_id == subject.id)
        if not include_superseded:
            conditions.append(Memory.valid_to.is_(None))
        order = (Memory.observed_at.asc(), Memory.id.asc())
        return await list_and_count(
            self.session, Memory, *conditions, order_by=order, limit=limit, offset=offset
        )

    async def history(self, user: User, number: int) -> list[Memory]:
        """The chain of versions this memory belongs to, oldest first."""
        memory = await self.get(user, number)
        chain = [memory]
        seen = {memory.id}
        while chain[0].id is not None:  # walk back to the first version
            previous = await self.session.scalar(
                select(Memory).where(Memory.superseded_by == chain[0].id, Memory.user_id == user.id)
            )
            if previous is None or previous.id in seen:
                break
            seen.add(previous.id)
            chain.insert(0, previous)
        while chain[-1].superseded_by is not None and chain[-1].superseded_by not in seen:
            successor = await self.session.get(Memory, chain[-1].superseded_by)
            if successor is None:
                break
            seen.add(successor.id)
            chain.append(successor)
        return chain

    async def render(
        self, user: User, memories: Sequence[Memory], partners: dict[int, Partner] | None = None
    ) -> list[Rendered]:
        """Memories with their tags (see :func:`~persona_api.memory.rendering.render_memories`)."""
        return await render_memories(self.session, user, memories, partners)

    # --- search ---------------------------------------------------------------------------
    def embed_query(self, text: str) -> asyncio.Future[NDArray[np.float32]]:
        """Start embedding a query in a worker thread (~10 ms of CPU); pass the future to
        :meth:`search`, so the caller's own database work overlaps it."""
        return asyncio.ensure_future(asyncio.to_thread(self.ctx.embedder.encode, [text]))

    async def search(
        self, user: User, query: Query, embedding: asyncio.Future[NDArray[np.float32]] | None = None
    ) -> list[Found]:
        """``embedding``: from :meth:`embed_query` of ``query.text``, when the caller started it."""
        policy = self.ctx.runtime.search
        # The query embedding overlaps the database round trips.
        if embedding is None:
            embedding = self.embed_query(query.text)
        try:
            partners = await self.ctx.user_partners(user.id)
            flt = await self._filter(user, query, partners)
            named = named_subjects(user, partners.values(), query.text) if policy.subject_boost > 0 else set()
            index = await self.ctx.indexes.current(self.session, self.ctx.tenant_id)
        finally:
            [vector] = await embedding
        fetch = min(100, query.k * policy.overfetch) if len(named) == 1 else query.k
        tokens = tokenize(query.text)
        hits = await asyncio.to_thread(index.search, user.id, vector, tokens, fetch, flt, policy.fusion)
        if not hits:
            return []
        # By primary key alone, the owner checked here: with the user's column in the WHERE clause
        # SQLite walks that user's index (100,000 rows: 14 ms) instead of the ten rowids (0.1 ms).
        rows = {
            m.id: m
            for m in await self.session.scalars(select(Memory).where(Memory.id.in_([h.id for h in hits])))
            if m.user_id == user.id
        }
        hits = [h for h in hits if h.id in rows]
        if len(named) == 1:
            factor = 1.0 + policy.subject_boost
            hits = [
                replace(h, score=h.score * factor) if (rows[h.id].subject_partner_id or 0) in named else h
                for h in hits
            ]
            hits.sort(key=lambda h: (-h.score, -h.dense, h.id))
        hits = hits[: query.k]
        linked_ids: dict[int, list[int]] = {h.id: [] for h in hits}
        linked_rows: dict[int, Memory] = {}
        if query.include_linked:
            linked_ids, linked_rows = await self._linked(user, [h.id for h in hits], query.include_superseded)
        found = [*rows.values(), *linked_rows.values()]
        rendered = {r.memory.id: r for r in await self.render(user, found, partners)}
        return [
            Found(item=rendered[h.id], hit=h, linked=[rendered[i] for i in linked_ids[h.id] if i in rendered])
            for h in hits
        ]

    async def _linked(
        self, user: User, ids: list[int], include_superseded: bool
    ) -> tuple[dict[int, list[int]], dict[int, Memory]]:
        links = (
            await self.session.execute(
                select(MemoryLink.memory_id, MemoryLink.linked_id, MemoryLink.score)
                .where(or_(MemoryLink.memory_id.in_(ids), MemoryLink.linked_id.in_(ids)))
                .order_by(MemoryLink.score.desc())
            )
        ).all()
        by_hit: dict[int, list[int]] = {i: [] for i in ids}
        for a, b, _score in links:
            if a in by_hit:
                by_hit[a].append(b)
            if b in by_hit:
                by_hit[b].append(a)
        wanted = {i for targets in by_hit.values() for i in targets}
        found: Any = await self.session.scalars(select(Memory).where(Memory.id.in_(wanted))) if wanted else []
        rows = {
            m.id: m
            for m in found  # by primary key, filtered here (see ``search``)
            if m.user_id == user.id and (include_superseded or m.valid_to is None)
        }
        return {h: [i for i in targets if i in rows] for h, targets in by_hit.items()}, rows

    async def _filter(self, user: User, query: Query, partners: dict[int, Partner]) -> SearchFilter:
        """``partners``: all of the user's (id -> partner), already loaded by the caller."""
        by_external = {p.external_id: p for p in partners.values()}

        def partner_id(external_id: str, field: str) -> int:
            found = by_external.get(external_id)
            if found is None:
                raise unknown_partner(external_id, field)
            return found.id

        subjects: set[int] = set()
        if query.partner:
            subjects.add(partner_id(query.partner, "partner"))
        if query.subject:
            subjects.add(0 if query.subject == "user" else partner_id(query.subject, "subject"))
        sessions = None
        if query.session:
            sessions = frozenset({(await self._session(user, query.session, "session")).id})
        return SearchFilter(
            subject_ids=frozenset(subjects) if subjects else None,
            session_ids=sessions,
            observed_from=query.observed_from.timestamp() if query.observed_from else None,
            observed_to=query.observed_to.timestamp() if query.observed_to else None,
            include_superseded=query.include_superseded,
        )

    async def _partner(self, user: User, external_id: str, field: str, *, not_found: bool = False) -> Partner:
        partner = await self.session.scalar(
            select(Partner).where(Partner.user_id == user.id, Partner.external_id == external_id)
        )
        if partner is None:
            if not_found:
                raise NotFound(f"partner {external_id!r} not found")
            raise unknown_partner(external_id, field)
        return partner

    async def _session(self, user: User, external_id: str, field: str) -> ConversationSession:
        conv = await self.session.scalar(
            select(ConversationSession).where(
                ConversationSession.user_id == user.id, ConversationSession.external_id == external_id
            )
        )
        if conv is None:
            raise InvalidInput(
                f"unknown session {external_id!r}", [FieldProblem(field, f"no session {external_id!r}")]
            )
        return conv


def unknown_partner(external_id: str, field: str) -> InvalidInput:
    """The 422 for a ``field`` naming a partner the user does not have."""
    return InvalidInput(
        f"unknown partner {external_id!r}", [FieldProblem(field, f"no partner {external_id!r}")]
    )
