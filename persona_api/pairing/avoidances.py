"""The avoidance shelf of a tenant's :class:`~persona_api.pairing.pantry.Pantry`: the ingredients
each user dislikes or is allergic to.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, insert, select

from persona_api.pairing.ingredients import IngredientShelf
from persona_api.pairing.tables import FoodAvoidance, Ingredient
from persona_api.store.db import flush_or_conflict
from persona_api.store.tables import utcnow


class AvoidanceShelf(IngredientShelf):
    """Users' dislikes and allergies, by ingredient."""

    async def avoidances(self, user_id: int) -> dict[int, tuple[str, str]]:
        """Ingredient row id -> (kind, name) of everything the user avoids."""
        rows = await self.session.execute(
            select(FoodAvoidance.ingredient_id, FoodAvoidance.kind, Ingredient.name)
            .join(Ingredient, Ingredient.id == FoodAvoidance.ingredient_id)
            .where(FoodAvoidance.user_id == user_id)
            .order_by(Ingredient.key)
        )
        return {i: (kind, name) for i, kind, name in rows.tuples()}

    async def food_lists(self, user_id: int) -> tuple[list[str], list[str]]:
        """The user's disliked and allergenic ingredient names, each sorted."""
        avoids = (await self.avoidances(user_id)).values()
        return [n for k, n in avoids if k == "dislike"], [n for k, n in avoids if k == "allergy"]

    async def set_avoidances(self, user_id: int, dislikes: Sequence[str], allergies: Sequence[str]) -> None:
        """Replace the user's lists; a name on both lists counts as an allergy."""
        disliked = await self.resolve(dislikes, "dislikes")
        allergic = await self.resolve(allergies, "allergies")
        kinds = {i.id: "dislike" for i in disliked} | {i.id: "allergy" for i in allergic}
        await self.session.execute(delete(FoodAvoidance).where(FoodAvoidance.user_id == user_id))
        if kinds:
            now = utcnow()
            await self.session.execute(
                insert(FoodAvoidance),
                [
                    {"user_id": user_id, "ingredient_id": i, "kind": k, "created_at": now}
                    for i, k in kinds.items()
                ],
            )
        await flush_or_conflict(self.session, "the user's lists were changed concurrently; retry")
