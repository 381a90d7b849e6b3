"""The recipe shelf of a tenant's :class:`~persona_api.pairing.pantry.Pantry`: recipes over its
known ingredients, written in batches and read back with their ingredient names and owners.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, select

from persona_api.errors import InvalidInput, NotFound
from persona_api.pairing.ingredients import IngredientShelf, WriteResult, keys_of
from persona_api.pairing.names import ingredient_key
from persona_api.pairing.tables import Ingredient, Recipe, RecipeIngredient
from persona_api.store.db import flush_or_conflict
from persona_api.store.pages import list_and_count
from persona_api.store.tables import User, utcnow


@dataclass(frozen=True, kw_only=True)
class RecipeIn:
    external_id: str | None
    ingredients: tuple[str, ...]
    cuisine: str | None = None
    title: str | None = None
    user_id: int | None = None


@dataclass(frozen=True)
class RecipeView:
    external_id: str
    title: str | None
    cuisine: str | None
    user: str | None
    ingredients: list[str]


class RecipeShelf(IngredientShelf):
    """The tenant's recipes, each a set of its known ingredients."""

    async def upsert_recipes(self, recipes: Sequence[RecipeIn]) -> WriteResult:
        """Create or replace recipes by id (generated when absent); all or nothing."""
        keys = keys_of([n for r in recipes for n in r.ingredients], "ingredients")
        found = await self.by_keys(keys)
        if len(found) < len(set(keys)):
            await self._unknown(
                [
                    (f"[{i}].ingredients[{j}]", name)
                    for i, r in enumerate(recipes)
                    for j, name in enumerate(r.ingredients)
                    if ingredient_key(name) not in found
                ]
            )
        given = [r.external_id for r in recipes if r.external_id is not None]
        if len(set(given)) != len(given):
            raise InvalidInput("a recipe id appears twice in the batch")
        existing = await self._recipes_by_external(given)
        current = await self._members([r.id for r in existing.values()])
        created = updated = 0
        ids: list[str] = []
        now = utcnow()
        pending: list[tuple[Recipe, list[int]]] = []
        for r in recipes:
            ingredient_ids = sorted({found[ingredient_key(n)].id for n in r.ingredients})
            external = r.external_id or f"rcp_{uuid.uuid4().hex[:20]}"
            ids.append(external)
            row = existing.get(external)
            if row is None:
                row = Recipe(
                    tenant_id=self.tenant_id,
                    external_id=external,
                    title=r.title,
                    cuisine=r.cuisine,
                    user_id=r.user_id,
                    created_at=now,
                )
                self.session.add(row)
                created += 1
            elif (row.title, row.cuisine, row.user_id, current.get(row.id, [])) == (
                r.title,
                r.cuisine,
                r.user_id,
                ingredient_ids,
            ):
                continue
            else:
                row.title, row.cuisine, row.user_id = r.title, r.cuisine, r.user_id
                await self.session.execute(
                    delete(RecipeIngredient).where(RecipeIngredient.recipe_id == row.id)
                )
                updated += 1
            pending.append((row, ingredient_ids))
        await self.session.flush()  # one multi-row INSERT; new rows get their ids
        links = [{"recipe_id": row.id, "ingredient_id": i} for row, members in pending for i in members]
        if links:
            await self.session.execute(insert(RecipeIngredient), links)
        await flush_or_conflict(self.session, "the recipes were changed concurrently; retry the batch")
        return WriteResult(
            created=created, updated=updated, unchanged=len(recipes) - created - updated, ids=ids
        )

    async def _recipes_by_external(self, external_ids: Sequence[str]) -> dict[str, Recipe]:
        found: dict[str, Recipe] = {}
        ids = sorted(set(external_ids))
        for start in range(0, len(ids), 500):
            rows = await self.session.scalars(
                select(Recipe).where(
                    Recipe.tenant_id == self.tenant_id, Recipe.external_id.in_(ids[start : start + 500])
                )
            )
            found.update((r.external_id, r) for r in rows)
        return found

    async def _members(self, recipe_ids: Sequence[int]) -> dict[int, list[int]]:
        """Sorted ingredient row ids of each recipe."""
        out: dict[int, list[int]] = {}
        for start in range(0, len(recipe_ids), 500):
            rows = await self.session.execute(
                select(RecipeIngredient.recipe_id, RecipeIngredient.ingredient_id)
                .where(RecipeIngredient.recipe_id.in_(recipe_ids[start : start + 500]))
                .order_by(RecipeIngredient.ingredient_id)
            )
            for recipe_id, ingredient_id in rows.tuples():
                out.setdefault(recipe_id, []).append(ingredient_id)
        return out

    async def get_recipe(self, external_id: str) -> Recipe:
        row = (await self._recipes_by_external([external_id])).get(external_id)
        if row is None:
            raise NotFound(f"recipe {external_id!r} not found")
        return row

    async def views(self, rows: Sequence[Recipe]) -> list[RecipeView]:
        """Recipes with their ingredient names and owners, in the given order."""
        ids = [r.id for r in rows]
        names: dict[int, list[str]] = {i: [] for i in ids}
        owners: dict[int, str] = {}
        if ids:
            result = await self.session.execute(
                select(RecipeIngredient.recipe_id, Ingredient.name)
                .join(Ingredient, Ingredient.id == RecipeIngredient.ingredient_id)
                .where(RecipeIngredient.recipe_id.in_(ids))
                .order_by(Ingredient.key)
            )
            for recipe_id, name in result.tuples():
                names[recipe_id].append(name)
            user_ids = sorted({r.user_id for r in rows if r.user_id is not None})
            if user_ids:
                owners = dict(
                    (
                        await self.session.execute(
                            select(User.id, User.external_id).where(User.id.in_(user_ids))
                        )
                    )
                    .tuples()
                    .all()
                )
        return [
            RecipeView(
                external_id=r.external_id,
                title=r.title,
                cuisine=r.cuisine,
                user=owners.get(r.user_id) if r.user_id is not None else None,
                ingredients=names[r.id],
            )
            for r in rows
        ]

    async def list_recipes(
        self, *, limit: int, offset: int, user_id: int | None = None
    ) -> tuple[list[Recipe], int]:
        where = [Recipe.tenant_id == self.tenant_id]
        if user_id is not None:
            where.append(Recipe.user_id == user_id)
        order = [Recipe.id.asc()]
        return await list_and_count(self.session, Recipe, *where, order_by=order, limit=limit, offset=offset)

    async def delete_recipe(self, external_id: str) -> None:
        row = await self.get_recipe(external_id)
        await self.session.execute(delete(Recipe).where(Recipe.id == row.id))
        await self.session.flush()

    async def user_recipes(self, user_id: int, *, limit: int = 200) -> list[list[int]]:
        """Ingredient row ids of the user's newest recipes."""
        recipe_ids = list(
            await self.session.scalars(
                select(Recipe.id).where(Recipe.user_id == user_id).order_by(Recipe.id.desc()).limit(limit)
            )
        )
        if not recipe_ids:
            return []
        return list((await self._members(recipe_ids)).values())
