"""Tenants and their API keys: creation, issuing, listing, revocation and authentication.

A key looks like ``pk_<8 char id>_<43 char secret>``. Only the SHA-256 of the whole key is stored;
the key is shown once, when issued. Keys carry 256 bits of randomness, so a fast hash is enough
(a slow password hash would only add latency to every request).

A key has a scope: ``write`` may call every tenant route, ``read`` only those that change nothing
(``persona_api.http.auth`` enforces it per request). Keys issued before scopes existed are ``write``.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from persona_api.errors import InvalidInput, NotFound, Unauthorized
from persona_api.kernel.steps import TenantRef
from persona_api.store.pages import list_and_count
from persona_api.store.tables import ApiKey, Tenant, User, utcnow

KEY_PREFIX = "pk_"
READ = "read"
WRITE = "write"
SCOPES = (READ, WRITE)


@dataclass(frozen=True)
class KeyOwner:
    """Who a valid key belongs to: its tenant, the tenant's own rate limit (``None``: the default),
    and what the key may do (:data:`READ` or :data:`WRITE`)."""

    tenant_id: str
    rate_limit_per_minute: int | None
    scope: str = WRITE


@dataclass(frozen=True)
class IssuedKey:
    """A freshly issued key: ``secret`` is the only copy of the full key that will ever exist."""

    row: ApiKey
    secret: str


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_id(kind: str) -> str:
    return f"{kind}_{uuid.uuid4().hex}"


class TenantService:
    """Admin-side operations and key authentication, over one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create_tenant(
        self, name: str, rate_limit_per_minute: int | None = None, create_unknown_users: bool = True
    ) -> Tenant:
        tenant = Tenant(
            id=_new_id("ten"),
            name=name,
            created_at=utcnow(),
            rate_limit_per_minute=rate_limit_per_minute,
            create_unknown_users=create_unknown_users,
        )
        self.session.add(tenant)
        await self.session.flush()
        return tenant

    async def get_tenant(self, tenant_id: str) -> Tenant:
        tenant = await self.session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id!r} not found")
        return tenant

    async def list_tenants(self, *, limit: int, offset: int) -> tuple[list[Tenant], int]:
        order = (Tenant.created_at.asc(), Tenant.id.asc())
        return await list_and_count(self.session, Tenant, order_by=order, limit=limit, offset=offset)

    async def set_rate_limit(self, tenant_id: str, per_minute: int | None) -> Tenant:
        """Set the tenant's own requests per minute; ``None`` returns it to the service default."""
        tenant = await self.get_tenant(tenant_id)
        tenant.rate_limit_per_minute = per_minute
        await self.session.flush()
        return tenant

    async def delete_tenant(self, tenant_id: str) -> None:
        tenant = await self.get_tenant(tenant_id)
        await self.session.delete(tenant)
        await self.session.flush()

    async def issue_key(self, tenant_id: str, name: str, scope: str = WRITE) -> IssuedKey:
        if scope not in SCOPES:
            raise InvalidInput(f"unknown key scope {scope!r}: one of {', '.join(SCOPES)}")
        await self.get_tenant(tenant_id)
        short = secrets.token_hex(4)
        secret = f"{KEY_PREFIX}{short}_{secrets.token_urlsafe(32)}"
        row = ApiKey(
            id=_new_id("key"),
            tenant_id=tenant_id,
            name=name,
            prefix=f"{KEY_PREFIX}{short}",
            secret_hash=hash_key(secret),
            created_at=utcnow(),
            scope=scope,
        )
        self.session.add(row)
        await self.session.flush()
        return IssuedKey(row=row, secret=secret)

    async def list_keys(self, tenant_id: str, *, limit: int, offset: int) -> tuple[list[ApiKey], int]:
        await self.get_tenant(tenant_id)
        where = ApiKey.tenant_id == tenant_id
        order = (ApiKey.created_at.asc(), ApiKey.id.asc())
        return await list_and_count(self.session, ApiKey, where, order_by=order, limit=limit, offset=offset)

    async def revoke_key(self, key_id: str) -> ApiKey:
        row = await self.session.get(ApiKey, key_id)
        if row is None:
            raise NotFound(f"API key {key_id!r} not found")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            await self.session.flush()
        return row

    async def authenticate(self, secret: str) -> KeyOwner:
        """The owner of a valid, unrevoked key; :class:`Unauthorized` otherwise."""
        if not secret.startswith(KEY_PREFIX):
            raise Unauthorized("invalid API key")
        owner = await self.owner_of_hash(hash_key(secret))
        if owner is None:
            raise Unauthorized("invalid or revoked API key")
        return owner

    async def owner_of_hash(self, key_hash: str) -> KeyOwner | None:
        """The owner of the valid, unrevoked key whose :func:`hash_key` is ``key_hash``; None otherwise.

        For a caller that keeps only the hash of a key it checked before (the console's sign-in), so
        that a key revoked since is noticed without holding the plaintext.
        """
        row = (
            await self.session.execute(
                select(ApiKey.tenant_id, Tenant.rate_limit_per_minute, ApiKey.scope)
                .join(Tenant, Tenant.id == ApiKey.tenant_id)
                .where(ApiKey.secret_hash == key_hash, ApiKey.revoked_at.is_(None))
            )
        ).first()
        if row is None:
            return None
        return KeyOwner(
            tenant_id=row.tenant_id, rate_limit_per_minute=row.rate_limit_per_minute, scope=row.scope
        )


async def tenant_directory(engine: AsyncEngine) -> list[TenantRef]:
    """Every tenant with its user count, ordered by id: what one re-index run trains."""
    stmt = (
        select(Tenant.id, Tenant.name, func.count(User.id))
        .outerjoin(User, User.tenant_id == Tenant.id)
        .group_by(Tenant.id, Tenant.name)
        .order_by(Tenant.id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [TenantRef(id=tenant_id, name=name, users=int(users)) for tenant_id, name, users in rows]
