"""The wire format of OpenAI-compatible chat completions: result types and their parsers.

Non-streaming answers are one JSON object; streaming answers are server-sent events, one
``data: {json}`` line per chunk, ending with ``data: [DONE]``. Anything else is an
:class:`~persona_api.errors.UpstreamError` (the body is never echoed: it may hold user text).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from persona_api.errors import UpstreamError


@dataclass(frozen=True, kw_only=True)
class Usage:
    """Token counts as the endpoint reports them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True, kw_only=True)
class Completion:
    """A finished, non-streamed answer."""

    content: str
    usage: Usage | None
    model: str
    finish_reason: str | None
    raw: dict[str, Any] = field(default_factory=dict)
    """The endpoint's ``chat.completion`` object as it came (tool calls and all)."""


@dataclass(frozen=True, kw_only=True)
class Chunk:
    """One streamed delta; ``usage`` is set on the final chunk when the endpoint reports it."""

    content: str
    finish_reason: str | None = None
    usage: Usage | None = None
    model: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    """The endpoint's ``chat.completion.chunk`` object as it came."""


# The wire shapes, as loose as OpenAI-compatible servers are: every field optional, content of any
# JSON type (only a string is text), counts that some servers send as floats.
class _Usage(msgspec.Struct):
    prompt_tokens: int | float | None = None
    completion_tokens: int | float | None = None
    total_tokens: int | float | None = None

    def typed(self) -> Usage:
        return Usage(
            prompt_tokens=int(self.prompt_tokens or 0),
            completion_tokens=int(self.completion_tokens or 0),
            total_tokens=int(self.total_tokens or 0),
        )


class _Message(msgspec.Struct):
    content: Any = None

    @property
    def text(self) -> str:
        return self.content if isinstance(self.content, str) else ""


class _Choice(msgspec.Struct):
    message: _Message | None = None
    delta: _Message | None = None
    finish_reason: str | None = None


class _Body(msgspec.Struct):
    """A ``chat.completion`` or ``chat.completion.chunk`` object, or an error object."""

    choices: list[_Choice] | None = None
    usage: _Usage | None = None
    model: str | None = None
    error: Any = None


_DECODER = msgspec.json.Decoder(_Body)


def _object(raw: bytes | str, what: str) -> _Body:
    try:
        data = _DECODER.decode(raw)
    except msgspec.ValidationError:
        raise UpstreamError(f"the LLM sent {what} that is not a JSON object of the expected shape") from None
    except msgspec.DecodeError:
        raise UpstreamError(f"the LLM sent {what} that is not JSON") from None
    if data.error is not None and data.choices is None:
        raise UpstreamError("the LLM reported an error instead of an answer")
    return data


def _as_dict(raw: bytes | str) -> dict[str, Any]:
    decoded = msgspec.json.decode(raw)
    return decoded if isinstance(decoded, dict) else {}


def parse_completion(raw: bytes, *, default_model: str) -> Completion:
    """A ``chat.completion`` object -> :class:`Completion` (the first choice)."""
    data = _object(raw, "a response")
    if not data.choices:
        raise UpstreamError("the LLM response has no choices")
    first = data.choices[0]
    return Completion(
        content=first.message.text if first.message is not None else "",
        usage=data.usage.typed() if data.usage is not None else None,
        model=data.model or default_model,
        finish_reason=first.finish_reason,
        raw=_as_dict(raw),
    )


def parse_chunk(payload: str) -> Chunk:
    """One ``chat.completion.chunk`` object -> :class:`Chunk` (usage-only chunks have no choices)."""
    data = _object(payload, "a stream event")
    first = data.choices[0] if data.choices else _Choice()
    return Chunk(
        content=first.delta.text if first.delta is not None else "",
        finish_reason=first.finish_reason,
        usage=data.usage.typed() if data.usage is not None else None,
        model=data.model,
        raw=_as_dict(payload),
    )


async def sse_chunks(lines: AsyncIterable[str]) -> AsyncIterator[Chunk]:
    """Chunks from the lines of an SSE body; raises if the body ends before ``data: [DONE]``.

    Comments (``: ping``), ``event:``/``id:``/``retry:`` fields and blank separators are skipped;
    each ``data:`` line is one complete JSON object, as OpenAI-compatible servers send them.
    """
    async for line in lines:
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        if payload:
            yield parse_chunk(payload)
    raise UpstreamError("the LLM stream ended before [DONE]")
