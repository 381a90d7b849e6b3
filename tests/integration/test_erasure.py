"""Deleting a user erases them everywhere: every table at once, and every file of every kept
artifact version once the erasure request is done (also when a re-index job runs meanwhile)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.app import create_app
from persona_api.capabilities import metadata
from persona_api.capabilities import steps as all_steps
from persona_api.config import Settings
from persona_api.jobs.reindex import run_reindex
from persona_api.kernel.artifacts import ArtifactStore
from persona_api.kernel.embed import MiniLMEmbedder
from persona_api.kernel.steps import StepContext, StepRegistry, StepResult
from persona_api.memory.step import MemoryIndexStep
from persona_api.pairing.step import PairingStep
from persona_api.preferences.step import MIN_USER_COMPARISONS, MIN_USERS, PreferenceStep
from persona_api.preferences.training_inputs import TrainConfig
from persona_api.recsys.bundle import RecModels
from persona_api.recsys.seqconfig import SeqConfig
from persona_api.recsys.step import SeqRecStep
from persona_api.store import migrate
from persona_api.store.db import create_engine
from persona_api.store.erasure import erase_now, request_erasure
from persona_api.store.step import TenantDirectoryStep
from persona_api.store.tables import ErasureRequest, User
from tests.conftest import TenantKey, admin_headers, fetch_all, new_tenant
from tests.integration import pairing_fixtures, recs_fixtures
from tests.llm_server import FakeLLM, Reply

Client = AsyncTestClient[Litestar]

GONE, KEPT = "gone-ulrika-7q", "kept-bertil-3x"
# Made-up words survive the tokenizer as they are, so the BM25 state of a snapshot shows them.
GONE_WORDS = ("plinketto", "zebrafinch", "vostrakka", "glimmerwort", "thundercress", "quorvinade")
GONE_TEXTS = (
    "Ulrika keeps a zebrafinch named Plinketto.",
    "I am training for the Vostrakka marathon in spring.",
    "A dusky glimmerwort salad with walnuts",
    "A bright thundercress soup with cream",
    "Tell me about quorvinade recipes.",
    "Quorvinade is best served cold, Ulrika.",
    "answers in the style of a Vostrakka sea captain",
)
KEPT_TEXT = "Bertil restores old sailboats in Gdansk."


def _steps() -> StepRegistry:
    """Every capability's step, with the fast training settings the other tests use."""
    return StepRegistry(
        [
            TenantDirectoryStep(),
            MemoryIndexStep(),
            SeqRecStep(SeqConfig.fast()),
            PairingStep(),
            PreferenceStep(TrainConfig(ks=(2, 4), dim=8, epochs=120, prior_scales=(1.0,))),
        ]
    )


@pytest.fixture
def configured(settings: Settings, llm_server: FakeLLM) -> Settings:
    return settings.with_overrides(
        llm_base_url=llm_server.base_url,
        llm_model="fake-model",
        llm_timeout_seconds=2.0,
        llm_extract_memories=False,  # turns are extracted by the rules, at once
        keep_versions=3,
    )


@pytest.fixture
async def app_client(
    configured: Settings, embedder: MiniLMEmbedder
) -> AsyncIterator[tuple[Litestar, Client]]:
    app = create_app(configured, embedder=embedder)
    async with AsyncTestClient(app=app) as client:
        yield app, client


async def _ok(response: Any) -> Any:
    assert response.status_code in (200, 201, 204), response.text
    return response.json() if response.content else None


