"""msgspec Structs of ``POST /v1/users/{user_id}/chat``."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from persona_api.http.schemas import ExternalId


class ChatMessage(msgspec.Struct, forbid_unknown_fields=True):
    role: Literal["user", "assistant"]
    """The service writes the system message; clients send the conversation only."""
    content: Annotated[str, msgspec.Meta(min_length=1, max_length=20_000)]


class ChatIn(msgspec.Struct, forbid_unknown_fields=True):
    messages: Annotated[list[ChatMessage], msgspec.Meta(min_length=1, max_length=200)]
    """The conversation so far; the last message is the user's new one."""
    session: ExternalId | None = None
    """An existing conversation session with the partner; default: start a new one."""
    partner: ExternalId | None = None
    """The assistant's partner id in memory (default ``assistant``); also selects value overrides."""
    stream: bool = False
    """Relay server-sent events (OpenAI ``chat.completion.chunk`` format) as the LLM sends them."""
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, msgspec.Meta(gt=0, le=1)] | None = None
    max_tokens: Annotated[int, msgspec.Meta(ge=1, le=32_000)] | None = None
    budget_tokens: Annotated[int, msgspec.Meta(ge=1, le=32_000)] = 800
    """Token budget of the system message (see ``POST .../system-message``)."""
    memories_k: Annotated[int, msgspec.Meta(ge=0, le=50)] = 8


class AssistantMessage(msgspec.Struct):
    role: str
    content: str


class MemoryUsed(msgspec.Struct):
    id: int
    """The memory's number within the user (``GET .../memories/{id}``)."""
    tag: str


class UsageOut(msgspec.Struct):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatOut(msgspec.Struct):
    message: AssistantMessage
    session: str
    memories_used: list[MemoryUsed]
    usage: UsageOut | None
    model: str
    finish_reason: str | None
