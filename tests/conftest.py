"""Shared fixtures: a migrated database (SQLite by default, PostgreSQL when
``PERSONA_TEST_DATABASE_URL`` is set), settings, the app under test and an authenticated tenant."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import Executable, Row, text

from persona_api.app import create_app
from persona_api.config import Settings
from persona_api.kernel.embed import MiniLMEmbedder
from persona_api.store import migrate
from persona_api.store.db import create_engine
from tests.llm_server import FakeLLM

ADMIN_TOKEN = "test-admin-token-0123456789"

# Offline model loading and single-threaded BLAS, as the README and CI set them.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


async def _reset_public_schema(url: str) -> None:
    engine = create_engine(Settings(database_url=url), pooled=False)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("PERSONA_TEST_DATABASE_URL")
    if url:
        # Start from an empty schema so an earlier, interrupted run cannot leak into this one.
        try:
            migrate.downgrade(url, "base")
        except Exception:
            # The database was left by other migration code (say an older checkout): this database
            # is the test suite's own, so clear it outright.
            asyncio.run(_reset_public_schema(url))

    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'persona.db'}"
    migrate.upgrade(url)
    yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        models_dir=tmp_path / "models",
        var_dir=tmp_path / "var",
        admin_token=ADMIN_TOKEN,
        rate_limit_per_minute=0,
        artifact_poll_seconds=0,
        log_json=True,
        preload_models=False,
        llm_extract_worker="inline",  # the API process drains its own queue (tests wait on it)
    )


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedder:
    """The real packaged MiniLM, loaded once per test run (loading takes seconds)."""
    return MiniLMEmbedder()


@pytest.fixture
def app(settings: Settings, embedder: MiniLMEmbedder) -> Litestar:
    return create_app(settings, embedder=embedder)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@dataclass(frozen=True)
class TenantKey:
    tenant_id: str
    key: str
    key_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def new_tenant(client: AsyncTestClient[Litestar], name: str = "acme") -> TenantKey:
    response = await client.post("/v1/admin/tenants", json={"name": name}, headers=admin_headers())
    assert response.status_code == 201, response.text
    tenant_id = response.json()["id"]
    response = await client.post(
        f"/v1/admin/tenants/{tenant_id}/keys", json={"name": "ci"}, headers=admin_headers()
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return TenantKey(tenant_id=tenant_id, key=body["key"], key_id=body["id"])


@pytest.fixture
async def tenant(client: AsyncTestClient[Litestar]) -> TenantKey:
    return await new_tenant(client)


async def fetch_all(database_url: str, statement: Executable) -> list[Row[Any]]:
    """Read the database directly, on the test's own event loop (the app under test runs its
    own engine on the test client's loop, which must not be shared)."""
    engine = create_engine(Settings(database_url=database_url), pooled=False)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(statement)).all())
    finally:
        await engine.dispose()


@pytest.fixture
def llm_server() -> Iterator[FakeLLM]:
    """A loopback OpenAI-compatible chat server (see ``tests/llm_server.py``), scripted per test."""
    server = FakeLLM().start()
    try:
        yield server
    finally:
        server.stop()
