"""The re-index step of ingredient pairing: per tenant, database -> :class:`PairingData` -> model.

Every ingredient of the tenant is in the vocabulary, also those in no recipe yet: the flavor mode
can still suggest them from their compounds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from persona_api.kernel.steps import PerTenantStep, StepContext, TenantOutcome
from persona_api.pairing.bundle import DIRECTORY, STEP, TenantPairing
from persona_api.pairing.data import PairingData
from persona_api.pairing.model import PairingModel
from persona_api.pairing.tables import Ingredient, IngredientCompound, Recipe, RecipeIngredient

log = logging.getLogger("persona_api.pairing")

MIN_RECIPES = 5
MIN_INGREDIENTS = 3


async def read_tenant(engine: AsyncEngine, tenant_id: str) -> tuple[PairingData, np.ndarray]:
    """The tenant's recipes and compounds as model data, and the ingredient row id per index."""
    async with engine.connect() as conn:
        ingredients = (
            await conn.execute(
                select(Ingredient.id, Ingredient.name, Ingredient.category)
                .where(Ingredient.tenant_id == tenant_id)
                .order_by(Ingredient.id)
            )
        ).all()
        index_of = {pk: i for i, (pk, _, _) in enumerate(ingredients)}
        recipes = (
            await conn.execute(
                select(Recipe.id, Recipe.cuisine).where(Recipe.tenant_id == tenant_id).order_by(Recipe.id)
            )
        ).all()
        members: dict[int, list[int]] = defaultdict(list)
        stream = await conn.stream(
            select(RecipeIngredient.recipe_id, RecipeIngredient.ingredient_id)
            .join(Recipe, Recipe.id == RecipeIngredient.recipe_id)
            .where(Recipe.tenant_id == tenant_id)
        )
        async for recipe_id, ingredient_id in stream:
            members[recipe_id].append(index_of[ingredient_id])
        compounds: dict[int, list[int]] = defaultdict(list)
        edges = await conn.stream(
            select(IngredientCompound.ingredient_id, IngredientCompound.compound_id)
            .join(Ingredient, Ingredient.id == IngredientCompound.ingredient_id)
            .where(Ingredient.tenant_id == tenant_id)
        )
        dense: dict[int, int] = {}
        async for ingredient_id, compound_id in edges:
            compounds[index_of[ingredient_id]].append(dense.setdefault(compound_id, len(dense)))
    kept = [(pk, cuisine) for pk, cuisine in recipes if members.get(pk)]
    data = PairingData(
        ingredients=[name for _, name, _ in ingredients],
        categories=[category for _, _, category in ingredients],
        recipes=[np.array(sorted(set(members[pk])), dtype=np.int64) for pk, _ in kept],
        cuisines=[cuisine for _, cuisine in kept],
        compounds=[np.array(sorted(compounds.get(i, [])), dtype=np.int64) for i in range(len(ingredients))],
    )
    return data, np.array([pk for pk, _, _ in ingredients], dtype=np.int64)


def train_tenant(data: PairingData, ingredient_pks: np.ndarray) -> TenantPairing | str:
    """The tenant's trained bundle, or why it cannot be trained yet."""
    if len(data.recipes) < MIN_RECIPES or data.n_ingredients < MIN_INGREDIENTS:
        return f"needs at least {MIN_RECIPES} recipes over {MIN_INGREDIENTS} ingredients"
    started = time.perf_counter()
    model = PairingModel.fit(
        data, progress=lambda message: log.info("pairing.progress", extra={"detail": message})
    )
    meta = {
        "ingredients": data.n_ingredients,
        "recipes": len(data.recipes),
        "train_seconds": round(time.perf_counter() - started, 2),
        "default_mode": model.default_mode,
        "report": model.report,
    }
    return TenantPairing(model=model, ingredient_pks=ingredient_pks.astype(np.int64), meta=meta)


class PairingStep(PerTenantStep):
    """Trains every tenant's pairing model into ``<version>/pairing/<tenant>/``."""

    name = STEP
    DIRECTORY = DIRECTORY
    ROWS = ("ingredients", "recipes")

    async def run_tenant(self, ctx: StepContext, tenant_id: str, folder: Path) -> TenantOutcome:
        data, pks = await read_tenant(ctx.engine, tenant_id)
        rows = {"ingredients": data.n_ingredients, "recipes": len(data.recipes)}
        if not data.recipes:
            return TenantOutcome(rows=rows)
        bundle = await asyncio.to_thread(train_tenant, data, pks)
        if isinstance(bundle, str):
            return TenantOutcome(rows=rows, skipped=bundle)
        await asyncio.to_thread(bundle.save, folder)
        log.info(
            "pairing.trained",
            extra={
                "tenant_id": tenant_id,
                "recipes": len(data.recipes),
                "train_seconds": bundle.meta["train_seconds"],
            },
        )
        return TenantOutcome(rows=rows, trained=True)
