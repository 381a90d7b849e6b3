"""The one mapping from exceptions to RFC 9457 problem+json responses.

Every error response of the service goes through :func:`problem_handlers`: domain errors from
``persona_api.errors``, Litestar's own HTTP exceptions (validation, routing, size, rate limit),
and anything unexpected (500, logged with its traceback, never shown to the client).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from persona_api import errors
from persona_api.logs import current_request_id

log = logging.getLogger("persona_api.http")

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "urn:persona-api:problem:"

_DOMAIN_STATUS: dict[type[errors.PersonaError], int] = {
    errors.MalformedRequest: 400,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.InvalidInput: 422,
    errors.PayloadTooLarge: 413,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotReady: 503,
    errors.LLMNotConfigured: 503,
    errors.UpstreamError: 502,
    errors.UpstreamTimeout: 504,
}

_HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("malformed-request", "Malformed request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation", "Validation failed"),
    429: ("rate-limited", "Too many requests"),
    500: ("internal", "Internal server error"),
    502: ("upstream-error", "Upstream error"),
    503: ("not-ready", "Service not ready"),
    504: ("upstream-timeout", "Upstream timeout"),
}


def problem(
    request: Request[Any, Any, Any],
    status: int,
    detail: str,
    *,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    default_code, title = _HTTP_CODES.get(status, ("error", "Error"))
    body: dict[str, Any] = {
        "type": TYPE_BASE + (code or default_code),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": current_request_id(),
    }
    body.update(extra)
    return Response(content=body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def status_of(exc: errors.PersonaError) -> int:
    """The HTTP status of a domain error (500 for one without a mapping)."""
    return next((s for cls, s in _DOMAIN_STATUS.items() if isinstance(exc, cls)), 500)


def _domain(request: Request[Any, Any, Any], exc: errors.PersonaError) -> Response[dict[str, Any]]:
    status = status_of(exc)
    if status == 500:
        return _unexpected(request, exc)
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if isinstance(exc, errors.InvalidInput) and exc.problems:
        extra["errors"] = [{"field": p.field, "message": p.message} for p in exc.problems]
    if isinstance(exc, errors.NotReady):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, errors.UpstreamError) and exc.upstream_status is not None:
        extra["upstream_status"] = exc.upstream_status
    if isinstance(exc, errors.Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    return problem(request, status, exc.detail, code=exc.code, headers=headers, **extra)


# msgspec names the offending location inside the message: "... - at `$.items[0].id`", or
# "Object missing required field `id`" / "Object contains unknown field `nickname`".
_AT_PATH = re.compile(r" - at `\$\.?(?P<path>[^`]*)`")
_NAMED_FIELD = re.compile(r"(?:missing required|unknown) field `(?P<name>[^`]+)`")


def _field_name(key: str, message: str) -> str:
    if key != "data":
        return key
    at = _AT_PATH.search(message)
    named = _NAMED_FIELD.search(message)
    path = at.group("path") if at else ""
    if named:
        path = f"{path}.{named.group('name')}" if path else named.group("name")
    return path or key


def _field_errors(exc: ValidationException) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict) and item.get("key"):
            message = str(item.get("message", "invalid value"))
            found.append(
                {
                    "field": _field_name(str(item["key"]), message),
                    "message": message,
                    "source": str(item.get("source", "body")),
                }
            )
    return found


def _validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    fields = _field_errors(exc)
    if fields:
        return problem(request, 422, "the request has invalid fields", code="validation", errors=fields)
    # No field to blame: the body itself could not be decoded (malformed JSON, wrong top-level type).
    message = next(
        (str(i.get("message")) for i in (exc.extra or []) if isinstance(i, dict) and i.get("message")),
        exc.detail,
    )
    return problem(request, 400, message, code="malformed-request")


def _body_error(exc: HTTPException) -> msgspec.ValidationError | None:
    """The body's validation error behind a Litestar 500: Litestar takes an error in a body field
    named like a dependency of the handler (``preferences``, ``user``...) for the dependency's."""
    cause = exc.__cause__
    if isinstance(cause, msgspec.ValidationError) and "at `$.data" in str(cause):
        return cause
    return None


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    if isinstance(exc, ValidationException):
        return _validation(request, exc)
    if (body_error := _body_error(exc)) is not None:
        message = str(body_error)
        name = _field_name("data", message).removeprefix("data.")
        field = {"field": name, "message": message.split(" - ")[0], "source": "body"}
        return problem(request, 422, "the request has invalid fields", code="validation", errors=[field])
    status = exc.status_code
    headers = {str(k): str(v) for k, v in (exc.headers or {}).items()}
    detail = exc.detail
    if status == 429:
        headers.setdefault("Retry-After", headers.get("RateLimit-Reset", "1"))
        detail = "rate limit exceeded for this API key; retry after the given number of seconds"
    elif status == 413:
        detail = "the request body is larger than this server accepts (PERSONA_MAX_BODY_BYTES)"
    elif status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    elif status >= 500:
        return _unexpected(request, exc)
    return problem(request, status, detail, headers=headers)


BUSY_DETAIL = "the database stayed busy with other writes and this one timed out (it was not made); retry"


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it was raised from (advanced-alchemy's repository wraps SQLAlchemy's errors)."""
    chain = [exc]
    while (cause := chain[-1].__cause__) is not None and len(chain) < 8:
        chain.append(cause)
    return chain


def database_busy(exc: BaseException) -> bool:
    """SQLite's write lock stayed taken past its busy timeout: the write was not made."""
    return any(isinstance(e, DBAPIError) and "database is locked" in str(e.orig) for e in _causes(exc))


UNAVAILABLE_DETAIL = (
    "the database could not be reached or lost the connection, and this request did not complete "
    "(its writes were made in full or not at all); retry"
)


def database_unavailable(exc: BaseException) -> bool:
    """The database was unreachable, lost the connection (``persona_api.store.db`` flags every such
    failure as ``connection_invalidated``), or the pool had no free connection in time."""
    return any(
        isinstance(e, PoolTimeout) or (isinstance(e, DBAPIError) and e.connection_invalidated)
        for e in _causes(exc)
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if database_busy(exc):
        log.warning("request.database_busy", extra={"method": request.method, "path": request.url.path})
        return problem(
            request,
            503,
            BUSY_DETAIL,
            code="database-busy",
            headers={"Retry-After": "1"},
        )
    if database_unavailable(exc):
        log.warning(
            "request.database_unavailable",
            extra={"method": request.method, "path": request.url.path, "error": type(exc).__name__},
        )
        return problem(
            request, 503, UNAVAILABLE_DETAIL, code="database-unavailable", headers={"Retry-After": "2"}
        )
    log.error(
        "request.failed",
        exc_info=exc,
        extra={"method": request.method, "path": request.url.path, "error": type(exc).__name__},
    )
    return problem(request, 500, "an internal error occurred; quote the request_id when reporting it")


def problem_handlers() -> ExceptionHandlersMap:
    """Exception handlers for ``Litestar(exception_handlers=...)``."""
    return {
        errors.PersonaError: _domain,
        HTTPException: _http,
        Exception: _unexpected,
    }
