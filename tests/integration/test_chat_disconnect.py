"""A streaming chat whose client goes away: the upstream call is closed at once (its concurrency
slot freed), the user's turn stays recorded and the interrupted reply is not.

The app runs in a real uvicorn server on a loopback port, since only a real connection can be
dropped halfway through a response.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

from persona_api.app import create_app
from persona_api.config import Settings
from persona_api.kernel.embed import MiniLMEmbedder
from tests.conftest import admin_headers
from tests.llm_server import FakeLLM, Reply
from tests.serving import served


async def wait_for(condition: str, check: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, condition
        await asyncio.sleep(0.02)


async def test_a_client_disconnect_closes_the_upstream_stream(
    settings: Settings, embedder: MiniLMEmbedder, llm_server: FakeLLM
) -> None:
    configured = settings.with_overrides(
        llm_base_url=llm_server.base_url,
        llm_model="fake-model",
        llm_timeout_seconds=5.0,
        llm_max_concurrency=1,  # a leaked upstream call would block the next chat
        llm_extract_memories=False,
    )
    with served(create_app(configured, embedder=embedder)) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            made = await http.post("/v1/admin/tenants", json={"name": "acme"}, headers=admin_headers())
            key = await http.post(
                f"/v1/admin/tenants/{made.json()['id']}/keys", json={}, headers=admin_headers()
            )
            assert key.status_code == 201, key.text
            h = {"Authorization": f"Bearer {key.json()['key']}"}

            # 200 words, one every 50 ms: ten seconds of streaming if nobody hung up.
            llm_server.queue(Reply(content=" ".join(f"w{i}" for i in range(200)), chunk_delay=0.05))
            body = {"messages": [{"role": "user", "content": "Tell me a long story"}], "stream": True}
            session = None
            async with http.stream("POST", "/v1/users/ada/chat", json=body, headers=h) as response:
                assert response.status_code == 200
                async for line in response.aiter_lines():
                    if line.startswith('data: {"session"'):
                        session = line.split('"session": "', 1)[1].split('"', 1)[0]
                    if line.startswith("data: ") and "chat.completion.chunk" in line:
                        break  # hang up after the first delta
            assert session is not None
            # The rest of the reply would take ten more seconds: the upstream call was cut short.
            await wait_for("the upstream stream was not closed", lambda: llm_server.in_flight == 0, 3.0)

            llm_server.queue(Reply(content="Still here."))
            again = await http.post(
                "/v1/users/ada/chat",
                json={"session": session, "messages": [{"role": "user", "content": "Are you there?"}]},
                headers=h,
            )
            assert again.status_code == 200, again.text
            turns = (await http.get(f"/v1/users/ada/sessions/{session}/turns", headers=h)).json()["items"]
            # The cut-off reply is kept, marked interrupted, with what had been relayed of it.
            assert [(t["speaker"], t["status"]) for t in turns] == [
                ("user", "complete"),
                ("assistant", "interrupted"),
                ("user", "complete"),
                ("assistant", "complete"),
            ]
            assert turns[0]["text"] == "Tell me a long story" and turns[3]["text"] == "Still here."
            assert turns[1]["text"].startswith("w0") and len(turns[1]["text"].split()) < 200
