"""The MCP server in the API process: streamable HTTP at ``/mcp``, behind the tenant key.

Stateless and with JSON answers, so any API worker or replica can answer any MCP request (no
session lives in one process). The route's guard checks the bearer key before the MCP layer sees
the request: a missing or wrong key is the API's 401 problem, and no tool runs. Each tool call then
goes through the app itself with the same ``Authorization`` header (:class:`~.api.PersonaApi`), so a
read-only key's tools that write fail with the API's 403 while its other tools work.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, asgi
from litestar.handlers import ASGIRouteHandler
from litestar.types import Receive, Scope, Send
from mcp.server.mcpserver import Context
from mcp.server.transport_security import TransportSecuritySettings

from persona_api.http.auth import relaying_key_guard
from persona_api.mcp_server.api import PersonaApi
from persona_api.mcp_server.tools import build_server

PATH = "/mcp"


@contextlib.asynccontextmanager
async def _in_process(ctx: Context) -> AsyncIterator[PersonaApi]:
    request: Any = ctx.request_context.request  # the Starlette request the transport built
    if request is None:
        raise RuntimeError("the mounted MCP server only runs tools for HTTP requests")
    headers = {"Authorization": request.headers["authorization"]}
    if "x-request-id" in request.headers:  # the API's log lines of the tool call share the MCP request's id
        headers["X-Request-ID"] = request.headers["x-request-id"]
    api = PersonaApi.in_process(request.scope["app"], headers)
    try:
        yield api
    finally:
        await api.aclose()


class McpMount:
    """The ``/mcp`` route handler and the lifespan that runs its session manager."""

    def __init__(self) -> None:
        self.server = build_server(_in_process)
        # An API key guards every request, so the SDK's DNS-rebinding check (meant for unauthenticated
        # servers on localhost) is off: the service answers under whatever host name it is deployed.
        self.server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        manager = self.server.session_manager

        @asgi(PATH, is_mount=True, copy_scope=True, guards=[relaying_key_guard], include_in_schema=False)
        async def mcp_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
            await manager.handle_request(scope, receive, send)  # type: ignore[arg-type]

        self.handler: ASGIRouteHandler = mcp_endpoint

    @contextlib.asynccontextmanager
    async def lifespan(self, _: Litestar) -> AsyncIterator[None]:
        async with self.server.session_manager.run():
            yield
