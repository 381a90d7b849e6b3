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
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.memory.embed import to_bytes
from persona_api.memory.feed import UPSERT, MemoryIndexes, lock_head, record_changes
from persona_api.memory.index import MemoryIndex, SearchFilter
from persona_api.memory.tables import Memory, MemoryLink
from persona_api.store.tables import utcnow

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
    superseded: list[int] = field(default_factory=list)


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
    """Store ``items`` for one user; the caller commits. Returns one result per item, in order."""
    await lock_head(session, tenant_id)
    index = await indexes.current(session, tenant_id)
    results: list[WriteResult] = []
    created: list[tuple[Memory, NewMemory]] = []
    touched: dict[int, Memory] = {}

    for item in items:
        digest = text_hash(item.text)
        target = await _duplicate_of(session, user_id, item, digest, created, index, policy)
        if target is not None:
            _merge(target, item)
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
        await session.flush()
        result = WriteResult(memory, "created")
        if item.fact_key:
            for old in await _current_with_key(session, user_id, item, memory.id):
                old.valid_to = memory.valid_from
                old.superseded_by = memory.id
                old.updated_at = utcnow()
                touched[old.id] = old
                result.superseded.append(old.id)
                session.add(MemoryLink(**_pair(memory.id, old.id), kind="supersedes", score=1.0))
        await _link_related(session, index, user_id, memory, item, result.superseded, policy)
        created.append((memory, item))
        touched[memory.id] = memory
        results.append(result)

    await session.flush()
    await record_changes(session, tenant_id, [(mid, UPSERT) for mid in touched])
    return results


async def _duplicate_of(
    session: AsyncSession,
    user_id: int,
    item: NewMemory,
    digest: str,
    created: list[tuple[Memory, NewMemory]],
    index: MemoryIndex,
    policy: WritePolicy,
) -> Memory | None:
    for memory, earlier in created:  # memories of this same batch are not in the index yet
        if memory.subject_partner_id == item.subject_partner_id and (
            memory.text_hash == digest or float(earlier.vector @ item.vector) >= policy.duplicate
        ):
            return memory
    exact = await session.scalar(
        select(Memory).where(
            Memory.user_id == user_id,
            Memory.text_hash == digest,
            Memory.valid_to.is_(None),
            _same_subject(item.subject_partner_id),
        )
    )
    if exact is not None:
        return exact
    subject = frozenset({item.subject_partner_id or 0})
    near = await asyncio.to_thread(index.nearest, user_id, item.vector, 1, SearchFilter(subject_ids=subject))
    if near and near[0][1] >= policy.duplicate:
        candidate = await session.get(Memory, near[0][0])
        if candidate is not None and candidate.valid_to is None and candidate.user_id == user_id:
            return candidate
    return None


def _same_subject(subject_partner_id: int | None) -> Any:
    if subject_partner_id is None:
        return Memory.subject_partner_id.is_(None)
    return Memory.subject_partner_id == subject_partner_id


async def _current_with_key(
    session: AsyncSession, user_id: int, item: NewMemory, new_id: int
) -> list[Memory]:
    rows = await session.scalars(
        select(Memory).where(
            Memory.user_id == user_id,
            Memory.fact_key == item.fact_key,
            Memory.valid_to.is_(None),
            Memory.id != new_id,
            _same_subject(item.subject_partner_id),
        )
    )
    return list(rows)


def _pair(a: int, b: int) -> dict[str, int]:
    return {"memory_id": min(a, b), "linked_id": max(a, b)}


async def _link_related(
    session: AsyncSession,
    index: MemoryIndex,
    user_id: int,
    memory: Memory,
    item: NewMemory,
    superseded: list[int],
    policy: WritePolicy,
) -> None:
    if policy.max_links <= 0:
        return
    near = await asyncio.to_thread(
        index.nearest, user_id, item.vector, policy.max_links + len(superseded), SearchFilter()
    )
    linked = 0
    for other_id, score in near:
        if other_id in superseded or score < policy.link or linked >= policy.max_links:
            continue
        # The memory is new, so none of its pairs can exist yet.
        session.add(MemoryLink(**_pair(memory.id, other_id), kind="related", score=round(float(score), 4)))
        linked += 1
