"""Erasure requests, and the pass that completes them in the artifact versions.

Deleting a user removes their rows at once, in the request's transaction, and adds an
:class:`ErasureRequest` in the same transaction. The artifact versions kept under the models
folder may still name the user (memory snapshots, the recommender's user table); an
:class:`Eraser` pass rewrites them without the user (:mod:`persona_api.kernel.scrub`) and marks
the request done once no version holds the user and no running re-index job can still publish one
that does. The API runs a pass right after each deletion and then every poll interval while
requests are pending; the extraction worker, the re-index job (after it publishes) and
``persona-api erase`` run them too. Passes of several processes are serialised by the store's
scrub lock, and a request is marked done by whichever finishes first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from persona_api.config import Settings
from persona_api.kernel.artifacts import ArtifactStore
from persona_api.kernel.scrub import ErasedUsers, Scrubber, scrub_folder, scrub_versions, scrubbers
from persona_api.store.db import create_engine
from persona_api.store.tables import ErasureRequest, utcnow

log = logging.getLogger("persona_api.erasure")

RETENTION = timedelta(days=30)
"""How long a done request is kept (it says when the erasure completed, naming no one)."""
_PURGE_EVERY = 3600.0
_BATCH = 10_000


def request_erasure(session: AsyncSession, tenant_id: str, user_pk: int) -> None:
    """Record, in the caller's transaction, that user row ``user_pk`` must leave the artifacts."""
    session.add(ErasureRequest(tenant_id=tenant_id, user_pk=user_pk, requested_at=utcnow()))


@dataclass(frozen=True)
class ErasureStatus:
    pending: int
    done: int
    oldest_pending: datetime | None


@dataclass(frozen=True)
class ErasePass:
    """What one :meth:`Eraser.run_once` did."""

    pending: int
    """Requests it worked on."""
    done: int
    """Of those, the ones it marked done."""
    files: int
    """Files rewritten."""


async def pending_users(engine: AsyncEngine) -> tuple[frozenset[int], ErasedUsers]:
    """The ids and users of every request not done yet (at most ``_BATCH`` of them)."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(ErasureRequest.id, ErasureRequest.tenant_id, ErasureRequest.user_pk)
                .where(ErasureRequest.done_at.is_(None))
                .order_by(ErasureRequest.id)
                .limit(_BATCH)
            )
        ).all()
    by_tenant: defaultdict[str, set[int]] = defaultdict(set)
    for _, tenant_id, user_pk in rows:
        by_tenant[tenant_id].add(int(user_pk))
    users = ErasedUsers({tenant: frozenset(pks) for tenant, pks in by_tenant.items()})
    return frozenset(int(r[0]) for r in rows), users


async def scrub_staged(engine: AsyncEngine, folder: Path, scrubbers: Sequence[Scrubber]) -> int:
    """Scrub a staging folder (a version not published yet) of every pending request's users;
    returns the files rewritten. The re-index job calls it before it publishes."""
    _ids, users = await pending_users(engine)
    if not users or not scrubbers:
        return 0
    changed = await asyncio.to_thread(scrub_folder, folder, scrubbers, users, sealed=False)
    return len(changed)


async def erasure_status(engine: AsyncEngine) -> ErasureStatus:
    async with engine.connect() as conn:
        pending, oldest = (
            await conn.execute(
                select(func.count(), func.min(ErasureRequest.requested_at)).where(
                    ErasureRequest.done_at.is_(None)
                )
            )
        ).one()
        done = await conn.scalar(select(func.count()).where(ErasureRequest.done_at.is_not(None)))
    return ErasureStatus(pending=int(pending), done=int(done or 0), oldest_pending=oldest)


async def erase_now(
    settings: Settings, steps: Iterable[object], *, report_only: bool = False
) -> ErasureStatus:
    """``persona-api erase``: one pass with the scrubbers among ``steps`` (unless ``report_only``),
    then the requests' status."""
    engine = create_engine(settings, pooled=False)
    try:
        if not report_only:
            store = ArtifactStore(settings.models_dir, keep=settings.keep_versions)
            await Eraser(engine, store, scrubbers(steps)).run_once()
        return await erasure_status(engine)
    finally:
        await engine.dispose()


class Eraser:
    """Completes erasure requests against one models folder (see the module docstring).

    ``after_scrub`` runs (in a worker thread) after a pass rewrote files: the API reloads the
    version it serves there, so its in-memory artifacts drop the users too.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        store: ArtifactStore,
        scrubbers: Sequence[Scrubber],
        *,
        after_scrub: Callable[[], object] | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.scrubbers = list(scrubbers)
        self.after_scrub = after_scrub
        # Scrubbing only ever removes users, so a version scrubbed of some requests stays so.
        self._clean: dict[str, frozenset[int]] = {}
        self._wake = asyncio.Event()
        self._purged_at = -_PURGE_EVERY

    def wake(self) -> None:
        """Run the next pass now (a user was just deleted)."""
        self._wake.set()

    async def run_once(self) -> ErasePass:
        """Scrub every version of the pending requests' users; mark them done if that settled it."""
        ids, users = await pending_users(self.engine)
        if not ids:
            await self._purge()
            return ErasePass(pending=0, done=0, files=0)
        started = time.perf_counter()
        skip = [version for version, clean in self._clean.items() if ids <= clean]
        result = await asyncio.to_thread(scrub_versions, self.store, self.scrubbers, users, skip=skip)
        folders = set(self.store.folders())
        self._clean = {v: c for v, c in self._clean.items() if v in folders}
        for version in result.scrubbed:
            self._clean[version] = self._clean.get(version, frozenset()) | ids
        files = sum(len(changed) for changed in result.changed.values())
        if files and self.after_scrub is not None:
            await asyncio.to_thread(self.after_scrub)
        done = await self._mark_done(ids) if result.settled else 0
        log.info(
            "erasure.pass",
            extra={
                "pending": len(ids),
                "done": done,
                "versions": len(result.scrubbed),
                "files": files,
                "failed": sorted(result.failed),
                "waiting_for_job": not result.settled and not result.failed,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        return ErasePass(pending=len(ids), done=done, files=files)

    async def run(self, interval: float | None) -> None:
        """Passes until cancelled: one now, then one per :meth:`wake` and every ``interval``
        seconds (None: on wake only). Errors are logged, never raised."""
        while True:
            try:
                await self.run_once()
            except Exception as exc:
                log.error("erasure.pass_failed", extra={"error": repr(exc)}, exc_info=True)
            try:
                async with asyncio.timeout(interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()

    async def _mark_done(self, ids: frozenset[int]) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(ErasureRequest)
                .where(ErasureRequest.id.in_(sorted(ids)), ErasureRequest.done_at.is_(None))
                .values(done_at=utcnow())
            )
        return int(result.rowcount or 0)

    async def _purge(self) -> None:
        if time.monotonic() - self._purged_at < _PURGE_EVERY:
            return
        self._purged_at = time.monotonic()
        cutoff = utcnow() - RETENTION
        async with self.engine.connect() as conn:
            old = await conn.scalar(select(func.count()).where(ErasureRequest.done_at < cutoff))
        if old:
            async with self.engine.begin() as conn:
                await conn.execute(delete(ErasureRequest).where(ErasureRequest.done_at < cutoff))
