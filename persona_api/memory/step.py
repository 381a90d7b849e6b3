"""Memory in the versioned artifacts: the re-index step that rebuilds every tenant's index from
the database, the loader through which the API starts from those snapshots, and their erasure.

A snapshot names users by row id in all three of its files (the dense vectors, the entries'
columns and each user's BM25 state, whose terms come from the memory texts); ``snapshots.json``
names tenants only."""

from __future__ import annotations

import asyncio
import json
import logging
import zipfile
from collections.abc import Mapping
from pathlib import Path

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.kernel.embed import DIM
from persona_api.kernel.manifest import Manifest, MetricValue
from persona_api.kernel.scrub import ErasedUsers, FileReplacer
from persona_api.kernel.steps import PerTenantStep, StepContext, TenantOutcome
from persona_api.memory.feed import Snapshot, entry_for, read_head
from persona_api.memory.index import ENTRIES_FILE, MemoryIndex
from persona_api.memory.snapshot import FILES, holds_users, write_without_users
from persona_api.memory.tables import Memory
from persona_api.store.db import session_factory

STEP = "memory"
DIRECTORY = "snapshots.json"

log = logging.getLogger("persona_api.memory")


class MemoryIndexStep(PerTenantStep):
    """Full rebuild of each tenant's memory index; records the change-feed position it reflects."""

    name = STEP
    DIRECTORY = DIRECTORY
    ROWS = ("memories",)

    async def run_tenant(self, ctx: StepContext, tenant_id: str, folder: Path) -> TenantOutcome:
        async with session_factory(ctx.engine)() as session:
            seq, size = await _snapshot_tenant(session, tenant_id, folder)
        return TenantOutcome(rows={"memories": size}, entry=seq)

    def directory(self, outcomes: Mapping[str, TenantOutcome]) -> object:
        return {tenant: outcome.entry for tenant, outcome in outcomes.items()}

    def metrics(
        self, outcomes: Mapping[str, TenantOutcome], rows: Mapping[str, int]
    ) -> dict[str, MetricValue]:
        return {"tenants": len(outcomes), "memories": rows.get("memories", 0)}

    def scrub(self, folder: Path, erased: ErasedUsers, files: FileReplacer) -> None:
        """Rewrite each tenant snapshot that holds one of the erased users without them.

        The snapshot keeps its change-feed position: the users' ``delete`` changes come after it,
        and applying them to a snapshot that no longer has the memories is a no-op.
        """
        for tenant_id, user_pks in erased.by_tenant.items():
            snapshot = folder / tenant_id
            if not (snapshot / ENTRIES_FILE).is_file():
                continue
            try:
                if not holds_users(snapshot, user_pks):
                    continue
                rewritten = files.scratch()
                write_without_users(snapshot, user_pks, rewritten)
            except (OSError, KeyError, ValueError, zipfile.BadZipFile, msgspec.DecodeError):
                # Unreadable, so it cannot be rewritten: drop it. The API then builds the tenant's
                # index from the database, as it does for a tenant without a snapshot.
                log.warning("memory.snapshot_dropped", extra={"tenant_id": tenant_id}, exc_info=True)
                for name in FILES:
                    if (snapshot / name).exists():
                        files.remove(snapshot / name)
                continue
            for name in FILES:
                files.replace(snapshot / name, rewritten / name)


async def _snapshot_tenant(session: AsyncSession, tenant_id: str, folder: Path) -> tuple[int, int]:
    head = await read_head(session, tenant_id)  # head first: see feed.MemoryIndexes._build
    rows = (await session.scalars(select(Memory).where(Memory.tenant_id == tenant_id))).all()
    index = MemoryIndex(dim=DIM)

    def build() -> None:
        index.upsert([entry_for(m) for m in rows])
        folder.mkdir(parents=True, exist_ok=True)
        index.save(folder)

    await asyncio.to_thread(build)
    return head, len(rows)


class MemorySnapshots:
    """The loaded artifact component: where each tenant's snapshot is and which ``seq`` it is at."""

    def __init__(self, folder: Path, directory: dict[str, int]) -> None:
        self.folder = folder
        self.directory = directory

    def lookup(self, tenant_id: str) -> Snapshot | None:
        seq = self.directory.get(tenant_id)
        return None if seq is None else Snapshot(folder=self.folder / tenant_id, seq=seq)


def load_snapshots(version_dir: Path, _manifest: Manifest) -> MemorySnapshots:
    """Artifact loader: cheap, reads only the directory; indexes load lazily per tenant."""
    folder = version_dir / STEP
    path = folder / DIRECTORY
    directory = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return MemorySnapshots(folder, {str(k): int(v) for k, v in directory.items()})
