"""The LLM upstream failing under chat: reset connections, a 500 answer, a stream that is reset
or stalls midway. Each ends in a clear error (problem+json 502/504, or an ``event: error`` once a
stream has started), the user's turn is kept and the reply recorded as failed, and nothing is
left stuck: with one upstream slot, the next chat succeeds, and no task outlives its request.

Not repeated here (tests/integration/test_chat_api.py has them): a 400 or 503 answer, a model that
never answers (504), a stream dropped with a FIN midway; a client hanging up is in
test_chat_disconnect.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from persona_api.app import create_app
from persona_api.config import Settings
from persona_api.kernel.embed import MiniLMEmbedder
from tests.conftest import ADMIN_TOKEN, TenantKey, new_tenant
from tests.llm_server import FakeLLM, Reply

Client = AsyncTestClient[Litestar]
BOUND = 15.0
"""No chat of these tests may take this long (each fault is over in about a second)."""


@pytest.fixture
async def chat_client(
    sqlite_url: str, tmp_path: Path, loaded_embedder: MiniLMEmbedder, llm_server: FakeLLM
) -> AsyncIterator[Client]:
    settings = Settings(
        database_url=sqlite_url,
        models_dir=tmp_path / "models",
        var_dir=tmp_path / "var",
        admin_token=ADMIN_TOKEN,
        rate_limit_per_minute=0,
        artifact_poll_seconds=0,
        preload_models=False,
        llm_base_url=llm_server.base_url,
        llm_model="fake-model",
        llm_timeout_seconds=0.5,
        llm_max_retries=1,
        llm_backoff_base_seconds=0.0,
        llm_backoff_cap_seconds=0.05,
        llm_max_concurrency=1,  # a slot an upstream failure did not give back blocks the next chat
        llm_extract_memories=False,
    )
    async with AsyncTestClient(app=create_app(settings, embedder=loaded_embedder)) as client:
        yield client


async def chat(
    client: Client, tenant: TenantKey, text: str, *, stream: bool, session: str | None = None
) -> Any:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": text}], "stream": stream}
    if session is not None:
        body["session"] = session
    async with asyncio.timeout(BOUND):
        return await client.post("/v1/users/ada/chat", json=body, headers=tenant.headers)


def events(response: Any) -> list[tuple[str | None, str]]:
    """A server-sent event stream as ``(event name, data)`` pairs."""
    found = []
    for block in filter(None, response.text.split("\n\n")):
        name = next((line[7:] for line in block.splitlines() if line.startswith("event: ")), None)
        data = "".join(line[6:] for line in block.splitlines() if line.startswith("data: "))
        found.append((name, data))
    return found


async def turns(client: Client, tenant: TenantKey, session: str) -> list[tuple[str, str, str]]:
    response = await client.get(f"/v1/users/ada/sessions/{session}/turns", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return [(t["speaker"], t["text"], t["status"]) for t in response.json()["items"]]


def other_tasks() -> set[asyncio.Task[Any]]:
    current = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not current and not t.done()}


@dataclass(frozen=True)
class Fault:
    replies: tuple[Reply, ...]
    stream: bool
    status: int
    code: str
    partial: str = ""
    """What the recorded (failed) reply holds: the part relayed before the stream broke."""


FAULTS = {
    "reset-before-answering": Fault((Reply(reset_after=0),) * 2, False, 502, "upstream-error"),
    "reset-before-streaming": Fault((Reply(reset_after=0),) * 2, True, 502, "upstream-error"),
    "500-twice": Fault((Reply(status=500),) * 2, False, 502, "upstream-error"),
    "stream-reset-midway": Fault(
        (Reply(content="one two three four", reset_after=2),), True, 200, "upstream-error", "one two "
    ),
    "stream-stalls-midway": Fault(
        (Reply(content="one two three four", stall_after=2),), True, 200, "upstream-timeout", "one two "
    ),
}


@pytest.mark.parametrize("name", list(FAULTS))
async def test_an_upstream_fault_is_a_clear_error_recorded_and_leaves_nothing_stuck(
    chat_client: Client, llm_server: FakeLLM, name: str
) -> None:
    fault = FAULTS[name]
    tenant = await new_tenant(chat_client)
    warm = await chat(chat_client, tenant, "Hello!", stream=False)
    assert warm.status_code == 200, warm.text
    session = warm.json()["session"]
    before = other_tasks()

    llm_server.queue(*fault.replies)
    failed = await chat(chat_client, tenant, "Tell me about Lisbon.", stream=fault.stream, session=session)
    assert failed.status_code == fault.status, failed.text
    if fault.status != 200:
        assert failed.headers["content-type"].startswith("application/problem+json")
        problem = failed.json()
        assert problem["type"] == f"urn:persona-api:problem:{fault.code}"
        if name == "500-twice":
            assert problem["upstream_status"] == 500
    else:
        found = events(failed)
        assert found[0][0] == "persona.context"
        relayed = "".join(
            choice["delta"]["content"]
            for event, data in found[1:-1]
            if event is None
            for choice in json.loads(data)["choices"]
        )
        assert relayed == fault.partial
        event, data = found[-1]
        assert event == "error" and json.loads(data)["type"] == fault.code
        assert "[DONE]" not in failed.text
    assert len(llm_server.requests) == 1 + len(fault.replies)  # retried as configured, no more

    # The user's turn is kept; the reply is recorded as failed, with what was relayed of it.
    assert (await turns(chat_client, tenant, session))[2:] == [
        ("user", "Tell me about Lisbon.", "complete"),
        ("assistant", fault.partial, "failed"),
    ]

    # Nothing is stuck: the one upstream slot is free, and no task of the failed chat lives on.
    llm_server.queue(Reply(content="Lisbon has seven hills."))
    after = await chat(chat_client, tenant, "And now?", stream=fault.stream, session=session)
    assert after.status_code == 200, after.text
    assert (await turns(chat_client, tenant, session))[-1] == (
        "assistant",
        "Lisbon has seven hills.",
        "complete",
    )
    assert other_tasks() <= before


async def test_a_500_once_is_retried_and_the_chat_succeeds(chat_client: Client, llm_server: FakeLLM) -> None:
    tenant = await new_tenant(chat_client)
    llm_server.queue(Reply(status=500), Reply(content="Fine, thanks."))
    response = await chat(chat_client, tenant, "How are you?", stream=True)
    assert response.status_code == 200, response.text
    assert events(response)[-1] == (None, "[DONE]")
    session = json.loads(events(response)[0][1])["session"]
    assert await turns(chat_client, tenant, session) == [
        ("user", "How are you?", "complete"),
        ("assistant", "Fine, thanks.", "complete"),
    ]
    assert len(llm_server.requests) == 2
