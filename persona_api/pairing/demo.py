"""``persona-api demo load-recipes DIR``: the Ahn et al. flavor-network files into one tenant.

Reads ``ingr_info.tsv`` (ingredients and categories), ``comp_info.tsv`` and ``ingr_comp.tsv``
(flavor compounds per ingredient) and ``recipes_by_region_s3equiv.csv`` (recipes with their
region as cuisine), and writes them through the same :class:`Pantry` the API uses, in batches,
each its own transaction. Recipe ids are ``ahn-<line>``, so loading twice changes nothing.
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from persona_api.config import Settings
from persona_api.pairing.ingredients import IngredientIn
from persona_api.pairing.pantry import Pantry
from persona_api.pairing.recipes import RecipeIn
from persona_api.store.db import create_engine, session_factory
from persona_api.store.tenants import TenantService

FILES = ("ingr_info.tsv", "comp_info.tsv", "ingr_comp.tsv", "recipes_by_region_s3equiv.csv")
BATCH = 1000


@dataclass(frozen=True)
class DemoData:
    ingredients: list[IngredientIn]
    recipes: list[RecipeIn]


def _rows(path: Path, delimiter: str) -> Iterator[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter=delimiter):
            if row and row[0].strip() and not row[0].startswith("#"):
                yield [c.strip() for c in row]


def read_demo(folder: Path) -> DemoData:
    """Parse the four files; a missing file is a ``FileNotFoundError`` naming it."""
    for name in FILES:
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name} not found (expected the files {', '.join(FILES)})")
    compound_name = {row[0]: row[1] for row in _rows(folder / "comp_info.tsv", "\t")}
    compounds: dict[str, list[str]] = defaultdict(list)
    for ingredient_id, compound_id in (r[:2] for r in _rows(folder / "ingr_comp.tsv", "\t")):
        compounds[ingredient_id].append(compound_name[compound_id])
    ingredients = [
        IngredientIn(name=row[1], category=row[2] if len(row) > 2 else "", compounds=tuple(compounds[row[0]]))
        for row in _rows(folder / "ingr_info.tsv", "\t")
    ]
    recipes = [
        RecipeIn(external_id=f"ahn-{n:06d}", ingredients=tuple(row[1:]), cuisine=row[0] or None)
        for n, row in enumerate(_rows(folder / "recipes_by_region_s3equiv.csv", ","), 1)
        if len(row) > 1
    ]
    return DemoData(ingredients=ingredients, recipes=recipes)


async def load_demo(
    engine: AsyncEngine, tenant_id: str, data: DemoData, progress: Callable[[int], object]
) -> tuple[int, int]:
    """Write ingredients, then recipes, a transaction per batch; ``progress(n)`` after each batch of
    ``n`` records."""
    sessions = session_factory(engine)
    for start in range(0, len(data.ingredients), BATCH):
        async with sessions.begin() as session:
            chunk = data.ingredients[start : start + BATCH]
            await Pantry(session, tenant_id).upsert_ingredients(chunk)
        progress(len(chunk))
    for start in range(0, len(data.recipes), BATCH):
        async with sessions.begin() as session:
            recipes = data.recipes[start : start + BATCH]
            await Pantry(session, tenant_id).upsert_recipes(recipes)
        progress(len(recipes))
    return len(data.ingredients), len(data.recipes)


@dataclass(frozen=True)
class LoadSummary:
    tenant_id: str
    api_key: str | None
    """Issued only when the command created the tenant."""
    ingredients: int
    recipes: int


async def run_load_recipes(settings: Settings, folder: Path, tenant_id: str | None) -> LoadSummary:
    """Load the files into ``tenant_id``, or into a new tenant (with a new API key) when None."""
    from tqdm import tqdm

    data = read_demo(folder)
    engine = create_engine(settings, pooled=False)
    try:
        api_key = None
        async with session_factory(engine)() as session:
            tenants = TenantService(session)
            if tenant_id is None:
                tenant_id = (await tenants.create_tenant("flavor network demo")).id
                api_key = (await tenants.issue_key(tenant_id, "demo")).secret
            else:
                await tenants.get_tenant(tenant_id)
            await session.commit()
        total = len(data.ingredients) + len(data.recipes)
        with tqdm(total=total, unit="record", desc="load-recipes", file=sys.stderr) as bar:
            ingredients, recipes = await load_demo(engine, tenant_id, data, bar.update)
    finally:
        await engine.dispose()
    return LoadSummary(tenant_id=tenant_id, api_key=api_key, ingredients=ingredients, recipes=recipes)
