"""Operational surface: probes, metrics, OpenAPI, rate limiting, CORS, artifact hot-swap."""

from __future__ import annotations

import asyncio

from litestar import Litestar
from litestar.testing import AsyncTestClient

from persona_api.app import create_app
from persona_api.config import Settings
from persona_api.kernel.artifacts import ArtifactStore
from tests.conftest import TenantKey, new_tenant

Client = AsyncTestClient[Litestar]


def publish_version(settings: Settings, payload: str) -> str:
    store = ArtifactStore(settings.models_dir, keep=settings.keep_versions)
    with store.stage() as staged:
        (staged.path / "probe.txt").write_text(payload)
        manifest = store.publish(
            staged, code_version="test", input_rows={"users": 0}, metrics={}, steps=["probe"]
        )
    return manifest.version


async def test_healthz_and_readyz(client: Client) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready" and body["database"] == "ok"
    assert body["schema_revision"] is not None
    assert body["artifact_version"] is None
    assert body["embedding_model"] == "on first use"  # the test settings skip the preload


async def test_readyz_reports_unreachable_database(settings: Settings, tmp_path: object) -> None:
    app = create_app(settings.with_overrides(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none"))
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["database"] == "unreachable"


async def test_readyz_reports_loaded_version_and_hot_swaps(settings: Settings) -> None:
    first = publish_version(settings, "one")
    app = create_app(settings.with_overrides(artifact_poll_seconds=0.05))
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/readyz")).json()["artifact_version"] == first
        second = publish_version(settings, "two")
        for _ in range(100):
            if (await client.get("/readyz")).json()["artifact_version"] == second:
                break
            await asyncio.sleep(0.05)
        assert (await client.get("/readyz")).json()["artifact_version"] == second


async def test_metrics_count_requests_per_route(client: Client, tenant: TenantKey) -> None:
    for _ in range(3):
        await client.get("/v1/users/someone", headers=tenant.headers)
    text = (await client.get("/metrics")).text
    assert "persona_requests_total" in text
    assert 'path="/v1/users/{user_id}"' in text
    assert "persona_request_duration_seconds_bucket" in text


async def test_every_operation_is_documented(client: Client) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    operations = [op for path in spec["paths"].values() for op in path.values()]
    assert len(operations) >= 12
    ids = [op.get("operationId") for op in operations]
    assert all(ids) and len(ids) == len(set(ids))
    assert all(op.get("summary") for op in operations)
    for required in (
        "/v1/admin/tenants",
        "/v1/users",
        "/v1/users/{user_id}/export",
        "/v1/admin/keys/{key_id}",
    ):
        assert required in spec["paths"]
    ui = await client.get("/schema")
    assert ui.status_code == 200 and "<html" in ui.text.lower()


async def test_rate_limit_is_per_key_with_retry_after(settings: Settings) -> None:
    app = create_app(settings.with_overrides(rate_limit_per_minute=3))
    async with AsyncTestClient(app=app) as client:
        first = await new_tenant(client, "a")
        second = await new_tenant(client, "b")
        statuses = [(await client.get("/v1/users", headers=first.headers)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = await client.get("/v1/users", headers=first.headers)
        assert limited.headers["content-type"].startswith("application/problem+json")
        assert int(limited.headers["retry-after"]) > 0
        assert limited.json()["type"] == "urn:persona-api:problem:rate-limited"
        assert (await client.get("/v1/users", headers=second.headers)).status_code == 200
        assert (await client.get("/healthz")).status_code == 200


async def test_cors_allows_only_configured_origins(settings: Settings) -> None:
    app = create_app(settings.with_overrides(cors_origins=("https://app.example",)))
    async with AsyncTestClient(app=app) as client:
        preflight = {"Access-Control-Request-Method": "GET"}
        allowed = await client.options("/v1/users", headers={"Origin": "https://app.example", **preflight})
        assert allowed.headers.get("access-control-allow-origin") == "https://app.example"
        denied = await client.options("/v1/users", headers={"Origin": "https://evil.example", **preflight})
        assert denied.headers.get("access-control-allow-origin") is None
