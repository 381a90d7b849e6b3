"""The re-index job killed at each step, right before and right after the rename that publishes
its version, and out of disk space while writing it: the API keeps serving the last good version
throughout, and a later job succeeds.

The jobs run through ``tests/faults/reindex_job.py``, which arms each fault in a forked child of
one process that has imported the job once (see there). The API runs in this process on the same
SQLite database and models folder, checking ``CURRENT`` every 0.1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import select
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from persona_api.app import create_app
from persona_api.config import Settings
from persona_api.kernel.artifacts import ArtifactStore
from persona_api.kernel.embed import MiniLMEmbedder
from tests.conftest import ADMIN_TOKEN, new_tenant
from tests.faults.support import clean_env, eventually, new_sqlite_database

Client = AsyncTestClient[Litestar]
WRAPPER = Path(__file__).with_name("reindex_job.py")
STEPS = ("tenants", "memory", "seqrec", "pairing", "preferences")
JOB_TIMEOUT = 300.0
VERSION = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{4}$")


@dataclass(frozen=True)
class Finished:
    exit: int
    stdout: str
    stderr: str


class Jobs:
    """The wrapper process; :meth:`run` sends it one job and waits for the job's end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self.process = subprocess.Popen(
            [sys.executable, str(WRAPPER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=clean_env(),
            text=True,
        )

    def run(self, fault: str, env: dict[str, str]) -> Finished:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.count += 1
        out, err = self.folder / f"job{self.count}.out", self.folder / f"job{self.count}.err"
        command = {"fault": fault, "env": env, "stdout": str(out), "stderr": str(err)}
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], JOB_TIMEOUT)
        if not ready:
            pytest.fail(f"job {fault!r} did not end within {JOB_TIMEOUT} s:\n{err.read_text()[-3000:]}")
        answer = self.process.stdout.readline()
        if not answer:
            pytest.fail(f"the job wrapper exited ({self.process.wait()})")
        return Finished(json.loads(answer)["exit"], out.read_text(), err.read_text())

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jobs]:
    wrapper = Jobs(tmp_path_factory.mktemp("jobs"))
    try:
        yield wrapper
    finally:
        wrapper.close()


async def _seed(url: str, folder: Path, embedder: MiniLMEmbedder) -> dict[str, str]:
    """Memories (the memory step snapshots them) and recipes (the pairing step trains on them, in
    a fraction of a second); no interactions, so the recommender's step, which trains for tens of
    seconds, skips the tenant."""
    async with AsyncTestClient(app=create_app(_settings(url, folder), embedder=embedder)) as client:
        h = (await new_tenant(client)).headers
        for text in ("Ada keeps bees.", "Ada's sister lives in Porto.", "Ada plays the cello."):
            assert (
                await client.post("/v1/users/ada/memories", json={"text": text}, headers=h)
            ).status_code == 201
        ingredients = [
            {"name": n, "category": "vegetable", "compounds": c}
            for n, c in (
                ("tomato", ["hexanal", "linalool"]),
                ("basil", ["linalool", "eugenol"]),
                ("garlic", ["allicin", "hexanal"]),
                ("onion", ["allicin"]),
                ("pepper", ["hexanal"]),
            )
        ]
        assert (await client.post("/v1/ingredients", json=ingredients, headers=h)).status_code in (200, 201)
        recipes = [
            {"id": f"r{i}", "ingredients": list(r)}
            for i, r in enumerate(
                (
                    ("tomato", "basil", "garlic"),
                    ("tomato", "garlic", "onion"),
                    ("tomato", "basil"),
                    ("garlic", "onion", "pepper"),
                    ("tomato", "pepper", "onion"),
                    ("basil", "garlic"),
                )
            )
        ]
        assert (await client.post("/v1/recipes", json=recipes, headers=h)).status_code in (200, 201)
        return h


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory, loaded_embedder: MiniLMEmbedder
) -> tuple[str, dict[str, str]]:
    """A database with a tenant's data for every step, and the tenant's key (as headers)."""
    folder = tmp_path_factory.mktemp("reindex-db")
    url = new_sqlite_database(folder)
    return url, asyncio.run(_seed(url, folder, loaded_embedder))


def _settings(url: str, folder: Path) -> Settings:
    return Settings(
        database_url=url,
        models_dir=folder / "models",
        var_dir=folder / "var",
        admin_token=ADMIN_TOKEN,
        rate_limit_per_minute=0,
        artifact_poll_seconds=0.1,
        preload_models=False,
        keep_versions=2,
    )


@dataclass
class Deployment:
    client: Client
    headers: dict[str, str]
    models: Path
    env: dict[str, str]
    store: ArtifactStore

    async def served(self) -> str | None:
        ready = await self.client.get("/readyz")
        assert ready.status_code == 200, ready.text
        version = ready.json()["artifact_version"]
        return str(version) if version is not None else None

    async def serves(self, version: str) -> None:
        """``version`` is served: by /readyz, and by a route that needs a trained model."""
        await eventually(f"the API serves {version}", lambda: self._is_served(version), within=60)
        await self.pairs()

    async def pairs(self) -> None:
        """The pairing model answers (before any version: 503)."""
        body = {"ingredients": ["tomato", "garlic"], "k": 2}
        answer = await self.client.post("/v1/pairings/complete", json=body, headers=self.headers)
        assert answer.status_code == 200, answer.text

    async def _is_served(self, version: str) -> bool:
        return await self.served() == version

    def folders(self) -> list[str]:
        """Every folder named like a version, published or not."""
        return sorted(p.name for p in self.models.iterdir() if VERSION.match(p.name))

    def staging(self) -> list[Path]:
        return sorted(self.models.glob(".staging-*"))


