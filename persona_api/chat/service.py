"""Personalized chat: the user's system message, their turn recorded, the LLM called, the reply kept.

A chat happens in a conversation session with one partner, the assistant (default partner id
``assistant``, created as an ``agent`` on first use). Without a session id a new session is
started; with one, the partner must take part in it (default: its first partner). The user's last
message is recorded as a turn *before* the upstream call, so it is remembered even if the LLM
fails; the assistant's reply is recorded once it is complete (for a stream: after the last chunk;
a broken stream records nothing).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from persona_api.chat.render import MemoryItem
from persona_api.chat.system import SystemMessages
from persona_api.errors import FieldProblem, InvalidInput, LLMNotConfigured, PersonaError
from persona_api.llm.client import LLMClient
from persona_api.llm.protocol import Chunk, Completion
from persona_api.memory.conversations import OWNER, Conversations, TurnIn
from persona_api.memory.tables import ConversationSession
from persona_api.store.tables import User

DEFAULT_PARTNER = "assistant"
NOT_CONFIGURED = (
    "no LLM is configured: set PERSONA_LLM_BASE_URL (an OpenAI-compatible API root such as "
    "http://127.0.0.1:8080/v1) and PERSONA_LLM_MODEL, plus PERSONA_LLM_API_KEY if the endpoint needs "
    "one, then restart; POST /v1/users/{user_id}/system-message works without an LLM"
)


log = logging.getLogger("persona_api.chat")


@dataclass(frozen=True, kw_only=True)
class ChatRequest:
    user_id: str
    messages: Sequence[Mapping[str, Any]]
    """OpenAI-style messages; the last user message is the one recorded and searched with."""
    session: str | None = None
    partner: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    budget_tokens: int = 800
    memories_k: int = 8
    user_last: bool = True
    """The conversation must end with the user's message (false: a tool result may come last, as in
    OpenAI's tool-calling loop; the user's turn is then not recorded again)."""


def message_text(message: Mapping[str, Any]) -> str:
    """A message's text: its string content, or the text parts of a multi-part content."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "\n".join(p for p in parts if isinstance(p, str))
    return ""


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """Everything decided before the upstream call."""

    user: User
    session: ConversationSession
    partner: str
    messages: list[dict[str, Any]]
    memories_used: tuple[MemoryItem, ...]


class ChatService:
    def __init__(self, llm: LLMClient | None, system: SystemMessages, conversations: Conversations) -> None:
        self.llm = llm
        self.system = system
        self.conversations = conversations

    def client(self) -> LLMClient:
        if self.llm is None:
            raise LLMNotConfigured(NOT_CONFIGURED)
        return self.llm

    async def prepare(self, req: ChatRequest) -> Prepared:
        """Render the system message and record the user's turn (raises before any upstream call).

        The request is checked (messages, user, session, partner) before the LLM setting: a
        client's own mistake is its 4xx even when no LLM is configured (503)."""
        last_is_user = bool(req.messages) and req.messages[-1].get("role") == "user"
        if req.user_last and not last_is_user:
            raise InvalidInput(
                "the last message must be the user's",
                [FieldProblem("messages", "must end with a user message")],
            )
        said = [message_text(m) for m in req.messages if m.get("role") == "user"]
        if not said or not said[-1].strip():
            raise InvalidInput(
                "a chat needs the user's message, with text",
                [FieldProblem("messages", "must hold a user message with text content")],
            )
        query = said[-1]
        # The query's embedding (the slowest step) runs while the lookups and the turn's write do.
        embedding = self.system.memories.embed_query(query)
        try:
            user, conv, partner = await self._session_of(req)
            self.client()
            if last_is_user:
                await self.conversations.add_turns(user, conv, [TurnIn(speaker=OWNER, text=query)])
            # Chat is the one route with transactions of its own: the user's turn is committed now,
            # so it is kept even when the upstream call fails (and the request with it).
            await self.conversations.session.commit()
            built = await self.system.build(
                user,
                query=query,
                partner=partner,
                budget_tokens=req.budget_tokens,
                memories_k=req.memories_k,
                embedding=embedding,
            )
        finally:
            # On an early error the thread still finishes; its result is then not wanted.
            embedding.add_done_callback(lambda f: f.cancelled() or f.exception())
        kept = {p.ref for p in built.rendered.parts_included if p.kind == "memory"}
        return Prepared(
            user=user,
            session=conv,
            partner=partner,
            messages=[{"role": "system", "content": built.rendered.text}, *(dict(m) for m in req.messages)],
            memories_used=tuple(m for m in built.memories if str(m.id) in kept),
        )

    async def _session_of(self, req: ChatRequest) -> tuple[User, ConversationSession, str]:
        """The user, the chat's session (new without ``req.session``) and the partner spoken to."""
        user = await self.system.values.users.get_or_create(req.user_id)
        known = await self.conversations.partner_external_ids(user.id)
        if req.session is not None:
            conv = await self.conversations.get_session(user, req.session)
            members = [known[p] for p in conv.partner_ids if p in known]
            partner = req.partner or (members[0] if members else DEFAULT_PARTNER)
            if partner not in members:
                problem = FieldProblem(
                    "partner", f"{partner!r} is not a participant of session {req.session!r}"
                )
                raise InvalidInput("the partner is not in this session", [problem])
        else:
            partner = req.partner or DEFAULT_PARTNER
            if partner not in known.values():
                await self.conversations.create_partner(user, partner, partner.capitalize(), "agent")
            conv = await self.conversations.create_session(
                user, external_id=None, partner_ids=[partner], started_at=None
            )
        return user, conv, partner

    async def _record(self, prepared: Prepared, content: str, status: str = "complete") -> None:
        if content or status != "complete":
            turn = TurnIn(speaker=prepared.partner, text=content, status=status)
            await self.conversations.add_turns(prepared.user, prepared.session, [turn])
            await self.conversations.session.commit()  # kept whatever happens to the request next

    async def complete(self, prepared: Prepared, options: Mapping[str, Any]) -> Completion:
        try:
            completion = await self.client().complete(prepared.messages, **options)
        except PersonaError:
            # The user's turn is already recorded; the reply that never came is recorded as failed.
            await self._record(prepared, "", "failed")
            raise
        await self._record(prepared, completion.content)
        return completion

    async def stream(self, prepared: Prepared, options: Mapping[str, Any]) -> AsyncIterator[Chunk]:
        """Relay chunks as they arrive; record the whole reply after the last one, or what had
        arrived, as failed, when the upstream fails midway."""
        parts: list[str] = []
        try:
            async for chunk in self.client().stream(prepared.messages, **options):
                parts.append(chunk.content)
                yield chunk
        except PersonaError:
            await self._record(prepared, "".join(parts), "failed")
            raise
        except (asyncio.CancelledError, GeneratorExit):
            # The client hung up: keep what it had been sent, marked as such. The request is
            # being cancelled, so the write is shielded from that cancellation.
            with anyio.CancelScope(shield=True):
                try:
                    await self._record(prepared, "".join(parts), "interrupted")
                except Exception:
                    log.exception("chat.record_interrupted_failed")
            raise
        await self._record(prepared, "".join(parts))
