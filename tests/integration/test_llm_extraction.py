"""LLM memory extraction off the request path, against a real loopback OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import Row, select

from persona_api.app import create_app
from persona_api.config import Settings
from persona_api.kernel.embed import MiniLMEmbedder
from persona_api.memory.tables import Memory, MemoryExtraction, Turn
from tests.conftest import TenantKey, fetch_all, new_tenant
from tests.llm_server import FakeLLM, Reply

Client = AsyncTestClient[Litestar]

LISBON = "I moved to Lisbon last month and I started a new job as a nurse."
SUPPORT_GROUP = "I went to a LGBTQ support group yesterday and it was so powerful."


def answer(*memories: tuple[str, str, str]) -> str:
    return json.dumps({"memories": [{"text": t, "about": a, "kind": k} for t, a, k in memories]})


@contextlib.asynccontextmanager
async def serving(
    settings: Settings, embedder: MiniLMEmbedder, llm: FakeLLM, **overrides: Any
) -> AsyncIterator[Client]:
    configured = settings.with_overrides(
        **{
            "llm_base_url": llm.base_url,
            "llm_model": "fake-model",
            "llm_timeout_seconds": 2.0,
            "llm_max_retries": 0,
            "llm_backoff_base_seconds": 0.0,
            "llm_backoff_cap_seconds": 0.05,
            "llm_extract_retry_seconds": 0.0,
            "llm_extract_poll_seconds": 0.05,
            "llm_extract_concurrency": 1,  # the fake LLM answers in order: one turn at a time
            **overrides,
        }
    )
    async with AsyncTestClient(app=create_app(configured, embedder=embedder)) as client:
        yield client


async def conversation(client: Client, tenant: TenantKey, text: str) -> dict[str, Any]:
    h = tenant.headers
    created = await client.post(
        "/v1/users", json={"id": "carol", "metadata": {"name": "Caroline"}}, headers=h
    )
    assert created.status_code == 201, created.text
    partner = await client.post("/v1/users/carol/partners", json={"id": "mel", "name": "Melanie"}, headers=h)
    assert partner.status_code == 201, partner.text
    session = await client.post(
        "/v1/users/carol/sessions",
        json={"id": "s1", "partners": ["mel"], "started_at": "2023-05-08T13:56:00Z"},
        headers=h,
    )
    assert session.status_code == 201, session.text
    turns = [
        {"id": "D1:1", "speaker": "mel", "text": "Hi Caroline, what's new?"},
        {"id": "D1:2", "speaker": "user", "text": text},
    ]
    ingest = await client.post("/v1/users/carol/sessions/s1/turns", json={"turns": turns}, headers=h)
    assert ingest.status_code == 201, ingest.text
    return dict(ingest.json())


async def settled(database_url: str, tenant: TenantKey, count: int, within: float = 20.0) -> list[Row[Any]]:
    """The tenant's extraction rows once ``count`` of them exist and none is pending."""
    deadline = time.monotonic() + within
    statement = (
        select(MemoryExtraction.status, MemoryExtraction.attempts, MemoryExtraction.last_error)
        .where(MemoryExtraction.tenant_id == tenant.tenant_id)
        .order_by(MemoryExtraction.id)
    )
    while True:
        rows = await fetch_all(database_url, statement)
        if len(rows) >= count and all(r.status != "pending" for r in rows):
            return rows
        assert time.monotonic() < deadline, f"extraction did not settle: {rows}"
        await asyncio.sleep(0.05)


