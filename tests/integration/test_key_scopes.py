"""API key scopes: a ``read`` key reads everything and writes nothing (403); ``write`` keys, the
default and what every key issued before scopes became, write as before."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient
from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.app import create_app
from persona_api.config import Settings
from persona_api.http.openapi import contract
from persona_api.kernel.embed import MiniLMEmbedder
from persona_api.store import migrate
from persona_api.store.db import create_engine
from persona_api.store.tables import ApiKey, UTCDateTime, utcnow
from persona_api.store.tenants import TenantService, hash_key
from tests.conftest import TenantKey, admin_headers, fetch_all, new_tenant
from tests.integration.test_mcp import Service, call, mcp_client, refused
from tests.serving import served

Client = AsyncTestClient[Litestar]

PROBLEM = "application/problem+json"
READ_ONLY = "this API key is read-only"
WRITE_METHODS = ("post", "put", "patch", "delete")
PROFILE = {"preferences": [{"dimension": "style", "subdimension": "tone", "preference": "warm"}]}
COMPARISON = {
    "id": "c1",
    "chosen": {"text": "Hiking a mountain trail at sunrise"},
    "rejected": {"text": "Shopping for designer handbags"},
}


async def read_key(client: Client, tenant_id: str) -> dict[str, str]:
    """Headers with a new read-only key of ``tenant_id``."""
    issued = await client.post(
        f"/v1/admin/tenants/{tenant_id}/keys",
        json={"name": "dashboard", "scope": "read"},
        headers=admin_headers(),
    )
    assert issued.status_code == 201, issued.text
    assert issued.json()["scope"] == "read"
    return {"Authorization": f"Bearer {issued.json()['key']}"}


async def seeded(client: Client) -> tuple[TenantKey, dict[str, str], int]:
    """A tenant with a user ``ada`` (a memory, values): its write key, a read key, the memory's id."""
    tenant = await new_tenant(client)
    h = tenant.headers
    assert (await client.post("/v1/users", json={"id": "ada"}, headers=h)).status_code == 201
    made = await client.post("/v1/users/ada/memories", json={"text": "Ada lives in Lisbon."}, headers=h)
    assert made.status_code == 201, made.text
    assert (await client.put("/v1/users/ada/values", json=PROFILE, headers=h)).status_code == 200
    return tenant, await read_key(client, tenant.tenant_id), int(made.json()["memory"]["id"])


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["type"] == "urn:persona-api:problem:forbidden"
    assert problem["detail"].startswith(READ_ONLY)


async def test_a_read_key_lists_gets_searches_and_renders(client: Client) -> None:
    _, read, _ = await seeded(client)
    listed = await client.get("/v1/users", headers=read)
    assert listed.status_code == 200 and [u["id"] for u in listed.json()["items"]] == ["ada"]
    assert (await client.get("/v1/users/ada", headers=read)).status_code == 200
    assert (await client.get("/v1/users/ada/memories", headers=read)).json()["total"] == 1
    found = await client.post(
        "/v1/users/ada/memories/search", json={"query": "where does ada live?"}, headers=read
    )
    assert found.status_code == 200, found.text
    assert found.json()["results"][0]["memory"]["text"] == "Ada lives in Lisbon."
    rendered = await client.post(
        "/v1/users/ada/system-message", json={"query": "Where do I live?"}, headers=read
    )
    assert rendered.status_code == 200, rendered.text
    assert "Lisbon" in rendered.json()["message"]


async def test_a_read_keys_writes_are_refused_and_write_nothing(client: Client) -> None:
    tenant, read, memory_id = await seeded(client)
    h = tenant.headers
    assert_refused(await client.post("/v1/users", json={"id": "bob"}, headers=read))
    assert_refused(
        await client.post("/v1/users/ada/memories", json={"text": "Ada moved to Porto."}, headers=read)
    )
    # A route that creates unknown users refuses before creating one.
    assert_refused(
        await client.post("/v1/users/carol/memories", json={"text": "Carol is new."}, headers=read)
    )
    assert_refused(await client.delete(f"/v1/users/ada/memories/{memory_id}", headers=read))
    assert_refused(
        await client.put("/v1/users/ada/values", json={**PROFILE, "note": "Now formal."}, headers=read)
    )
    assert_refused(
        await client.post("/v1/users/ada/comparisons", json={"comparisons": [COMPARISON]}, headers=read)
    )

    # The write key sees exactly what was there before.
    assert (await client.get("/v1/users/bob", headers=h)).status_code == 404
    assert (await client.get("/v1/users/carol", headers=h)).status_code == 404
    memories = (await client.get("/v1/users/ada/memories", headers=h)).json()
    assert [(m["id"], m["text"]) for m in memories["items"]] == [(memory_id, "Ada lives in Lisbon.")]
    values = (await client.get("/v1/users/ada/values", headers=h)).json()
    assert values["version"] == 1 and values["note"] == ""
    assert (await client.get("/v1/users/ada/comparisons", headers=h)).json()["total"] == 0


