"""The OpenAPI document as the contract: every status a route can answer, its security, its bodies.

Litestar derives each operation's parameters, request body and success response from the
handler. What it cannot see is added here, from the handler's own traits, when the document is
first served (``/schema/openapi.json``):

- **problems**: every error is ``application/problem+json`` (:class:`Problem`). Each operation
  lists 400 (a malformed request: see :mod:`.guard`) and, by what the handler does, 401 (it needs
  a key or the admin token), 404 (a path names an object), 413 and 422 (it takes parameters or a
  body), 429 (it is rate limited) and 503 (it uses the database, which can be busy or away).
  Statuses only some handlers answer are declared on the handler: ``opt=answers(409, 503)``.
- **security**, per operation, as enforced: the API key where the handler depends on the key's
  tenant, the admin token where the admin guard runs, nothing otherwise. An operation under the API
  key that writes also lists 403 (a read-only key); a POST that only reads says so with
  ``opt=reads_only()``, and read keys may call it.
- **bulk bodies**, which handlers read themselves (a JSON array or NDJSON): declared with
  ``opt=batch_of(ItemBody, 1000)`` and documented with both media types.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import Any, get_args

import msgspec
from litestar import Litestar, Request
from litestar.enums import OpenAPIMediaType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.routes import HTTPRoute

from persona_api.http.auth import READS_ONLY, admin_guard, handler_writes
from persona_api.http.problems import PROBLEM_MEDIA_TYPE

NDJSON = "application/x-ndjson"
REF = "#/components/schemas/{name}"
API_KEY = "apiKey"
ADMIN_TOKEN = "adminToken"  # noqa: S105 (the security scheme's name)


class FieldError(msgspec.Struct):
    field: str
    message: str
    source: str | msgspec.UnsetType = msgspec.UNSET


class Problem(msgspec.Struct):
    """An RFC 9457 problem: ``type`` is a ``urn:persona-api:problem:...`` URN."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str | None
    errors: list[FieldError] | msgspec.UnsetType = msgspec.UNSET
    """The fields at fault, for 422 (and 400 naming a line of a batch)."""
    upstream_status: int | msgspec.UnsetType = msgspec.UNSET
    """The LLM upstream's status, for 502."""


_DESCRIPTIONS = {
    400: "Malformed request (undecodable body, NUL characters, nesting over 32 levels)",
    401: "Missing or invalid credentials",
    403: "The API key is read-only and this operation writes",
    404: "No such object in this tenant",
    409: "Conflicts with what is stored",
    413: "Body or batch larger than this server accepts",
    422: "Invalid fields (listed in `errors`)",
    429: "Rate limited; retry after `Retry-After` seconds",
    502: "The LLM upstream failed",
    503: "Not ready, or the database is busy or unavailable; retry after `Retry-After` seconds",
    504: "The LLM upstream timed out",
}


def answers(*statuses: int) -> dict[str, Any]:
    """A handler's ``opt=``: statuses it answers beyond those its traits imply (a 2xx or 3xx is
    another success with the same body as the declared one, e.g. 200 beside 201)."""
    return {
        "problems": tuple(s for s in statuses if s >= 400),
        "successes": tuple(s for s in statuses if s < 400),
    }


def reads_only() -> dict[str, Any]:
    """A handler's ``opt=`` (with ``|``): a POST that changes nothing (a search, a ranking), which a
    read-only API key may call. Every other method but GET, HEAD and OPTIONS is taken to write."""
    return {READS_ONLY: True}


def own_errors(
    error: type[msgspec.Struct], request_body: type[msgspec.Struct] | None = None
) -> dict[str, Any]:
    """A handler's ``opt=``: a route whose errors are ``error`` objects (``application/json``), not
    problem documents (the OpenAI-compatible routes), and whose body, if any, is documented by
    ``request_body`` (the handler reads it as a free-form object: fields it does not know pass)."""
    return {"own_errors": error, "documented_body": request_body}


def event_stream(body: type[msgspec.Struct]) -> dict[str, Any]:
    """A handler's ``opt=`` (with ``|``): its success is ``body`` as JSON, or with ``stream: true``
    ``text/event-stream`` (the handler returns either, so Litestar cannot see the JSON type)."""
    return {"event_stream": body}


def batch_of(kind: type[msgspec.Struct], limit: int) -> dict[str, Any]:
    """A handler's ``opt=``: it reads a batch of ``kind`` itself (JSON array or NDJSON)."""
    return {"batch": (kind, limit), "problems": (413, 422)}


def _uses(handler: HTTPRouteHandler, name: str) -> bool:
    """Whether the handler's dependency graph reaches the dependency ``name``."""
    provided = handler.resolve_dependencies()
    todo = list(handler.parsed_fn_signature.parameters)
    seen: set[str] = set()
    while todo:
        current = todo.pop()
        if current == name:
            return True
        if current in seen or current not in provided:
            continue
        seen.add(current)
        todo.extend(inspect.signature(provided[current].dependency).parameters)
    return False


def _security(handler: HTTPRouteHandler) -> list[dict[str, list[str]]]:
    if admin_guard in handler.resolve_guards():
        return [{ADMIN_TOKEN: []}]
    if _uses(handler, "auth_tenant"):
        return [{API_KEY: []}]
    return []


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": REF.format(name="Problem")}}},
    }


