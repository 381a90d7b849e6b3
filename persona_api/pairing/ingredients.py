"""The ingredient shelf of a tenant's :class:`~persona_api.pairing.pantry.Pantry`: ingredients,
their flavor compounds, and the name lookup every other shelf resolves through.

A name is found by its :func:`ingredient_key`; unknown names are one 422 with "did you mean"
suggestions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.errors import FieldProblem, InvalidInput, NotFound
from persona_api.pairing.names import ingredient_key, suggestions
from persona_api.pairing.tables import FlavorCompound, Ingredient, IngredientCompound, RecipeIngredient
from persona_api.store.db import flush_or_conflict
from persona_api.store.pages import list_and_count
from persona_api.store.tables import utcnow

MAX_REPORTED = 50
"""Unknown names listed in one error (the count says how many more)."""


@dataclass(frozen=True, kw_only=True)
class IngredientIn:
    name: str
    category: str | None = None
    compounds: tuple[str, ...] | None = None
    """Replaces the ingredient's compounds when given."""


@dataclass(frozen=True)
class WriteResult:
    created: int
    updated: int
    unchanged: int
    ids: list[str] = field(default_factory=list)


def compound_key(name: str) -> str:
    return " ".join(name.strip().lower().split())


def keys_of(names: Sequence[str], field_name: str) -> list[str]:
    keys = [ingredient_key(n) for n in names]
    empty = [FieldProblem(f"{field_name}[{i}]", "an empty name") for i, k in enumerate(keys) if not k]
    if empty:
        raise InvalidInput("ingredient names need letters or digits", empty)
    return keys


class IngredientShelf:
    """A tenant's ingredients and compounds; the base of every shelf of the pantry."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

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
        keys = keys_of(names, field_name)
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
        keys = keys_of([it.name for it in items], "")
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
        await flush_or_conflict(self.session, "the ingredients were changed concurrently; retry the batch")
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
        order = [Ingredient.key.asc()]
        return await list_and_count(
            self.session, Ingredient, *where, order_by=order, limit=limit, offset=offset
        )
