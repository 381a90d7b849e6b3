"""The re-index step of the recommender: per tenant, database -> sequences -> trained bundle.

For each tenant: the catalog with its title embeddings, every user's positive sequence (the same
:func:`history_of` that serving uses), reviews; the last item of each long-enough sequence is held
out for model selection, then :meth:`SeqRecommender.train` picks the blend on it and retrains on
everything. User codes come from each user's history titles and reviews.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from persona_api.config import parse_interaction_weights
from persona_api.kernel.embed import DIM, from_bytes
from persona_api.kernel.scrub import ErasedUsers, FileReplacer
from persona_api.kernel.steps import PerTenantStep, StepContext, TenantOutcome
from persona_api.recsys.bundle import DIRECTORY, STEP, TenantModel, build_ann, scrub_users
from persona_api.recsys.seqmodel import SeqConfig, SeqRecommender, SeqTrainingData
from persona_api.recsys.signals import Event, History, history_of
from persona_api.recsys.tables import CatalogItem, Interaction, Review
from persona_api.store.tables import User

log = logging.getLogger("persona_api.recsys")

POPULARITY_HALF_LIFE_DAYS = 30.0
MIN_VALIDATION_USERS = 20
"""Below this many held-out items, selection would be noise: train on everything with defaults."""


@dataclass
class TenantData:
    """What one tenant's training reads from the database."""

    item_pks: NDArray[np.int64]
    item_external: list[str]
    item_text: NDArray[np.float32]
    user_pks: list[int] = field(default_factory=list)
    user_external: list[str] = field(default_factory=list)
    histories: list[History] = field(default_factory=list)
    last_event: list[datetime] = field(default_factory=list)
    reviews: dict[int, NDArray[np.float32]] = field(default_factory=dict)
    events: int = 0


async def read_tenant(engine: AsyncEngine, tenant_id: str, weights: dict[str, float]) -> TenantData:
    async with engine.connect() as conn:
        items = (
            await conn.execute(
                select(CatalogItem.id, CatalogItem.external_id, CatalogItem.embedding)
                .where(CatalogItem.tenant_id == tenant_id)
                .order_by(CatalogItem.id)
            )
        ).all()
        data = TenantData(
            item_pks=np.array([r[0] for r in items], dtype=np.int64),
            item_external=[r[1] for r in items],
            item_text=np.stack([from_bytes(r[2]) for r in items])
            if items
            else np.zeros((0, DIM), np.float32),
        )
        index_of = {int(pk): i for i, pk in enumerate(data.item_pks)}
        names = dict(
            (await conn.execute(select(User.id, User.external_id).where(User.tenant_id == tenant_id)))
            .tuples()
            .all()
        )
        result = await conn.stream(
            select(
                Interaction.user_id,
                Interaction.item_id,
                Interaction.kind,
                Interaction.value,
                Interaction.weight,
                Interaction.at,
            )
            .where(Interaction.tenant_id == tenant_id)
            .order_by(Interaction.user_id, Interaction.at, Interaction.id)
        )
        per_user: dict[int, list[Event]] = defaultdict(list)
        async for user, item, kind, value, weight, at in result:
            per_user[user].append(Event(item=index_of[item], kind=kind, value=value, weight=weight, at=at))
            data.events += 1
        review_rows = await conn.execute(
            select(Review.user_id, Review.embedding).where(Review.tenant_id == tenant_id)
        )
        by_user: dict[int, list[NDArray[np.float32]]] = defaultdict(list)
        for user, blob in review_rows.tuples():
            by_user[user].append(from_bytes(blob))
    data.reviews = {u: np.stack(v) for u, v in by_user.items()}
    for user in sorted(per_user.keys() | data.reviews.keys()):
        events = per_user.get(user, [])
        data.user_pks.append(user)
        data.user_external.append(names[user])
        data.histories.append(history_of(events, weights))
        data.last_event.append(events[-1].at if events else datetime.min)
    return data


def recency_popularity(data: TenantData, n_items: int) -> NDArray[np.float32]:
    """Confidence-weighted counts, halved every ``POPULARITY_HALF_LIFE_DAYS`` before the newest event."""
    newest = max((t for t in data.last_event if t != datetime.min), default=None)
    pop = np.zeros(n_items, dtype=np.float64)
    for hist, last in zip(data.histories, data.last_event, strict=True):
        if not hist.items or newest is None:
            continue
        age_days = max(0.0, (newest - last).total_seconds() / 86400)
        decay = math.pow(0.5, age_days / POPULARITY_HALF_LIFE_DAYS)
        for item, w in zip(hist.items, hist.weights, strict=True):
            pop[item] += w * decay
    top = pop.max() if len(pop) else 0.0
    return (pop / top if top > 0 else pop).astype(np.float32)