async def memories(client: Client, tenant: TenantKey) -> list[tuple[str, str]]:
    response = await client.get("/v1/users/carol/memories", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return sorted((m["text"], m["about"]) for m in response.json()["items"])


async def extracted_by(database_url: str, tenant: TenantKey) -> list[str | None]:
    rows = await fetch_all(
        database_url,
        select(Turn.extracted_by)
        .join(MemoryExtraction, MemoryExtraction.turn_id == Turn.id)
        .where(MemoryExtraction.tenant_id == tenant.tenant_id)
        .order_by(Turn.id),
    )
    return [r.extracted_by for r in rows]


async def test_valid_llm_output_becomes_memories_off_the_request_path(
    settings: Settings, embedder: MiniLMEmbedder, llm_server: FakeLLM, database_url: str
) -> None:
    llm_server.queue(
        Reply(content=answer()),  # the greeting holds nothing
        Reply(
            content=answer(
                ("Caroline moved to Lisbon in April 2023.", "Caroline", "event"),
                ("Caroline works as a nurse.", "user", "fact"),
            )
        ),
    )
    async with serving(settings, embedder, llm_server) as client:
        tenant = await new_tenant(client)
        ingest = await conversation(client, tenant, LISBON)
        assert ingest["accepted"] == ["D1:1", "D1:2"] and ingest["memories"] == []  # queued, not inline
        rows = await settled(database_url, tenant, 2)
        assert [(r.status, r.attempts, r.last_error) for r in rows] == [("done", 1, None)] * 2
        assert await memories(client, tenant) == [
            ("Caroline moved to Lisbon in April 2023.", "Caroline"),
            ("Caroline works as a nurse.", "Caroline"),
        ]
        assert await extracted_by(database_url, tenant) == ["llm", "llm"]
        found = await client.post(
            "/v1/users/carol/memories/search",
            json={"query": "Lisbon move"},
            headers=tenant.headers,
        )
        assert found.json()["results"][0]["memory"]["text"] == "Caroline moved to Lisbon in April 2023."
    request = llm_server.requests[1].body
    assert request["response_format"] == {"type": "json_object"} and request["temperature"] == 0
    system, user = request["messages"]
    assert '"memories"' in system["content"]
    sent = json.loads(user["content"])
    assert sent["turn"] == {"speaker": "Caroline", "text": LISBON}
    assert sent["participants"] == ["Caroline", "Melanie"] and sent["date"] == "2023-05-08"
    assert sent["previous_turns"] == [{"speaker": "Melanie", "text": "Hi Caroline, what's new?"}]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("Sure! Caroline went to a support group.", "not a JSON object"),
        ('{"memories": [{"text": "Caroline went to a group.", "kind": "event"}]}', "schema"),
        (answer(("Caroline went to a group.", "Caroline", "gossip")), "schema"),
        (answer(("Bob went to a group.", "Bob", "event")), "not a participant"),
    ],
)
async def test_invalid_llm_output_is_retried_then_the_rules_extract(
    settings: Settings,
    embedder: MiniLMEmbedder,
    llm_server: FakeLLM,
    database_url: str,
    content: str,
    reason: str,
) -> None:
    llm_server.default = Reply(content=content)
    async with serving(settings, embedder, llm_server, llm_extract_attempts=3) as client:
        tenant = await new_tenant(client)
        await conversation(client, tenant, SUPPORT_GROUP)
        rows = await settled(database_url, tenant, 2)
        assert [(r.status, r.attempts) for r in rows] == [("fallback", 3)] * 2
        assert all(reason in r.last_error for r in rows)
        assert all("Caroline went" not in r.last_error and "Bob" not in r.last_error for r in rows)
        texts = [text for text, _ in await memories(client, tenant)]
        assert any("LGBTQ support group" in t for t in texts)  # the deterministic extractor's memory
        assert await extracted_by(database_url, tenant) == ["rules", "rules"]
    assert len(llm_server.requests) == 6


async def test_upstream_failures_are_recorded_and_retried(
    settings: Settings, embedder: MiniLMEmbedder, llm_server: FakeLLM, database_url: str
) -> None:
    good = Reply(content=answer(("Caroline moved to Lisbon.", "Caroline", "event")))
    # One turn: the client's own retry absorbs one 503. The other: two 503s fail its first attempt.
    # (The worker asks about both turns at once, so which turn meets which reply may vary.)
    llm_server.queue(Reply(status=503), Reply(content=answer()), Reply(status=503), Reply(status=503), good)
    async with serving(
        settings, embedder, llm_server, llm_max_retries=1, llm_extract_concurrency=4
    ) as client:
        tenant = await new_tenant(client)
        await conversation(client, tenant, LISBON)
        rows = sorted(await settled(database_url, tenant, 2), key=lambda r: r.attempts)
        assert [(r.status, r.attempts) for r in rows] == [("done", 1), ("done", 2)]
        assert rows[0].last_error is None and "HTTP 503" in rows[1].last_error
        assert await memories(client, tenant) == [("Caroline moved to Lisbon.", "Caroline")]
    assert len(llm_server.requests) == 5

    # An endpoint that never recovers: each attempt is recorded, then the rules take over.
    llm_server.default = Reply(status=503)
    async with serving(settings, embedder, llm_server, llm_extract_attempts=2) as client:
        tenant = await new_tenant(client, "other")
        await conversation(client, tenant, SUPPORT_GROUP)
        rows = await settled(database_url, tenant, 2)
        assert [(r.status, r.attempts) for r in rows] == [("fallback", 2)] * 2
        assert all("upstream-error" in r.last_error for r in rows)
        assert any("support group" in text for text, _ in await memories(client, tenant))


