"""Users: CRUD, pagination, merge-patch, export, deletion through the registry, isolation."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.app import create_app
from persona_api.config import Settings
from persona_api.store.tables import User
from persona_api.store.userdata import UserRef
from tests.conftest import TenantKey, admin_headers, fetch_all, new_tenant

Client = AsyncTestClient[Litestar]


async def test_create_get_update_list_delete(client: Client, tenant: TenantKey) -> None:
    h = tenant.headers
    created = await client.post(
        "/v1/users", json={"id": "alice", "metadata": {"plan": "pro", "tz": "UTC"}}, headers=h
    )
    assert created.status_code == 201
    assert created.json()["id"] == "alice" and created.json()["metadata"] == {"plan": "pro", "tz": "UTC"}

    got = await client.get("/v1/users/alice", headers=h)
    assert got.json()["metadata"]["plan"] == "pro"

    patched = await client.patch(
        "/v1/users/alice", json={"metadata": {"plan": None, "lang": "en"}}, headers=h
    )
    assert patched.status_code == 200
    assert patched.json()["metadata"] == {"tz": "UTC", "lang": "en"}

    assert (await client.delete("/v1/users/alice", headers=h)).status_code == 204
    assert (await client.get("/v1/users/alice", headers=h)).status_code == 404
    assert (await client.delete("/v1/users/alice", headers=h)).status_code == 404


async def test_duplicate_external_id_is_a_conflict_and_changes_nothing(
    client: Client, tenant: TenantKey
) -> None:
    h = tenant.headers
    await client.post("/v1/users", json={"id": "bob", "metadata": {"v": 1}}, headers=h)
    again = await client.post("/v1/users", json={"id": "bob", "metadata": {"v": 2}}, headers=h)
    assert again.status_code == 409
    assert again.json()["type"] == "urn:persona-api:problem:conflict"
    assert (await client.get("/v1/users/bob", headers=h)).json()["metadata"] == {"v": 1}


async def test_list_is_paginated_and_stable(client: Client, tenant: TenantKey) -> None:
    h = tenant.headers
    for i in range(5):
        await client.post("/v1/users", json={"id": f"u{i}"}, headers=h)
    first = (await client.get("/v1/users?limit=2", headers=h)).json()
    second = (await client.get("/v1/users?limit=2&offset=2", headers=h)).json()
    third = (await client.get("/v1/users?limit=2&offset=4", headers=h)).json()
    assert first["total"] == 5 and first["limit"] == 2 and first["offset"] == 0
    ids = [u["id"] for page in (first, second, third) for u in page["items"]]
    assert ids == [f"u{i}" for i in range(5)]
    bad = await client.get("/v1/users?limit=0", headers=h)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "limit"


async def test_a_tenant_never_sees_another_tenants_users(client: Client, tenant: TenantKey) -> None:
    other = await new_tenant(client, "other")
    await client.post("/v1/users", json={"id": "carol", "metadata": {"secret": "s"}}, headers=tenant.headers)
    for method, path, body in [
        ("GET", "/v1/users/carol", None),
        ("PATCH", "/v1/users/carol", {"metadata": {"x": 1}}),
        ("GET", "/v1/users/carol/export", None),
        ("DELETE", "/v1/users/carol", None),
    ]:
        response = await client.request(method, path, json=body, headers=other.headers)
        assert response.status_code == 404, (method, path)
        assert "secret" not in response.text
    assert (await client.get("/v1/users", headers=other.headers)).json()["total"] == 0
    # The same external id may exist independently in another tenant.
    assert (await client.post("/v1/users", json={"id": "carol"}, headers=other.headers)).status_code == 201
    assert (await client.get("/v1/users/carol", headers=tenant.headers)).json()["metadata"] == {"secret": "s"}


async def test_requests_without_a_valid_key_get_401(client: Client) -> None:
    for headers in ({}, {"Authorization": "Bearer pk_nope_nope"}, {"Authorization": "Bearer not-a-key"}):
        response = await client.get("/v1/users", headers=headers)
        assert response.status_code == 401
        assert response.json()["type"] == "urn:persona-api:problem:unauthorized"


class RecordingHandler:
    """A capability that stores one row per user in memory and records the registry's calls."""

    name = "notes"

    def __init__(self, fail_erase: bool = False) -> None:
        self.fail_erase = fail_erase
        self.erased: list[UserRef] = []
        self.forgotten: list[UserRef] = []
        self.forgotten_tenants: list[str] = []

    async def export(self, session: AsyncSession, user: UserRef) -> Any:
        return [{"text": f"note of {user.external_id}"}]

    async def erase(self, session: AsyncSession, user: UserRef) -> int:
        if self.fail_erase:
            raise RuntimeError("disk on fire")
        self.erased.append(user)
        return 1

    async def forget(self, user: UserRef) -> None:
        self.forgotten.append(user)

    async def forget_tenant(self, tenant_id: str) -> None:
        self.forgotten_tenants.append(tenant_id)


@pytest.mark.parametrize("fail_erase", [False, True])
async def test_delete_goes_through_every_registered_handler(settings: Settings, fail_erase: bool) -> None:
    url = settings.database_url
    handler = RecordingHandler(fail_erase=fail_erase)
    app = create_app(settings, user_data_handlers=(handler,))
    async with AsyncTestClient(app=app) as client:
        tenant = await new_tenant(client)
        await client.post("/v1/users", json={"id": "dora"}, headers=tenant.headers)
        export = (await client.get("/v1/users/dora/export", headers=tenant.headers)).json()
        assert export["user"]["id"] == "dora"
        assert export["data"]["notes"] == [{"text": "note of dora"}]
        assert export["data"]["memory"] == {"partners": [], "sessions": [], "memories": [], "links": []}

        response = await client.delete("/v1/users/dora", headers=tenant.headers)
        if fail_erase:
            # The handler failed inside the transaction: nothing was deleted, nothing forgotten.
            assert response.status_code == 500
            assert "disk on fire" not in response.text and "Traceback" not in response.text
            assert (await client.get("/v1/users/dora", headers=tenant.headers)).status_code == 200
            assert handler.forgotten == []
        else:
            assert response.status_code == 204
            assert [u.external_id for u in handler.erased] == ["dora"]
            assert [u.external_id for u in handler.forgotten] == ["dora"]
            [(left,)] = await fetch_all(
                url, select(func.count()).select_from(User).where(User.tenant_id == tenant.tenant_id)
            )
            assert left == 0
            # Deleting the tenant tells every handler to drop the tenant's derived state.
            assert (
                await client.delete(f"/v1/admin/tenants/{tenant.tenant_id}", headers=admin_headers())
            ).status_code == 204
            assert handler.forgotten_tenants == [tenant.tenant_id]


async def test_metadata_size_is_bounded(client: Client, tenant: TenantKey) -> None:
    response = await client.post(
        "/v1/users", json={"id": "big", "metadata": {"blob": "x" * 20_000}}, headers=tenant.headers
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "metadata", "message": "at most 16384 bytes of JSON"}]
    assert (await client.get("/v1/users/big", headers=tenant.headers)).status_code == 404
