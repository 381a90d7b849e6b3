"""Unexpected errors become problem+json: a busy SQLite database is a 503 to retry, not a 500."""

from __future__ import annotations

import sqlite3

from litestar import Litestar, get
from litestar.testing import AsyncTestClient
from sqlalchemy.exc import OperationalError

from persona_api.http.problems import problem_handlers


@get("/locked")
async def locked() -> None:
    raise OperationalError("INSERT INTO memory_head ...", {}, sqlite3.OperationalError("database is locked"))


@get("/broken")
async def broken() -> None:
    raise OperationalError("SELECT 1", {}, sqlite3.OperationalError("no such table: users"))


async def test_a_write_lock_timeout_is_503_with_retry_after_and_other_database_errors_500() -> None:
    app = Litestar([locked, broken], exception_handlers=problem_handlers())
    async with AsyncTestClient(app=app) as client:
        busy = await client.get("/locked")
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        assert busy.headers["content-type"].startswith("application/problem+json")
        body = busy.json()
        assert body["type"].endswith("database-busy") and "retry" in body["detail"]
        other = await client.get("/broken")
        assert other.status_code == 500 and other.json()["type"].endswith("internal")
        assert "no such table" not in other.text  # internals stay in the log
