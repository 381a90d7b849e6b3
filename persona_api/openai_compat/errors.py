"""Errors of the OpenAI-compatible routes in OpenAI's shape.

Every other route answers problem+json; clients of ``/v1/chat/completions`` and ``/v1/models``
expect ``{"error": {"message", "type", "param", "code"}}``. This ASGI middleware rewrites the
problem documents of those two paths (from any layer: authentication, rate limits, validation,
the upstream) into that shape, keeping the status and headers (``Retry-After``, ``RateLimit``,
``X-Request-ID``). It sits outside the rate limiter so that its 429s are rewritten too.
"""

from __future__ import annotations

import json
from typing import Any, cast

import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send


class OpenAIErrorBody(msgspec.Struct):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIErrorOut(msgspec.Struct):
    """An OpenAI error object: what the OpenAI-compatible routes answer instead of a problem."""

    error: OpenAIErrorBody


PATHS = frozenset({"/v1/chat/completions", "/v1/models"})
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def openai_error(status: int, problem: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI error object for a problem document."""
    errors = problem.get("errors") or []
    param = errors[0].get("field") if errors and isinstance(errors[0], dict) else None
    code = str(problem.get("type", "error")).rsplit(":", 1)[-1].replace("-", "_")
    message = problem.get("detail") or problem.get("title") or "error"
    return {
        "error": {
            "message": message,
            "type": _TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error"),
            "param": param,
            "code": code,
        }
    }


class OpenAIErrors:
    """ASGI middleware: problem+json answers of :data:`PATHS` become OpenAI error objects."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if str(scope["type"]) != "http" or scope["path"] not in PATHS:
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] | None = None
        body: list[bytes] = []

        async def rewrite(message: Any) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                if headers.get(b"content-type", b"").startswith(b"application/problem+json"):
                    start = dict(message)
                    return
            elif message["type"] == "http.response.body" and start is not None:
                body.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                status = int(start["status"])
                try:
                    problem = json.loads(b"".join(body))
                except ValueError:
                    problem = {}
                content = json.dumps(openai_error(status, problem if isinstance(problem, dict) else {}))
                encoded = content.encode()
                replaced = (b"content-type", b"content-length")
                kept = [(k, v) for k, v in start.get("headers") or [] if k not in replaced]
                kept += [(b"content-type", b"application/json")]
                kept += [(b"content-length", str(len(encoded)).encode())]
                await send(cast(Message, {**start, "headers": kept}))
                await send(cast(Message, {"type": "http.response.body", "body": encoded}))
                return
            await send(message)

        await self.app(scope, receive, rewrite)
