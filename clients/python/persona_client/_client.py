"""``PersonaClient`` and ``AsyncPersonaClient``: the generated resources plus chat, which streams."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, overload

import httpx
import msgspec

from persona_client._errors import PersonaError
from persona_client._models import ChatMessage, ChatOut, MemoryUsed, UsageOut
from persona_client._resources import OPERATION_SPECS, AsyncRootResource, RootResource
from persona_client._transport import AsyncTransport, SyncTransport, _clean, _encode

_CHAT = OPERATION_SPECS["chat"]


class ChatSummary(msgspec.Struct, kw_only=True):
    """What a streamed chat ends with: the session, the memories the system message used, usage."""

    session: str
    memories_used: list[MemoryUsed]
    content: str
    """The whole reply (the deltas joined)."""
    usage: UsageOut | None = None
    finish_reason: str | None = None
    model: str | None = None


class StreamError(PersonaError):
    """The stream ended with an ``error`` event (the problem type's last part is ``code``)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code, self.detail = code, detail


class _Context(msgspec.Struct):
    session: str
    memories_used: list[MemoryUsed]


class _Delta(msgspec.Struct):
    content: str | None = None


class _Choice(msgspec.Struct):
    delta: _Delta = msgspec.field(default_factory=_Delta)
    finish_reason: str | None = None


class _Chunk(msgspec.Struct):
    choices: list[_Choice] = msgspec.field(default_factory=list)
    usage: UsageOut | None = None
    model: str | None = None


class _StreamState:
    """Folds the server-sent events into deltas and the summary."""

    def __init__(self) -> None:
        self.context: _Context | None = None
        self.parts: list[str] = []
        self.usage: UsageOut | None = None
        self.finish_reason: str | None = None
        self.model: str | None = None
        self.done = False

    def feed(self, event: str, data: str) -> str | None:
        if event == "persona.context":
            self.context = msgspec.json.decode(data, type=_Context)
            return None
        if event == "error":
            problem = msgspec.json.decode(data)
            raise StreamError(str(problem.get("type", "error")), str(problem.get("detail", "")))
        if data == "[DONE]":
            self.done = True
            return None
        chunk = msgspec.json.decode(data, type=_Chunk, strict=False)
        self.usage = chunk.usage or self.usage
        self.model = chunk.model or self.model
        text = None
        for choice in chunk.choices:
            self.finish_reason = choice.finish_reason or self.finish_reason
            if choice.delta.content:
                text = (text or "") + choice.delta.content
        if text:
            self.parts.append(text)
        return text

    def summary(self) -> ChatSummary:
        if self.context is None:
            raise StreamError("incomplete", "the stream ended before its context event")
        return ChatSummary(
            session=self.context.session,
            memories_used=self.context.memories_used,
            content="".join(self.parts),
            usage=self.usage,
            finish_reason=self.finish_reason,
            model=self.model,
        )


def _events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    event, data = "", list[str]()
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "", list[str]()
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield event, "\n".join(data)


class ChatStream:
    """Iterate for the reply's text deltas (``str``), then one :class:`ChatSummary` last; ``summary``
    holds it too once the stream ended. ``close()`` (or leaving a ``with`` block) hangs up."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._state = _StreamState()
        self.summary: ChatSummary | None = None

    def __iter__(self) -> Generator[str | ChatSummary, None, None]:
        try:
            for event, data in _events(self._response.iter_lines()):
                text = self._state.feed(event, data)
                if text:
                    yield text
                if self._state.done:
                    break
            self.summary = self._state.summary()
            yield self.summary
        finally:
            self.close()

    def text(self) -> Iterator[str]:
        """Only the deltas."""
        return (part for part in self if isinstance(part, str))

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class AsyncChatStream:
    """The async :class:`ChatStream`: ``async for part in stream``."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._state = _StreamState()
        self.summary: ChatSummary | None = None

    async def __aiter__(self) -> AsyncGenerator[str | ChatSummary, None]:
        try:
            event, data = "", list[str]()
            async for line in self._response.aiter_lines():
                if line:
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].removeprefix(" "))
                    continue
                if not data:
                    continue
                text = self._state.feed(event, "\n".join(data))
                event, data = "", list[str]()
                if text:
                    yield text
                if self._state.done:
                    break
            self.summary = self._state.summary()
            yield self.summary
        finally:
            await self.close()

    async def close(self) -> None:
        await self._response.aclose()

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()