async def _write_everything(client: Client, tenant: TenantKey, llm_server: FakeLLM) -> None:
    """Memories, turns, a chat, values, interactions, recipes and comparisons for both users, and
    the population that lets every step train."""
    h = tenant.headers
    await _ok(await client.post("/v1/users", json={"id": GONE, "metadata": {"name": "Ulrika"}}, headers=h))
    await _ok(await client.post("/v1/users", json={"id": KEPT, "metadata": {"name": "Bertil"}}, headers=h))
    u = f"/v1/users/{GONE}"
    await _ok(
        await client.post(f"{u}/partners", json={"id": "vostrakka-coach", "name": "Vostrakka"}, headers=h)
    )
    await _ok(
        await client.post(
            f"{u}/sessions",
            json={"id": "s-plinketto", "partners": ["vostrakka-coach"], "started_at": "2024-03-02T18:00:00Z"},
            headers=h,
        )
    )
    turns = {"turns": [{"id": "t1", "speaker": "user", "text": GONE_TEXTS[1]}]}
    await _ok(await client.post(f"{u}/sessions/s-plinketto/turns", json=turns, headers=h))
    await _ok(await client.post(f"{u}/memories", json={"text": GONE_TEXTS[0]}, headers=h))
    values = {"preferences": [{"dimension": "style", "subdimension": "tone", "preference": GONE_TEXTS[6]}]}
    await _ok(await client.put(f"{u}/values", json=values, headers=h))
    llm_server.queue(Reply(content=GONE_TEXTS[5]))
    chat = {"messages": [{"role": "user", "content": GONE_TEXTS[4]}]}
    await _ok(await client.post(f"{u}/chat", json=chat, headers=h))
    await _ok(await client.post(f"/v1/users/{KEPT}/memories", json={"text": KEPT_TEXT}, headers=h))

    await recs_fixtures.load(client, h)
    events = [
        {
            "user": user,
            "item": recs_fixtures.item_id("tea", step),
            "type": "purchase",
            "id": f"{user}-{step}",
        }
        | {"at": f"2026-05-0{step + 1}T10:00:00Z"}
        for user in (GONE, KEPT)
        for step in range(3)
    ]
    await _ok(await client.post("/v1/interactions", json=events, headers=h))

    await _ok(await client.post("/v1/ingredients", json=pairing_fixtures.ingredients(), headers=h))
    recipes = pairing_fixtures.recipes(per_cuisine=3)
    for recipe in recipes[:2]:
        recipe["user"] = GONE
    await _ok(await client.post("/v1/recipes", json=recipes, headers=h))

    comparisons = [
        {"id": "g1", "chosen": {"text": GONE_TEXTS[2]}, "rejected": {"text": GONE_TEXTS[3]}},
        {"id": "g2", "chosen": {"text": GONE_TEXTS[3]}, "rejected": {"text": "A plain glass of water"}},
    ]
    await _ok(await client.post(f"{u}/comparisons", json={"comparisons": comparisons}, headers=h))
    likes, dislikes = ["Hiking at dawn", "Kayaking a river", "Camping by a lake"], ["Mall trips", "Spa days"]
    for member in range(MIN_USERS + 1):
        pairs = [
            {
                "id": f"m{i}",
                "chosen": {"text": likes[(member + i) % 3]},
                "rejected": {"text": dislikes[i % 2]},
            }
            for i in range(MIN_USER_COMPARISONS)
        ]
        await _ok(
            await client.post(
                f"/v1/users/member-{member}/comparisons", json={"comparisons": pairs}, headers=h
            )
        )


def _strings_of(path: Path) -> Iterator[str]:
    """What a file says, in every form a grep should see: its bytes, the strings inside each
    member of an ``.npz`` (numpy stores them as UTF-32), and a JSON file's decoded values."""
    raw = path.read_bytes()
    yield raw.decode("latin-1")
    if path.suffix == ".npz":
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                yield archive.read(member).decode("latin-1")
        with np.load(path, allow_pickle=False) as arrays:
            for name in arrays.files:
                if arrays[name].dtype.kind == "U":
                    yield " ".join(str(x) for x in arrays[name].ravel())
    if path.suffix == ".json":
        yield json.dumps(json.loads(raw), ensure_ascii=False)


def _needles() -> list[str]:
    return [GONE, *GONE_TEXTS, *GONE_WORDS]


def _files_naming_gone(models: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in models.rglob("*") if p.is_file()):
        text = "\n".join(_strings_of(path)).lower()
        hits = [n for n in _needles() if n.lower() in text]
        if hits:
            found[path.relative_to(models).as_posix()] = hits
    return found