@contextlib.asynccontextmanager
async def running_api(
    seeded: tuple[str, dict[str, str]], folder: Path, embedder: MiniLMEmbedder
) -> AsyncIterator[Deployment]:
    url, headers = seeded
    settings = _settings(url, folder)
    settings.models_dir.mkdir(exist_ok=True)
    env = {
        "PERSONA_DATABASE_URL": url,
        "PERSONA_MODELS_DIR": str(settings.models_dir),
        "PERSONA_KEEP_VERSIONS": str(settings.keep_versions),
    }
    store = ArtifactStore(settings.models_dir, keep=settings.keep_versions)
    async with AsyncTestClient(app=create_app(settings, embedder=embedder)) as client:
        yield Deployment(client, headers, settings.models_dir, env, store)


async def publish_good(jobs: Jobs, s: Deployment) -> str:
    done = await asyncio.to_thread(jobs.run, "none", s.env)
    assert done.exit == 0, done.stderr[-3000:]
    version = done.stdout.strip().splitlines()[-1]
    await s.serves(version)
    return version


async def test_a_job_killed_at_any_step_or_before_the_rename_changes_nothing_served(
    jobs: Jobs, seeded: tuple[str, dict[str, str]], tmp_path: Path, loaded_embedder: MiniLMEmbedder
) -> None:
    async with running_api(seeded, tmp_path, loaded_embedder) as s:
        good = await publish_good(jobs, s)
        for fault in (*(f"step:{name}" for name in STEPS), "rename:before"):
            killed = await asyncio.to_thread(jobs.run, fault, s.env)
            assert killed.exit == -9, (fault, killed.stderr[-3000:])
            # The dead job left its staging folder only (the one before it was cleared by it).
            assert len(s.staging()) == 1, fault
            assert s.folders() == [good] and s.store.current_version() == good, fault
            assert await s.served() == good, fault
            await s.pairs()
        # Steps ran in order up to the killed one: the last dead job had written them all.
        [staged] = s.staging()
        assert {p.name for p in staged.iterdir()} >= set(STEPS)

        later = await asyncio.to_thread(jobs.run, "none", s.env)
        assert later.exit == 0, later.stderr[-3000:]
        newer = later.stdout.strip().splitlines()[-1]
        assert s.staging() == [] and s.folders() == [good, newer]
        await s.serves(newer)


async def test_a_job_killed_right_after_the_rename_leaves_an_orphan_never_served_nor_kept(
    jobs: Jobs, seeded: tuple[str, dict[str, str]], tmp_path: Path, loaded_embedder: MiniLMEmbedder
) -> None:
    async with running_api(seeded, tmp_path, loaded_embedder) as s:
        good = await publish_good(jobs, s)
        killed = await asyncio.to_thread(jobs.run, "rename:after", s.env)
        assert killed.exit == -9, killed.stderr[-3000:]
        [orphan] = [v for v in s.folders() if v != good]
        assert (s.models / orphan / "manifest.json").is_file()  # complete, but CURRENT never named it
        assert s.store.current_version() == good and await s.served() == good
        assert s.store.versions() == [good]

        # keep_versions is 2: were the orphan counted, this job would prune the good version.
        later = await asyncio.to_thread(jobs.run, "none", s.env)
        assert later.exit == 0, later.stderr[-3000:]
        newer = later.stdout.strip().splitlines()[-1]
        assert s.folders() == [good, newer] and s.store.versions() == [good, newer]
        await s.serves(newer)


@contextlib.contextmanager
def tmpfs(folder: Path) -> Iterator[None]:
    folder.mkdir(exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(
            f"no tmpfs mount here ({mounted.stderr.strip()}); the 'patched' case injects ENOSPC instead"
        )
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def resize(folder: Path, size: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(folder)], check=True, capture_output=True)


@pytest.mark.parametrize("injected", ["patched", "tmpfs"])
async def test_a_job_out_of_disk_space_fails_cleanly_and_the_last_version_keeps_serving(
    jobs: Jobs,
    seeded: tuple[str, dict[str, str]],
    tmp_path: Path,
    loaded_embedder: MiniLMEmbedder,
    injected: str,
) -> None:
    with tmpfs(tmp_path / "models") if injected == "tmpfs" else contextlib.nullcontext():
        async with running_api(seeded, tmp_path, loaded_embedder) as s:
            good = await publish_good(jobs, s)
            if injected == "tmpfs":
                disk = os.statvfs(s.models)
                resize(s.models, (disk.f_blocks - disk.f_bfree) * disk.f_frsize)  # not a page free
                failed = await asyncio.to_thread(jobs.run, "none", s.env)
                resize(s.models, 64 << 20)
            else:
                failed = await asyncio.to_thread(jobs.run, "enospc:2000", s.env)
            assert failed.exit == 1, failed.stderr[-3000:]
            assert failed.stdout == ""
            last = failed.stderr.strip().splitlines()[-1]
            assert last.startswith("persona-api reindex: ") and "No space left on device" in last, last
            logged = [json.loads(line) for line in failed.stderr.splitlines() if '"reindex.failed"' in line]
            assert logged and logged[0]["level"] == "error", failed.stderr[-3000:]
            assert s.staging() == [] and s.folders() == [good] and s.store.current_version() == good
            assert await s.served() == good

            later = await asyncio.to_thread(jobs.run, "none", s.env)
            assert later.exit == 0, later.stderr[-3000:]
            await s.serves(later.stdout.strip().splitlines()[-1])
