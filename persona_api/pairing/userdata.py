"""Ingredient pairing's part of user export and deletion: the user's recipes and avoidances.

Trained pairing models hold no user ids; a deleted user's recipes drop out at the next re-index.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.pairing.pantry import Pantry
from persona_api.pairing.runtime import PairingRuntime
from persona_api.pairing.tables import FoodAvoidance, Recipe
from persona_api.store.userdata import UserRef


class PairingUserData:
    name = "pairings"

    def __init__(self, runtime: PairingRuntime) -> None:
        self.runtime = runtime

    async def export(self, session: AsyncSession, user: UserRef) -> Any:
        pantry = Pantry(session, user.tenant_id)
        rows = list(
            await session.scalars(select(Recipe).where(Recipe.user_id == user.id).order_by(Recipe.id))
        )
        dislikes, allergies = await pantry.food_lists(user.id)
        return {
            "recipes": [
                {"id": v.external_id, "title": v.title, "cuisine": v.cuisine, "ingredients": v.ingredients}
                for v in await pantry.views(rows)
            ],
            "dislikes": dislikes,
            "allergies": allergies,
        }

    async def erase(self, session: AsyncSession, user: UserRef) -> int:
        removed = 0
        for stmt in (
            delete(FoodAvoidance).where(FoodAvoidance.user_id == user.id),
            delete(Recipe).where(Recipe.user_id == user.id),
        ):
            result = await session.execute(stmt)
            removed += int(getattr(result, "rowcount", 0) or 0)
        return removed

    async def forget(self, user: UserRef) -> None:
        return None

    async def forget_tenant(self, tenant_id: str) -> None:
        self.runtime.forget_tenant(tenant_id)
