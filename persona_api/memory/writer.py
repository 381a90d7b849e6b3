"""Writing memories: deduplicate, supersede, link, and record the change feed, in one transaction.

Callers embed the texts first (off the event loop, outside any transaction), then call
:func:`write_memories` inside their transaction. The tenant's head row is locked first, so the
duplicate and supersede checks see every committed memory and no concurrent writer of the tenant.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.kernel.embed import to_bytes
from persona_api.memory.events import announce_written
from persona_api.memory.feed import UPSERT, MemoryIndexes, lock_head, read_head, record_changes
from persona_api.memory.index import MemoryIndex
from persona_api.memory.index_types import SearchFilter
from persona_api.memory.tables import Memory, MemoryLink
from persona_api.store.tables import User, utcnow

Outcome = Literal["created", "merged"]
_PUNCT = re.compile(r"[^\w\s]")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class WritePolicy:
    """Thresholds of the write path (cosine similarities of MiniLM embeddings)."""

    duplicate: float = 0.95
    """At or above: the same statement about the same subject; merged instead of stored again."""
    link: float = 0.6
    """At or above: related memories of the same user get linked."""
    max_links: int = 3


@dataclass(frozen=True)
class NewMemory:
    text: str
    subject_partner_id: int | None
    vector: NDArray[np.float32]
    observed_at: datetime
    origin: str
    session_id: int | None = None
    source_turn_ids: tuple[str, ...] = ()
    valid_from: datetime | None = None
    fact_key: str | None = None


@dataclass
class WriteResult:
    memory: Memory
    outcome: Outcome
    superseded: list[Memory] = field(default_factory=list)
    """The memories this one replaced (same subject and fact key)."""


def text_hash(text: str) -> str:
    """Exact-duplicate key: case, punctuation and spacing do not make a memory new."""
    normal = _SPACE.sub(" ", _PUNCT.sub(" ", text.lower())).strip()
    return hashlib.sha256(normal.encode()).hexdigest()


def _observation(item: NewMemory) -> dict[str, Any]:
    return {
        "session_id": item.session_id,
        "turn_ids": list(item.source_turn_ids),
        "observed_at": item.observed_at.isoformat(),
        "origin": item.origin,
    }


def _merge(memory: Memory, item: NewMemory) -> None:
    # Reassign (not mutate) JSON columns so the ORM sees the change.
    memory.provenance = [*memory.provenance, _observation(item)]
    memory.source_turn_ids = list(dict.fromkeys([*memory.source_turn_ids, *item.source_turn_ids]))
    memory.updated_at = utcnow()


async def write_memories(
    session: AsyncSession,
    *,
    tenant_id: str,
    user_id: int,
    items: Sequence[NewMemory],
    indexes: MemoryIndexes,
    policy: WritePolicy,
) -> list[WriteResult]:
    """Store ``items`` for one user; the caller commits. Returns one result per item, in order.

    The database and the index are asked once per batch (not once per memory): the exact and near
    duplicates, the memories with the same fact keys, and the related memories to link. They are
    asked before the tenant's write lock is taken, and again under it only if some memory of the
    tenant changed in between: the lock (on SQLite, the whole database's) is held for the writes
    alone.
    """
    seen = await read_head(session, tenant_id)
    digests = [text_hash(item.text) for item in items]
    near, known = await _lookups(session, tenant_id, user_id, items, digests, indexes, policy)
    if await lock_head(session, tenant_id) != seen:
        near, known = await _lookups(session, tenant_id, user_id, items, digests, indexes, policy)

    results: list[WriteResult] = []
    created: list[tuple[Memory, NewMemory, list[tuple[int, float]]]] = []
    touched: dict[int, Memory] = {}
    for item, digest, (duplicate, related) in zip(items, digests, near, strict=True):
        target = _duplicate_of(item, digest, duplicate, created, known, policy)
        if target is not None:
            _merge(target, item)
            if target.id is not None:
                touched[target.id] = target
            results.append(WriteResult(target, "merged"))
            continue
        memory = Memory(
            tenant_id=tenant_id,
            user_id=user_id,
            subject_partner_id=item.subject_partner_id,
            text=item.text,
            text_hash=digest,
            fact_key=item.fact_key,
            origin=item.origin,
            session_id=item.session_id,
            source_turn_ids=list(item.source_turn_ids),
            provenance=[_observation(item)],
            observed_at=item.observed_at,
            valid_from=item.valid_from or item.observed_at,
            embedding=to_bytes(item.vector),
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        session.add(memory)
        known.append(memory)
        created.append((memory, item, related))
        results.append(WriteResult(memory, "created"))

    await _number(session, user_id, [memory for memory, _, _ in created])
    await session.flush()  # one INSERT round for the batch; ids from here on
    for (memory, item, related), result in zip(
        created, [r for r in results if r.outcome == "created"], strict=True
    ):
        if item.fact_key:
            for old in _current_with_key(known, item, memory):
                old.valid_to = memory.valid_from
                old.superseded_by = memory.id
                old.updated_at = utcnow()
                touched[old.id] = old
                result.superseded.append(old)
                session.add(MemoryLink(**_pair(memory.id, old.id), kind="supersedes", score=1.0))
        _link_related(session, memory, related, {old.id for old in result.superseded}, policy)
        touched[memory.id] = memory
    await session.flush()
    await record_changes(session, tenant_id, [(mid, UPSERT) for mid in touched])
    await announce_written(
        session, tenant_id, user_id, [(r.memory, r.superseded) for r in results if r.outcome == "created"]
    )
    return results


async def _lookups(
    session: AsyncSession,
    tenant_id: str,
    user_id: int,
    items: Sequence[NewMemory],
    digests: list[str],
    indexes: MemoryIndexes,
    policy: WritePolicy,
) -> tuple[list[tuple[list[tuple[int, float]], list[tuple[int, float]]]], list[Memory]]:
    """What the batch's writes depend on: each item's near neighbours, and the current rows."""
    index = await indexes.current(session, tenant_id)
    near = await asyncio.to_thread(_neighbours, index, user_id, items, policy)
    return near, await _current_rows(session, user_id, digests, items, near)


def _neighbours(
    index: MemoryIndex, user_id: int, items: Sequence[NewMemory], policy: WritePolicy
) -> list[tuple[list[tuple[int, float]], list[tuple[int, float]]]]:
    """Per item: the nearest current memory about the same subject, and the nearest of any subject.

    Runs in a worker thread (FAISS)."""
    out = []
    for item in items:
        subject = frozenset({item.subject_partner_id or 0})
        duplicate = index.nearest(user_id, item.vector, 1, SearchFilter(subject_ids=subject))
        related = (
            index.nearest(user_id, item.vector, policy.max_links + 1, SearchFilter())
            if policy.max_links
            else []
        )
        out.append((duplicate, related))
    return out


async def _current_rows(
    session: AsyncSession,
    user_id: int,
    digests: list[str],
    items: Sequence[NewMemory],
    near: list[tuple[list[tuple[int, float]], list[tuple[int, float]]]],
) -> list[Memory]:
    """The user's current memories that the batch may merge into or supersede: one indexed query
    each for the exact duplicates, the near-duplicate candidates and the fact keys."""
    near_ids = {ids[0][0] for ids, _ in near if ids}
    keys = {item.fact_key for item in items if item.fact_key}
    lookups: list[Any] = [Memory.text_hash.in_(set(digests))]
    if keys:
        lookups.append(Memory.fact_key.in_(keys))
    found: dict[int, Memory] = {}
    for lookup in lookups:
        rows = await session.scalars(
            select(Memory).where(Memory.user_id == user_id, Memory.valid_to.is_(None), lookup)
        )
        found.update((m.id, m) for m in rows)
    if near_ids:
        # By primary key, the owner and validity checked here: with the user's column in the query
        # SQLite walks the user's whole index instead of the few rowids.
        rows = await session.scalars(select(Memory).where(Memory.id.in_(near_ids)))
        found.update((m.id, m) for m in rows if m.user_id == user_id and m.valid_to is None)
    return list(found.values())


def _duplicate_of(
    item: NewMemory,
    digest: str,
    duplicate: list[tuple[int, float]],
    created: list[tuple[Memory, NewMemory, list[tuple[int, float]]]],
    known: list[Memory],
    policy: WritePolicy,
) -> Memory | None:
    for memory, earlier, _ in created:  # memories of this same batch are not in the index yet
        if memory.subject_partner_id == item.subject_partner_id and (
            memory.text_hash == digest or float(earlier.vector @ item.vector) >= policy.duplicate
        ):
            return memory
    for memory in known:
        if memory.text_hash == digest and memory.subject_partner_id == item.subject_partner_id:
            return memory
    if duplicate and duplicate[0][1] >= policy.duplicate:
        return next((m for m in known if m.id == duplicate[0][0]), None)
    return None


def _current_with_key(known: list[Memory], item: NewMemory, new: Memory) -> list[Memory]:
    return [
        m
        for m in known
        if m is not new
        and m.valid_to is None
        and m.fact_key == item.fact_key
        and m.subject_partner_id == item.subject_partner_id
        and m.id is not None
        and m.id < new.id
    ]


def _pair(a: int, b: int) -> dict[str, int]:
    return {"memory_id": min(a, b), "linked_id": max(a, b)}


def _link_related(
    session: AsyncSession,
    memory: Memory,
    related: list[tuple[int, float]],
    superseded: set[int],
    policy: WritePolicy,
) -> None:
    """Link to up to ``max_links`` related memories; the memory is new, so no pair exists yet."""
    linked = 0
    for other_id, score in related:
        if other_id in superseded or score < policy.link or linked >= policy.max_links:
            continue
        session.add(MemoryLink(**_pair(memory.id, other_id), kind="related", score=round(float(score), 4)))
        linked += 1


async def _number(session: AsyncSession, user_id: int, memories: list[Memory]) -> None:
    """Give new memories the next numbers of their user (under the tenant's write lock)."""
    if not memories:
        return
    with session.no_autoflush:  # the new rows are pending until they have their numbers
        last = (
            await session.execute(
                update(User)
                .where(User.id == user_id)
                .values(memory_count=User.memory_count + len(memories))
                .returning(User.memory_count)
            )
        ).scalar_one()
    for offset, memory in enumerate(memories):
        memory.number = last - len(memories) + 1 + offset
