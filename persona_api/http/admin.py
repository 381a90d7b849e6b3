"""Admin routes: tenants and their API keys. Guarded by the admin token."""

from __future__ import annotations

from typing import Any, cast

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.pagination import OffsetPagination
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.http.auth import Authenticator, admin_guard
from persona_api.http.pagination import PageRequest
from persona_api.http.paths import IdPath
from persona_api.http.schemas import (
    IssuedKeyOut,
    KeyCreate,
    KeyOut,
    KeyScope,
    TenantCreate,
    TenantOut,
    TenantPatch,
)
from persona_api.store.tables import ApiKey, Tenant
from persona_api.store.tenants import TenantService


def tenant_out(row: Tenant) -> TenantOut:
    return TenantOut(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        rate_limit_per_minute=row.rate_limit_per_minute,
        create_unknown_users=row.create_unknown_users,
    )


def _scope(row: ApiKey) -> KeyScope:
    return cast("KeyScope", row.scope)  # TenantService.issue_key stores only these values


def _key(row: ApiKey) -> KeyOut:
    return KeyOut(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        prefix=row.prefix,
        scope=_scope(row),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def _authenticator(request: Request[Any, Any, Any]) -> Authenticator:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator


async def provide_tenants(db_session: NamedDependency[AsyncSession]) -> TenantService:
    return TenantService(db_session)


class AdminController(Controller):
    path = "/v1/admin"
    tags = ["admin"]
    guards = [admin_guard]
    security = [{"adminToken": []}]
    dependencies = {"tenants": Provide(provide_tenants)}

    @post("/tenants", operation_id="createTenant", summary="Create a tenant (a client app)")
    async def create_tenant(
        self, data: JSONBody[TenantCreate], tenants: NamedDependency[TenantService]
    ) -> TenantOut:
        row = await tenants.create_tenant(data.name, data.rate_limit_per_minute, data.create_unknown_users)
        return tenant_out(row)

    @get("/tenants", operation_id="listTenants", summary="List tenants")
    async def list_tenants(
        self, tenants: NamedDependency[TenantService], page: NamedDependency[PageRequest]
    ) -> OffsetPagination[TenantOut]:
        rows, total = await tenants.list_tenants(limit=page.limit, offset=page.offset)
        return OffsetPagination(
            items=[tenant_out(r) for r in rows], limit=page.limit, offset=page.offset, total=total
        )

    @get("/tenants/{tenant_id:str}", operation_id="getTenant", summary="Get a tenant")
    async def get_tenant(self, tenant_id: IdPath, tenants: NamedDependency[TenantService]) -> TenantOut:
        return tenant_out(await tenants.get_tenant(tenant_id))

    @patch(
        "/tenants/{tenant_id:str}",
        operation_id="updateTenant",
        summary="Change a tenant's settings: its rate limit, whether unknown users are created",
    )
    async def update_tenant(
        self,
        tenant_id: IdPath,
        data: JSONBody[TenantPatch],
        tenants: NamedDependency[TenantService],
        request: Request[Any, Any, Any],
    ) -> TenantOut:
        row = await tenants.get_tenant(tenant_id)
        if data.create_unknown_users is not msgspec.UNSET:
            row.create_unknown_users = data.create_unknown_users
        if data.rate_limit_per_minute is not msgspec.UNSET:
            row = await tenants.set_rate_limit(tenant_id, data.rate_limit_per_minute)
        await tenants.session.flush()
        # Committed before the cache forgets the tenant's keys, so they are read again with the new
        # limit: at once in this process, within PERSONA_AUTH_CACHE_SECONDS in the others.
        await tenants.session.commit()
        _authenticator(request).forget_tenant(tenant_id)
        return tenant_out(row)

    @delete(
        "/tenants/{tenant_id:str}",
        operation_id="deleteTenant",
        summary="Delete a tenant with its keys and all its users' data",
    )
    async def delete_tenant(
        self,
        tenant_id: IdPath,
        tenants: NamedDependency[TenantService],
        request: Request[Any, Any, Any],
    ) -> None:
        await tenants.delete_tenant(tenant_id)
        # Committed before the cache forgets the key, so no request can re-cache it meanwhile.
        await tenants.session.commit()
        _authenticator(request).forget_tenant(tenant_id)
        await request.app.state.user_data.forget_tenant(tenant_id)

    @post(
        "/tenants/{tenant_id:str}/keys",
        operation_id="issueApiKey",
        summary="Issue an API key for a tenant (the key is shown once)",
    )
    async def issue_key(
        self,
        tenant_id: IdPath,
        tenants: NamedDependency[TenantService],
        data: JSONBody[KeyCreate | None] = None,
    ) -> IssuedKeyOut:
        wanted = data or KeyCreate()
        issued = await tenants.issue_key(tenant_id, wanted.name, wanted.scope)
        row = issued.row
        return IssuedKeyOut(
            id=row.id,
            tenant_id=row.tenant_id,
            name=row.name,
            prefix=row.prefix,
            scope=_scope(row),
            key=issued.secret,
            created_at=row.created_at,
        )

    @get(
        "/tenants/{tenant_id:str}/keys",
        operation_id="listApiKeys",
        summary="List a tenant's API keys (prefixes only)",
    )
    async def list_keys(
        self,
        tenant_id: IdPath,
        tenants: NamedDependency[TenantService],
        page: NamedDependency[PageRequest],
    ) -> OffsetPagination[KeyOut]:
        rows, total = await tenants.list_keys(tenant_id, limit=page.limit, offset=page.offset)
        return OffsetPagination(
            items=[_key(r) for r in rows], limit=page.limit, offset=page.offset, total=total
        )

    @delete("/keys/{key_id:str}", operation_id="revokeApiKey", summary="Revoke an API key")
    async def revoke_key(
        self, key_id: IdPath, tenants: NamedDependency[TenantService], request: Request[Any, Any, Any]
    ) -> None:
        row = await tenants.revoke_key(key_id)
        # Committed before the cache forgets the key, so no request can re-cache it meanwhile.
        await tenants.session.commit()
        _authenticator(request).forget_key(row.secret_hash)
