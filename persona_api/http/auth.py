"""Authentication: the admin token for ``/v1/admin`` and tenant API keys for data routes.

Both arrive as ``Authorization: Bearer ...``. The tenant of a valid key is injected into
handlers as ``tenant_id``; every data service is scoped by it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers import BaseRouteHandler
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.errors import Unauthorized
from persona_api.store.tenants import TenantService


def bearer_token(headers: Any) -> str | None:
    value = headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return str(token.strip())


async def provide_tenant_id(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
) -> str:
    """Dependency ``auth_tenant``: the tenant id of the request's API key, or 401."""
    token = bearer_token(request.headers)
    if token is None:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    return await TenantService(db_session).authenticate(token)


async def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of the admin routes: the bearer token must equal the configured admin token."""
    expected: str = connection.app.state.admin_token
    token = bearer_token(connection.headers)
    if token is None or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized("admin routes need 'Authorization: Bearer <PERSONA_ADMIN_TOKEN>'")


def rate_limit_identity(request: Request[Any, Any, Any]) -> str:
    """Rate-limit bucket: the API key (hashed, never kept in clear) or the client address."""
    token = bearer_token(request.headers)
    if token:
        return "key:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    client = request.client
    return "addr:" + (client.host if client else "unknown")