async def test_a_key_issued_without_a_scope_writes(client: Client) -> None:
    tenant = await new_tenant(client)  # issued with {"name": "ci"}: no scope given
    listed = await client.get(f"/v1/admin/tenants/{tenant.tenant_id}/keys", headers=admin_headers())
    assert [k["scope"] for k in listed.json()["items"]] == ["write"]
    assert (await client.post("/v1/users", json={"id": "ada"}, headers=tenant.headers)).status_code == 201
    made = await client.post(
        "/v1/users/ada/memories", json={"text": "Ada likes tea."}, headers=tenant.headers
    )
    assert made.status_code == 201
    removed = await client.delete(
        f"/v1/users/ada/memories/{made.json()['memory']['id']}", headers=tenant.headers
    )
    assert removed.status_code == 204


async def test_the_admin_api_issues_and_lists_scoped_keys(client: Client) -> None:
    tenant = await new_tenant(client)
    keys = f"/v1/admin/tenants/{tenant.tenant_id}/keys"
    issued = (await client.post(keys, json={"name": "ro", "scope": "read"}, headers=admin_headers())).json()
    assert issued["scope"] == "read" and issued["name"] == "ro"
    bare = await client.post(keys, headers=admin_headers())  # no body at all: a write key
    assert bare.status_code == 201 and bare.json()["scope"] == "write"
    listed = (await client.get(keys, headers=admin_headers())).json()["items"]
    assert [(k["id"], k["scope"]) for k in listed] == [
        (tenant.key_id, "write"),
        (issued["id"], "read"),
        (bare.json()["id"], "write"),
    ]
    wrong = await client.post(keys, json={"scope": "admin"}, headers=admin_headers())
    assert wrong.status_code == 422
    assert wrong.headers["content-type"].startswith(PROBLEM)
    after = (await client.get(keys, headers=admin_headers())).json()
    assert after["total"] == 3


async def test_owner_of_hash_gives_the_scope_until_the_key_is_revoked(
    client: Client, database_url: str
) -> None:
    tenant = await new_tenant(client)
    issued = await client.post(
        f"/v1/admin/tenants/{tenant.tenant_id}/keys", json={"scope": "read"}, headers=admin_headers()
    )
    key = issued.json()["key"]
    engine = create_engine(Settings(database_url=database_url), pooled=False)
    try:
        async with AsyncSession(engine) as session:
            tenants = TenantService(session)
            owner = await tenants.owner_of_hash(hash_key(key))
            assert owner is not None and (owner.tenant_id, owner.scope) == (tenant.tenant_id, "read")
            assert await tenants.authenticate(key) == owner
            written = await tenants.owner_of_hash(hash_key(tenant.key))
            assert written is not None and written.scope == "write"
            assert await tenants.owner_of_hash(hash_key("pk_00000000_unknown")) is None
            assert await tenants.owner_of_hash(key) is None  # the plaintext is not its hash
        revoked = await client.delete(f"/v1/admin/keys/{issued.json()['id']}", headers=admin_headers())
        assert revoked.status_code == 204
        async with AsyncSession(engine) as session:
            assert await TenantService(session).owner_of_hash(hash_key(key)) is None
    finally:
        await engine.dispose()


def _handlers(app: Litestar) -> dict[tuple[str, str], Any]:
    """The route handler of each (path, method) of the OpenAPI document."""
    found: dict[tuple[str, str], Any] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                for method in handler.http_methods:
                    found[(route.path_format or "/", method.lower())] = handler
    return found


