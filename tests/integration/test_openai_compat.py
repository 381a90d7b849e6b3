"""The OpenAI drop-in through the official ``openai`` package: sync, async and streaming, against a
loopback OpenAI-compatible upstream; what the upstream received and what was recorded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import openai
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient, TestClient

from persona_api.app import create_app
from persona_api.config import Settings
from persona_api.kernel.embed import MiniLMEmbedder
from tests.conftest import admin_headers
from tests.llm_server import FakeLLM, Reply

BASE = "http://testserver.local"
MODEL = "fake-model"


@pytest.fixture
def llm_app(settings: Settings, embedder: MiniLMEmbedder, llm_server: FakeLLM) -> Litestar:
    configured = settings.with_overrides(
        llm_base_url=llm_server.base_url,
        llm_model=MODEL,
        llm_timeout_seconds=2.0,
        llm_backoff_base_seconds=0.0,
        llm_backoff_cap_seconds=0.05,
        llm_max_retries=0,
        llm_extract_memories=False,
    )
    return create_app(configured, embedder=embedder)


@pytest.fixture
def http(llm_app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app=llm_app, base_url=BASE) as test_client:
        yield test_client


def _key(http: TestClient[Litestar], name: str = "acme") -> tuple[str, str]:
    tenant = http.post("/v1/admin/tenants", json={"name": name}, headers=admin_headers()).json()["id"]
    key = http.post(f"/v1/admin/tenants/{tenant}/keys", json={"name": "k"}, headers=admin_headers()).json()
    return tenant, str(key["key"])


def _openai(http: TestClient[Litestar], key: str, user: str | None = "alice") -> openai.OpenAI:
    headers = {"X-Persona-User": user} if user else {}
    return openai.OpenAI(
        base_url=f"{BASE}/v1",
        api_key=key,
        http_client=cast(Any, http),  # openai 3 types its own httpx fork; httpx clients work
        max_retries=0,
        default_headers=headers,
    )


def _turns(http: TestClient[Litestar], key: str, user: str, session: str) -> list[tuple[str, str]]:
    response = http.get(
        f"/v1/users/{user}/sessions/{session}/turns", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200, response.text
    return [(t["speaker"], t["text"]) for t in response.json()["items"]]


def test_a_completion_is_personalized_passes_fields_through_and_is_recorded(
    http: TestClient[Litestar], llm_server: FakeLLM
) -> None:
    _, key = _key(http)
    auth = {"Authorization": f"Bearer {key}"}
    http.post("/v1/users", json={"id": "alice"}, headers=auth)
    http.post("/v1/users/alice/memories", json={"text": "Alice lives in Lisbon."}, headers=auth)
    values = {
        "preferences": [{"dimension": "style", "subdimension": "tone", "preference": "warm and concise"}]
    }
    assert http.put("/v1/users/alice/values", json=values, headers=auth).status_code == 200
    llm_server.queue(Reply(content="You live in Lisbon."))
    raw = _openai(http, key).chat.completions.with_raw_response.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "You are a travel assistant."},
            {"role": "user", "content": "Where do I live?"},
        ],
        temperature=0.3,
        seed=7,
        stop=["\n\n"],
        response_format={"type": "json_object"},
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "You live in Lisbon."
    assert completion.usage is not None and completion.usage.total_tokens == 14
    sent = llm_server.requests[-1].body
    assert [m["role"] for m in sent["messages"]] == ["system", "system", "user"]  # ours first
    assert "Alice lives in Lisbon." in sent["messages"][0]["content"]
    assert "warm and concise" in sent["messages"][0]["content"]
    assert sent["messages"][1]["content"] == "You are a travel assistant."
    assert sent["temperature"] == 0.3 and sent["seed"] == 7 and sent["stop"] == ["\n\n"]
    assert sent["response_format"] == {"type": "json_object"} and sent["model"] == MODEL
    session = raw.headers["x-persona-session"]
    assert _turns(http, key, "alice", session) == [
        ("user", "Where do I live?"),
        ("assistant", "You live in Lisbon."),
    ]


def test_tool_calls_and_multi_part_content_pass_unchanged(
    http: TestClient[Litestar], llm_server: FakeLLM
) -> None:
    _, key = _key(http)
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Lisbon"}'},
    }
    llm_server.queue(Reply(content="", tool_calls=[call], finish_reason="tool_calls"))
    tools: Any = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    parts: Any = [{"type": "text", "text": "Weather in Lisbon?"}, {"type": "text", "text": "Be brief."}]
    completion = _openai(http, key, "bob").chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": parts}], tools=tools, tool_choice="auto"
    )
    message = completion.choices[0].message
    assert message.tool_calls is not None and message.tool_calls[0].function.name == "get_weather"  # type: ignore[union-attr]
    assert completion.choices[0].finish_reason == "tool_calls"
    sent = llm_server.requests[-1].body
    assert sent["tools"] == tools and sent["tool_choice"] == "auto"
    assert sent["messages"][-1] == {"role": "user", "content": parts}


@pytest.mark.parametrize("include_usage", [True, False])
def test_streaming_relays_chunks_and_honours_include_usage(
    http: TestClient[Litestar], llm_server: FakeLLM, include_usage: bool
) -> None:
    _, key = _key(http)
    llm_server.queue(Reply(content="one two three"))
    options: Any = {"include_usage": True} if include_usage else openai.NOT_GIVEN
    stream = _openai(http, key).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Count"}], stream=True, stream_options=options
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    usages = [c.usage for c in chunks if c.usage is not None]
    assert (len(usages) == 1 and usages[0].total_tokens == 14) if include_usage else not usages
    assert llm_server.requests[-1].body["stream_options"] == {"include_usage": True}  # recorded either way


async def test_async_and_async_streaming(llm_app: Litestar, llm_server: FakeLLM) -> None:
    async with AsyncTestClient(app=llm_app, base_url=BASE) as http:
        tenant = (await http.post("/v1/admin/tenants", json={"name": "a"}, headers=admin_headers())).json()[
            "id"
        ]
        key = (
            await http.post(f"/v1/admin/tenants/{tenant}/keys", json={"name": "k"}, headers=admin_headers())
        ).json()["key"]
        async_http = cast(Any, http)
        client = openai.AsyncOpenAI(base_url=f"{BASE}/v1", api_key=key, http_client=async_http, max_retries=0)
        llm_server.queue(Reply(content="Hi Carol"), Reply(content="streamed reply"))
        done = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hi"}], user="carol"
        )
        assert done.choices[0].message.content == "Hi Carol"
        stream = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Again"}], user="carol", stream=True
        )
        parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
        assert "".join(parts) == "streamed reply"
        assert (
            await http.get("/v1/users/carol", headers={"Authorization": f"Bearer {key}"})
        ).status_code == 200


def test_models_lists_the_upstream_model(http: TestClient[Litestar]) -> None:
    _, key = _key(http)
    models = _openai(http, key).models.list()
    assert [m.id for m in models.data] == [MODEL]


def test_errors_are_openai_errors_with_the_apis_statuses(
    http: TestClient[Litestar], llm_server: FakeLLM
) -> None:
    tenant, key = _key(http)
    hi = [{"role": "user", "content": "Hi"}]
    with pytest.raises(openai.BadRequestError) as no_user:
        _openai(http, key, user=None).chat.completions.create(model=MODEL, messages=hi)  # type: ignore[arg-type]
    assert no_user.value.status_code == 400 and no_user.value.param == "user"
    body: Any = no_user.value.body
    assert set(body) == {"message", "type", "param", "code"} and body["code"] == "malformed_request"
    with pytest.raises(openai.AuthenticationError):
        _openai(http, "pk_wrong").chat.completions.create(model=MODEL, messages=hi)  # type: ignore[arg-type]
    with pytest.raises(openai.NotFoundError):
        _openai(http, key).chat.completions.create(model="gpt-unknown", messages=hi)  # type: ignore[arg-type]
    robot: Any = [{"role": "robot", "content": "x"}]
    with pytest.raises(openai.UnprocessableEntityError) as invalid:
        _openai(http, key).chat.completions.create(model=MODEL, messages=robot)
    assert invalid.value.param == "messages[0].role"
    llm_server.queue(Reply(status=500))
    with pytest.raises(openai.InternalServerError) as upstream:
        _openai(http, key).chat.completions.create(model=MODEL, messages=hi)  # type: ignore[arg-type]
    assert upstream.value.status_code == 502
    patched = http.patch(
        f"/v1/admin/tenants/{tenant}", json={"rate_limit_per_minute": 1}, headers=admin_headers()
    )
    assert patched.status_code == 200, patched.text
    llm_server.queue(Reply(content="ok"))
    client = _openai(http, key)
    client.chat.completions.create(model=MODEL, messages=hi)  # type: ignore[arg-type]
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model=MODEL, messages=hi)  # type: ignore[arg-type]
    assert limited.value.response.headers["retry-after"]
    assert limited.value.response.headers["content-type"] == "application/json"


def test_a_tenant_can_refuse_to_create_users_on_first_use(
    http: TestClient[Litestar], llm_server: FakeLLM
) -> None:
    tenant, key = _key(http)
    assert (
        http.get(f"/v1/admin/tenants/{tenant}", headers=admin_headers()).json()["create_unknown_users"]
        is True
    )
    patched = http.patch(
        f"/v1/admin/tenants/{tenant}", json={"create_unknown_users": False}, headers=admin_headers()
    )
    assert patched.status_code == 200 and patched.json()["create_unknown_users"] is False
    hi: Any = [{"role": "user", "content": "Hi"}]
    with pytest.raises(openai.NotFoundError) as unknown:
        _openai(http, key, "stranger").chat.completions.create(model=MODEL, messages=hi)
    assert unknown.value.code == "not_found" and not llm_server.requests
    assert http.get("/v1/users/stranger", headers={"Authorization": f"Bearer {key}"}).status_code == 404
    http.post("/v1/users", json={"id": "known"}, headers={"Authorization": f"Bearer {key}"})
    llm_server.queue(Reply(content="Hello"))
    done = _openai(http, key, "known").chat.completions.create(model=MODEL, messages=hi)
    assert done.choices[0].message.content == "Hello"
