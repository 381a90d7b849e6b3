"""The OpenAI-compatible drop-in: ``POST /v1/chat/completions`` and ``GET /v1/models``.

An app that calls an OpenAI-compatible API points its base URL here and sends its tenant API key as
the bearer token. The user is ``X-Persona-User`` (else the body's ``user``); ``X-Persona-Session``
and ``X-Persona-Partner`` are optional. What happens is ``POST /v1/users/{id}/chat``: the user's
system message first (a system message the client sent stays, after it), the user's last message
recorded before the upstream call, the reply after it. Every other field of the body (temperature,
tools, response_format, seed, stop...) goes to the upstream unchanged, and its answer (tool calls,
multi-part content) comes back unchanged. The session the exchange was recorded in is returned in
``X-Persona-Session``. Errors have OpenAI's shape (:mod:`persona_api.openai_compat.errors`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.response import ServerSentEvent, ServerSentEventMessage
from sqlalchemy import select

from persona_api.chat.service import ChatRequest, ChatService
from persona_api.config import Settings
from persona_api.errors import FieldProblem, InvalidInput, MalformedRequest, NotFound, PersonaError
from persona_api.http.openapi import answers, own_errors
from persona_api.http.problems import database_busy
from persona_api.openai_compat.errors import OpenAIErrorOut
from persona_api.store.tables import Tenant
from persona_api.store.users import UserService

log = logging.getLogger("persona_api.http.openai")

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
OURS = frozenset({"messages", "model", "stream"})
"""Body fields the service reads itself; every other one goes to the upstream as it came."""
MAX_MESSAGES = 500
_USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$")


class ChatCompletionIn(msgspec.Struct, forbid_unknown_fields=False):
    """OpenAI's chat completion request. Only ``messages`` is required; every field not named here
    (temperature, max_tokens, tools, tool_choice, response_format, seed, stop...) is sent to the
    upstream as it came."""

    messages: list[dict[str, Any]]
    model: str | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    user: str | None = None
    """The app's user id, unless the header ``X-Persona-User`` gives it."""


def _event(payload: dict[str, Any] | str) -> ServerSentEventMessage:
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return ServerSentEventMessage(data=data, sep="\n")


def _checked(body: dict[str, Any], request: Request[Any, Any, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The user id and the messages, or a 422 naming the field (as OpenAI's ``param``)."""
    user = request.headers.get("x-persona-user") or body.get("user")
    if not isinstance(user, str) or not user:
        raise MalformedRequest(  # a 400, as OpenAI answers a request it cannot serve at all
            "no user: send the header X-Persona-User (or the body's 'user') with the app's user id",
            [FieldProblem("user", "required: the X-Persona-User header or the body's user field")],
        )
    if not _USER_ID.match(user):
        raise InvalidInput(
            "the user id is not valid",
            [
                FieldProblem(
                    "user", "1 to 128 letters, digits and . _ : @ + -, starting with a letter or digit"
                )
            ],
        )
    messages = body.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        raise InvalidInput(
            f"messages must be a list of 1 to {MAX_MESSAGES} messages",
            [FieldProblem("messages", f"a list of 1 to {MAX_MESSAGES} messages")],
        )
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise InvalidInput(
                f"messages[{i}] is not a message with a role",
                [FieldProblem(f"messages[{i}].role", f"one of {', '.join(sorted(ROLES))}")],
            )
    model = body.get("model")
    settings: Settings = request.app.state.settings
    if model is not None and model != settings.llm_model:
        raise NotFound(f"the model {model!r} does not exist here; GET /v1/models lists the served one")
    return user, messages


class OpenAIController(Controller):
    path = "/v1"
    tags = ["openai"]

    @get(
        "/models",
        operation_id="listModels",
        summary="The model(s) served (OpenAI's list shape)",
        opt=own_errors(OpenAIErrorOut),
    )
    async def models(
        self, request: Request[Any, Any, Any], auth_tenant: NamedDependency[str]
    ) -> dict[str, Any]:
        settings: Settings = request.app.state.settings
        served = [settings.llm_model] if settings.llm_base_url and settings.llm_model else []
        return {
            "object": "list",
            "data": [{"id": m, "object": "model", "created": 0, "owned_by": "persona-api"} for m in served],
        }

    @post(
        "/chat/completions",
        operation_id="createChatCompletion",
        summary="OpenAI-compatible chat completion, personalized",
        status_code=200,
        opt=answers(404, 502, 503, 504) | own_errors(OpenAIErrorOut, ChatCompletionIn),
    )
    async def completions(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[dict[str, Any]],
        chat: NamedDependency[ChatService],
        users: NamedDependency[UserService],
    ) -> Response[Any]:
        user, messages = _checked(data, request)
        creates = await users.session.scalar(
            select(Tenant.create_unknown_users).where(Tenant.id == users.tenant_id)
        )
        if not creates:
            await users.get(user)  # this tenant does not create users on first use: a 404
        options = {k: v for k, v in data.items() if k not in OURS}
        stream = bool(data.get("stream"))
        wants_usage = bool((data.get("stream_options") or {}).get("include_usage"))
        prepared = await chat.prepare(
            ChatRequest(
                user_id=user,
                messages=messages,
                session=request.headers.get("x-persona-session") or None,
                partner=request.headers.get("x-persona-partner") or None,
                options=options,
                user_last=False,
            )
        )
        headers = {"X-Persona-Session": prepared.session.external_id}
        if not stream:
            done = await chat.complete(prepared, options)
            return Response(content=done.raw, headers=headers)
        if stream and not wants_usage:
            options["stream_options"] = {"include_usage": True}  # for the recorded usage; not relayed
        chunks = chat.stream(prepared, options)
        first = await anext(chunks, None)  # upstream failures before the first chunk keep their status

        async def events() -> AsyncIterator[ServerSentEventMessage]:
            pending = [first] if first is not None else []
            try:
                for chunk in pending:
                    if (relayed := _relayed(chunk.raw, wants_usage)) is not None:
                        yield _event(relayed)
                async for chunk in chunks:
                    if (relayed := _relayed(chunk.raw, wants_usage)) is not None:
                        yield _event(relayed)
            except PersonaError as exc:
                yield _event(
                    {"error": {"message": exc.detail, "type": "api_error", "param": None, "code": exc.code}}
                )
                return
            except Exception as exc:
                code = "database_busy" if database_busy(exc) else "internal"
                log.error("openai.stream_failed", exc_info=exc)
                yield _event(
                    {
                        "error": {
                            "message": "the stream failed after it began",
                            "type": "api_error",
                            "param": None,
                            "code": code,
                        }
                    }
                )
                return
            yield _event("[DONE]")

        return ServerSentEvent(events(), headers=headers)


def _relayed(raw: dict[str, Any], wants_usage: bool) -> dict[str, Any] | None:
    """A chunk as the client gets it: unchanged, but without usage it did not ask for."""
    if wants_usage:
        return raw
    if not raw.get("choices"):
        return None  # the usage-only last chunk
    return {k: v for k, v in raw.items() if k != "usage"}