async def test_every_tenant_route_that_writes_refuses_a_read_key_or_is_declared_reads_only(
    app: Litestar, client: Client
) -> None:
    """Walks the document, so a new route that writes cannot slip through unmarked: it is either
    refused (and declares 403) or flagged ``reads_only`` (and a read key may call it)."""
    tenant = await new_tenant(client)
    read = await read_key(client, tenant.tenant_id)
    handlers = _handlers(app)
    refused_ops: list[str] = []
    allowed_ops: list[str] = []
    for path, operations in contract(app)["paths"].items():
        for method, operation in operations.items():
            if method not in WRITE_METHODS or operation.get("security") != [{"apiKey": []}]:
                continue  # a read, the admin API (its own token), or a route without credentials
            url = re.sub(r"\{[^}]+\}", "1", path)  # "1" is a valid id and a valid number
            # No body: a body is validated before the key is checked (as for a 401), and none is valid
            # for every route.
            response = await client.request(method.upper(), url, headers=read)
            name = f"{method.upper()} {path}"
            if handlers[(path, method)].opt.get("reads_only"):
                assert response.status_code != 403, name
                assert "403" not in operation["responses"], name
                allowed_ops.append(operation["operationId"])
                continue
            assert response.status_code == 403, f"{name}: {response.status_code} {response.text}"
            declared = operation["responses"]["403"]["content"]
            assert response.headers["content-type"].split(";")[0] in declared, name
            refused_ops.append(operation["operationId"])
    assert sorted(allowed_ops) == sorted(
        [
            "searchMemories",
            "recommendForSession",
            "checkIngredients",
            "completeIngredients",
            "missingIngredient",
            "renderSystemMessage",
            "scoreCandidates",
            "nextQuery",
            "scoreCandidatesForPopulation",
            "nextQueryForPopulation",
        ]
    )
    assert {"createUser", "createMemory", "deleteMemory", "putValues", "createChatCompletion"} <= set(
        refused_ops
    )
    assert len(refused_ops) >= 29  # every route that wrote when this test was written
    # Nothing the walk sent was written.
    assert (await client.get("/v1/users", headers=tenant.headers)).json()["total"] == 0


async def test_keys_issued_before_scopes_become_write_keys(database_url: str) -> None:
    """Migration 0013 gives the keys already stored the scope ``write``."""
    await asyncio.to_thread(migrate.downgrade, database_url, "0012")  # Alembic runs its own event loop
    secret = "pk_0123abcd_an-old-key-issued-before-scopes-existed"
    engine = create_engine(Settings(database_url=database_url), pooled=False)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO tenants (id, name, created_at, create_unknown_users)"
                    " VALUES ('ten_old', 'old', :now, true)"
                ).bindparams(bindparam("now", type_=UTCDateTime())),
                {"now": utcnow()},
            )
            await conn.execute(
                text(
                    "INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, created_at)"
                    " VALUES ('key_old', 'ten_old', 'old', 'pk_0123abcd', :hash, :now)"
                ).bindparams(bindparam("now", type_=UTCDateTime())),
                {"hash": hash_key(secret), "now": utcnow()},
            )
    finally:
        await engine.dispose()
    await asyncio.to_thread(migrate.upgrade, database_url)
    [row] = await fetch_all(database_url, select(ApiKey.scope).where(ApiKey.id == "key_old"))
    assert row.scope == "write"
    engine = create_engine(Settings(database_url=database_url), pooled=False)
    try:
        async with AsyncSession(engine) as session:
            owner = await TenantService(session).authenticate(secret)
            assert (owner.tenant_id, owner.scope) == ("ten_old", "write")
            await TenantService(session).delete_tenant("ten_old")
            await session.commit()
    finally:
        await engine.dispose()


@pytest.fixture
def service(settings: Settings, embedder: MiniLMEmbedder) -> Iterator[Service]:
    app = create_app(settings, embedder=embedder)
    with served(app) as base:
        yield Service(base, app)


async def test_mcp_tools_that_write_fail_with_the_apis_403_and_reads_work(service: Service) -> None:
    tenant, key = service.tenant()
    assert service.api(
        "POST", "/v1/users/alice/memories", key, json={"text": "Alice lives in Lisbon."}
    ).is_success
    issued = service.api("POST", f"/v1/admin/tenants/{tenant}/keys", "", json={"scope": "read"})
    read = str(issued.json()["key"])
    async with mcp_client(service, read) as client:
        message = await refused(client, "remember", user_id="alice", text="Alice moved to Porto.")
        assert "403" in message and READ_ONLY in message
        assert "403" in await refused(client, "remember", user_id="bob", text="Bob is new.")
        found = await call(client, "search_memories", user_id="alice", query="where does alice live?")
        assert found["results"][0]["text"] == "Alice lives in Lisbon."
        assert (await call(client, "list_memories", user_id="alice"))["total"] == 1
    assert service.api("GET", "/v1/users/alice/memories", key).json()["total"] == 1
    assert service.api("GET", "/v1/users/bob", key).status_code == 404
