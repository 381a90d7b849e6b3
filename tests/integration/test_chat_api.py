"""``POST /v1/users/{id}/chat`` against a real loopback OpenAI-compatible server."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from persona_api.app import create_app
from persona_api.chat.render import BASE_INSTRUCTIONS
from persona_api.chat.service import ChatService, Prepared
from persona_api.config import Settings
from persona_api.kernel.embed import MiniLMEmbedder
from persona_api.store.db import create_engine
from tests.conftest import TenantKey, new_tenant
from tests.llm_server import FakeLLM, Reply

Client = AsyncTestClient[Litestar]


@pytest.fixture
async def llm_client(
    settings: Settings, embedder: MiniLMEmbedder, llm_server: FakeLLM
) -> AsyncIterator[Client]:
    configured = settings.with_overrides(
        llm_base_url=llm_server.base_url,
        llm_model="fake-model",
        llm_api_key="sk-test-secret",
        llm_timeout_seconds=0.5,
        llm_backoff_base_seconds=0.0,
        llm_backoff_cap_seconds=0.05,
        llm_extract_memories=False,  # the fake LLM's script is for chat; extraction has its own tests
    )
    async with AsyncTestClient(app=create_app(configured, embedder=embedder)) as client:
        yield client


async def stream_chat(client: Client, tenant: TenantKey, content: str) -> tuple[Any, list[str]]:
    """A streamed chat of user ``ada``: the response and its server-sent events."""
    response = await client.post(
        "/v1/users/ada/chat",
        json={"messages": [{"role": "user", "content": content}], "stream": True},
        headers=tenant.headers,
    )
    return response, [e for e in response.text.split("\n\n") if e]


async def turns(client: Client, tenant: TenantKey, session: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/users/ada/sessions/{session}/turns", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_chat_sends_the_system_message_and_records_both_turns(
    llm_client: Client, llm_server: FakeLLM
) -> None:
    tenant = await new_tenant(llm_client)
    h = tenant.headers
    values = {"preferences": [{"dimension": "style", "subdimension": "tone", "preference": "warm"}]}
    assert (await llm_client.put("/v1/users/ada/values", json=values, headers=h)).status_code == 200
    llm_server.queue(Reply(content="Happy to help, Ada!"))
    response = await llm_client.post(
        "/v1/users/ada/chat",
        json={
            "messages": [{"role": "user", "content": "I live in Lisbon. Any weekend ideas?"}],
            "temperature": 0.3,
        },
        headers=h,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == {"role": "assistant", "content": "Happy to help, Ada!"}
    assert body["usage"]["total_tokens"] == 14 and body["model"] == "fake-model"
    [request] = llm_server.requests
    system, user = request.body["messages"]
    assert system["role"] == "system" and system["content"].startswith(BASE_INSTRUCTIONS)
    assert '"warm"' in system["content"]
    assert user == {"role": "user", "content": "I live in Lisbon. Any weekend ideas?"}
    assert request.body["temperature"] == 0.3 and request.body["model"] == "fake-model"
    assert request.headers["authorization"] == "Bearer sk-test-secret"
    recorded = await turns(llm_client, tenant, body["session"])
    assert [(t["speaker"], t["text"]) for t in recorded] == [
        ("user", "I live in Lisbon. Any weekend ideas?"),
        ("assistant", "Happy to help, Ada!"),
    ]

    # The next turn in the same session remembers what was said.
    llm_server.queue(Reply(content="Try Sintra."))
    again = await llm_client.post(
        "/v1/users/ada/chat",
        json={"session": body["session"], "messages": [{"role": "user", "content": "Where do I live?"}]},
        headers=h,
    )
    assert again.status_code == 200, again.text
    assert again.json()["memories_used"] and again.json()["session"] == body["session"]
    assert "Lisbon" in llm_server.requests[1].body["messages"][0]["content"]
    # The memories used are named as the memory routes name them: by their numbers within the user.
    listed = (await llm_client.get("/v1/users/ada/memories", headers=h)).json()["items"]
    assert [m["id"] for m in listed] == list(range(1, len(listed) + 1))
    tags = {m["id"]: m["tag"] for m in listed}
    assert all(tags.get(m["id"]) == m["tag"] for m in again.json()["memories_used"])


async def test_streaming_relays_events_and_records_the_reply(llm_client: Client, llm_server: FakeLLM) -> None:
    tenant = await new_tenant(llm_client)
    llm_server.queue(Reply(content="one two three"))
    response, events = await stream_chat(llm_client, tenant, "Count to three")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert events[0].startswith("event: persona.context\n")
    context = json.loads(events[0].split("data: ", 1)[1])
    assert events[-1] == "data: [DONE]"
    deltas = [json.loads(e.removeprefix("data: ")) for e in events[1:-1]]
    text = "".join(c["delta"]["content"] for d in deltas for c in d["choices"])
    assert text == "one two three"
    assert deltas[-1]["usage"]["total_tokens"] == 14
    recorded = await turns(llm_client, tenant, context["session"])
    assert [(t["speaker"], t["text"]) for t in recorded] == [("user", "Count to three"), ("assistant", text)]


@pytest.mark.parametrize(
    ("reply", "status", "code"),
    [
        (Reply(status=400), 502, "upstream-error"),
        (Reply(status=503), 502, "upstream-error"),
        (Reply(delay=2.0), 504, "upstream-timeout"),
    ],
)
async def test_upstream_failures_are_problems(
    llm_client: Client, llm_server: FakeLLM, reply: Reply, status: int, code: str
) -> None:
    tenant = await new_tenant(llm_client)
    llm_server.default = reply
    for stream in (False, True):
        response = await llm_client.post(
            "/v1/users/ada/chat",
            json={"messages": [{"role": "user", "content": "hello"}], "stream": stream},
            headers=tenant.headers,
        )
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["type"] == f"urn:persona-api:problem:{code}"
        if status == 502:
            assert problem["upstream_status"] == reply.status
    # Each attempt left its session with the user's turn and the reply recorded as failed.
    sessions = await llm_client.get("/v1/users/ada/sessions", headers=tenant.headers)
    ids = [item["id"] for item in sessions.json()["items"]]
    assert len(ids) == 2
    for session in ids:
        recorded = await turns(llm_client, tenant, session)
        assert [(t["speaker"], t["text"], t["status"]) for t in recorded] == [
            ("user", "hello", "complete"),
            ("assistant", "", "failed"),
        ]


async def test_a_broken_stream_ends_with_an_error_event(llm_client: Client, llm_server: FakeLLM) -> None:
    tenant = await new_tenant(llm_client)
    llm_server.queue(Reply(content="a b c d", drop_after=2))
    response, events = await stream_chat(llm_client, tenant, "go")
    assert response.status_code == 200
    assert events[-1].startswith("event: error\n")
    assert "[DONE]" not in response.text
    context = json.loads(events[0].split("data: ", 1)[1])
    recorded = await turns(llm_client, tenant, context["session"])
    assert [(t["speaker"], t["status"]) for t in recorded] == [("user", "complete"), ("assistant", "failed")]
    # What had arrived before the break is kept with the failed reply.
    assert recorded[1]["text"] and "a b c d".startswith(recorded[1]["text"])


async def test_without_an_llm_chat_is_503_and_says_how_to_configure(
    client: Client, tenant: TenantKey
) -> None:
    response = await client.post(
        "/v1/users/ada/chat", json={"messages": [{"role": "user", "content": "hi"}]}, headers=tenant.headers
    )
    assert response.status_code == 503
    problem = response.json()
    assert problem["type"] == "urn:persona-api:problem:llm-not-configured"
    assert "PERSONA_LLM_BASE_URL" in problem["detail"] and "PERSONA_LLM_MODEL" in problem["detail"]
    assert "Retry-After" not in response.headers
    # Nothing was recorded: the user was not even created.
    assert (await client.get("/v1/users/ada", headers=tenant.headers)).status_code == 404


async def test_a_partner_outside_the_session_is_422_before_any_upstream_call(
    llm_client: Client, llm_server: FakeLLM
) -> None:
    tenant = await new_tenant(llm_client)
    first = await llm_client.post(
        "/v1/users/ada/chat", json={"messages": [{"role": "user", "content": "hi"}]}, headers=tenant.headers
    )
    session = first.json()["session"]
    partner = await llm_client.post(
        "/v1/users/ada/partners", json={"id": "mel", "name": "Melanie"}, headers=tenant.headers
    )
    assert partner.status_code == 201
    response = await llm_client.post(
        "/v1/users/ada/chat",
        json={"session": session, "partner": "mel", "messages": [{"role": "user", "content": "again"}]},
        headers=tenant.headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "partner"
    assert len(llm_server.requests) == 1
    assert len(await turns(llm_client, tenant, session)) == 2


async def test_a_stream_whose_reply_cannot_be_recorded_ends_with_an_error_event(
    llm_client: Client, llm_server: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await new_tenant(llm_client)

    async def busy(self: ChatService, prepared: Prepared, content: str, status: str = "complete") -> None:
        raise OperationalError("INSERT INTO turns ...", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(ChatService, "_record", busy)
    llm_server.queue(Reply(content="all of it"))
    response, events = await stream_chat(llm_client, tenant, "go")
    assert response.status_code == 200
    assert "all" in response.text  # the reply itself was relayed
    assert events[-1].startswith("event: error\n") and "[DONE]" not in response.text
    error = json.loads(events[-1].split("data: ", 1)[1])
    assert error["type"] == "database-busy" and "retry" in error["detail"]


async def test_a_chat_reads_the_users_partners_once(
    settings: Settings, embedder: MiniLMEmbedder, llm_server: FakeLLM
) -> None:
    """The system message and the two turns share one request context (a regression guard: they
    once read the partners twice per chat)."""
    configured = settings.with_overrides(
        llm_base_url=llm_server.base_url, llm_model="fake-model", llm_extract_memories=False
    )
    engine = create_engine(configured)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with AsyncTestClient(app=create_app(configured, engine=engine, embedder=embedder)) as client:
            tenant = await new_tenant(client)
            llm_server.queue(Reply(content="Hello."))
            body = {"messages": [{"role": "user", "content": "Hi, I am Ada."}]}
            first = await client.post("/v1/users/ada/chat", json=body, headers=tenant.headers)
            assert first.status_code == 200, first.text
            statements.clear()
            llm_server.queue(Reply(content="Again."))
            body = {"session": first.json()["session"], "messages": [{"role": "user", "content": "And now?"}]}
            again = await client.post("/v1/users/ada/chat", json=body, headers=tenant.headers)
            assert again.status_code == 200, again.text
    finally:
        await engine.dispose()
    assert len([s for s in statements if "FROM partners" in s]) == 1
