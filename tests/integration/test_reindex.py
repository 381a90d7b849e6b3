"""The re-index job end to end on a real SQLite database: publication, failures, SIGKILL, the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

import persona_api
from persona_api.config import Settings
from persona_api.errors import ArtifactError
from persona_api.jobs import reindex
from persona_api.jobs.reindex import run_reindex
from persona_api.kernel.artifacts import ArtifactStore
from persona_api.kernel.steps import StepContext, StepResult
from persona_api.store.db import create_engine
from persona_api.store.step import default_registry
from persona_api.store.tables import Base, Tenant, User

ROOT = Path(__file__).resolve().parents[2]


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'persona.db'}",
        models_dir=tmp_path / "models",
        keep_versions=3,
    )


async def _seed(settings: Settings, tenants: dict[tuple[str, str], int]) -> None:
    engine = create_engine(settings, pooled=False)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        async with AsyncSession(engine) as session:
            for (tenant_id, name), users in tenants.items():
                session.add(Tenant(id=tenant_id, name=name))
                session.add_all(User(tenant_id=tenant_id, external_id=f"u{i}") for i in range(users))
            await session.commit()
    finally:
        await engine.dispose()


@pytest.fixture
async def seeded(tmp_path: Path) -> Settings:
    """Settings of a fresh database with 2 tenants and 3 users."""
    settings = _settings(tmp_path)
    await _seed(settings, {("t1", "Acme"): 2, ("t2", "Globex"): 1})
    return settings


def _store(settings: Settings) -> ArtifactStore:
    return ArtifactStore(settings.models_dir, keep=settings.keep_versions)


def _staging(settings: Settings) -> list[Path]:
    return sorted(settings.models_dir.glob(".staging-*"))


class PartialThenFail:
    """Writes half an artifact, then fails like a training step that runs out of memory."""

    name = "explode"

    async def run(self, ctx: StepContext) -> StepResult:
        (ctx.step_dir(self.name) / "partial.bin").write_bytes(b"\0" * 1024)
        raise RuntimeError("out of memory halfway")


async def test_reindex_publishes_the_tenant_directory(seeded: Settings) -> None:
    version = await run_reindex(seeded)

    store = _store(seeded)
    assert store.current_version() == version
    assert store.versions() == [version]
    directory = json.loads((store.path(version) / "tenants" / "tenants.json").read_text())
    assert directory == [
        {"id": "t1", "name": "Acme", "users": 2},
        {"id": "t2", "name": "Globex", "users": 1},
    ]
    manifest = store.verify(version)
    assert manifest.input_rows == {"tenants": 2, "users": 3}
    assert manifest.metrics == {"tenants": {"tenants": 2}}
    assert manifest.steps == ["tenants"]
    assert list(manifest.files) == ["tenants/tenants.json"]
    assert manifest.code_version.startswith(persona_api.__version__)
    assert _staging(seeded) == []

    # A tenant without users still appears (outer join), and the next run supersedes the first.
    await _seed(seeded, {("t3", "Initech"): 0})
    newer = await run_reindex(seeded)
    assert newer > version
    assert store.current_version() == newer
    directory = json.loads((store.path(newer) / "tenants" / "tenants.json").read_text())
    assert directory[-1] == {"id": "t3", "name": "Initech", "users": 0}


async def test_failing_step_keeps_the_previous_version(seeded: Settings) -> None:
    previous = await run_reindex(seeded)
    registry = default_registry()
    registry.register(PartialThenFail())

    with pytest.raises(ArtifactError, match=r"step 'explode' failed: RuntimeError: out of memory halfway"):
        await run_reindex(seeded, registry=registry)

    store = _store(seeded)
    assert store.current_version() == previous
    assert store.versions() == [previous]
    assert _staging(seeded) == []
    # The lock was released: the next job runs.
    assert await run_reindex(seeded) != previous


async def test_a_second_job_is_refused_while_one_runs(seeded: Settings) -> None:
    previous = await run_reindex(seeded)
    with _store(seeded).lock(), pytest.raises(ArtifactError, match="another re-index job is running"):
        await run_reindex(seeded)
    assert _store(seeded).current_version() == previous
    assert _store(seeded).versions() == [previous]


# Runs the default steps, then a step that writes half its output and hangs until killed.
KILLED_JOB = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from persona_api.config import Settings
    from persona_api.jobs.reindex import run_reindex
    from persona_api.kernel.steps import StepResult
    from persona_api.store.step import default_registry

    database_url, models_dir, marker = sys.argv[1:4]

    class Hang:
        name = "hang"

        async def run(self, ctx):
            (ctx.step_dir(self.name) / "partial.bin").write_bytes(b"\\0" * 4096)
            Path(marker).write_text("ready")
            await asyncio.sleep(60)
            return StepResult()

    registry = default_registry()
    registry.register(Hang())
    settings = Settings(database_url=database_url, models_dir=Path(models_dir), keep_versions=3)
    asyncio.run(run_reindex(settings, registry=registry))
    """
)


async def test_sigkilled_job_leaves_no_partial_version(seeded: Settings, tmp_path: Path) -> None:
    store = _store(seeded)
    previous = await run_reindex(seeded)
    marker = tmp_path / "job-is-mid-step"
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        KILLED_JOB,
        seeded.database_url,
        str(seeded.models_dir),
        str(marker),
        env={**os.environ, "PYTHONPATH": pythonpath},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        for _ in range(600):  # up to 30 s for the child to start and reach the hanging step
            if marker.exists() or proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        assert marker.exists(), "the job never reached its hanging step"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.returncode is None:
            proc.kill()
        _, stderr = await proc.communicate()
    assert proc.returncode == -signal.SIGKILL, stderr.decode(errors="replace")

    # The half-built version exists only as a staging folder, which nothing treats as a version.
    [stale] = _staging(seeded)
    assert (stale / "hang" / "partial.bin").exists()
    assert store.versions() == [previous]
    assert store.current_version() == previous

    # The kernel dropped the dead job's lock; the next run succeeds and clears the leftovers.
    newer = await run_reindex(seeded)
    assert store.current_version() == newer
    assert store.versions() == [previous, newer]
    assert _staging(seeded) == []
    assert not (store.path(newer) / "hang").exists()


def test_cli_main_prints_the_version_or_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path)
    asyncio.run(_seed(settings, {("t1", "Acme"): 1}))

    assert reindex.main(settings) == 0
    out, _ = capsys.readouterr()
    assert out.strip() == _store(settings).current_version()

    broken = settings.with_overrides(database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    assert reindex.main(broken) == 1
    out, err = capsys.readouterr()
    assert out == ""
    last_line = err.strip().splitlines()[-1]
    assert last_line.startswith("persona-api reindex: re-index step 'tenants' failed: OperationalError: ")
    assert _store(settings).versions() == [_store(settings).current_version()]
