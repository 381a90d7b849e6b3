"""User routes, scoped to the API key's tenant. ``user_id`` is the client's external id.

Deleting a user removes their rows before the response; once it has been sent (the transaction
committed), the API's erasure pass starts at once to remove them from the artifacts too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.pagination import OffsetPagination
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.http.admin import tenant_out
from persona_api.http.pagination import PageRequest
from persona_api.http.schemas import TenantOut, UserCreate, UserExport, UserOut, UserPatch
from persona_api.store.tables import User
from persona_api.store.tenants import TenantService
from persona_api.store.users import UserService


def user_out(row: User) -> UserOut:
    return UserOut(
        id=row.external_id, metadata=row.attributes, created_at=row.created_at, updated_at=row.updated_at
    )


async def wake_eraser(request: Request[Any, Any, Any]) -> None:
    """After a deletion's response: run the erasure pass now rather than at the next poll."""
    eraser = request.app.state.get("eraser")
    if eraser is not None:
        eraser.wake()


class UserController(Controller):
    path = "/v1/users"
    tags = ["users"]

    @post(operation_id="createUser", summary="Create a user")
    async def create_user(self, data: JSONBody[UserCreate], users: NamedDependency[UserService]) -> UserOut:
        return user_out(await users.create(data.id, data.metadata))

    @get(operation_id="listUsers", summary="List users")
    async def list_users(
        self, users: NamedDependency[UserService], page: NamedDependency[PageRequest]
    ) -> OffsetPagination[UserOut]:
        rows, total = await users.list(limit=page.limit, offset=page.offset)
        return OffsetPagination(
            items=[user_out(r) for r in rows], limit=page.limit, offset=page.offset, total=total
        )

    @get("/{user_id:str}", operation_id="getUser", summary="Get a user")
    async def get_user(self, user_id: FromPath[str], users: NamedDependency[UserService]) -> UserOut:
        return user_out(await users.get(user_id))

    @patch("/{user_id:str}", operation_id="updateUser", summary="Update a user's metadata (JSON merge patch)")
    async def update_user(
        self, user_id: FromPath[str], data: JSONBody[UserPatch], users: NamedDependency[UserService]
    ) -> UserOut:
        return user_out(await users.update_metadata(user_id, data.metadata))

    @delete(
        "/{user_id:str}",
        operation_id="deleteUser",
        summary="Delete a user and everything stored about them",
        description="The user's data leaves the database at once, and the trained artifacts within "
        "seconds (docs/operations.md#erasure).",
        after_response=wake_eraser,
    )
    async def delete_user(self, user_id: FromPath[str], users: NamedDependency[UserService]) -> None:
        await users.delete(user_id)

    @get("/{user_id:str}/export", operation_id="exportUser", summary="Export everything stored about a user")
    async def export_user(self, user_id: FromPath[str], users: NamedDependency[UserService]) -> UserExport:
        row, data = await users.export(user_id)
        return UserExport(user=user_out(row), exported_at=datetime.now(UTC), data=data)


class TenantController(Controller):
    path = "/v1/tenant"
    tags = ["users"]

    @get(operation_id="getOwnTenant", summary="The API key's own tenant and its settings")
    async def own_tenant(
        self, db_session: NamedDependency[AsyncSession], auth_tenant: NamedDependency[str]
    ) -> TenantOut:
        return tenant_out(await TenantService(db_session).get_tenant(auth_tenant))
