"""The memory change feed and the per-tenant search indexes that follow it.

Writers bump ``memory_heads.seq`` of their tenant inside the write transaction (the row lock is
held until commit, so sequence numbers follow commit order without gaps) and add one
``memory_changes`` row per memory upserted or deleted. Before answering a search, a replica reads
the tenant's head and, when its index is behind, applies the changes since its watermark. A search
therefore reflects every memory committed before it started, whichever replica wrote it.

A tenant's index is built on first use: from the re-index job's snapshot when the loaded artifact
version has one (then only the changes after the snapshot are applied), otherwise from the table.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.kernel.embed import from_bytes
from persona_api.memory.index import MemoryIndex
from persona_api.memory.index_types import IndexEntry
from persona_api.memory.lexical import tokenize
from persona_api.memory.tables import Memory, MemoryChange, MemoryHead
from persona_api.store.db import upsert_for

log = logging.getLogger("persona_api.memory")

UPSERT = "upsert"
DELETE = "delete"


@dataclass(frozen=True)
class Snapshot:
    """A tenant index saved by the re-index job, valid as of change ``seq``."""

    folder: Path
    seq: int


SnapshotLookup = Callable[[str], Snapshot | None]


def entry_for(memory: Memory) -> IndexEntry:
    return IndexEntry(
        id=memory.id,
        user_id=memory.user_id,
        subject_id=memory.subject_partner_id or 0,
        session_id=memory.session_id or 0,
        observed_at=memory.observed_at.timestamp(),
        current=memory.valid_to is None,
        vector=from_bytes(memory.embedding),
        tokens=tuple(tokenize(memory.text)),
    )


async def lock_head(session: AsyncSession, tenant_id: str) -> int:
    """Take the tenant's write lock (the head row) and return the current head.

    Every memory write calls this first; writes of one tenant are serialised from here to commit.
    """
    insert = upsert_for(session)
    # One statement: create the row if needed, else "update" it to itself, which takes its lock.
    upsert = insert(MemoryHead).values(tenant_id=tenant_id, seq=0)
    seq = await session.scalar(
        upsert.on_conflict_do_update(
            index_elements=[MemoryHead.tenant_id], set_={"seq": MemoryHead.seq}
        ).returning(MemoryHead.seq)
    )
    return int(seq or 0)


async def record_changes(session: AsyncSession, tenant_id: str, changes: Sequence[tuple[int, str]]) -> int:
    """Append ``(memory_id, op)`` changes under one new sequence number; call with the lock held."""
    if not changes:
        return await lock_head(session, tenant_id)
    seq = await session.scalar(
        update(MemoryHead)
        .where(MemoryHead.tenant_id == tenant_id)
        .values(seq=MemoryHead.seq + 1)
        .returning(MemoryHead.seq)
    )
    assert seq is not None, "lock_head() must run first in the transaction"
    session.add_all(MemoryChange(tenant_id=tenant_id, seq=seq, memory_id=mid, op=op) for mid, op in changes)
    return int(seq)


async def read_head(session: AsyncSession, tenant_id: str) -> int:
    seq = await session.scalar(select(MemoryHead.seq).where(MemoryHead.tenant_id == tenant_id))
    return int(seq or 0)


class MemoryIndexes:
    """The search indexes of this process, one per tenant, kept in step with the change feed."""

    def __init__(self, *, dim: int, snapshots: SnapshotLookup | None = None) -> None:
        self.dim = dim
        self._snapshots = snapshots or (lambda _tenant: None)
        self._indexes: dict[str, MemoryIndex] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def loaded(self, tenant_id: str) -> MemoryIndex | None:
        return self._indexes.get(tenant_id)

    def drop_tenant(self, tenant_id: str) -> None:
        self._indexes.pop(tenant_id, None)

    async def current(self, session: AsyncSession, tenant_id: str) -> MemoryIndex:
        """The tenant's index, caught up with every change committed before this call."""
        head = await read_head(session, tenant_id)
        index = self._indexes.get(tenant_id)
        if index is not None and index.applied_seq >= head:
            return index
        lock = self._locks.setdefault(tenant_id, asyncio.Lock())
        async with lock:
            index = self._indexes.get(tenant_id)
            if index is None:
                index = await self._build(session, tenant_id)
                self._indexes[tenant_id] = index
            if index.applied_seq < head:
                await self._catch_up(session, tenant_id, index, head)
        return index

    async def _build(self, session: AsyncSession, tenant_id: str) -> MemoryIndex:
        snapshot = self._snapshots(tenant_id)
        if snapshot is not None:
            try:
                index = await asyncio.to_thread(MemoryIndex.load, snapshot.folder)
                index.applied_seq = snapshot.seq
                log.info(
                    "memory.index_loaded",
                    extra={"tenant_id": tenant_id, "seq": snapshot.seq, "size": len(index)},
                )
                return index
            except Exception:
                log.exception("memory.snapshot_unusable", extra={"tenant_id": tenant_id})
        # Head first, rows second: rows committed in between are applied twice, which is harmless.
        head = await read_head(session, tenant_id)
        rows = (await session.scalars(select(Memory).where(Memory.tenant_id == tenant_id))).all()
        index = MemoryIndex(dim=self.dim)
        entries = [entry_for(m) for m in rows]
        await asyncio.to_thread(index.upsert, entries)
        index.applied_seq = head
        log.info("memory.index_built", extra={"tenant_id": tenant_id, "seq": head, "size": len(entries)})
        return index

    async def _catch_up(self, session: AsyncSession, tenant_id: str, index: MemoryIndex, head: int) -> None:
        changes = (
            await session.execute(
                select(MemoryChange.memory_id, MemoryChange.op)
                .where(MemoryChange.tenant_id == tenant_id, MemoryChange.seq > index.applied_seq)
                .where(MemoryChange.seq <= head)
                .order_by(MemoryChange.seq, MemoryChange.id)
            )
        ).all()
        touched = {memory_id for memory_id, _ in changes}
        rows = (await session.scalars(select(Memory).where(Memory.id.in_(touched)))).all() if touched else []
        # By primary key, the tenant checked here: with the tenant's column in the query SQLite
        # walks the tenant's index instead of the few rowids.
        rows = [m for m in rows if m.tenant_id == tenant_id]
        present = {m.id for m in rows}
        entries = [entry_for(m) for m in rows]
        gone = sorted(touched - present)

        def apply() -> None:
            if gone:
                index.remove(gone)
            if entries:
                index.upsert(entries)
            index.applied_seq = head

        await asyncio.to_thread(apply)
