"""A small synthetic catalog with a known sequential structure, and helpers to load and train it.

Three themes of eight items each. Every user walks one theme in order (item 0, 1, 2, ...) from a
random start, so after a theme's item ``i`` the right next item is ``i + 1`` of the same theme.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from persona_api.config import Settings
from persona_api.jobs.reindex import run_reindex
from persona_api.kernel.steps import StepRegistry
from persona_api.recsys.seqmodel import SeqConfig
from persona_api.recsys.step import SeqRecStep
from persona_api.store.step import TenantDirectoryStep

THEMES = {
    "tea": [
        "green tea",
        "black tea",
        "oolong tea",
        "teapot",
        "tea cups",
        "tea strainer",
        "matcha whisk",
        "honey",
    ],
    "camp": [
        "tent",
        "sleeping bag",
        "camping stove",
        "headlamp",
        "hiking boots",
        "water filter",
        "map",
        "compass",
    ],
    "paint": ["canvas", "oil paints", "brushes", "easel", "palette knife", "turpentine", "varnish", "frame"],
}
START = datetime(2026, 1, 1, tzinfo=UTC)


def item_id(theme: str, i: int) -> str:
    return f"{theme}-{i}"


def catalog() -> list[dict[str, Any]]:
    return [
        {"id": item_id(theme, i), "title": title.title(), "attributes": {"theme": theme, "step": i}}
        for theme, titles in THEMES.items()
        for i, title in enumerate(titles)
    ]


def walks(users: int = 45, seed: int = 7) -> list[dict[str, Any]]:
    """Interactions of ``users`` users named ``u0``..., each walking one theme in order."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    names = list(THEMES)
    for u in range(users):
        theme = names[u % len(names)]
        start = rng.randrange(0, 3)
        length = rng.randrange(4, 8 - start + 1)
        for step in range(start, start + length):
            events.append(
                {
                    "user": f"u{u}",
                    "item": item_id(theme, step),
                    "type": "purchase" if step % 2 else "view",
                    "at": (START + timedelta(days=u, hours=step)).isoformat(),
                    "id": f"u{u}-{step}",
                }
            )
    return events


async def load(client: AsyncTestClient[Litestar], headers: dict[str, str]) -> None:
    response = await client.post("/v1/items", json=catalog(), headers=headers)
    assert response.status_code == 200, response.text
    response = await client.post("/v1/interactions", json=walks(), headers=headers)
    assert response.status_code == 200, response.text


def registry() -> StepRegistry:
    steps = StepRegistry()
    steps.register(TenantDirectoryStep())
    steps.register(SeqRecStep(SeqConfig.fast()))
    return steps


async def train(settings: Settings) -> str:
    return await run_reindex(settings, registry=registry())
