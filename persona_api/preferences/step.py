"""The re-index step of preference latents: per tenant, all users' comparisons -> population model.

A tenant is trained once it has enough users with enough comparisons; until then the API serves
the bootstrap model. Users' latents are refitted against a new model when next read.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import aliased

from persona_api.kernel.embed import from_bytes
from persona_api.kernel.steps import PerTenantStep, StepContext, TenantOutcome
from persona_api.preferences.bundle import DIRECTORY, STEP
from persona_api.preferences.model import PreferenceModel
from persona_api.preferences.tables import PreferenceComparison, PreferenceOption
from persona_api.preferences.training import train_population
from persona_api.preferences.training_inputs import Comparisons, TrainConfig

log = logging.getLogger("persona_api.preferences")

MIN_USERS = 20
"""Users with at least ``MIN_USER_COMPARISONS`` comparisons a tenant needs to be trained."""
MIN_USER_COMPARISONS = 4


async def read_tenant(engine: AsyncEngine, tenant_id: str) -> Comparisons:
    """Every comparison of the tenant over the options they use (users numbered densely)."""
    chosen, rejected = aliased(PreferenceOption), aliased(PreferenceOption)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    PreferenceComparison.user_id,
                    PreferenceComparison.chosen_id,
                    PreferenceComparison.rejected_id,
                    PreferenceComparison.tie,
                    PreferenceComparison.strength,
                )
                .join(chosen, chosen.id == PreferenceComparison.chosen_id)
                .join(rejected, rejected.id == PreferenceComparison.rejected_id)
                .where(PreferenceComparison.tenant_id == tenant_id)
                .order_by(PreferenceComparison.id)
            )
        ).all()
        used = sorted({r[1] for r in rows} | {r[2] for r in rows})
        options: dict[int, tuple[str, bytes]] = {}
        for start in range(0, len(used), 1000):
            found = await conn.execute(
                select(PreferenceOption.id, PreferenceOption.key, PreferenceOption.embedding).where(
                    PreferenceOption.id.in_(used[start : start + 1000])
                )
            )
            options.update({pk: (key, blob) for pk, key, blob in found.tuples()})
    position = {pk: i for i, pk in enumerate(used)}
    users = {u: i for i, u in enumerate(sorted({r[0] for r in rows}))}
    dim = len(from_bytes(options[used[0]][1])) if used else 0
    return Comparisons(
        options=np.stack([from_bytes(options[pk][1]) for pk in used])
        if used
        else np.zeros((0, dim), np.float32),
        keys=[options[pk][0] for pk in used],
        user=np.array([users[r[0]] for r in rows], dtype=np.int64),
        chosen=np.array([position[r[1]] for r in rows], dtype=np.int64),
        rejected=np.array([position[r[2]] for r in rows], dtype=np.int64),
        target=np.array([0.5 if r[3] else 1.0 for r in rows], dtype=np.float64),
        weight=np.array([r[4] for r in rows], dtype=np.float64),
    )


def train_tenant(data: Comparisons, version: str, config: TrainConfig) -> PreferenceModel | str:
    """The tenant's population model, or why it cannot be trained yet."""
    per_user = np.bincount(data.user) if len(data.user) else np.zeros(0, np.int64)
    enough = int((per_user >= MIN_USER_COMPARISONS).sum())
    if enough < MIN_USERS:
        return f"needs at least {MIN_USERS} users with {MIN_USER_COMPARISONS}+ comparisons (has {enough})"
    return train_population(
        data,
        version,
        config,
        progress=lambda message: log.info("preferences.progress", extra={"detail": message}),
    )


class PreferenceStep(PerTenantStep):
    """Trains every tenant's population model into ``<version>/preferences/<tenant>/model/``."""

    name = STEP
    DIRECTORY = DIRECTORY
    ROWS = ("preference_comparisons",)

    def __init__(self, config: TrainConfig | None = None) -> None:
        self.config = config or TrainConfig()

    async def run_tenant(self, ctx: StepContext, tenant_id: str, folder: Path) -> TenantOutcome:
        data = await read_tenant(ctx.engine, tenant_id)
        rows = {"preference_comparisons": len(data.user)}
        if not len(data.user):
            return TenantOutcome(rows=rows)
        # The loader stamps the artifact version on the model (see bundle.load_preferences).
        model = await asyncio.to_thread(train_tenant, data, "unversioned", self.config)
        if isinstance(model, str):
            return TenantOutcome(rows=rows, skipped=model)
        await asyncio.to_thread(model.save, folder / "model")
        log.info("preferences.trained", extra={"tenant_id": tenant_id, "k": model.k, "users": data.n_users})
        return TenantOutcome(rows=rows, trained=True)
