"""``persona-api serve --workers 2`` on the suite's database: each worker has its own caches and
loaded artifacts, and the service stays correct across them: a write is read back from either
worker, a new artifact version reaches both, a revoked key and a deleted user are refused by both,
and the rate limit is one limit (counted in Redis), not one per worker."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import time
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from sqlalchemy.engine import make_url

from persona_api.store import migrate
from tests.conftest import ADMIN_TOKEN, admin_headers
from tests.faults.support import Serve, clean_env, tail, wait_for

REDIS = "redis://127.0.0.1:6379/0"


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _workers(pid: int) -> list[int]:
    """uvicorn's worker processes under ``pid`` (spawned: their command line runs spawn_main)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            stat = (cmdline.parent / "stat").read_text().rsplit(")", 1)[1].split()
            argv = cmdline.read_bytes().decode(errors="replace")
        except OSError:
            continue
        if int(stat[1]) == pid and "spawn_main" in argv:
            found.append(int(cmdline.parent.name))
    return found


async def _admin_sql(database_url: str, statement: str) -> None:
    suite = make_url(database_url)
    conn = await asyncpg.connect(
        user=suite.username,
        password=suite.password,
        host=suite.host,
        port=suite.port,
        database=suite.database,
    )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _own_database(database_url: str, folder: Path) -> str:
    """A new, migrated database beside the suite's (the re-index below trains every tenant in it)."""
    if database_url.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{folder / 'workers.db'}"
    else:
        name = f"workers_{secrets.token_hex(4)}"
        asyncio.run(_admin_sql(database_url, f"CREATE DATABASE {name}"))
        url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    return url


