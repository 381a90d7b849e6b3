"""Console sign-in: a tenant API key or the admin token, typed into a form, becomes a session.

The cookie holds a random token and its HMAC (:class:`Signer`), never the key: the server keeps the
token's hash with the key's hash (:mod:`persona_api.store.console_sessions`) and checks the key
again on every page, so revoking the key ends the session too. The cookie is HttpOnly,
SameSite=Strict, and Secure when the request came over HTTPS.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.errors import Forbidden, PersonaError
from persona_api.store.console_sessions import ConsoleSession, find_session
from persona_api.store.tenants import TenantService, hash_key

COOKIE = "persona_console"


class SignInRequired(PersonaError):
    """No live session: the console answers with the sign-in page."""

    code = "sign-in-required"


class TenantRequired(PersonaError):
    """The admin is signed in but has not picked a tenant yet."""

    code = "tenant-required"


class Signer:
    """HMAC-SHA256 over the session token, so a guessed or altered cookie is refused before any
    database lookup."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"persona-console-sessions\0" + secret.encode()).digest()

    def derived(self, purpose: str) -> str:
        """Another secret for ``purpose`` (the CSRF tokens'), from the same key."""
        return hmac.new(self._key, purpose.encode(), hashlib.sha256).hexdigest()

    def _mac(self, token: str) -> str:
        return hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()[:32]

    def sign(self, token: str) -> str:
        return f"{token}.{self._mac(token)}"

    def unsign(self, cookie: str) -> str | None:
        token, _, mac = cookie.rpartition(".")
        return token if token and hmac.compare_digest(mac, self._mac(token)) else None


@dataclass(frozen=True)
class ConsoleUser:
    """Who is signed in: the tenant whose data the pages show, and what they may do."""

    token: str
    tenant_id: str | None
    admin: bool
    scope: str

    @property
    def can_write(self) -> bool:
        return self.scope == "write"

    def require_write(self) -> None:
        if not self.can_write:
            raise Forbidden("this console session is read-only (a read-scoped API key)")


def is_secure(request: Request[Any, Any, Any]) -> bool:
    return request.url.scheme == "https"


async def console_user(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
) -> ConsoleUser:
    """Dependency: the signed-in user of the request; :class:`SignInRequired` otherwise."""
    signer: Signer = request.app.state.console_signer
    cookie = request.cookies.get(COOKIE)
    token = signer.unsign(cookie) if cookie else None
    row: ConsoleSession | None = await find_session(db_session, token) if token else None
    if token is None or row is None:
        raise SignInRequired("sign in to use the console")
    if row.key_hash is not None:
        owner = await TenantService(db_session).owner_of_hash(row.key_hash)
        if owner is None or owner.tenant_id != row.tenant_id:
            raise SignInRequired("the API key of this session was revoked")
        scope = owner.scope
    else:
        scope = "write"
    return ConsoleUser(token=token, tenant_id=row.tenant_id, admin=row.admin, scope=scope)


async def console_tenant(console: NamedDependency[ConsoleUser]) -> str:
    """Dependency ``auth_tenant`` of the console's pages: the tenant the session shows, so every
    service is scoped exactly as the API scopes it for that tenant's keys."""
    if console.tenant_id is None:
        raise TenantRequired("pick a tenant first")
    return console.tenant_id


def key_hash_of(api_key: str) -> str:
    return hash_key(api_key)