def train_tenant(data: TenantData, config: SeqConfig) -> TenantModel | str:
    """The tenant's bundle, or why it cannot be trained yet."""
    n_items = len(data.item_pks)
    usable = [(pk, h) for pk, h in zip(data.user_pks, data.histories, strict=True) if len(h.items) >= 2]
    if n_items < 2 or not usable:
        return "needs at least 2 items and one user with 2 positive interactions"
    started = time.perf_counter()
    sequences: list[NDArray[np.int64]] = []
    weights: list[NDArray[np.float32]] = []
    validation: list[int] = []
    for _, h in usable:
        held = len(h.items) >= 3
        sequences.append(np.array(h.items[:-1] if held else h.items, dtype=np.int64))
        weights.append(np.array(h.weights[:-1] if held else h.weights, dtype=np.float32))
        validation.append(h.items[-1] if held else -1)
    select_on = validation if sum(v >= 0 for v in validation) >= MIN_VALIDATION_USERS else None
    if select_on is None:
        sequences = [np.array(h.items, dtype=np.int64) for _, h in usable]
        weights = [np.array(h.weights, dtype=np.float32) for _, h in usable]
    reviews = np.zeros((len(usable), data.item_text.shape[1]), dtype=np.float32)
    for row, (pk, _) in enumerate(usable):
        if pk in data.reviews:
            reviews[row] = data.reviews[pk].mean(axis=0)
    model = SeqRecommender.train(
        SeqTrainingData(
            n_items=n_items, item_text=data.item_text, sequences=sequences, weights=weights, user_text=reviews
        ),
        config=config,
        validation=select_on,
        progress=lambda message: log.info("seqrec.progress", extra={"detail": message}),
    )
    meta: dict[str, Any] = {
        "items": n_items,
        "users": len(data.user_pks),
        "events": data.events,
        "train_seconds": round(time.perf_counter() - started, 2),
        "selected_on_validation": select_on is not None,
        "report": model.report,
    }
    return TenantModel(
        model=model,
        item_pks=data.item_pks,
        item_external=data.item_external,
        item_text=data.item_text,
        popularity=recency_popularity(data, n_items),
        user_pks=np.array(data.user_pks, dtype=np.int64),
        user_external=data.user_external,
        user_codes=_user_codes(data, model),
        ann=build_ann(model.item_vectors()),
        meta=meta,
    )


def _user_codes(data: TenantData, model: SeqRecommender) -> NDArray[np.int64]:
    """Every user's code under the model's quantizer (shape ``(users, 0)`` without one)."""
    codes = [
        model.user_code([i for i in h.items if i < model.n_items], data.reviews.get(pk))
        for pk, h in zip(data.user_pks, data.histories, strict=True)
    ]
    levels = max((len(c) for c in codes), default=0)
    return np.array(codes, dtype=np.int64).reshape(len(codes), levels)


class SeqRecStep(PerTenantStep):
    """Trains every tenant's recommender into ``<version>/seqrec/<tenant>/``."""

    name = STEP
    DIRECTORY = DIRECTORY
    ROWS = ("catalog_items", "interactions")

    def __init__(self, config: SeqConfig | None = None) -> None:
        self.config = config or SeqConfig()

    async def run_tenant(self, ctx: StepContext, tenant_id: str, folder: Path) -> TenantOutcome:
        weights = parse_interaction_weights(ctx.settings.interaction_weights)
        data = await read_tenant(ctx.engine, tenant_id, weights)
        rows = {"catalog_items": len(data.item_pks), "interactions": data.events}
        if data.events == 0:
            return TenantOutcome(rows=rows)
        bundle = await asyncio.to_thread(train_tenant, data, self.config)
        if isinstance(bundle, str):
            return TenantOutcome(rows=rows, skipped=bundle)
        await asyncio.to_thread(bundle.save, folder)
        log.info("seqrec.trained", extra={"tenant_id": tenant_id, **_flat(bundle.meta)})
        return TenantOutcome(rows=rows, trained=True)

    def scrub(self, folder: Path, erased: ErasedUsers, files: FileReplacer) -> None:
        """Drop the erased users from each tenant's user table (their codes and ids)."""
        for tenant_id, user_pks in erased.by_tenant.items():
            scrub_users(folder / tenant_id, user_pks, files)


def _flat(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if not isinstance(v, dict)}
