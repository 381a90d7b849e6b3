"""``persona-api reindex``: run every registered step and publish one new artifact version.

A one-shot process against the API's database. It holds the store's lock for its whole run, so two
jobs never interleave; on any failure the staging folder is removed and ``CURRENT`` is untouched,
so the API keeps serving the previous version. Users deleted while it ran are scrubbed from the
new version before it is published, and it ends with one erasure pass over every kept version.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from tqdm import tqdm

import persona_api
from persona_api.config import Settings
from persona_api.errors import ArtifactError
from persona_api.kernel.artifacts import ArtifactStore, StagedVersion
from persona_api.kernel.manifest import MetricValue
from persona_api.kernel.scrub import scrubbers
from persona_api.kernel.steps import (
    ProgressBar,
    ProgressFactory,
    Step,
    StepContext,
    StepRegistry,
    StepResult,
    TenantRef,
)
from persona_api.store import outbox
from persona_api.store.db import create_engine
from persona_api.store.erasure import Eraser, scrub_staged
from persona_api.store.step import default_registry
from persona_api.store.tenants import tenant_directory

log = logging.getLogger("persona_api.jobs")


async def run_reindex(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    registry: StepRegistry | None = None,
    store: ArtifactStore | None = None,
) -> str:
    """Run the steps of ``registry`` (default: the built-in ones) and publish; returns the new version.

    Raises ``ArtifactError`` naming the failed step (or the lock/publish problem). The engine is
    created from ``settings`` and disposed unless one is passed in.
    """
    store = store or ArtifactStore(settings.models_dir, keep=settings.keep_versions)
    registry = registry if registry is not None else default_registry()
    own_engine = engine is None
    db = engine if engine is not None else create_engine(settings, pooled=False)
    try:
        with store.lock():
            store.cleanup_stale()
            with store.stage() as staged:
                version = await _build_and_publish(settings, db, registry, store, staged)
        try:
            await announce_version(db, version, registry.names())
        except Exception:
            # The version serves all the same; only the webhook events are missing.
            log.warning("reindex.announce_failed", extra={"version": version}, exc_info=True)
        # Lock released: a pass can now tell that no job could still publish a deleted user.
        try:
            await Eraser(db, store, scrubbers(registry)).run_once()
        except Exception:
            # The version is published; the API's and the worker's passes retry the erasures.
            log.warning("reindex.erasure_failed", extra={"version": version}, exc_info=True)
        return version
    finally:
        if own_engine:
            await db.dispose()


async def announce_version(engine: AsyncEngine, version: str, steps: Sequence[str]) -> int:
    """Write ``artifacts.published`` for every tenant with an endpoint subscribed to it, once the
    version is live. A publication is a rename, not a database write, so this cannot share its
    transaction: a job killed between the two publishes the version without the event (the one
    event type delivered at most once). Returns how many tenants were told."""
    async with AsyncSession(engine) as session, session.begin():
        tenants = sorted(set(await session.scalars(select(outbox.WebhookEndpoint.tenant_id))))
        told = 0
        for tenant_id in tenants:
            data = {"version": version, "steps": list(steps)}
            told += await outbox.emit(session, tenant_id, "artifacts.published", data) is not None
    return told


async def _build_and_publish(
    settings: Settings,
    engine: AsyncEngine,
    registry: StepRegistry,
    store: ArtifactStore,
    staged: StagedVersion,
) -> str:
    started = time.perf_counter()
    log.info("reindex.started", extra={"version": staged.version, "steps": registry.names()})
    input_rows: dict[str, int] = {}
    metrics: dict[str, dict[str, MetricValue]] = {}
    tenants: Sequence[TenantRef] | None = None
    for step in registry:
        result = await _run_step(step, settings, engine, staged, tenants)
        tenants = result.tenants if result.tenants is not None else tenants
        # Steps that read the same table report it again; the later count is the fresher one.
        input_rows.update(result.input_rows)
        metrics[step.name] = dict(result.metrics)
    # Users deleted after the steps read the database are still in what they wrote.
    await scrub_staged(engine, staged.path, scrubbers(registry))
    try:
        store.publish(
            staged,
            code_version=code_version(),
            input_rows=input_rows,
            metrics=metrics,
            steps=registry.names(),
        )
    except OSError as exc:
        log.error("reindex.failed", extra={"version": staged.version, "step": None}, exc_info=True)
        raise ArtifactError(f"publishing version {staged.version} failed: {_one_line(exc)}") from exc
    log.info(
        "reindex.published",
        extra={
            "version": staged.version,
            "input_rows": input_rows,
            "seconds": round(time.perf_counter() - started, 3),
        },
    )
    return staged.version


async def _run_step(
    step: Step,
    settings: Settings,
    engine: AsyncEngine,
    staged: StagedVersion,
    tenants: Sequence[TenantRef] | None,
) -> StepResult:
    started = time.perf_counter()
    try:
        if tenants is None:  # no step before this one read the list: read it for this step
            tenants = await tenant_directory(engine)
        with _step_bar(step.name) as progress:
            ctx = StepContext(
                engine=engine, out_dir=staged.path, settings=settings, progress=progress, tenants=tenants
            )
            result = await step.run(ctx)
    except Exception as exc:
        # Logged after the bar is closed so the traceback does not land mid-line.
        log.error("reindex.failed", extra={"version": staged.version, "step": step.name}, exc_info=True)
        raise ArtifactError(f"re-index step {step.name!r} failed: {_one_line(exc)}") from exc
    log.info(
        "reindex.step_finished",
        extra={
            "step": step.name,
            "input_rows": result.input_rows,
            "seconds": round(time.perf_counter() - started, 3),
        },
    )
    return result


@contextmanager
def _step_bar(step_name: str) -> Iterator[ProgressFactory]:
    """One tqdm bar per step on stderr, shown even if the step never reports progress."""
    # mininterval keeps non-TTY output (CI logs, docker logs) to a line or so per second.
    bar = tqdm(desc=step_name, total=None, unit="it", file=sys.stderr, mininterval=1.0, dynamic_ncols=True)

    def progress(total: int | None, unit: str) -> ProgressBar:
        bar.unit = unit
        bar.reset(total=total)
        typed: ProgressBar = bar
        return typed

    try:
        yield progress
    finally:
        bar.close()


def code_version() -> str:
    """The installed package's version (a job started inside some other git checkout must not
    stamp that checkout's commit on the artifacts)."""
    return persona_api.__version__


def _one_line(exc: BaseException) -> str:
    """``Type: first line of the message``; database errors span lines, the log has the rest."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def main(settings: Settings, registry: StepRegistry | None = None) -> int:
    """Entry point of ``persona-api reindex``: prints the new version; 1 with a one-line error on failure."""
    try:
        version = asyncio.run(run_reindex(settings, registry=registry))
    except ArtifactError as exc:
        print(f"persona-api reindex: {exc.detail}", file=sys.stderr)
        return 1
    except Exception as exc:
        log.error("reindex.failed", extra={"step": None}, exc_info=True)
        print(f"persona-api reindex: {_one_line(exc)}", file=sys.stderr)
        return 1
    print(version)
    return 0
