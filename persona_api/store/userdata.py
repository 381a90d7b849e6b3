"""The user-data registry: how each capability exports and erases what it stores about a user.

Deleting a user must remove everything stored about them, in rows and in indexes. Each capability
(memory, recommendations, preferences, values, ...) registers one :class:`UserDataHandler` with
the registry built in ``create_app`` and in the job entry points. The user service then:

1. calls every handler's ``erase`` inside the same database transaction as the ``users`` row
   delete (so either all rows go or none do), then commits;
2. after the commit, calls every handler's ``forget`` for derived, non-transactional state
   (in-memory ANN index entries, caches). A handler whose ``forget`` fails is logged; the next
   re-index rebuilds indexes from the database, which no longer holds the user.

Deleting a whole tenant relies on ``ON DELETE CASCADE`` from ``tenants`` and ``users`` for rows
(every capability table must reference one of them that way) and calls ``forget_tenant``.

``export`` contributes one JSON-serialisable section to ``GET /v1/users/{id}/export``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("persona_api.userdata")


@dataclass(frozen=True)
class UserRef:
    """Identifies a user to handlers: internal row id, tenant, and the client's external id."""

    id: int
    tenant_id: str
    external_id: str


class UserDataHandler(Protocol):
    """What a capability provides so users can be exported and deleted completely."""

    @property
    def name(self) -> str:
        """Section name in the export document, e.g. ``"memories"``."""
        ...

    async def export(self, session: AsyncSession, user: UserRef) -> Any:
        """Everything this capability stores about ``user``, as JSON-serialisable data."""
        ...

    async def erase(self, session: AsyncSession, user: UserRef) -> int:
        """Delete this capability's rows of ``user`` in the caller's transaction; return a count."""
        ...

    async def forget(self, user: UserRef) -> None:
        """Drop derived state (index entries, caches) after the deletion has committed."""
        ...

    async def forget_tenant(self, tenant_id: str) -> None:
        """Drop all derived state of a tenant after the tenant's deletion has committed."""
        ...


class UserDataRegistry:
    """An ordered set of handlers with unique names."""

    def __init__(self) -> None:
        self._handlers: dict[str, UserDataHandler] = {}

    def register(self, handler: UserDataHandler) -> None:
        if handler.name in self._handlers or handler.name == "user":
            raise ValueError(f"a user-data handler named {handler.name!r} is already registered")
        self._handlers[handler.name] = handler

    def __iter__(self) -> Iterator[UserDataHandler]:
        return iter(list(self._handlers.values()))

    def __len__(self) -> int:
        return len(self._handlers)

    async def export(self, session: AsyncSession, user: UserRef) -> dict[str, Any]:
        return {h.name: await h.export(session, user) for h in self}

    async def erase(self, session: AsyncSession, user: UserRef) -> dict[str, int]:
        return {h.name: await h.erase(session, user) for h in self}

    async def forget(self, user: UserRef) -> None:
        for handler in self:
            try:
                await handler.forget(user)
            except Exception:
                # The rows are gone already; the next re-index rebuilds the index without them.
                log.exception("userdata.forget_failed", extra={"handler": handler.name})

    async def forget_tenant(self, tenant_id: str) -> None:
        for handler in self:
            try:
                await handler.forget_tenant(tenant_id)
            except Exception:
                log.exception("userdata.forget_tenant_failed", extra={"handler": handler.name})
