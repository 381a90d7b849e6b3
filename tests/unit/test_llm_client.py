"""The LLM client against a real loopback OpenAI-compatible server."""

from __future__ import annotations

import asyncio

import pytest

from persona_api.config import load_settings
from persona_api.errors import ConfigurationError, UpstreamError, UpstreamTimeout
from persona_api.llm import Chunk, LLMClient, LLMConfig, config_from_settings
from tests.llm_server import FakeLLM, Reply

MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}]


class Sleeps:
    """Records backoff waits instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def client_for(server: FakeLLM, sleeps: Sleeps | None = None, **overrides: float) -> LLMClient:
    options = {
        "timeout": 5.0,
        "connect_timeout": 2.0,
        "max_retries": 2,
        "backoff_base": 0.1,
        "backoff_cap": 2.0,
    }
    options.update(overrides)
    config = LLMConfig(
        base_url=server.base_url,
        model="test-model",
        api_key="sk-secret-value",
        timeout=options["timeout"],
        connect_timeout=options["connect_timeout"],
        max_retries=int(options["max_retries"]),
        backoff_base=options["backoff_base"],
        backoff_cap=options["backoff_cap"],
        max_concurrency=int(options.get("max_concurrency", 4)),
    )
    return LLMClient(config, sleep=sleeps or Sleeps())


async def test_complete_returns_content_usage_and_sends_the_request(llm_server: FakeLLM) -> None:
    llm_server.queue(Reply(content="Hello, Ada."))
    async with client_for(llm_server) as client:
        result = await client.complete(MESSAGES, temperature=0.2, max_tokens=50)
    assert result.content == "Hello, Ada."
    assert result.model == "test-model"
    assert result.finish_reason == "stop"
    assert result.usage is not None and result.usage.total_tokens == 14
    [request] = llm_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-secret-value"
    assert request.body == {
        "model": "test-model",
        "messages": MESSAGES,
        "stream": False,
        "temperature": 0.2,
        "max_tokens": 50,
    }


def test_the_api_key_is_not_in_reprs(llm_server: FakeLLM) -> None:
    client = client_for(llm_server)
    assert "sk-secret-value" not in repr(client)
    assert "sk-secret-value" not in repr(client.config)
    asyncio.run(client.aclose())


async def test_stream_relays_deltas_then_usage(llm_server: FakeLLM) -> None:
    llm_server.queue(Reply(content="one two three"))
    async with client_for(llm_server) as client:
        chunks: list[Chunk] = [c async for c in client.stream(MESSAGES)]
    assert "".join(c.content for c in chunks) == "one two three"
    assert [c.content for c in chunks[:3]] == ["one ", "two ", "three"]
    assert chunks[-2].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    [request] = llm_server.requests
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}


async def test_429_then_success_is_retried_honouring_retry_after(llm_server: FakeLLM) -> None:
    llm_server.queue(Reply(status=429, headers={"Retry-After": "1"}), Reply(content="ok"))
    sleeps = Sleeps()
    async with client_for(llm_server, sleeps) as client:
        result = await client.complete(MESSAGES)
    assert result.content == "ok"
    assert len(llm_server.requests) == 2
    assert sleeps.delays == [1.0]


async def test_a_long_retry_after_is_not_waited_for(llm_server: FakeLLM) -> None:
    llm_server.queue(Reply(status=429, headers={"Retry-After": "120"}))
    async with client_for(llm_server) as client:
        with pytest.raises(UpstreamError) as caught:
            await client.complete(MESSAGES)
    assert caught.value.upstream_status == 429
    assert len(llm_server.requests) == 1


async def test_5xx_is_retried_with_growing_jittered_backoff_then_reported(llm_server: FakeLLM) -> None:
    llm_server.queue(Reply(status=503), Reply(status=503), Reply(status=503), Reply(content="late"))
    sleeps = Sleeps()
    async with client_for(llm_server, sleeps) as client:
        with pytest.raises(UpstreamError) as caught:
            await client.complete(MESSAGES)
    assert caught.value.upstream_status == 503
    assert len(llm_server.requests) == 3  # one try + max_retries
    first, second = sleeps.delays
    assert 0.05 <= first <= 0.1 and 0.1 <= second <= 0.2


async def test_4xx_is_not_retried(llm_server: FakeLLM) -> None:
    llm_server.queue(Reply(status=400))
    async with client_for(llm_server) as client:
        with pytest.raises(UpstreamError) as caught:
            await client.complete(MESSAGES)
    assert caught.value.upstream_status == 400
    assert len(llm_server.requests) == 1


async def test_a_slow_answer_is_a_timeout(llm_server: FakeLLM) -> None:
    llm_server.queue(Reply(delay=2.0))
    async with client_for(llm_server, timeout=0.2) as client:
        with pytest.raises(UpstreamTimeout):
            await client.complete(MESSAGES)
    assert len(llm_server.requests) == 1


async def test_connection_failures_are_retried_then_reported() -> None:
    server = FakeLLM()
    base_url = server.base_url
    server.stop()  # never started: the port is closed now
    sleeps = Sleeps()
    client = LLMClient(LLMConfig(base_url=base_url, model="m", max_retries=2), sleep=sleeps)
    async with client:
        with pytest.raises(UpstreamError) as caught:
            await client.complete(MESSAGES)
    assert caught.value.upstream_status is None
    assert len(sleeps.delays) == 2


async def test_a_stream_dropped_midway_raises_and_is_not_retried(llm_server: FakeLLM) -> None:
    llm_server.queue(Reply(content="a b c d e", drop_after=2), Reply(content="should not be fetched"))
    received: list[str] = []
    async with client_for(llm_server) as client:
        with pytest.raises(UpstreamError):
            async for chunk in client.stream(MESSAGES):
                received.append(chunk.content)
    assert received == ["a ", "b "]
    assert len(llm_server.requests) == 1


async def test_concurrent_calls_are_capped(llm_server: FakeLLM) -> None:
    llm_server.default = Reply(content="x", delay=0.15)
    async with client_for(llm_server, max_concurrency=2) as client:
        results = await asyncio.gather(*(client.complete(MESSAGES) for _ in range(6)))
    assert [r.content for r in results] == ["x"] * 6
    assert llm_server.max_in_flight == 2


async def test_connections_are_pooled(llm_server: FakeLLM) -> None:
    async with client_for(llm_server) as client:
        for _ in range(3):
            await client.complete(MESSAGES)
        async for _ in client.stream(MESSAGES):
            pass
    ports = {r.client_port for r in llm_server.requests}
    assert len(llm_server.requests) == 4 and len(ports) == 1


def test_settings_configure_the_client_and_hide_the_key() -> None:
    assert config_from_settings(load_settings({})) is None
    settings = load_settings(
        {
            "PERSONA_LLM_BASE_URL": "http://127.0.0.1:9/v1/",
            "PERSONA_LLM_MODEL": "m",
            "PERSONA_LLM_API_KEY": "sk-hidden",
            "PERSONA_LLM_MAX_RETRIES": "5",
            "PERSONA_LLM_MAX_CONCURRENCY": "3",
        }
    )
    assert "sk-hidden" not in repr(settings)
    config = config_from_settings(settings)
    assert config is not None
    assert config.endpoint == "http://127.0.0.1:9/v1/chat/completions"
    assert (config.api_key, config.max_retries, config.max_concurrency) == ("sk-hidden", 5, 3)
    with pytest.raises(ConfigurationError, match="PERSONA_LLM_MODEL"):
        load_settings({"PERSONA_LLM_BASE_URL": "http://x/v1"})
    with pytest.raises(ConfigurationError, match="PERSONA_LLM_BASE_URL"):
        load_settings({"PERSONA_LLM_BASE_URL": "ftp://x", "PERSONA_LLM_MODEL": "m"})
