"""The MCP server through the ``mcp`` package's own client: streamable HTTP at ``/mcp`` on a real
loopback port, and stdio (``persona-api mcp``) against the same running service."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import httpx2
import pytest
from litestar import Litestar
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

from persona_api.app import create_app
from persona_api.config import Settings
from persona_api.kernel.embed import MiniLMEmbedder
from tests.conftest import admin_headers
from tests.integration import pairing_fixtures
from tests.serving import served

TOOLS = {
    "remember",
    "search_memories",
    "list_memories",
    "forget",
    "recommend",
    "record_interactions",
    "complete_ingredients",
    "check_ingredients",
    "add_comparison",
    "get_preferences",
    "get_system_message",
}


class Service:
    def __init__(self, base: str, app: Litestar) -> None:
        self.base = base
        self.app = app

    def tenant(self, name: str = "acme") -> tuple[str, str]:
        """A new tenant's id and API key."""
        made = httpx.post(f"{self.base}/v1/admin/tenants", json={"name": name}, headers=admin_headers())
        tenant = made.json()["id"]
        key = httpx.post(
            f"{self.base}/v1/admin/tenants/{tenant}/keys", json={"name": "k"}, headers=admin_headers()
        )
        return tenant, str(key.json()["key"])

    def api(self, method: str, path: str, key: str, **kw: Any) -> httpx.Response:
        """A request with ``key`` (with the admin token when ``key`` is empty)."""
        auth = {"Authorization": f"Bearer {key}"} if key else admin_headers()
        return httpx.request(method, self.base + path, headers=auth, timeout=60, **kw)


@pytest.fixture
def service(settings: Settings, embedder: MiniLMEmbedder) -> Iterator[Service]:
    app = create_app(settings, embedder=embedder)
    with served(app) as base:
        yield Service(base, app)


@contextlib.asynccontextmanager
async def mcp_client(service: Service, key: str) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(timeout=60, headers={"Authorization": f"Bearer {key}"})
    async with http, Client(streamable_http_client(f"{service.base}/mcp", http_client=http)) as client:
        yield client


def text(result: CallToolResult) -> str:
    [block] = result.content
    return str(block.text)  # type: ignore[union-attr]


async def call(client: Client, tool: str, **arguments: Any) -> Any:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, text(result)
    body = text(result)
    return body if tool == "get_system_message" else json.loads(body)


