"""A tenant's ingredients, flavor compounds, recipes and users' avoidances: validated bulk writes and
reads.

Every name goes through :func:`ingredient_key`; an unknown ingredient anywhere in a batch is a 422
naming each one with "did you mean" suggestions, and nothing of the batch is written. Every method
is scoped by ``tenant_id``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.errors import FieldProblem, InvalidInput, NotFound
from persona_api.pairing.names import ingredient_key, suggestions
from persona_api.pairing.tables import (
    FlavorCompound,
    FoodAvoidance,
    Ingredient,
    IngredientCompound,
    Recipe,
    RecipeIngredient,
)
from persona_api.store.db import commit_or_conflict
from persona_api.store.tables import User, utcnow

MAX_REPORTED = 50
"""Unknown names listed in one error (the count says how many more)."""


@dataclass(frozen=True, kw_only=True)
class IngredientIn:
    name: str
    category: str | None = None
    compounds: tuple[str, ...] | None = None
    """Replaces the ingredient's compounds when given."""


@dataclass(frozen=True, kw_only=True)
class RecipeIn:
    external_id: str | None
    ingredients: tuple[str, ...]
    cuisine: str | None = None
    title: str | None = None
    user_id: int | None = None


@dataclass(frozen=True)
class WriteResult:
    created: int
    updated: int
    unchanged: int
    ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RecipeView:
    external_id: str
    title: str | None
    cuisine: str | None
    user: str | None
    ingredients: list[str]


def compound_key(name: str) -> str:
    return " ".join(name.strip().lower().split())


def _keys_of(names: Sequence[str], field_name: str) -> list[str]:
    keys = [ingredient_key(n) for n in names]
    empty = [FieldProblem(f"{field_name}[{i}]", "an empty name") for i, k in enumerate(keys) if not k]
    if empty:
        raise InvalidInput("ingredient names need letters or digits", empty)
    return keys


