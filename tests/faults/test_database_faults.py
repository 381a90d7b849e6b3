"""PostgreSQL failing under a running API: connections terminated mid-request, the server
restarted under load, the server stopped dead. Requests fail fast with a 503 problem and
``Retry-After`` (every request is bounded by a client timeout none reaches), the API recovers by
itself once the server is back, and every write it acknowledged is there afterwards.

The API serves from a real uvicorn server in a thread, on a database of the suite's own cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from sqlalchemy.engine import make_url

from persona_api.app import create_app
from persona_api.config import Settings
from persona_api.kernel.embed import MiniLMEmbedder
from persona_api.store import db
from tests.conftest import ADMIN_TOKEN
from tests.faults.pgcluster import Cluster
from tests.faults.support import eventually, tenant_key
from tests.serving import served

CLIENT_TIMEOUT = 30.0
"""Every request of these tests gives up after this long; none may need it."""


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) >= 1
    problem = response.json()
    assert problem["type"] == "urn:persona-api:problem:database-unavailable", problem
    assert problem["request_id"] and "retry" in problem["detail"]


@contextlib.contextmanager
def api_on(url: str, embedder: MiniLMEmbedder, tmp_path: Path) -> Iterator[str]:
    settings = Settings(
        database_url=url,
        models_dir=tmp_path / "models",
        var_dir=tmp_path / "var",
        admin_token=ADMIN_TOKEN,
        rate_limit_per_minute=0,
        artifact_poll_seconds=0,
        preload_models=False,
    )
    with served(create_app(settings, embedder=embedder)) as base:
        yield base


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def test_connections_terminated_mid_request_are_503s_then_requests_succeed(
    pg_url: str, loaded_embedder: MiniLMEmbedder, tmp_path: Path
) -> None:
    with api_on(pg_url, loaded_embedder, tmp_path) as base:
        async with httpx.AsyncClient(base_url=base, timeout=CLIENT_TIMEOUT) as http:
            h = await tenant_key(http)
            first = await http.post("/v1/users/ada/memories", json={"text": "Ada keeps bees."}, headers=h)
            assert first.status_code == 201, first.text

            # Hold the memory tables, so the requests below stop inside the database, mid-request.
            database = make_url(pg_url).database
            blocker = await asyncpg.connect(asyncpg_dsn(pg_url))
            monitor = await asyncpg.connect(asyncpg_dsn(pg_url))  # outside any transaction: fresh statistics
            try:
                hold = blocker.transaction()
                await hold.start()
                await blocker.execute("LOCK TABLE memories, memory_heads IN ACCESS EXCLUSIVE MODE")
                texts = ["Ada's sister lives in Porto.", "Ada plays the cello.", "Ada is allergic to cats."]
                pending = [
                    *(http.post("/v1/users/ada/memories", json={"text": t}, headers=h) for t in texts),
                    http.get("/v1/users/ada/memories", headers=h),
                    http.get("/v1/users/ada/memories/1", headers=h),
                ]
                calls = [asyncio.ensure_future(c) for c in pending]

                async def all_waiting() -> bool:
                    waiting = await monitor.fetchval(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = $1 AND wait_event_type = 'Lock'",
                        database,
                    )
                    return bool(waiting == len(calls))

                await eventually("every request waits inside the database", all_waiting, within=20)
                victims = await monitor.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> ALL($2::int[])",
                    database,
                    [monitor.get_server_pid(), blocker.get_server_pid()],
                )
                assert len(victims) >= len(calls)
                for victim in victims:
                    assert await monitor.fetchval("SELECT pg_terminate_backend($1)", victim["pid"])
                for response in await asyncio.gather(*calls):
                    assert_unavailable(response)
                await hold.rollback()
            finally:
                await blocker.close()
                await monitor.close()

            # No restart: the next requests get new connections and succeed.
            again = await http.post("/v1/users/ada/memories", json={"text": "Ada runs marathons."}, headers=h)
            assert again.status_code == 201, again.text
            listed = await http.get("/v1/users/ada/memories", headers=h)
            assert listed.status_code == 200, listed.text
            assert sorted(m["text"] for m in listed.json()["items"]) == [
                "Ada keeps bees.",
                "Ada runs marathons.",
            ]


@dataclass
class Load:
    """What concurrent writers saw: the writes acknowledged, and every answer by status."""

    users: list[str] = field(default_factory=list)
    memories: list[int] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    timeouts: int = 0
    other_errors: list[str] = field(default_factory=list)
    bad_problems: list[str] = field(default_factory=list)

    def acknowledged_count(self) -> int:
        return len(self.users) + len(self.memories)

    def refused_count(self) -> int:
        return self.statuses[503]


def grows(count: Callable[[], int], by: int) -> Callable[[], bool]:
    """Whether ``count()`` has grown by more than ``by`` since this call."""
    start = count()
    return lambda: count() > start + by


async def write_until(
    stop: asyncio.Event, http: httpx.AsyncClient, h: dict[str, str], w: int, load: Load
) -> None:
    """Alternately create a user and a memory until ``stop``; record each answer."""
    i = 0
    while not stop.is_set():
        i += 1
        try:
            if i % 2:
                user = f"w{w}-u{i}"
                response = await http.post("/v1/users", json={"id": user}, headers=h)
                if response.status_code == 201:
                    load.users.append(user)
            else:
                body = {"text": f"Writer {w} wrote note {i} about topic {w * 1000 + i}.", "key": f"w{w}-{i}"}
                response = await http.post("/v1/users/ada/memories", json=body, headers=h)
                if response.status_code in (200, 201):
                    load.memories.append(int(response.json()["memory"]["id"]))
        except httpx.TimeoutException:
            load.timeouts += 1
            continue
        except httpx.HTTPError as exc:
            load.other_errors.append(repr(exc))
            continue
        load.statuses[response.status_code] += 1
        if response.status_code == 503:
            try:
                assert_unavailable(response)
            except AssertionError as exc:
                load.bad_problems.append(str(exc))
            await asyncio.sleep(0.05)  # pacing only: a real client would wait Retry-After


async def test_a_server_restarted_under_load_costs_503s_and_loses_no_acknowledged_write(
    pg_url: str, pg_cluster: Cluster, loaded_embedder: MiniLMEmbedder, tmp_path: Path
) -> None:
    with api_on(pg_url, loaded_embedder, tmp_path) as base:
        async with httpx.AsyncClient(
            base_url=base, timeout=CLIENT_TIMEOUT, limits=httpx.Limits(max_connections=8)
        ) as http:
            h = await tenant_key(http)
            assert (await http.post("/v1/users", json={"id": "ada"}, headers=h)).status_code == 201
            load = Load()
            stop = asyncio.Event()
            writers = [asyncio.create_task(write_until(stop, http, h, w, load)) for w in range(4)]
            try:
                for mode in ("fast", "immediate"):  # a clean shutdown, then a crash
                    await eventually("writes are acknowledged", grows(load.acknowledged_count, 8), 60)
                    await asyncio.to_thread(pg_cluster.stop, mode)
                    await eventually("a write is refused", grows(load.refused_count, 0), 30)
                    await asyncio.to_thread(pg_cluster.start)
                    await eventually("writes succeed again", grows(load.acknowledged_count, 8), 60)
            finally:
                stop.set()
                await asyncio.gather(*writers)

            assert load.timeouts == 0 and load.other_errors == [], load
            assert load.bad_problems == []
            assert set(load.statuses) <= {200, 201, 503}, load.statuses
            # Every acknowledged write is there.
            assert set(load.users) <= await _all(http, "/v1/users", h, "id")
            assert set(load.memories) <= await _all(http, "/v1/users/ada/memories", h, "id")


async def _all(http: httpx.AsyncClient, path: str, h: dict[str, str], key: str) -> set[Any]:
    found: set[Any] = set()
    offset = 0
    while True:
        page = await http.get(path, params={"limit": 500, "offset": offset}, headers=h)
        assert page.status_code == 200, page.text
        body = page.json()
        found.update(item[key] for item in body["items"])
        offset += len(body["items"])
        if offset >= body["total"] or not body["items"]:
            return found


async def test_a_server_that_stops_answering_costs_bounded_503s_then_recovers(
    pg_url: str,
    pg_cluster: Cluster,
    loaded_embedder: MiniLMEmbedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGSTOP: connections stay open and nothing answers; the connect, statement and pool
    timeouts end every request (shortened here so that the test is quick)."""
    for name in ("PG_CONNECT_TIMEOUT", "PG_COMMAND_TIMEOUT", "PG_POOL_TIMEOUT"):
        monkeypatch.setattr(db, name, 1.0)
    with api_on(pg_url, loaded_embedder, tmp_path) as base:
        async with httpx.AsyncClient(base_url=base, timeout=CLIENT_TIMEOUT) as http:
            h = await tenant_key(http)
            assert (await http.post("/v1/users", json={"id": "ada"}, headers=h)).status_code == 201
            pg_cluster.pause()
            try:
                stuck = await asyncio.gather(
                    http.post("/v1/users", json={"id": "bob"}, headers=h),
                    http.get("/v1/users/ada", headers=h),
                    http.post("/v1/users/ada/memories", json={"text": "Ada keeps bees."}, headers=h),
                )
                for response in stuck:
                    assert_unavailable(response)
            finally:
                pg_cluster.resume()

            async def answers() -> bool:
                return (await http.get("/v1/users/ada", headers=h)).status_code == 200

            await eventually("the API answers again", answers, within=30, every=0.2)
            created = await http.post("/v1/users", json={"id": "bob"}, headers=h)
            assert created.status_code == 201, created.text  # the refused write was not made