async def refused(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error
    return text(result)


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
CALL = {
    "jsonrpc": "2.0",
    "id": 2,
    "method": "tools/call",
    "params": {"name": "remember", "arguments": {"user_id": "alice", "text": "Alice lives in Lisbon."}},
}


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-key", "Basic abc"])
def test_without_a_valid_key_every_request_is_a_401_and_no_tool_runs(
    service: Service, authorization: str | None
) -> None:
    _, key = service.tenant()
    headers = {"Accept": "application/json, text/event-stream"}
    if authorization:
        headers["Authorization"] = authorization
    for body in (INITIALIZE, CALL):
        response = httpx.post(f"{service.base}/mcp", json=body, headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["www-authenticate"] == "Bearer"
    assert service.api("GET", "/v1/users/alice", key).status_code == 404  # remember never ran


async def test_the_tools_are_listed_with_descriptions_and_schemas(service: Service) -> None:
    _, key = service.tenant()
    async with mcp_client(service, key) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    for name, tool in tools.items():
        assert tool.description and len(tool.description) > 30, name
        schema = tool.input_schema
        assert schema["type"] == "object"
        if name not in ("complete_ingredients", "check_ingredients"):
            assert "user_id" in schema["required"], name
            assert schema["properties"]["user_id"]["maxLength"] == 128
    assert tools["search_memories"].input_schema["properties"]["query"]["maxLength"] == 2000
    assert tools["search_memories"].annotations and tools["search_memories"].annotations.read_only_hint
    assert tools["forget"].annotations and tools["forget"].annotations.destructive_hint


async def test_memory_tools_remember_search_supersede_list_and_forget(service: Service) -> None:
    _, key = service.tenant()
    async with mcp_client(service, key) as client:
        first = await call(client, "remember", user_id="alice", text="Alice lives in Lisbon.", key="city")
        assert first["status"] == "created" and first["memory"]["id"] == 1
        moved = await call(client, "remember", user_id="alice", text="Alice lives in Porto.", key="city")
        assert moved["superseded"] == [1]
        await call(client, "remember", user_id="alice", text="Alice is allergic to peanuts.")
        found = await call(client, "search_memories", user_id="alice", query="where does alice live?", k=2)
        assert found["results"][0]["text"] == "Alice lives in Porto."
        assert all(hit["text"] != "Alice lives in Lisbon." for hit in found["results"])
        listed = await call(client, "list_memories", user_id="alice")
        assert listed["total"] == 2
        everything = await call(client, "list_memories", user_id="alice", include_superseded=True)
        assert everything["total"] == 3
        peanuts = next(m for m in listed["items"] if "peanuts" in m["text"])
        assert await call(client, "forget", user_id="alice", memory_id=peanuts["id"]) == {
            "deleted": peanuts["id"]
        }
        assert [m["text"] for m in (await call(client, "list_memories", user_id="alice"))["items"]] == [
            "Alice lives in Porto."
        ]
    # What the tools wrote is what the HTTP API serves.
    served_texts = [m["text"] for m in service.api("GET", "/v1/users/alice/memories", key).json()["items"]]
    assert served_texts == ["Alice lives in Porto."]


async def test_bad_arguments_give_the_apis_own_error_message(service: Service) -> None:
    _, key = service.tenant()
    assert service.api("POST", "/v1/users", key, json={"id": "alice"}).status_code == 201
    http = service.api("POST", "/v1/users/alice/memories/search", key, json={"query": "x" * 3000})
    assert http.status_code == 422
    problem = http.json()
    async with mcp_client(service, key) as client:
        message = await refused(client, "search_memories", user_id="alice", query="x" * 3000)
        assert "422" in message and problem["detail"] in message
        assert all(e["message"] in message for e in problem["errors"])
        assert "404" in await refused(client, "forget", user_id="alice", memory_id=99)
        assert "422" in await refused(client, "remember", user_id="not an id!", text="hi")
        assert "422" in await refused(client, "search_memories", user_id="alice", query="a", k=1000)
        teleport = [{"item": "x", "type": "teleport"}]
        assert "teleport" in await refused(
            client, "record_interactions", user_id="alice", interactions=teleport
        )
        # A missing argument is refused by the schema check, before any request.
        assert "query" in await refused(client, "search_memories", user_id="alice")
        # The server is still serving.
        assert (await call(client, "list_memories", user_id="alice"))["total"] == 0


async def test_preferences_interactions_recommendations_and_the_system_message(service: Service) -> None:
    _, key = service.tenant()
    items = [{"id": f"book-{i}", "title": f"A book about topic {i}"} for i in range(6)]
    assert service.api("POST", "/v1/items", key, json=items).status_code == 200
    others = [{"user": f"reader-{n}", "item": "book-3", "type": "view"} for n in range(3)]
    assert service.api("POST", "/v1/interactions", key, json=others).status_code == 200
    async with mcp_client(service, key) as client:
        for _ in range(2):  # the same comparison twice is stored once
            added = await call(
                client, "add_comparison", user_id="bob", chosen="short answers", rejected="long essays"
            )
        assert added["duplicates"] == 1
        latent = await call(client, "get_preferences", user_id="bob")
        assert latent["n_comparisons"] == 1 and latent["uncertainty"] > 0
        events = [{"item": "book-1", "type": "purchase"}, {"item": "book-2", "type": "view"}]
        recorded = await call(client, "record_interactions", user_id="carol", interactions=events)
        assert recorded["accepted"] == 2
        recs = await call(client, "recommend", user_id="carol", k=3)
        assert [i["id"] for i in recs["items"]] == ["book-3"]  # the popular one; carol's own left out
        assert recs["strategy"] == "popular" and recs["items"][0]["reason"]
        await call(client, "remember", user_id="bob", text="Bob is a vegetarian.")
        message = await call(client, "get_system_message", user_id="bob", query="what should I cook tonight?")
        assert "vegetarian" in message


async def test_pairing_tools_answer_from_the_trained_model(service: Service, settings: Settings) -> None:
    _, key = service.tenant()
    assert service.api("POST", "/v1/ingredients", key, json=pairing_fixtures.ingredients()).status_code == 200
    assert service.api("POST", "/v1/recipes", key, json=pairing_fixtures.recipes()).status_code == 200
    await pairing_fixtures.train(settings)
    assert await asyncio.to_thread(service.app.state.artifacts.refresh)
    italian = pairing_fixtures.CUISINES["Italian"]
    async with mcp_client(service, key) as client:
        completed = await call(client, "complete_ingredients", ingredients=italian[:3], k=3)
        assert {s["ingredient"] for s in completed["suggestions"]} <= set(italian[3:])
        checked = await call(client, "check_ingredients", ingredients=["tomato", "basil", "sugar"])
        assert checked
        assert "2" in await refused(client, "check_ingredients", ingredients=["tomato"])


async def test_a_second_tenants_key_sees_none_of_the_first_tenants_data(service: Service) -> None:
    _, first = service.tenant("first")
    _, second = service.tenant("second")
    async with mcp_client(service, first) as client:
        await call(client, "remember", user_id="alice", text="Alice's locker code is 4471.")
    async with mcp_client(service, second) as client:
        assert "404" in await refused(client, "search_memories", user_id="alice", query="locker code")
        assert "404" in await refused(client, "list_memories", user_id="alice")
        assert "404" in await refused(client, "forget", user_id="alice", memory_id=1)
        await call(client, "remember", user_id="alice", text="Alice likes jazz.")  # the second tenant's alice
        found = await call(client, "search_memories", user_id="alice", query="locker code", k=10)
        assert [hit["text"] for hit in found["results"]] == ["Alice likes jazz."]


async def test_a_tenant_can_keep_tools_from_creating_users(service: Service) -> None:
    tenant, key = service.tenant()
    patched = service.api("PATCH", f"/v1/admin/tenants/{tenant}", "", json={"create_unknown_users": False})
    assert patched.status_code == 200
    async with mcp_client(service, key) as client:
        assert "404" in await refused(client, "remember", user_id="zoe", text="Zoe plays chess.")
    assert service.api("GET", "/v1/users/zoe", key).status_code == 404


def _stdio(service: Service, key: str) -> StdioServerParameters:
    env = {**os.environ, "PERSONA_BASE_URL": service.base, "PERSONA_API_KEY": key}
    return StdioServerParameters(command=sys.executable, args=["-m", "persona_api", "mcp"], env=env)


async def test_the_stdio_server_serves_the_same_tools_against_a_running_service(service: Service) -> None:
    _, key = service.tenant()
    async with Client(_stdio(service, key), read_timeout_seconds=60) as client:
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS
        await call(client, "remember", user_id="dana", text="Dana runs marathons.")
        found = await call(client, "search_memories", user_id="dana", query="running")
        assert found["results"][0]["text"] == "Dana runs marathons."
        assert "422" in await refused(client, "search_memories", user_id="dana", query="")
    memories = service.api("GET", "/v1/users/dana/memories", key).json()["items"]
    assert [m["text"] for m in memories] == ["Dana runs marathons."]


def test_the_stdio_server_needs_a_key() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PERSONA_API_KEY"}
    done = subprocess.run(
        [sys.executable, "-m", "persona_api", "mcp"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "PERSONA_API_KEY" in done.stderr
