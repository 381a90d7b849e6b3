"""How the MCP tools reach the service: its own HTTP API, with the caller's tenant key.

Mounted at ``/mcp`` the tools call the app they are mounted in, in process (an
``httpx.ASGITransport`` over the same ASGI app); over stdio they call a running service at
``PERSONA_BASE_URL``. Either way every tool call is one or two ordinary API requests, so the
validation, the error messages, the rate limits and the tenant isolation are the HTTP API's own.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from mcp.server.mcpserver.exceptions import ToolError

from persona_api import __version__

USER_AGENT = f"persona-api-mcp/{__version__}"


def problem_message(status: int, body: Any) -> str:
    """The text a tool error carries: the status, the problem's ``detail`` and its field errors,
    as the HTTP API wrote them."""
    if not isinstance(body, dict):
        return f"{status}: {body if isinstance(body, str) and body else 'request failed'}"
    message = f"{status} {body.get('title') or 'Error'}: {body.get('detail') or ''}".rstrip(": ")
    fields = body.get("errors")
    if isinstance(fields, list) and fields:
        parts = [f"{e.get('field')}: {e.get('message')}" for e in fields if isinstance(e, dict)]
        message += " (" + "; ".join(parts) + ")"
    return message


class PersonaApi:
    """A few calls to the persona-api HTTP API on one connection pool; a non-2xx answer raises
    :class:`ToolError` with :func:`problem_message` of the API's problem document."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    @classmethod
    def connect(cls, base_url: str, api_key: str, *, timeout: float = 60.0) -> PersonaApi:
        """A client of the service at ``base_url`` (the stdio server's)."""
        return cls(
            httpx.AsyncClient(
                base_url=base_url.rstrip("/"),
                headers={"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT},
                timeout=timeout,
            )
        )

    @classmethod
    def in_process(cls, app: Any, headers: dict[str, str]) -> PersonaApi:
        """A client of the ASGI ``app`` itself, sending the MCP request's ``Authorization``."""
        return cls(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://persona-api.internal",
                headers={**headers, "User-Agent": USER_AGENT},
                timeout=60.0,
            )
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def call(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        """The JSON answer of one request (None for 204); a refusal raises :class:`ToolError`."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = await self.http.request(method, path, json=json, params=query or None)
        except httpx.HTTPError as exc:
            raise ToolError(f"persona-api could not be reached: {type(exc).__name__}") from None
        if response.status_code == 204:
            return None
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            raise ToolError(problem_message(response.status_code, body))
        return body

    async def ensure_user(self, user_id: str) -> bool:
        """Create ``user_id`` if it does not exist and the tenant creates users on first use (as the
        OpenAI-compatible endpoint does); whether the user exists afterwards."""
        try:
            await self.call("GET", f"/v1/users/{segment(user_id)}")
            return True
        except ToolError:
            pass
        tenant = await self.call("GET", "/v1/tenant")
        if not tenant.get("create_unknown_users", False):
            return False
        try:
            await self.call("POST", "/v1/users", json={"id": user_id})
        except ToolError as exc:
            if not str(exc).startswith("409"):  # created meanwhile by another call: fine
                raise
        return True


def segment(value: str) -> str:
    """``value`` as one path segment: ids are validated by the API, and quoting keeps a ``/`` or a
    ``?`` inside one from reaching another route."""
    return quote(value, safe="")
