"""``persona-api mcp``: the same MCP tools over stdio, for desktop clients, against a running service.

The process holds no data and loads no model: each tool call is a request to the service at
``PERSONA_BASE_URL`` with ``PERSONA_API_KEY``. Logs go to stderr; stdout carries the protocol.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
from mcp.server.mcpserver import Context

from persona_api.mcp_server.api import PersonaApi
from persona_api.mcp_server.tools import build_server


async def serve_stdio(base_url: str, api_key: str) -> None:
    """Serve the tools on stdin/stdout until the client closes them."""
    api = PersonaApi.connect(base_url, api_key)

    @contextlib.asynccontextmanager
    async def shared(_: Context) -> AsyncIterator[PersonaApi]:
        yield api  # one connection pool for the whole session

    try:
        await build_server(shared).run_stdio_async()
    finally:
        await api.aclose()


def run(base_url: str, api_key: str) -> None:
    anyio.run(serve_stdio, base_url, api_key)
