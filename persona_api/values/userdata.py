"""Value profiles' part of user export and deletion: every stored version, overrides included."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.store.userdata import UserRef
from persona_api.values.service import export_row
from persona_api.values.tables import ValueProfile


class ValuesUserData:
    """Rows only: nothing derived is kept outside the database."""

    name = "values"

    async def export(self, session: AsyncSession, user: UserRef) -> Any:
        rows = await session.scalars(
            select(ValueProfile)
            .where(ValueProfile.user_id == user.id)
            .order_by(ValueProfile.partner, ValueProfile.version)
        )
        return [export_row(r) for r in rows]

    async def erase(self, session: AsyncSession, user: UserRef) -> int:
        result = await session.execute(delete(ValueProfile).where(ValueProfile.user_id == user.id))
        return int(getattr(result, "rowcount", 0) or 0)

    async def forget(self, user: UserRef) -> None:
        return None

    async def forget_tenant(self, tenant_id: str) -> None:
        return None