def _statuses(
    handler: HTTPRouteHandler, method: str, path: str, operation: dict[str, Any], limited: bool
) -> set[int]:
    found = {400, *handler.opt.get("problems", ())}
    security = _security(handler)
    if security:
        found.add(401)
    if security == [{API_KEY: []}] and handler_writes(handler, method):
        found.add(403)  # a read-only key
    if "{" in path:
        found.add(404)
    if operation.get("parameters") or operation.get("requestBody") or "batch" in handler.opt:
        found.add(422)
    if operation.get("requestBody") or "batch" in handler.opt:
        found.add(413)
    if limited:
        found.add(429)
    if _uses(handler, "db_session"):
        found.add(503)
        if handler.http_methods - {"GET", "HEAD"}:
            found.add(409)  # a unique key taken by a concurrent write, or a duplicate
    return found


def _own_errors(
    operation: dict[str, Any],
    error_type: type[msgspec.Struct],
    body: type[msgspec.Struct] | None,
    extra: list[type[msgspec.Struct]],
) -> None:
    error = {"application/json": {"schema": {"$ref": REF.format(name=error_type.__name__)}}}
    for status, response in operation.get("responses", {}).items():
        if int(status) >= 400:
            response["content"] = copy.deepcopy(error)
    extra.append(error_type)
    if body is not None:
        schema = {"$ref": REF.format(name=body.__name__)}
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
        extra.append(body)


def _batch_body(kind: type[msgspec.Struct], limit: int) -> dict[str, Any]:
    record = {"$ref": REF.format(name=kind.__name__)}
    return {
        "required": True,
        "description": f"1 to {limit} records: a JSON array, or NDJSON (one JSON object per line)",
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": record, "minItems": 1, "maxItems": limit}
            },
            NDJSON: {"schema": record},
        },
    }


def complete_document(
    document: dict[str, Any], routes: Iterable[HTTPRoute], unlimited: Sequence[str]
) -> dict[str, Any]:
    """A copy of Litestar's ``document`` completed with problems, security and bulk bodies."""
    doc = copy.deepcopy(document)
    doc.pop("security", None)  # declared per operation instead
    extra: list[type[msgspec.Struct]] = [Problem]
    for route in routes:
        path = route.path_format or "/"
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            limited = not any(path == p or path.startswith(p.rstrip("/") + "/") for p in unlimited)
            for method in handler.http_methods:
                operation = doc["paths"].get(path, {}).get(method.lower())
                if operation is None:
                    continue
                batch = handler.opt.get("batch")
                if batch is not None:
                    operation["requestBody"] = _batch_body(*batch)
                    extra.append(batch[0])
                responses = operation.setdefault("responses", {})
                declared = responses.get(str(handler.status_code))
                streamed = handler.opt.get("event_stream")
                if streamed is not None and declared is not None:
                    content = declared.setdefault("content", {})
                    content["application/json"] = {"schema": {"$ref": REF.format(name=streamed.__name__)}}
                    extra.append(streamed)
                    content["text/event-stream"] = {
                        "schema": {
                            "description": "Events: persona.context, chat.completion.chunk objects, [DONE]"
                        }
                    }
                for status in handler.opt.get("successes", ()):
                    if declared is not None:
                        responses.setdefault(str(status), copy.deepcopy(declared))
                for status in sorted(_statuses(handler, method, path, operation, limited)):
                    responses[str(status)] = _problem_response(status)
                operation["security"] = _security(handler)
                if handler.opt.get("own_errors"):
                    _own_errors(
                        operation, handler.opt["own_errors"], handler.opt.get("documented_body"), extra
                    )
    # Request bodies as msgspec validates them: Litestar's schemas drop the bounds of optional
    # fields (``Annotated[str, Meta(max_length=...)] | None``), which the server still enforces.
    _, components = msgspec.json.schema_components([*extra, *_bodies(routes)], ref_template=REF)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(components)
    return doc


def _bodies(routes: Iterable[HTTPRoute]) -> list[type[msgspec.Struct]]:
    """The Structs that handlers take as their JSON ``data``."""
    found: list[type[msgspec.Struct]] = []
    for route in routes:
        for handler in route.route_handlers:
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is None:
                continue
            for kind in (data.annotation, *get_args(data.annotation)):
                if isinstance(kind, type) and issubclass(kind, msgspec.Struct) and kind not in found:
                    found.append(kind)
    return found


def contract(app: Litestar) -> dict[str, Any]:
    """The app's completed OpenAPI document (what ``/schema/openapi.json`` serves)."""
    cached: dict[str, Any] | None = app.state.get("openapi_contract")
    if cached is None:
        routes = [r for r in app.routes if isinstance(r, HTTPRoute)]
        cached = complete_document(app.openapi_schema.to_schema(), routes, app.state.unlimited_paths)
        app.state.openapi_contract = cached
    return cached


class ContractJSON(OpenAPIRenderPlugin):
    """Serves :func:`contract` at ``/schema/openapi.json``."""

    def __init__(self) -> None:
        super().__init__(path="/openapi.json", media_type=OpenAPIMediaType.OPENAPI_JSON)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return msgspec.json.encode(contract(request.app))
