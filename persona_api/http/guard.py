"""Input no route may see, refused before routing hands the request to a handler.

- NUL characters, in the path, the query or a JSON string (``\\u0000``): PostgreSQL cannot store
  them in text, and no caller has a reason to send them. A 400 problem names where it was found.
- JSON nested deeper than :data:`MAX_DEPTH` (objects and arrays): no schema of the API nests half
  as deep, and parsing and validating unbounded nesting recurses without limit.
- Query parameters the route does not take (a 422 naming them): a misspelt ``?limt=`` would
  otherwise be ignored in silence.
- A JSON body its schema does not admit, decoded strictly (a 422 naming the field): Litestar's
  own decoding is lax and would take ``0`` for a date or a boolean, which the schema forbids.

Both checks read the body once; Litestar keeps it for the handler, so it is not read twice.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Litestar, Request
from litestar.exceptions import ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

from persona_api.errors import FieldProblem, InvalidInput, MalformedRequest

MAX_DEPTH = 32
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


async def refuse_bad_input(request: Request[Any, Any, Any]) -> None:
    """Litestar ``before_request`` hook: raises :class:`MalformedRequest` (400) or returns None."""
    if "\x00" in request.url.path:
        raise MalformedRequest("the path contains a NUL character", [FieldProblem("path", "NUL character")])
    if "\x00" in request.url.query or "%00" in request.url.query:
        raise MalformedRequest("the query contains a NUL character", [FieldProblem("query", "NUL character")])
    _refuse_unknown_query(request)
    if request.method in {"GET", "HEAD", "DELETE", "OPTIONS"}:
        return
    body = await request.body()
    if not body:
        return
    if b"\x00" in body or _NUL_ESCAPE.search(body):
        raise MalformedRequest("the body contains a NUL character", [FieldProblem("body", "NUL character")])
    if json_depth(body) > MAX_DEPTH:
        raise MalformedRequest(
            f"the body nests objects and arrays more than {MAX_DEPTH} deep",
            [FieldProblem("body", f"at most {MAX_DEPTH} levels of nesting")],
        )
    _decode_strictly(request, body)


def _body_types(app: Litestar) -> dict[int, Any]:
    """The type of each handler's JSON ``data`` (handlers without one are absent), by ``id``."""
    types: dict[int, Any] | None = app.state.get("body_types")
    if types is None:
        types = {}
        for route in app.routes:
            if isinstance(route, HTTPRoute):
                for handler in route.route_handlers:
                    data = handler.parsed_fn_signature.parameters.get("data")
                    if data is not None:
                        types[id(handler)] = data.annotation
        app.state.body_types = types
    return types


def _decode_strictly(request: Request[Any, Any, Any], body: bytes) -> None:
    handler = request.scope.get("route_handler")
    kind = _body_types(request.app).get(id(handler)) if handler is not None else None
    content_type = request.headers.get("content-type", "application/json")
    if kind is None or "json" not in content_type:
        return
    try:
        msgspec.json.decode(body, type=kind, strict=True)
    except msgspec.ValidationError as exc:
        # The same problem as Litestar's own validation (422, the field named as Litestar names it).
        message, _, at = str(exc).partition(" - at `$")
        field = at.rstrip("`").lstrip(".") or "data"
        raise ValidationException(extra=[{"key": field, "message": message, "source": "body"}]) from None
    except msgspec.DecodeError:
        return  # not JSON at all: Litestar's own decoding answers that (400)


def _query_names(app: Litestar) -> dict[int, frozenset[str]]:
    """The query parameters each handler takes (its own and its dependencies'), by ``id``."""
    names: dict[int, frozenset[str]] | None = app.state.get("query_names")
    if names is None:
        names = {
            id(handler): frozenset(p.field_alias for p in kwargs_model.expected_query_params)
            for route in app.routes
            if isinstance(route, HTTPRoute)
            for handler, kwargs_model in route.route_handler_map.values()
        }
        app.state.query_names = names
    return names


def _refuse_unknown_query(request: Request[Any, Any, Any]) -> None:
    handler = request.scope.get("route_handler")
    if not request.query_params or not isinstance(handler, HTTPRouteHandler):
        return
    taken = _query_names(request.app).get(id(handler))
    unknown = sorted(set(request.query_params) - taken) if taken is not None else []
    if unknown:
        problems = [FieldProblem(name, "not a query parameter of this route") for name in unknown[:20]]
        raise InvalidInput(f"unknown query parameters: {', '.join(unknown[:20])}", problems)


def json_depth(body: bytes) -> int:
    """The deepest nesting of ``[``/``{`` in ``body`` outside strings (also for NDJSON lines)."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest
