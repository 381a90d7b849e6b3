"""Every error is RFC 9457 problem+json from one mapping, and bad input writes nothing."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from persona_api.app import create_app
from persona_api.config import Settings
from tests.conftest import TenantKey, new_tenant

Client = AsyncTestClient[Litestar]
PROBLEM = "application/problem+json"


def assert_problem(response: object, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith(PROBLEM)  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["type"] == f"urn:persona-api:problem:{code}"
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["request_id"]
    return body


async def test_malformed_json_is_400(client: Client, tenant: TenantKey) -> None:
    response = await client.post(
        "/v1/users", content=b'{"id": "x",', headers={**tenant.headers, "content-type": "application/json"}
    )
    assert_problem(response, 400, "malformed-request")
    assert (await client.get("/v1/users", headers=tenant.headers)).json()["total"] == 0


async def test_wrong_types_name_the_field(client: Client, tenant: TenantKey) -> None:
    response = await client.post("/v1/users", json={"id": 42}, headers=tenant.headers)
    body = assert_problem(response, 422, "validation")
    errors = body["errors"]
    assert isinstance(errors, list) and errors[0]["field"] == "id"
    assert "str" in errors[0]["message"]


async def test_pattern_and_unknown_fields_are_rejected(client: Client, tenant: TenantKey) -> None:
    bad_id = await client.post("/v1/users", json={"id": "has space"}, headers=tenant.headers)
    assert assert_problem(bad_id, 422, "validation")["errors"][0]["field"] == "id"  # type: ignore[index]
    unknown = await client.post("/v1/users", json={"id": "ok", "nickname": "z"}, headers=tenant.headers)
    assert "nickname" in str(assert_problem(unknown, 422, "validation")["errors"])
    missing = await client.post("/v1/users", json={}, headers=tenant.headers)
    assert assert_problem(missing, 422, "validation")["errors"][0]["field"] == "id"  # type: ignore[index]
    assert (await client.get("/v1/users", headers=tenant.headers)).json()["total"] == 0


async def test_oversized_body_is_413(settings: Settings) -> None:
    app = create_app(settings.with_overrides(max_body_bytes=2048))
    async with AsyncTestClient(app=app) as client:
        tenant = await new_tenant(client)
        response = await client.post(
            "/v1/users", json={"id": "big", "metadata": {"x": "y" * 4000}}, headers=tenant.headers
        )
        assert_problem(response, 413, "payload-too-large")
        assert (await client.get("/v1/users/big", headers=tenant.headers)).status_code == 404


async def test_unknown_route_and_method(client: Client) -> None:
    assert_problem(await client.get("/v1/nothing-here"), 404, "not-found")
    assert_problem(await client.put("/healthz"), 405, "method-not-allowed")


async def test_request_id_is_echoed_or_generated(client: Client, tenant: TenantKey) -> None:
    echoed = await client.get("/v1/users", headers={**tenant.headers, "X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = await client.get("/v1/users", headers=tenant.headers)
    assert len(generated.headers["x-request-id"]) == 32
    # An id that could forge log lines is replaced, not echoed.
    hostile = await client.get("/v1/users", headers={**tenant.headers, "X-Request-ID": "a b\tc"})
    assert hostile.headers["x-request-id"] != "a b\tc"
    # Error bodies carry the same id as the header.
    missing = await client.get("/v1/users/nobody", headers={**tenant.headers, "X-Request-ID": "req-9"})
    assert missing.json()["request_id"] == "req-9" and missing.headers["x-request-id"] == "req-9"
    unrouted = await client.get("/nope", headers={"X-Request-ID": "req-10"})
    assert unrouted.headers["x-request-id"] == "req-10"
