"""``POST /v1/users/{user_id}/chat``: personalized chat through the configured LLM.

Errors are problem+json: no LLM configured 503, upstream 4xx/5xx 502 (with ``upstream_status``),
upstream timeout 504. With ``stream: true`` the reply is ``text/event-stream``: first an
``event: persona.context`` with the session and the memories used, then OpenAI-style
``chat.completion.chunk`` events as the LLM sends them, then ``data: [DONE]``. Failures before the
first chunk are still problem+json; a failure mid-stream ends it with ``event: error``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from litestar import Controller, Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.response import ServerSentEvent, ServerSentEventMessage

from persona_api.chat.service import ChatRequest, ChatService, Prepared
from persona_api.errors import PersonaError
from persona_api.http.chat_schemas import AssistantMessage, ChatIn, ChatOut, MemoryUsed, UsageOut
from persona_api.http.openapi import answers, event_stream
from persona_api.http.paths import IdPath
from persona_api.http.problems import BUSY_DETAIL, database_busy
from persona_api.llm.protocol import Chunk
from persona_api.logs import current_request_id

log = logging.getLogger("persona_api.http.chat")


def _event(payload: dict[str, Any] | str, event: str | None = None) -> ServerSentEventMessage:
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    # "\n" line ends, as OpenAI sends them (Litestar's default is "\r\n"; both are valid SSE).
    return ServerSentEventMessage(data=data, event=event, sep="\n")


def _chunk_event(chunk: Chunk, model: str) -> ServerSentEventMessage:
    payload: dict[str, Any] = {"object": "chat.completion.chunk", "model": chunk.model or model}
    payload["choices"] = (
        [{"index": 0, "delta": {"content": chunk.content}, "finish_reason": chunk.finish_reason}]
        if chunk.content or chunk.finish_reason
        else []
    )
    if chunk.usage is not None:
        payload["usage"] = asdict(chunk.usage)
    return _event(payload)


def _used(prepared: Prepared) -> list[MemoryUsed]:
    return [MemoryUsed(id=m.id, tag=m.tag) for m in prepared.memories_used]


class ChatController(Controller):
    path = "/v1/users/{user_id:str}"
    tags = ["chat"]

    @post(
        "/chat",
        operation_id="chat",
        summary="Chat with the configured LLM, personalized",
        status_code=200,
        opt=answers(502, 503, 504) | event_stream(ChatOut),
    )
    async def chat(
        self, user_id: IdPath, data: JSONBody[ChatIn], chat: NamedDependency[ChatService]
    ) -> Response[Any]:
        options = {
            k: v
            for k, v in (
                ("temperature", data.temperature),
                ("top_p", data.top_p),
                ("max_tokens", data.max_tokens),
            )
            if v is not None
        }
        prepared = await chat.prepare(
            ChatRequest(
                user_id=user_id,
                messages=[{"role": m.role, "content": m.content} for m in data.messages],
                session=data.session,
                partner=data.partner,
                options=options,
                budget_tokens=data.budget_tokens,
                memories_k=data.memories_k,
            )
        )
        if not data.stream:
            done = await chat.complete(prepared, options)
            usage = UsageOut(**asdict(done.usage)) if done.usage else None
            out = ChatOut(
                message=AssistantMessage(role="assistant", content=done.content),
                session=prepared.session.external_id,
                memories_used=_used(prepared),
                usage=usage,
                model=done.model,
                finish_reason=done.finish_reason,
            )
            return Response(content=out)
        chunks = chat.stream(prepared, options)
        first = await anext(chunks, None)  # upstream failures before the first chunk stay problem+json
        model = chat.client().config.model
        context = {
            "session": prepared.session.external_id,
            "memories_used": [{"id": m.id, "tag": m.tag} for m in prepared.memories_used],
        }

        async def events() -> AsyncIterator[ServerSentEventMessage]:
            yield _event(context, "persona.context")
            if first is not None:
                yield _chunk_event(first, model)
            try:
                async for chunk in chunks:
                    yield _chunk_event(chunk, model)
            except PersonaError as exc:
                yield _event({"type": exc.code, "detail": exc.detail}, "error")
                return
            except Exception as exc:  # e.g. the reply could not be recorded: say so, do not just hang up
                if database_busy(exc):
                    yield _event(
                        {"type": "database-busy", "detail": "the reply was relayed but " + BUSY_DETAIL},
                        "error",
                    )
                    return
                log.error("chat.stream_failed", exc_info=exc)
                detail = "an internal error occurred after the reply was relayed; quote the request_id"
                yield _event(
                    {"type": "internal", "detail": detail, "request_id": current_request_id()}, "error"
                )
                return
            yield _event("[DONE]")

        return ServerSentEvent(events())
