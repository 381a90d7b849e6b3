"""Authentication: the admin token for ``/v1/admin`` and tenant API keys for data routes.

Both arrive as ``Authorization: Bearer ...``. The tenant of a valid key is injected into
handlers as ``tenant_id``; every data service is scoped by it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers import BaseRouteHandler
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.errors import Unauthorized
from persona_api.store.tenants import TenantService, hash_key


class KeyCache:
    """API keys recently found valid, by hash, each for ``ttl`` seconds.

    Most requests then skip the key lookup (a database round trip). Revoking a key or deleting a
    tenant through this process evicts at once; another process serving the same database (more
    workers or replicas) stops accepting a revoked key within ``ttl``. ``ttl`` 0 disables caching.
    """

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def get(self, key_hash: str) -> str | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        tenant_id, expires = entry
        if time.monotonic() >= expires:
            del self._entries[key_hash]
            return None
        return tenant_id

    def put(self, key_hash: str, tenant_id: str) -> None:
        if self.ttl <= 0:
            return
        self._entries[key_hash] = (tenant_id, time.monotonic() + self.ttl)
        self._entries.move_to_end(key_hash)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def evict_key(self, key_hash: str) -> None:
        self._entries.pop(key_hash, None)

    def evict_tenant(self, tenant_id: str) -> None:
        for key_hash in [h for h, (t, _) in self._entries.items() if t == tenant_id]:
            del self._entries[key_hash]


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
    cache: KeyCache = request.app.state.key_cache
    key_hash = hash_key(token)
    tenant_id = cache.get(key_hash)
    if tenant_id is None:
        tenant_id = await TenantService(db_session).authenticate(token)
        cache.put(key_hash, tenant_id)
    return tenant_id


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
