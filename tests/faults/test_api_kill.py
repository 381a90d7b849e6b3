"""SIGKILL of ``persona-api serve`` in the middle of a burst of concurrent writes (memories, turns,
comparisons, interactions), on SQLite and on PostgreSQL: after a restart on the same database,
every write the killed server acknowledged with a 2xx is there, and the service takes writes again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from persona_api.app import create_app
from persona_api.config import Settings
from persona_api.kernel.embed import MiniLMEmbedder
from tests.conftest import ADMIN_TOKEN
from tests.faults.pgcluster import Cluster
from tests.faults.support import (
    Serve,
    clean_env,
    eventually,
    new_pg_database,
    new_sqlite_database,
    tenant_key,
)

WRITERS = 4
KILL_AFTER = 40
"""Acknowledged writes before the kill (the writers go on sending until the server is gone)."""
CLIENT_TIMEOUT = 60.0


@dataclass
class Acked:
    """The acknowledged writes of each kind, by user: memory numbers, and the client's ids of turns,
    comparisons and interactions."""

    memories: dict[str, list[object]] = field(default_factory=dict)
    turns: dict[str, list[object]] = field(default_factory=dict)
    comparisons: dict[str, list[object]] = field(default_factory=dict)
    interactions: dict[str, list[object]] = field(default_factory=dict)
    count: int = 0
    cut_off: int = 0
    """Requests that got no answer: in flight at the kill, or sent after it."""

    def add(self, kind: dict[str, list[object]], user: str, value: object) -> None:
        kind.setdefault(user, []).append(value)
        self.count += 1


async def writer(http: httpx.AsyncClient, h: dict[str, str], user: str, acked: Acked) -> None:
    """A memory, a turn, a comparison and an interaction, round and round, until the server is gone."""
    u = f"/v1/users/{user}"
    for i in range(1_000_000):
        kind = i % 4
        try:
            if kind == 0:
                body = {"text": f"{user} noted fact number {i}: the code is {i * 7919}.", "key": f"fact-{i}"}
                response = await http.post(f"{u}/memories", json=body, headers=h)
                if response.status_code in (200, 201):
                    acked.add(acked.memories, user, int(response.json()["memory"]["id"]))
            elif kind == 1:
                turn = {
                    "id": f"t{i}",
                    "speaker": "user",
                    "text": f"Day {i}: I walked {i % 13} km by the river.",
                }
                response = await http.post(f"{u}/sessions/s1/turns", json={"turns": [turn]}, headers=h)
                if response.status_code == 201:
                    acked.add(acked.turns, user, f"t{i}")
            elif kind == 2:
                pair = [{"item": "tent"}, {"item": "kettle"}][:: 1 if i % 8 == 2 else -1]
                comparison = {"id": f"c{i}", "chosen": pair[0], "rejected": pair[1]}
                response = await http.post(f"{u}/comparisons", json={"comparisons": [comparison]}, headers=h)
                if response.status_code == 200:
                    acked.add(acked.comparisons, user, f"c{i}")
            else:
                event = {
                    "user": user,
                    "item": "tent" if i % 8 == 3 else "kettle",
                    "type": "view",
                    "id": f"e{i}",
                }
                response = await http.post("/v1/interactions", json=[event], headers=h)
                if response.status_code == 200:
                    acked.add(acked.interactions, user, f"e{i}")
        except httpx.TransportError:
            acked.cut_off += 1
            return
        assert response.status_code < 300, response.text


async def everything(
    client: AsyncTestClient[Litestar], path: str, h: dict[str, str], key: str
) -> set[object]:
    found: set[object] = set()
    while True:
        page = await client.get(path, params={"limit": 500, "offset": len(found)}, headers=h)
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        found.update(item[key] for item in items)
        if not items or len(found) >= page.json()["total"]:
            return found


@dataclass
class Target:
    database: str
    folder: Path
    server: Serve


@pytest.fixture(scope="module")
def targets(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Target]]:
    """``serve`` on SQLite and on PostgreSQL, started together (each loads the embedding model for
    tens of seconds; side by side that wait is paid about once)."""
    found: dict[str, Target] = {}
    try:
        for backend in ("sqlite", "postgresql"):
            folder = tmp_path_factory.mktemp(backend)
            url = new_sqlite_database(folder) if backend == "sqlite" else new_pg_database(pg_cluster)
            env = clean_env(
                PERSONA_DATABASE_URL=url,
                PERSONA_ADMIN_TOKEN=ADMIN_TOKEN,
                PERSONA_MODELS_DIR=str(folder / "models"),
                PERSONA_VAR_DIR=str(folder / "var"),
                PERSONA_RATE_LIMIT_PER_MINUTE="0",
                PERSONA_ARTIFACT_POLL_SECONDS="0",
                PERSONA_LOG_LEVEL="WARNING",
            )
            found[backend] = Target(url, folder, Serve(env, folder))
        yield found
    finally:
        for target in found.values():
            target.server.stop()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_acknowledged_writes_survive_a_sigkill_mid_burst(
    targets: dict[str, Target], backend: str, loaded_embedder: MiniLMEmbedder
) -> None:
    target = targets[backend]
    server = target.server
    acked = Acked()
    users = [f"u{w}" for w in range(WRITERS)]
    await asyncio.to_thread(server.wait_ready)
    async with httpx.AsyncClient(base_url=server.base, timeout=CLIENT_TIMEOUT) as http:
        h = await tenant_key(http)
        items = [{"id": "tent", "title": "Two-person dome tent"}, {"id": "kettle", "title": "Enamel kettle"}]
        assert (await http.post("/v1/items", json=items, headers=h)).status_code in (200, 201)
        # The two items' preference options exist before the burst: the first comparisons of a
        # new option, sent at once, race to insert it (a 500, a fault of its own; see the report).
        seed = {"comparisons": [{"id": "seed", "chosen": {"item": "tent"}, "rejected": {"item": "kettle"}}]}
        assert (await http.post("/v1/users/seed/comparisons", json=seed, headers=h)).status_code == 200
        for user in users:
            partner = await http.post(
                f"/v1/users/{user}/partners", json={"id": "bob", "name": "Bob"}, headers=h
            )
            assert partner.status_code == 201, partner.text
            session = await http.post(
                f"/v1/users/{user}/sessions", json={"id": "s1", "partners": ["bob"]}, headers=h
            )
            assert session.status_code == 201, session.text

        burst = [asyncio.create_task(writer(http, h, user, acked)) for user in users]
        await eventually("the burst is under way", lambda: acked.count >= KILL_AFTER, within=120)
        await asyncio.to_thread(server.kill)
        await asyncio.gather(*burst)
    assert acked.cut_off == WRITERS  # each writer was still sending when the server died
    assert acked.memories and acked.turns and acked.comparisons and acked.interactions

    # Started again (in this process) on the same database.
    settings = Settings(
        database_url=target.database,
        models_dir=target.folder / "models",
        var_dir=target.folder / "var",
        admin_token=ADMIN_TOKEN,
        rate_limit_per_minute=0,
        artifact_poll_seconds=0,
        preload_models=False,
    )
    async with AsyncTestClient(app=create_app(settings, embedder=loaded_embedder)) as client:
        assert (await client.get("/readyz")).status_code == 200
        for user in users:
            u = f"/v1/users/{user}"
            for number in acked.memories.get(user, []):
                assert (await client.get(f"{u}/memories/{number}", headers=h)).status_code == 200
            assert set(acked.turns.get(user, [])) <= await everything(
                client, f"{u}/sessions/s1/turns", h, "id"
            )
            assert set(acked.comparisons.get(user, [])) <= await everything(
                client, f"{u}/comparisons", h, "id"
            )
            assert set(acked.interactions.get(user, [])) <= await everything(
                client, f"{u}/interactions", h, "id"
            )
        await writes_again(client, h)


async def writes_again(client: AsyncTestClient[Litestar], h: dict[str, str]) -> None:
    """The database took no harm: the restarted service writes each kind again."""
    u = "/v1/users/u0"
    turn = {"id": "after", "speaker": "bob", "text": "Back again."}
    comparison = {"id": "after", "chosen": {"item": "tent"}, "rejected": {"item": "kettle"}}
    after = [
        await client.post(f"{u}/memories", json={"text": "After the restart, all is well."}, headers=h),
        await client.post(f"{u}/sessions/s1/turns", json={"turns": [turn]}, headers=h),
        await client.post(f"{u}/comparisons", json={"comparisons": [comparison]}, headers=h),
        await client.post(
            "/v1/interactions", json=[{"user": "u0", "item": "tent", "type": "like"}], headers=h
        ),
    ]
    assert all(r.status_code < 300 for r in after), [r.text for r in after]