async def _rows_naming_gone(database_url: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, table in sorted(metadata().tables.items()):
        rows = await fetch_all(database_url, select(table))
        text = "\n".join(repr(tuple(v for v in row if not isinstance(v, bytes))) for row in rows).lower()
        hits = [n for n in _needles() if n.lower() in text]
        if hits:
            found[name] = hits
    return found


async def _user_pk(database_url: str, tenant: TenantKey, external_id: str) -> int:
    [(pk,)] = await fetch_all(
        database_url,
        select(User.id).where(User.tenant_id == tenant.tenant_id, User.external_id == external_id),
    )
    return int(pk)


async def _pending(database_url: str) -> list[int]:
    rows = await fetch_all(database_url, select(ErasureRequest.id).where(ErasureRequest.done_at.is_(None)))
    return [int(r[0]) for r in rows]


async def _until_done(database_url: str) -> None:
    deadline = time.monotonic() + 120  # generous: the pass takes well under a second here
    while await _pending(database_url):
        assert time.monotonic() < deadline, "the erasure was never done"
        await asyncio.sleep(0.1)


def _user_tables(models: Path, version: str, tenant: TenantKey) -> tuple[set[int], set[str]]:
    with np.load(models / version / "seqrec" / tenant.tenant_id / "users.npz", allow_pickle=False) as users:
        return set(users["user_pks"].tolist()), {str(x) for x in users["user_external"]}


def _memory_owners(models: Path, version: str, tenant: TenantKey) -> set[int]:
    with np.load(models / version / "memory" / tenant.tenant_id / "entries.npz", allow_pickle=False) as e:
        return set(e["user_id"].tolist())


async def test_a_deleted_user_leaves_every_table_and_every_kept_version(
    app_client: tuple[Litestar, Client], configured: Settings, llm_server: FakeLLM
) -> None:
    app, client = app_client
    tenant = await new_tenant(client, "erasure")
    h = tenant.headers
    try:
        await _write_everything(client, tenant, llm_server)
        gone_pk = await _user_pk(configured.database_url, tenant, GONE)
        kept_pk = await _user_pk(configured.database_url, tenant, KEPT)
        first = await run_reindex(configured, registry=_steps())
        await _ok(
            await client.post(
                f"/v1/users/{GONE}/memories", json={"text": "Plinketto sings at dawn."}, headers=h
            )
        )
        second = await run_reindex(configured, registry=_steps())
        assert await asyncio.to_thread(app.state.artifacts.refresh)
        models = configured.models_dir
        store = ArtifactStore(models, keep=configured.keep_versions)
        assert store.versions() == [first, second]
        # The check can fail: before the deletion both versions name the user, in several steps.
        before = _files_naming_gone(models)
        for version in (first, second):
            assert {
                f"{version}/memory/{tenant.tenant_id}/lexical.json",
                f"{version}/seqrec/{tenant.tenant_id}/users.npz",
            } <= set(before)
            assert gone_pk in _memory_owners(models, version, tenant)
        assert await _rows_naming_gone(configured.database_url)

        assert (await client.delete(f"/v1/users/{GONE}", headers=h)).status_code == 204
        assert await _rows_naming_gone(configured.database_url) == {}  # rows: at once
        await _until_done(configured.database_url)

        assert _files_naming_gone(models) == {}
        for version in (first, second):
            store.verify(version)  # every rewritten file is in its manifest
            pks, names = _user_tables(models, version, tenant)
            assert gone_pk not in pks and GONE not in names
            assert kept_pk in pks and KEPT in names
            assert gone_pk not in _memory_owners(models, version, tenant)
            assert kept_pk in _memory_owners(models, version, tenant)
        assert not list(models.rglob(".scrub-*"))
        # The served artifacts were reloaded from the rewritten files.
        served = app.state.artifacts.current
        assert served.version == second
        model = served.get("seqrec", RecModels).get(tenant.tenant_id)
        assert model is not None and GONE not in model.user_external and KEPT in model.user_external
        # The other user is still served, by the trained model and from the memory snapshot.
        recs = await _ok(await client.get(f"/v1/users/{KEPT}/recommendations", headers=h))
        assert recs["strategy"] == "sequential"
        found = await _ok(
            await client.post(f"/v1/users/{KEPT}/memories/search", json={"query": "sailboats"}, headers=h)
        )
        assert found["results"][0]["memory"]["text"] == KEPT_TEXT
        assert (await client.get(f"/v1/users/{GONE}", headers=h)).status_code == 404
    finally:
        await client.delete(f"/v1/admin/tenants/{tenant.tenant_id}", headers=admin_headers())


class DeleteMidJob:
    """A step that deletes the user while the job runs: the steps before it read the user."""

    name = "delete_mid_job"

    def __init__(self, client: Client, tenant: TenantKey) -> None:
        self.client, self.tenant = client, tenant
        self.pending_during_job: list[int] = []

    async def run(self, ctx: StepContext) -> StepResult:
        response = await self.client.delete(f"/v1/users/{GONE}", headers=self.tenant.headers)
        assert response.status_code == 204, response.text
        await asyncio.sleep(0.5)  # the API's pass runs meanwhile; it cannot finish while we run
        self.pending_during_job = await _pending(ctx.settings.database_url)
        return StepResult()


async def test_a_user_deleted_while_the_job_runs_is_not_published(
    app_client: tuple[Litestar, Client], configured: Settings
) -> None:
    _app, client = app_client
    tenant = await new_tenant(client, "erasure-race")
    h = tenant.headers
    try:
        for user, text in ((GONE, GONE_TEXTS[0]), (KEPT, KEPT_TEXT)):
            await _ok(await client.post(f"/v1/users/{user}/memories", json={"text": text}, headers=h))
        old = await run_reindex(configured, registry=StepRegistry([TenantDirectoryStep(), MemoryIndexStep()]))
        hook = DeleteMidJob(client, tenant)
        steps = StepRegistry([TenantDirectoryStep(), MemoryIndexStep(), hook])
        new = await run_reindex(configured, registry=steps)

        assert hook.pending_during_job, "the request was done while a job that read the user ran"
        assert await _pending(configured.database_url) == []  # the job's own pass finished it
        assert _files_naming_gone(configured.models_dir) == {}
        store = ArtifactStore(configured.models_dir, keep=configured.keep_versions)
        assert store.versions() == [old, new]
        for version in (old, new):
            store.verify(version)
            lexical = configured.models_dir / version / "memory" / tenant.tenant_id / "lexical.json"
            assert '"sailboat"' in lexical.read_text()  # the other user's memory stays
    finally:
        await client.delete(f"/v1/admin/tenants/{tenant.tenant_id}", headers=admin_headers())


@pytest.mark.skipif(bool(os.environ.get("PERSONA_TEST_DATABASE_URL")), reason="SQLite's own file")
async def test_the_sqlite_file_keeps_no_deleted_text(
    settings: Settings, embedder: MiniLMEmbedder, tmp_path: Path
) -> None:
    path = tmp_path / "own.db"
    own = settings.with_overrides(database_url=f"sqlite+aiosqlite:///{path}")
    await asyncio.to_thread(migrate.upgrade, own.database_url)
    engine = create_engine(own)

    def insecure_by_default(dbapi_connection: Any, _record: Any) -> None:
        # As builds without SQLITE_SECURE_DELETE start; runs before the engine's own settings.
        dbapi_connection.execute("PRAGMA secure_delete = OFF")

    event.listen(engine.sync_engine, "connect", insecure_by_default, insert=True)
    async with AsyncTestClient(app=create_app(own, engine=engine, embedder=embedder)) as client:
        tenant = await new_tenant(client)
        for user, text in ((GONE, GONE_TEXTS[0]), (KEPT, KEPT_TEXT)):
            for n in range(40):  # pages of their own
                body = {"text": f"{text} Entry {n}."}
                await _ok(await client.post(f"/v1/users/{user}/memories", json=body, headers=tenant.headers))
        assert (await client.delete(f"/v1/users/{GONE}", headers=tenant.headers)).status_code == 204
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes().lower()
    assert KEPT_TEXT.lower().encode() in data
    assert not [word for word in ("zebrafinch", "plinketto") if word.encode() in data]


async def test_persona_api_erase_runs_a_pass_and_reports(settings: Settings) -> None:
    engine = create_engine(settings, pooled=False)
    try:
        async with AsyncSession(engine) as session:
            request_erasure(session, "ten_long_gone", 10**12)
            await session.commit()
    finally:
        await engine.dispose()
    before = await erase_now(settings, all_steps(), report_only=True)
    assert before.pending >= 1 and before.oldest_pending is not None

    after = await erase_now(settings, all_steps())  # no version holds anyone: done at once

    assert after.pending == 0 and after.done >= before.done + before.pending
