"""Authentication: the admin token for ``/v1/admin`` and tenant API keys for data routes.

Both arrive as ``Authorization: Bearer ...``. The tenant of a valid key is injected into
handlers as ``tenant_id``; every data service is scoped by it. A request's key is checked once:
the rate-limit middleware (``http.ratelimit``) needs its tenant before the handler runs, and keeps
the answer in the request's scope, where the ``auth_tenant`` dependency finds it.

A key's scope is checked where its tenant is resolved: a ``read`` key gets a 403 on any request
that :func:`writes`, before the handler runs, so nothing is written.
"""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.types import Scope
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from persona_api.errors import Forbidden, Unauthorized
from persona_api.store.tenants import WRITE, KeyOwner, TenantService, hash_key

V = TypeVar("V")

CHECKED = "persona_api.key_owner"
"""Key of ``scope["state"]`` holding the request's checked key: its :class:`KeyOwner`, or None."""

READS_ONLY = "reads_only"
"""Flag of a handler's ``opt`` (``openapi.reads_only()``): the route changes nothing although its
method is not a read (a POST that searches or scores), so a read-scoped key may call it."""

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _Expiring(Generic[V]):
    """Values by key, each for ``ttl`` seconds; at most ``max_entries`` (the oldest stored go first)."""

    def __init__(
        self, ttl: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, tuple[V, float]] = OrderedDict()

    def get(self, key: str) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, expires = entry
        if self.clock() >= expires:
            del self._entries[key]
            return None
        return value

    def put(self, key: str, value: V) -> None:
        if self.ttl <= 0:
            return
        self._entries[key] = (value, self.clock() + self.ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def evict_key(self, key: str) -> None:
        self._entries.pop(key, None)


class KeyCache(_Expiring[KeyOwner]):
    """API keys recently found valid, by hash, with their owner (tenant and its rate limit).

    Most requests then skip the key lookup (a database round trip). Revoking a key, deleting a
    tenant or changing its rate limit through this process evicts at once; another process serving
    the same database (more workers or replicas) notices within ``ttl``. ``ttl`` 0 disables caching.
    """

    def evict_tenant(self, tenant_id: str) -> None:
        for key_hash in [h for h, (owner, _) in self._entries.items() if owner.tenant_id == tenant_id]:
            del self._entries[key_hash]


class RefusedKeys(_Expiring[bool]):
    """Keys recently refused, by hash: repeating one bad key costs one lookup per ``ttl``.

    Keys are random and never become valid once refused (a revoked key stays revoked), so a stale
    entry can only refuse what the database would refuse too. ``ttl`` 0 disables it.
    """

    def __contains__(self, key_hash: str) -> bool:
        return self.get(key_hash) is not None


class Authenticator:
    """Checks API keys: first the cache of valid keys, then that of refused keys, then the database
    (in a short session of its own: the check runs before the request's transaction opens)."""

    def __init__(self, engine: AsyncEngine, keys: KeyCache, refused: RefusedKeys) -> None:
        self.engine = engine
        self.keys = keys
        self.refused = refused

    def known(self, token: str) -> bool:
        """Whether checking ``token`` needs no database lookup."""
        key_hash = hash_key(token)
        return self.keys.get(key_hash) is not None or key_hash in self.refused

    async def check(self, token: str) -> KeyOwner | None:
        """The owner of a valid, unrevoked key; None for any other token."""
        key_hash = hash_key(token)
        owner = self.keys.get(key_hash)
        if owner is not None:
            return owner
        if key_hash in self.refused:
            return None
        try:
            async with AsyncSession(self.engine) as session:
                owner = await TenantService(session).authenticate(token)
        except Unauthorized:
            self.refused.put(key_hash, True)
            return None
        self.keys.put(key_hash, owner)
        return owner

    def forget_key(self, key_hash: str) -> None:
        self.keys.evict_key(key_hash)

    def forget_tenant(self, tenant_id: str) -> None:
        """After a tenant's keys or rate limit changed: its keys are looked up again."""
        self.keys.evict_tenant(tenant_id)


def bearer_token(headers: Any) -> str | None:
    value = headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return str(token.strip())


def remember_owner(scope: Scope, owner: KeyOwner | None) -> None:
    """Keep the answer of the request's key check for the ``auth_tenant`` dependency."""
    scope.setdefault("state", {})[CHECKED] = owner


def handler_writes(handler: BaseRouteHandler, method: str) -> bool:
    """Whether ``method`` on ``handler`` may change what is stored: any method but GET, HEAD and
    OPTIONS, unless the handler is flagged :data:`READS_ONLY`."""
    return method not in READ_METHODS and not handler.opt.get(READS_ONLY, False)


def writes(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Whether the request may change what is stored (see :func:`handler_writes`)."""
    return handler_writes(connection.route_handler, str(connection.scope.get("method", "")))


async def _tenant_of(connection: ASGIConnection[Any, Any, Any, Any], *, writing: bool) -> str:
    """The tenant of the request's key: 401 without a valid key, 403 for a read key when ``writing``."""
    token = bearer_token(connection.headers)
    if token is None:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    state = connection.scope.get("state") or {}
    if CHECKED in state:
        owner: KeyOwner | None = state[CHECKED]
    else:  # a route the rate-limit middleware does not see
        authenticator: Authenticator = connection.app.state.authenticator
        owner = await authenticator.check(token)
    if owner is None:
        raise Unauthorized("invalid or revoked API key")
    if writing and owner.scope != WRITE:
        raise Forbidden(
            f"this API key is read-only: {connection.scope.get('method')} on this route writes; "
            "use a key with scope 'write'"
        )
    return owner.tenant_id


async def provide_tenant_id(request: Request[Any, Any, Any]) -> str:
    """Dependency ``auth_tenant``: the tenant id of the request's API key; 401, or 403 for a read
    key on a route that writes."""
    return await _tenant_of(request, writing=writes(request))


async def tenant_key_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of mounted apps: a valid tenant key (else 401) whose scope allows the request (a read key
    on a request that writes: 403), before the app runs."""
    await _tenant_of(connection, writing=writes(connection))


async def relaying_key_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of mounted apps that act only by calling this API with the request's own key (the MCP
    server): a valid tenant key of either scope, or 401 before the app runs.

    Every request to such an app is a POST, reads included; each API call it then makes is checked
    on its own, so a read key's writes are refused there (403) and its reads are served.
    """
    await _tenant_of(connection, writing=False)


async def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of the admin routes: the bearer token must equal the configured admin token."""
    expected: str = connection.app.state.admin_token
    token = bearer_token(connection.headers)
    if token is None or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized("admin routes need 'Authorization: Bearer <PERSONA_ADMIN_TOKEN>'")
