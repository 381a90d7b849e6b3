"""Users of a tenant: create, read, list, update metadata, export, delete everything.

Every method is scoped by ``tenant_id``: a user of another tenant is indistinguishable from a user
that does not exist (:class:`NotFound`), so a key never learns about another tenant's data.
Writes go into the caller's transaction (one per request), so a failure leaves nothing half-written.

A deletion removes the user's rows at once and records an erasure request in the same
transaction; :mod:`persona_api.store.erasure` then removes the user from the artifact versions.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.errors import Conflict, FieldProblem, InvalidInput, NotFound
from persona_api.store import outbox
from persona_api.store.db import flush_or_conflict
from persona_api.store.erasure import request_erasure
from persona_api.store.pages import list_and_count
from persona_api.store.tables import User, utcnow
from persona_api.store.userdata import UserDataRegistry, UserRef

log = logging.getLogger("persona_api.users")

MAX_METADATA_BYTES = 16 * 1024


def check_metadata(metadata: dict[str, Any]) -> None:
    if len(msgspec.json.encode(metadata)) > MAX_METADATA_BYTES:
        raise InvalidInput(
            "metadata is too large",
            [FieldProblem("metadata", f"at most {MAX_METADATA_BYTES} bytes of JSON")],
        )


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7396 JSON merge patch: ``null`` removes a key, objects merge recursively."""
    result = dict(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge_patch(result[key], value)
        else:
            result[key] = value
    return result


def user_ref(user: User) -> UserRef:
    return UserRef(id=user.id, tenant_id=user.tenant_id, external_id=user.external_id)


class UserService:
    def __init__(self, session: AsyncSession, tenant_id: str, registry: UserDataRegistry) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.registry = registry

    async def _find(self, external_id: str) -> User | None:
        user: User | None = await self.session.scalar(
            select(User).where(User.tenant_id == self.tenant_id, User.external_id == external_id)
        )
        return user

    async def find(self, external_id: str) -> User | None:
        """The user, or None (for routes that answer for users who are not stored yet)."""
        return await self._find(external_id)

    async def pk_of(self, external_id: str | None) -> int | None:
        """The row id of an optional user reference; an unknown user is :class:`NotFound`."""
        return None if external_id is None else (await self.get(external_id)).id

    async def get(self, external_id: str) -> User:
        user = await self._find(external_id)
        if user is None:
            raise NotFound(f"user {external_id!r} not found")
        return user

    async def get_or_create(self, external_id: str) -> User:
        """For capabilities that accept data about users the client has not created explicitly."""
        user = await self._find(external_id)
        if user is not None:
            return user
        return await self._insert(external_id, {})

    async def _insert(self, external_id: str, metadata: dict[str, Any]) -> User:
        now = utcnow()
        user = User(
            tenant_id=self.tenant_id,
            external_id=external_id,
            attributes=metadata,
            created_at=now,
            updated_at=now,
        )
        self.session.add(user)
        await flush_or_conflict(self.session, f"user {external_id!r} already exists")
        return user

    async def create(self, external_id: str, metadata: dict[str, Any]) -> User:
        check_metadata(metadata)
        if await self._find(external_id) is not None:
            raise Conflict(f"user {external_id!r} already exists")
        return await self._insert(external_id, metadata)

    async def list(self, *, limit: int, offset: int, prefix: str = "") -> tuple[list[User], int]:
        """A page of the tenant's users, oldest first; with ``prefix``, those whose id starts so."""
        where = [User.tenant_id == self.tenant_id]
        if prefix:
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append(User.external_id.like(f"{escaped}%", escape="\\"))
        order = (User.created_at.asc(), User.id.asc())
        return await list_and_count(self.session, User, *where, order_by=order, limit=limit, offset=offset)

    async def update_metadata(self, external_id: str, patch: dict[str, Any]) -> User:
        user = await self.get(external_id)
        merged = merge_patch(user.attributes, patch)
        check_metadata(merged)
        user.attributes = merged
        user.updated_at = utcnow()
        await self.session.flush()
        return user

    async def export(self, external_id: str) -> tuple[User, dict[str, Any]]:
        user = await self.get(external_id)
        return user, await self.registry.export(self.session, user_ref(user))

    async def delete(self, external_id: str) -> dict[str, int]:
        """Remove the user and everything every registered capability stores about them, and ask
        for their removal from the artifacts (same transaction)."""
        user = await self.get(external_id)
        ref = user_ref(user)
        counts = await self.registry.erase(self.session, ref)
        await self.session.execute(delete(User).where(User.id == ref.id))
        request_erasure(self.session, ref.tenant_id, ref.id)
        # Events about the user go (none of their data is sent after this); then the deletion's own.
        await outbox.forget_user(self.session, ref.tenant_id, ref.external_id)
        await outbox.emit(self.session, ref.tenant_id, "user.deleted", {}, user_ref=ref.external_id)
        await self.session.flush()
        await self.registry.forget(ref)
        log.info("user.deleted", extra={"tenant_id": ref.tenant_id, "user_pk": ref.id, "removed": counts})
        return counts
