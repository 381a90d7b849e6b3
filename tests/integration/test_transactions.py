"""One transaction per request: a request writes everything or nothing, and a commit that fails
is an error response, never a 2xx."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import TenantKey


async def test_a_failed_request_leaves_no_part_of_its_writes(
    client: AsyncTestClient[Litestar], tenant: TenantKey
) -> None:
    # The route creates its user on first use, then rejects the memory (unknown partner): the
    # user it created is rolled back with it.
    response = await client.post(
        "/v1/users/nobody-yet/memories",
        json={"text": "likes tea", "partner": "no-such-partner"},
        headers=tenant.headers,
    )
    assert response.status_code == 422, response.text
    assert (await client.get("/v1/users/nobody-yet", headers=tenant.headers)).status_code == 404


async def test_a_commit_that_fails_is_a_problem_and_writes_nothing(
    client: AsyncTestClient[Litestar], tenant: TenantKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_commit = AsyncSession.commit
    failing = {"on": True}

    async def commit(self: AsyncSession) -> None:
        if failing["on"]:  # the request's one commit, after the handler returned 201
            failing["on"] = False
            raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))
        await real_commit(self)

    monkeypatch.setattr(AsyncSession, "commit", commit)
    response = await client.post("/v1/users", json={"id": "carol"}, headers=tenant.headers)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"].endswith("database-busy")
    monkeypatch.setattr(AsyncSession, "commit", real_commit)
    assert (await client.get("/v1/users/carol", headers=tenant.headers)).status_code == 404
    retried = await client.post("/v1/users", json={"id": "carol"}, headers=tenant.headers)
    assert retried.status_code == 201, retried.text
