"""The wire format of OpenAI-compatible chat completions: result types and their parsers.

Non-streaming answers are one JSON object; streaming answers are server-sent events, one
``data: {json}`` line per chunk, ending with ``data: [DONE]``. Anything else is an
:class:`~persona_api.errors.UpstreamError` (the body is never echoed: it may hold user text).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True, kw_only=True)
class Chunk:
    """One streamed delta; ``usage`` is set on the final chunk when the endpoint reports it."""

    content: str
    finish_reason: str | None = None
    usage: Usage | None = None
    model: str | None = None


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
        total_tokens=int(raw.get("total_tokens") or 0),
    )


def _object(raw: bytes | str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:
        raise UpstreamError(f"the LLM sent {what} that is not JSON") from None
    if not isinstance(data, dict):
        raise UpstreamError(f"the LLM sent {what} that is not a JSON object")
    if "error" in data and "choices" not in data:
        raise UpstreamError("the LLM reported an error instead of an answer")
    return data


def parse_completion(raw: bytes, *, default_model: str) -> Completion:
    """A ``chat.completion`` object -> :class:`Completion` (the first choice)."""
    data = _object(raw, "a response")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise UpstreamError("the LLM response has no choices")
    message = choices[0].get("message") or {}
    content = message.get("content") if isinstance(message, dict) else None
    return Completion(
        content=content if isinstance(content, str) else "",
        usage=_usage(data.get("usage")),
        model=str(data.get("model") or default_model),
        finish_reason=choices[0].get("finish_reason"),
    )


def parse_chunk(payload: str) -> Chunk:
    """One ``chat.completion.chunk`` object -> :class:`Chunk` (usage-only chunks have no choices)."""
    data = _object(payload, "a stream event")
    choices = data.get("choices") or []
    first = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    delta = first.get("delta") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    return Chunk(
        content=content if isinstance(content, str) else "",
        finish_reason=first.get("finish_reason"),
        usage=_usage(data.get("usage")),
        model=data.get("model"),
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