def _answers(url: str) -> bool:
    try:
        return _fresh("GET", url).status_code == 200
    except httpx.TransportError:
        return False


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting for whoever adopted it to reap it has ended)."""
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except OSError:
        return False


def _fresh(method: str, url: str, **kw: object) -> httpx.Response:
    """One request on a new connection, so that successive requests spread over the workers."""
    with httpx.Client(timeout=30) as client:
        return client.request(method, url, **kw)  # type: ignore[arg-type]


def test_two_workers_read_their_writes_swap_versions_and_share_limits_and_revocations(
    database_url: str, tmp_path: Path
) -> None:
    if not _redis_up():
        pytest.skip("no Redis on 127.0.0.1:6379")
    own = _own_database(database_url, tmp_path)
    env = clean_env(
        PERSONA_DATABASE_URL=own,
        PERSONA_MODELS_DIR=str(tmp_path / "models"),
        PERSONA_VAR_DIR=str(tmp_path / "var"),
        PERSONA_ADMIN_TOKEN=ADMIN_TOKEN,
        PERSONA_REDIS_URL=REDIS,
        PERSONA_AUTH_CACHE_SECONDS="1",
        PERSONA_ARTIFACT_POLL_SECONDS="1",
        PERSONA_WEBHOOK_SENDER="external",
    )
    serve = Serve(env, tmp_path, "--workers", "2")
    try:
        serve.wait_ready()
        assert len(_workers(serve.process.pid)) == 2, tail(serve.log)
        base = serve.base
        made = _fresh("POST", f"{base}/v1/admin/tenants", json={"name": "workers"}, headers=admin_headers())
        tenant = made.json()["id"]
        issued = _fresh("POST", f"{base}/v1/admin/tenants/{tenant}/keys", json={}, headers=admin_headers())
        auth = {"Authorization": f"Bearer {issued.json()['key']}"}

        # Read your writes: each memory is found at once, whichever worker answers.
        for word in ("tangerine", "harbour", "violin", "glacier", "saffron", "lantern"):
            text = f"Wes keeps a {word} on the shelf by the door."
            assert _fresh(
                "POST", f"{base}/v1/users/wes/memories", json={"text": text}, headers=auth
            ).is_success
            found = _fresh(
                "POST",
                f"{base}/v1/users/wes/memories/search",
                json={"query": f"where is the {word}?", "k": 1},
                headers=auth,
            )
            assert found.json()["results"][0]["memory"]["text"] == text

        # A new version reaches both workers.
        job = subprocess.run(
            [sys.executable, "-m", "persona_api", "reindex"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            timeout=600,
        )
        assert job.returncode == 0, job.stderr.decode()[-2000:]
        version = (tmp_path / "models" / "CURRENT").read_text().strip()
        wait_for(
            "both workers serve the new version",
            lambda: all(
                _fresh("GET", f"{base}/readyz").json()["artifact_version"] == version for _ in range(8)
            ),
            60,
            every=0.5,
        )

        # One limit for the tenant, counted in Redis: two workers do not double it.
        limited = _fresh(
            "PATCH",
            f"{base}/v1/admin/tenants/{tenant}",
            json={"rate_limit_per_minute": 20},
            headers=admin_headers(),
        )
        assert limited.status_code == 200
        time.sleep(1.2)  # both workers' key caches see the new limit
        statuses = [_fresh("GET", f"{base}/v1/users", headers=auth).status_code for _ in range(30)]
        assert statuses.count(200) <= 20 and statuses.count(429) >= 10, statuses
        _fresh(
            "PATCH",
            f"{base}/v1/admin/tenants/{tenant}",
            json={"rate_limit_per_minute": None},
            headers=admin_headers(),
        )

        # A deleted user and a revoked key are refused by every worker.
        time.sleep(1.2)
        assert _fresh("DELETE", f"{base}/v1/users/wes", headers=auth).status_code == 204
        assert all(_fresh("GET", f"{base}/v1/users/wes", headers=auth).status_code == 404 for _ in range(6))
        keys = _fresh("GET", f"{base}/v1/admin/tenants/{tenant}/keys", headers=admin_headers()).json()[
            "items"
        ]
        assert (
            _fresh("DELETE", f"{base}/v1/admin/keys/{keys[0]['id']}", headers=admin_headers()).status_code
            == 204
        )
        time.sleep(1.2)  # PERSONA_AUTH_CACHE_SECONDS: the other worker notices within it
        assert all(_fresh("GET", f"{base}/v1/users", headers=auth).status_code == 401 for _ in range(6))
    finally:
        serve.stop()
        if not own.startswith("sqlite"):
            asyncio.run(_admin_sql(database_url, f"DROP DATABASE IF EXISTS {make_url(own).database}"))
    assert _workers(serve.process.pid) == []


def test_workers_stop_when_their_supervisor_is_killed(database_url: str, tmp_path: Path) -> None:
    env = clean_env(
        PERSONA_DATABASE_URL=_own_database(database_url, tmp_path),
        PERSONA_MODELS_DIR=str(tmp_path / "models"),
        PERSONA_VAR_DIR=str(tmp_path / "var"),
        PERSONA_ADMIN_TOKEN=ADMIN_TOKEN,
        PERSONA_PRELOAD_MODELS="false",
        PERSONA_WEBHOOK_SENDER="external",
    )
    serve = Serve(env, tmp_path, "--workers", "2")
    try:
        wait_for("both workers answer", lambda: len(_workers(serve.process.pid)) == 2, 120, every=0.2)
        wait_for("serve answers", lambda: _answers(f"{serve.base}/healthz"), 120, every=0.2)
        workers = _workers(serve.process.pid)
        serve.kill()  # SIGKILL: no chance to stop its children
        wait_for(
            "the orphaned workers exit",
            lambda: not any(_alive(pid) for pid in workers),
            30,
            every=0.2,
        )
    finally:
        serve.stop()
        if not env["PERSONA_DATABASE_URL"].startswith("sqlite"):
            asyncio.run(
                _admin_sql(
                    database_url, f"DROP DATABASE IF EXISTS {make_url(env['PERSONA_DATABASE_URL']).database}"
                )
            )