async def test_without_an_llm_the_rules_extract_inline(
    client: Client, tenant: TenantKey, database_url: str
) -> None:
    ingest = await conversation(client, tenant, SUPPORT_GROUP)
    assert [m["status"] for m in ingest["memories"]] == ["created"]
    rows = await fetch_all(
        database_url, select(MemoryExtraction.id).where(MemoryExtraction.tenant_id == tenant.tenant_id)
    )
    assert rows == []


async def test_deleting_the_user_removes_queued_turns_and_in_flight_results(
    settings: Settings, embedder: MiniLMEmbedder, llm_server: FakeLLM, database_url: str
) -> None:
    # Every attempt fails and the next one is an hour away: the turns stay queued.
    llm_server.default = Reply(status=503)
    async with serving(settings, embedder, llm_server, llm_extract_retry_seconds=3600) as client:
        tenant = await new_tenant(client)
        await conversation(client, tenant, LISBON)
        statement = select(MemoryExtraction.status, MemoryExtraction.last_error).where(
            MemoryExtraction.tenant_id == tenant.tenant_id
        )
        deadline = time.monotonic() + 10
        while not (rows := await fetch_all(database_url, statement)) or any(
            r.last_error is None for r in rows
        ):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert [r.status for r in rows] == ["pending", "pending"]
        assert (await client.delete("/v1/users/carol", headers=tenant.headers)).status_code == 204
        assert await fetch_all(database_url, statement) == []

    # The user is deleted while the LLM is answering: nothing is written for them afterwards.
    llm_server.default = Reply(content=answer(("Caroline moved to Lisbon.", "Caroline", "event")), delay=0.5)
    async with serving(settings, embedder, llm_server) as client:
        tenant = await new_tenant(client, "second")
        await conversation(client, tenant, LISBON)
        deadline = time.monotonic() + 5
        while llm_server.in_flight == 0:  # the worker has asked the LLM about the first turn
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        assert (await client.delete("/v1/users/carol", headers=tenant.headers)).status_code == 204
        await asyncio.sleep(1.0)  # the answer arrives after the deletion and is discarded
        assert (
            await fetch_all(
                database_url,
                select(MemoryExtraction.id).where(MemoryExtraction.tenant_id == tenant.tenant_id),
            )
            == []
        )
        assert (
            await fetch_all(database_url, select(Memory.id).where(Memory.tenant_id == tenant.tenant_id)) == []
        )


async def test_tenants_are_isolated(
    settings: Settings, embedder: MiniLMEmbedder, llm_server: FakeLLM, database_url: str
) -> None:
    async with serving(settings, embedder, llm_server) as client:
        tenants = [await new_tenant(client, "north"), await new_tenant(client, "south")]
        for tenant, city in zip(tenants, ("Lisbon", "Porto"), strict=True):
            llm_server.queue(
                Reply(content=answer()),
                Reply(content=answer((f"Caroline lives in {city}.", "Caroline", "fact"))),
            )
            await conversation(client, tenant, f"I live in {city} now.")
            await settled(database_url, tenant, 2)
        assert await memories(client, tenants[0]) == [("Caroline lives in Lisbon.", "Caroline")]
        assert await memories(client, tenants[1]) == [("Caroline lives in Porto.", "Caroline")]
        found = await client.post(
            "/v1/users/carol/memories/search", json={"query": "Porto"}, headers=tenants[0].headers
        )
        assert [r["memory"]["text"] for r in found.json()["results"]] == ["Caroline lives in Lisbon."]


async def test_turns_left_queued_are_extracted_by_the_rules_once_the_llm_is_gone(
    settings: Settings, embedder: MiniLMEmbedder, llm_server: FakeLLM, database_url: str
) -> None:
    llm_server.default = Reply(status=503)
    async with serving(settings, embedder, llm_server, llm_extract_retry_seconds=3600) as client:
        tenant = await new_tenant(client)
        await conversation(client, tenant, SUPPORT_GROUP)
        statement = select(MemoryExtraction.last_error).where(MemoryExtraction.tenant_id == tenant.tenant_id)
        deadline = time.monotonic() + 10
        while not (rows := await fetch_all(database_url, statement)) or any(
            r.last_error is None for r in rows
        ):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    # Restarted without an LLM: the start-up drain extracts what the LLM never did.
    async with AsyncTestClient(app=create_app(settings, embedder=embedder)) as client:
        rows = await settled(database_url, tenant, 2)
        assert [r.status for r in rows] == ["fallback", "fallback"]
        assert all("upstream-error" in r.last_error for r in rows)
        assert await extracted_by(database_url, tenant) == ["rules", "rules"]
        assert any("support group" in text for text, _ in await memories(client, tenant))
