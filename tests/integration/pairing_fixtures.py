"""A small synthetic cookbook whose right answers are known.

Three cuisines, each with six ingredients that are only ever cooked with each other: every recipe
is its cuisine's six minus one. So the missing ingredient of four is one of the other two of that
cuisine, and two ingredients of different cuisines are never together. Each cuisine's ingredients
share flavor compounds; ``strawberry`` is in no recipe but shares compounds with the baking set,
so only the flavor mode can suggest it.
"""

from __future__ import annotations

import random
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from persona_api.config import Settings
from persona_api.jobs.reindex import run_reindex
from persona_api.kernel.steps import StepRegistry
from persona_api.pairing.step import PairingStep
from persona_api.store.step import TenantDirectoryStep

CUISINES = {
    "Italian": ["tomato", "basil", "garlic", "olive oil", "mozzarella", "oregano"],
    "Baking": ["flour", "butter", "sugar", "egg", "vanilla", "milk"],
    "Japanese": ["soy sauce", "rice", "ginger", "scallion", "sesame oil", "nori"],
}
CATEGORY = {"Italian": "vegetable", "Baking": "bakery", "Japanese": "asian"}


def ingredients() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for cuisine, names in CUISINES.items():
        for name in names:
            shared = [f"{cuisine.lower()} note {k}" for k in range(4)]
            out.append(
                {"name": name, "category": CATEGORY[cuisine], "compounds": [*shared, f"{name} own compound"]}
            )
    out.append(
        {
            "name": "strawberry",
            "category": "fruit",
            "compounds": [f"baking note {k}" for k in range(4)] + ["furaneol"],
        }
    )
    return out


def recipes(per_cuisine: int = 40, seed: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for cuisine, names in CUISINES.items():
        for n in range(per_cuisine):
            left_out = rng.randrange(len(names))
            chosen = [x for i, x in enumerate(names) if i != left_out]
            out.append({"id": f"{cuisine.lower()}-{n}", "ingredients": chosen, "cuisine": cuisine})
    return out


async def load(client: AsyncTestClient[Litestar], headers: dict[str, str]) -> None:
    response = await client.post("/v1/ingredients", json=ingredients(), headers=headers)
    assert response.status_code == 200, response.text
    response = await client.post("/v1/recipes", json=recipes(), headers=headers)
    assert response.status_code == 200, response.text


def registry() -> StepRegistry:
    steps = StepRegistry()
    steps.register(TenantDirectoryStep())
    steps.register(PairingStep())
    return steps


async def train(settings: Settings) -> str:
    return await run_reindex(settings, registry=registry())