def _chat_body(
    messages: Sequence[ChatMessage | Mapping[str, Any]], stream: bool, fields: Mapping[str, Any]
) -> bytes:
    return _encode(_clean({"messages": list(messages), "stream": stream, **fields}))


class PersonaClient(RootResource):
    """The sync client. ``api_key`` defaults to ``$PERSONA_API_KEY`` and ``base_url`` to
    ``$PERSONA_BASE_URL`` (else ``http://127.0.0.1:8000``); with the admin token as ``api_key``,
    ``client.admin`` manages tenants and keys. One connection pool, closed by ``close()`` or ``with``."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 2,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._transport = SyncTransport(
            base_url, api_key, timeout=timeout, max_retries=max_retries, http_client=http_client
        )
        super().__init__(self._transport)

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> PersonaClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @overload
    def chat(
        self,
        user_id: str,
        /,
        *,
        messages: Sequence[ChatMessage | Mapping[str, Any]],
        stream: Literal[False] = False,
        session: str | None = None,
        partner: str | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        budget_tokens: int = 800,
        memories_k: int = 8,
    ) -> ChatOut: ...
    @overload
    def chat(
        self,
        user_id: str,
        /,
        *,
        messages: Sequence[ChatMessage | Mapping[str, Any]],
        stream: Literal[True],
        session: str | None = None,
        partner: str | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        budget_tokens: int = 800,
        memories_k: int = 8,
    ) -> ChatStream: ...

    def chat(
        self,
        user_id: str,
        /,
        *,
        messages: Sequence[ChatMessage | Mapping[str, Any]],
        stream: bool = False,
        session: str | None = None,
        partner: str | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        budget_tokens: int = 800,
        memories_k: int = 8,
    ) -> ChatOut | ChatStream:
        """Chat with the configured LLM, personalized (``POST /v1/users/{user_id}/chat``); with
        ``stream=True`` a :class:`ChatStream`."""
        fields = {
            "session": session,
            "partner": partner,
            "temperature": temperature,
            "top_p": top_p,
            "max_tokens": max_tokens,
            "budget_tokens": budget_tokens,
            "memories_k": memories_k,
        }
        response = self._transport.send(
            _CHAT, {"user_id": user_id}, {}, _chat_body(messages, stream, fields), stream=stream
        )
        if stream:
            return ChatStream(response)
        return msgspec.json.decode(response.content, type=ChatOut, strict=False)


class AsyncPersonaClient(AsyncRootResource):
    """The async client: the same surface as :class:`PersonaClient`, every call awaited."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 2,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._transport = AsyncTransport(
            base_url, api_key, timeout=timeout, max_retries=max_retries, http_client=http_client
        )
        super().__init__(self._transport)

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    async def close(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> AsyncPersonaClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @overload
    async def chat(
        self,
        user_id: str,
        /,
        *,
        messages: Sequence[ChatMessage | Mapping[str, Any]],
        stream: Literal[False] = False,
        session: str | None = None,
        partner: str | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        budget_tokens: int = 800,
        memories_k: int = 8,
    ) -> ChatOut: ...
    @overload
    async def chat(
        self,
        user_id: str,
        /,
        *,
        messages: Sequence[ChatMessage | Mapping[str, Any]],
        stream: Literal[True],
        session: str | None = None,
        partner: str | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        budget_tokens: int = 800,
        memories_k: int = 8,
    ) -> AsyncChatStream: ...

    async def chat(
        self,
        user_id: str,
        /,
        *,
        messages: Sequence[ChatMessage | Mapping[str, Any]],
        stream: bool = False,
        session: str | None = None,
        partner: str | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        budget_tokens: int = 800,
        memories_k: int = 8,
    ) -> ChatOut | AsyncChatStream:
        """Chat with the configured LLM, personalized (``POST /v1/users/{user_id}/chat``); with
        ``stream=True`` an :class:`AsyncChatStream`."""
        fields = {
            "session": session,
            "partner": partner,
            "temperature": temperature,
            "top_p": top_p,
            "max_tokens": max_tokens,
            "budget_tokens": budget_tokens,
            "memories_k": memories_k,
        }
        response = await self._transport.send(
            _CHAT, {"user_id": user_id}, {}, _chat_body(messages, stream, fields), stream=stream
        )
        if stream:
            return AsyncChatStream(response)
        return msgspec.json.decode(response.content, type=ChatOut, strict=False)