class Pantry:
    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    # ingredients ---------------------------------------------------------------------------

    async def by_keys(self, keys: Iterable[str]) -> dict[str, Ingredient]:
        wanted = sorted(set(keys))
        found: dict[str, Ingredient] = {}
        for start in range(0, len(wanted), 500):  # under every backend's bound-parameter limit
            rows = await self.session.scalars(
                select(Ingredient).where(
                    Ingredient.tenant_id == self.tenant_id, Ingredient.key.in_(wanted[start : start + 500])
                )
            )
            found.update((r.key, r) for r in rows)
        return found

    async def known_keys(self) -> list[str]:
        rows = await self.session.scalars(
            select(Ingredient.key).where(Ingredient.tenant_id == self.tenant_id)
        )
        return list(rows)

    async def resolve(self, names: Sequence[str], field_name: str) -> list[Ingredient]:
        """The ingredient of every name, in order; unknown names are one 422 with suggestions."""
        keys = _keys_of(names, field_name)
        found = await self.by_keys(keys)
        missing = [
            (f"{field_name}[{i}]", n)
            for i, (n, k) in enumerate(zip(names, keys, strict=True))
            if k not in found
        ]
        if missing:
            await self._unknown(missing)
        return [found[k] for k in keys]

    async def _unknown(self, missing: Sequence[tuple[str, str]]) -> None:
        """One 422 for every ``(field, name)`` that names no ingredient, with suggestions."""
        known = await self.known_keys()
        described: dict[str, str] = {}
        problems: list[FieldProblem] = []
        for where, name in missing:
            key = ingredient_key(name)
            if key not in described:
                near = suggestions(key, known)
                hint = f" (did you mean {', '.join(repr(s) for s in near)}?)" if near else ""
                described[key] = f"{name!r}{hint}"
            if len(problems) < MAX_REPORTED:
                problems.append(FieldProblem(where, f"unknown ingredient {described[key]}"))
        shown = list(described.values())
        more = f" and {len(shown) - MAX_REPORTED} more" if len(shown) > MAX_REPORTED else ""
        raise InvalidInput(
            f"unknown ingredients: {'; '.join(shown[:MAX_REPORTED])}{more}"
            "; add them with POST /v1/ingredients",
            problems,
        )

    async def upsert_ingredients(self, items: Sequence[IngredientIn]) -> WriteResult:
        keys = _keys_of([it.name for it in items], "")
        first: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key in first:
                raise InvalidInput(
                    "an ingredient appears twice in the batch",
                    [FieldProblem(f"[{i}].name", f"same ingredient as item {first[key]} ({key!r})")],
                )
            first[key] = i
        existing = await self.by_keys(keys)
        compounds = await self._compounds(c for it in items for c in it.compounds or ())
        created = updated = 0
        now = utcnow()
        for it, key in zip(items, keys, strict=True):
            row = existing.get(key)
            changed = row is None
            if row is None:
                row = Ingredient(
                    tenant_id=self.tenant_id, key=key, name=it.name.strip(), category="", created_at=now
                )
                self.session.add(row)
                await self.session.flush()
            if it.category is not None and row.category != it.category.strip():
                row.category, changed = it.category.strip(), True
            if it.compounds is not None:
                changed |= await self._set_compounds(
                    row.id, {compounds[compound_key(c)] for c in it.compounds}
                )
            if key not in existing:
                created += 1
            elif changed:
                updated += 1
        await commit_or_conflict(self.session, "the ingredients were changed concurrently; retry the batch")
        return WriteResult(created=created, updated=updated, unchanged=len(items) - created - updated)

    async def _compounds(self, names: Iterable[str]) -> dict[str, int]:
        """Compound key -> row id, creating the compounds not yet known."""
        by_key = {compound_key(n): n.strip() for n in names if compound_key(n)}
        ids: dict[str, int] = {}
        wanted = sorted(by_key)
        for start in range(0, len(wanted), 500):
            rows = await self.session.execute(
                select(FlavorCompound.key, FlavorCompound.id).where(
                    FlavorCompound.tenant_id == self.tenant_id,
                    FlavorCompound.key.in_(wanted[start : start + 500]),
                )
            )
            ids.update(rows.tuples().all())
        new = [
            FlavorCompound(tenant_id=self.tenant_id, key=k, name=by_key[k]) for k in wanted if k not in ids
        ]
        self.session.add_all(new)
        await self.session.flush()
        ids.update((c.key, c.id) for c in new)
        return ids

    async def _set_compounds(self, ingredient_id: int, compound_ids: set[int]) -> bool:
        have = set(
            await self.session.scalars(
                select(IngredientCompound.compound_id).where(
                    IngredientCompound.ingredient_id == ingredient_id
                )
            )
        )
        if have == compound_ids:
            return False
        await self.session.execute(
            delete(IngredientCompound).where(IngredientCompound.ingredient_id == ingredient_id)
        )
        if compound_ids:
            await self.session.execute(
                insert(IngredientCompound),
                [{"ingredient_id": ingredient_id, "compound_id": c} for c in sorted(compound_ids)],
            )
        return True

    async def get_ingredient(self, name: str) -> Ingredient:
        row = (await self.by_keys([ingredient_key(name)])).get(ingredient_key(name))
        if row is None:
            near = suggestions(ingredient_key(name), await self.known_keys())
            hint = f"; did you mean {', '.join(repr(s) for s in near)}?" if near else ""
            raise NotFound(f"ingredient {name!r} not found{hint}")
        return row

    async def compounds_of(self, ingredient_id: int) -> list[str]:
        rows = await self.session.scalars(
            select(FlavorCompound.name)
            .join(IngredientCompound, IngredientCompound.compound_id == FlavorCompound.id)
            .where(IngredientCompound.ingredient_id == ingredient_id)
            .order_by(FlavorCompound.key)
        )
        return list(rows)

    async def recipe_count(self, ingredient_id: int) -> int:
        return (
            await self.session.scalar(
                select(func.count())
                .select_from(RecipeIngredient)
                .where(RecipeIngredient.ingredient_id == ingredient_id)
            )
            or 0
        )

    async def list_ingredients(
        self, *, limit: int, offset: int, search: str | None = None, category: str | None = None
    ) -> tuple[list[Ingredient], int]:
        where = [Ingredient.tenant_id == self.tenant_id]
        if search:
            where.append(Ingredient.key.contains(ingredient_key(search), autoescape=True))
        if category:
            where.append(Ingredient.category == category)
        total = await self.session.scalar(select(func.count()).select_from(Ingredient).where(*where)) or 0
        rows = await self.session.scalars(
            select(Ingredient).where(*where).order_by(Ingredient.key).limit(limit).offset(offset)
        )
        return list(rows), total

    # recipes -------------------------------------------------------------------------------

    async def upsert_recipes(self, recipes: Sequence[RecipeIn]) -> WriteResult:
        """Create or replace recipes by id (generated when absent); all or nothing."""
        keys = _keys_of([n for r in recipes for n in r.ingredients], "ingredients")
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
        await commit_or_conflict(self.session, "the recipes were changed concurrently; retry the batch")
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
        total = await self.session.scalar(select(func.count()).select_from(Recipe).where(*where)) or 0
        rows = await self.session.scalars(
            select(Recipe).where(*where).order_by(Recipe.id).limit(limit).offset(offset)
        )
        return list(rows), total

    async def delete_recipe(self, external_id: str) -> None:
        row = await self.get_recipe(external_id)
        await self.session.execute(delete(Recipe).where(Recipe.id == row.id))
        await self.session.commit()

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

    # avoidances ----------------------------------------------------------------------------

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
        await commit_or_conflict(self.session, "the user's lists were changed concurrently; retry")
