"""Tenants and API keys through the admin API."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from persona_api.store.tables import ApiKey
from persona_api.store.tenants import hash_key
from tests.conftest import TenantKey, admin_headers, fetch_all, new_tenant

Client = AsyncTestClient[Litestar]


async def test_admin_routes_need_the_admin_token(client: Client) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": "Basic abc"}):
        response = await client.post("/v1/admin/tenants", json={"name": "x"}, headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["www-authenticate"] == "Bearer"


async def test_an_api_key_is_not_an_admin_token(client: Client, tenant: TenantKey) -> None:
    response = await client.post("/v1/admin/tenants", json={"name": "x"}, headers=tenant.headers)
    assert response.status_code == 401


async def test_key_is_shown_once_and_stored_only_as_a_hash(client: Client, database_url: str) -> None:
    created = await client.post("/v1/admin/tenants", json={"name": "shop"}, headers=admin_headers())
    tenant_id = created.json()["id"]
    issued = await client.post(
        f"/v1/admin/tenants/{tenant_id}/keys", json={"name": "web"}, headers=admin_headers()
    )
    body = issued.json()
    assert body["key"].startswith(body["prefix"] + "_")
    assert len(body["key"]) > 40

    listed = await client.get(f"/v1/admin/tenants/{tenant_id}/keys", headers=admin_headers())
    items = listed.json()["items"]
    assert [k["id"] for k in items] == [body["id"]]
    assert "key" not in items[0]
    assert items[0]["prefix"] == body["prefix"]
    assert body["key"] not in listed.text

    [stored] = await fetch_all(
        database_url, select(ApiKey.secret_hash, ApiKey.prefix).where(ApiKey.id == body["id"])
    )
    assert stored.secret_hash == hash_key(body["key"])
    assert body["key"] not in stored


async def test_revoked_key_gets_401(client: Client, tenant: TenantKey) -> None:
    assert (await client.get("/v1/users", headers=tenant.headers)).status_code == 200
    revoked = await client.delete(f"/v1/admin/keys/{tenant.key_id}", headers=admin_headers())
    assert revoked.status_code == 204
    response = await client.get("/v1/users", headers=tenant.headers)
    assert response.status_code == 401
    listed = await client.get(f"/v1/admin/tenants/{tenant.tenant_id}/keys", headers=admin_headers())
    assert listed.json()["items"][0]["revoked_at"] is not None


async def test_unknown_tenant_and_key_are_404(client: Client) -> None:
    assert (
        await client.post("/v1/admin/tenants/ten_nope/keys", json={}, headers=admin_headers())
    ).status_code == 404
    response = await client.delete("/v1/admin/keys/key_nope", headers=admin_headers())
    assert response.status_code == 404
    assert response.json()["type"] == "urn:persona-api:problem:not-found"


async def test_tenants_are_listed_with_pagination(client: Client) -> None:
    ids = [(await new_tenant(client, f"t{i}")).tenant_id for i in range(3)]
    first = (await client.get("/v1/admin/tenants?limit=2&offset=0", headers=admin_headers())).json()
    assert first["limit"] == 2 and first["offset"] == 0 and first["total"] >= 3
    everything = []
    offset = 0
    while True:
        page = (
            await client.get(f"/v1/admin/tenants?limit=2&offset={offset}", headers=admin_headers())
        ).json()
        everything += [t["id"] for t in page["items"]]
        offset += 2
        if offset >= page["total"]:
            break
    assert set(ids) <= set(everything)
    assert len(everything) == len(set(everything))


async def test_deleting_a_tenant_removes_its_users_and_keys(client: Client, tenant: TenantKey) -> None:
    await client.post("/v1/users", json={"id": "u1"}, headers=tenant.headers)
    response = await client.delete(f"/v1/admin/tenants/{tenant.tenant_id}", headers=admin_headers())
    assert response.status_code == 204
    assert (await client.get("/v1/users", headers=tenant.headers)).status_code == 401
    assert (
        await client.get(f"/v1/admin/tenants/{tenant.tenant_id}", headers=admin_headers())
    ).status_code == 404


async def test_a_tenant_rate_limit_is_read_and_set_through_the_admin_api(client: Client) -> None:
    created = await client.post(
        "/v1/admin/tenants", json={"name": "big", "rate_limit_per_minute": 5000}, headers=admin_headers()
    )
    assert created.status_code == 201 and created.json()["rate_limit_per_minute"] == 5000
    tenant = await new_tenant(client, "plain")
    path = f"/v1/admin/tenants/{tenant.tenant_id}"
    assert (await client.get(path, headers=admin_headers())).json()["rate_limit_per_minute"] is None

    for value in (0, 1, 1_000_000, None):
        response = await client.patch(path, json={"rate_limit_per_minute": value}, headers=admin_headers())
        assert response.status_code == 200, response.text
        assert response.json()["rate_limit_per_minute"] == value
    await client.patch(path, json={"rate_limit_per_minute": 7}, headers=admin_headers())
    unchanged = await client.patch(path, json={}, headers=admin_headers())  # nothing named, nothing changes
    assert unchanged.status_code == 200 and unchanged.json()["rate_limit_per_minute"] == 7
    listed = (await client.get("/v1/admin/tenants?limit=100", headers=admin_headers())).json()["items"]
    assert {t["id"]: t["rate_limit_per_minute"] for t in listed}[tenant.tenant_id] == 7


async def test_a_bad_tenant_rate_limit_is_a_4xx_problem(client: Client, tenant: TenantKey) -> None:
    path = f"/v1/admin/tenants/{tenant.tenant_id}"
    for body in (
        {"rate_limit_per_minute": -1},
        {"rate_limit_per_minute": 1_000_001},
        {"rate_limit_per_minute": "fast"},
        {"rate_limit_per_minute": 1.5},
        {"rate_limit_per_minute": 2**70},
        {"burst": 3},
    ):
        response = await client.patch(path, json=body, headers=admin_headers())
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        [named] = body  # the problem names the offending field
        assert named in str(response.json()["errors"]), response.text
    created = await client.post(
        "/v1/admin/tenants", json={"name": "x", "rate_limit_per_minute": -5}, headers=admin_headers()
    )
    assert created.status_code == 422
    not_an_object = await client.patch(path, content=b"[1]", headers=admin_headers())
    assert not_an_object.status_code == 422
    not_json = await client.patch(path, content=b'{"rate_limit_per_minute":', headers=admin_headers())
    assert not_json.status_code == 400
    assert not_json.headers["content-type"].startswith("application/problem+json")
    missing = await client.patch(
        "/v1/admin/tenants/ten_nope", json={"rate_limit_per_minute": 5}, headers=admin_headers()
    )
    assert missing.status_code == 404
    assert (await client.get(path, headers=admin_headers())).json()["rate_limit_per_minute"] is None
    unauthorized = await client.patch(path, json={"rate_limit_per_minute": 5}, headers=tenant.headers)
    assert unauthorized.status_code == 401
