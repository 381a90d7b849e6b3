"""Serving recommendations: a user's fresh history is encoded at request time by the served model.

The trained bundle knows the catalog as it was at training; items added since are scored from their
title embedding (``score_new_items``), so they are recommendable before anyone touches them. Every
candidate is re-read from the database before it is returned, so deleted items never appear and
titles are current. Without a trained model (a new tenant, a cold user) the answer is the
tenant's popular-and-recent items.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.errors import NotFound
from persona_api.kernel.embed import Embedder, from_bytes
from persona_api.recsys.bundle import RecModels, TenantModel
from persona_api.recsys.catalog import Catalog, ItemSummary, matches
from persona_api.recsys.events import user_events, user_events_by_external_id
from persona_api.recsys.scoring import _because, _ranks, _reason, _score, _similar
from persona_api.recsys.signals import History, history_of
from persona_api.recsys.tables import CatalogItem, Interaction, Review
from persona_api.store.tables import User

POPULAR_WINDOW = timedelta(days=90)
POPULAR_CACHE_SECONDS = 60.0
MAX_WINDOW = 4096
NEW_ITEMS_CACHE_SECONDS = 1.0
SEQUENCE_LENGTH = 50
"""Newest positive items fed to the sequential model."""


@dataclass(frozen=True)
class Query:
    k: int = 10
    exclude_seen: bool = True
    exclude: tuple[str, ...] = ()
    where: dict[str, str] = field(default_factory=dict)
    """Only items whose attributes have these values."""


@dataclass(frozen=True)
class Pick:
    item: ItemSummary
    score: float
    reason: str
    because: list[str]


@dataclass(frozen=True)
class Result:
    items: list[Pick]
    strategy: str
    """``sequential`` (the trained model over the history), ``popular`` (cold start), ``similar``."""
    model_version: str | None


@dataclass(frozen=True)
class UserCode:
    code: tuple[int, ...]
    model_version: str
    neighbours: list[str]


class RecsysRuntime:
    """Process-wide parts: the served models, interaction weights and a short popularity cache."""

    def __init__(
        self, *, models: Callable[[], RecModels | None], weights: dict[str, float], embedder: Embedder
    ) -> None:
        self.models = models
        self.weights = weights
        self.embedder = embedder
        self._popular: dict[str, tuple[float, list[tuple[int, float]]]] = {}
        self._new_items: dict[tuple[str, int], tuple[float, NDArray[np.int64], NDArray[np.float32]]] = {}

    def forget_tenant_cache(self, tenant_id: str) -> None:
        """Drop cached popularity (a deleted user's events may be in it)."""
        self._popular.pop(tenant_id, None)
        for key in [k for k in self._new_items if k[0] == tenant_id]:
            del self._new_items[key]

    def tenant_model(self, tenant_id: str) -> tuple[TenantModel | None, str | None]:
        served = self.models()
        if served is None:
            return None, None
        return served.get(tenant_id), served.version


class Recommender:
    def __init__(self, runtime: RecsysRuntime, session: AsyncSession, tenant_id: str) -> None:
        self.runtime = runtime
        self.session = session
        self.tenant_id = tenant_id
        self.catalog = Catalog(session, tenant_id, runtime.embedder)

    async def history(self, user: User) -> History:
        return history_of(await user_events(self.session, user.id), self.runtime.weights)

    async def for_user(self, external_id: str, query: Query) -> Result:
        """Next items for a user, from their history as it is right now (404 for unknown users)."""
        events = await user_events_by_external_id(self.session, self.tenant_id, external_id)
        if not events:
            exists = await self.session.scalar(
                select(User.id).where(User.tenant_id == self.tenant_id, User.external_id == external_id)
            )
            if exists is None:
                raise NotFound(f"user {external_id!r} not found")
        history = history_of(events, self.runtime.weights)
        banned = set(history.rejected)
        if query.exclude_seen:
            banned |= history.seen
        return await self._recommend(history.items, banned, query)

    async def for_session(self, items: Sequence[str], query: Query) -> Result:
        """Next items for an anonymous session of item ids (oldest first); its items are excluded."""
        pks = await self.catalog.resolve(list(items), "items")
        sequence = [pks[i] for i in items]
        return await self._recommend(sequence, set(sequence) if query.exclude_seen else set(), query)

    async def _recommend(self, sequence: list[int], banned: set[int], query: Query) -> Result:
        if query.exclude:
            banned |= {r.id for r in (await self.catalog.by_external_ids(query.exclude)).values()}
        model, version = self.runtime.tenant_model(self.tenant_id)
        known = [p for p in sequence if model is not None and p in model.index_of]
        if model is None or not known:
            return await self._popular(model, version, banned, query)
        assert model is not None
        history_idx = [model.index_of[p] for p in known][-SEQUENCE_LENGTH:]
        new_pks, new_text = await self._new_items(model)
        pks, scores = await asyncio.to_thread(_score, model, history_idx, new_pks, new_text)
        picks = await self._take(pks, scores, banned, query)
        out = [
            Pick(item=row, score=s, reason=_reason(names), because=names)
            for row, s in picks
            for names in [_because(model, history_idx, row.id, new_pks, new_text)]
        ]
        return Result(items=out, strategy="sequential", model_version=version)

    async def _new_items(self, model: TenantModel) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Items added after ``model`` was trained, with their title embeddings; cached for
        ``NEW_ITEMS_CACHE_SECONDS`` (so a new item reaches recommendations within that time)."""
        key = (self.tenant_id, model.max_item_pk)
        cached = self.runtime._new_items.get(key)
        if cached is not None and time.monotonic() - cached[0] < NEW_ITEMS_CACHE_SECONDS:
            return cached[1], cached[2]
        pks, text = await self._read_new_items(model)
        self.runtime._new_items[key] = (time.monotonic(), pks, text)
        return pks, text

    async def _read_new_items(self, model: TenantModel) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        rows = (
            await self.session.execute(
                select(CatalogItem.id, CatalogItem.embedding).where(
                    CatalogItem.tenant_id == self.tenant_id, CatalogItem.id > model.max_item_pk
                )
            )
        ).all()
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, model.item_text.shape[1]), dtype=np.float32)
        return np.array([r[0] for r in rows], dtype=np.int64), np.stack([from_bytes(r[1]) for r in rows])

    async def _take(
        self, pks: NDArray[np.int64], scores: NDArray[np.float32], banned: set[int], query: Query
    ) -> list[tuple[ItemSummary, float]]:
        """The best ``k`` candidates that still exist and pass the filters, best first."""
        scores = np.asarray(scores, dtype=np.float32).copy()
        if banned:
            scores[np.isin(pks, np.fromiter(banned, dtype=np.int64, count=len(banned)))] = -np.inf
        available = int(np.isfinite(scores).sum())
        picked: list[tuple[ItemSummary, float]] = []
        window = max(4 * query.k, 32)
        start = 0
        while start < available and len(picked) < query.k:
            stop = min(start + window, available)
            ranked = _ranks(scores, start, stop)
            rows = await self.catalog.summaries([int(pks[i]) for i in ranked])
            for i in ranked:
                row = rows.get(int(pks[i]))
                if row is not None and matches(row.attributes, query.where):
                    picked.append((row, float(scores[i])))
                    if len(picked) == query.k:
                        break
            start = stop
            window = min(window * 4, MAX_WINDOW)
        return picked

    async def _popular(
        self, model: TenantModel | None, version: str | None, banned: set[int], query: Query
    ) -> Result:
        if model is not None:
            pks, scores = model.item_pks, model.popularity
        else:
            counted = await self._popular_from_db()
            pks = np.array([p for p, _ in counted], dtype=np.int64)
            scores = np.array([s for _, s in counted], dtype=np.float32)
        picks = await self._take(pks, scores, banned, query)
        return Result(
            items=[Pick(item=row, score=s, reason="popular recently", because=[]) for row, s in picks],
            strategy="popular",
            model_version=version,
        )

    async def _popular_from_db(self) -> list[tuple[int, float]]:
        """Before any training: interaction counts over the ``POPULAR_WINDOW`` up to the tenant's
        newest event (not the wall clock, so a quiet catalog still has favourites), cached briefly."""
        cached = self.runtime._popular.get(self.tenant_id)
        if cached is not None and time.monotonic() - cached[0] < POPULAR_CACHE_SECONDS:
            return cached[1]
        mine = Interaction.tenant_id == self.tenant_id
        newest = await self.session.scalar(select(func.max(Interaction.at)).where(mine))
        counted: list[tuple[int, float]] = []
        if newest is not None:
            count = func.count(Interaction.id)
            rows = await self.session.execute(
                select(Interaction.item_id, count)
                .where(mine, Interaction.at >= newest - POPULAR_WINDOW, Interaction.kind != "dislike")
                .group_by(Interaction.item_id)
                .order_by(count.desc(), Interaction.item_id)
                .limit(MAX_WINDOW)
            )
            counted = [(int(i), float(c)) for i, c in rows.tuples()]
        top = counted[0][1] if counted else 1.0
        counted = [(i, c / top) for i, c in counted]
        self.runtime._popular[self.tenant_id] = (time.monotonic(), counted)
        return counted

    async def similar(self, external_id: str, k: int, where: dict[str, str]) -> Result:
        """Items like ``external_id``: the model's item space, or titles for items it has not seen."""
        item = await self.catalog.get(external_id)
        model, version = self.runtime.tenant_model(self.tenant_id)
        if model is None:
            raise NotFound("no recommender is trained for this tenant yet; run `persona-api reindex`")
        pks, scores = await asyncio.to_thread(_similar, model, item, k + 1 + 4 * k)
        picks = await self._take(pks, scores, {item.id}, Query(k=k, where=where))
        return Result(
            items=[
                Pick(item=r, score=s, reason=f"similar to {external_id}", because=[external_id])
                for r, s in picks
            ],
            strategy="similar",
            model_version=version,
        )

    async def user_code(self, user: User) -> UserCode:
        """The user's quantized code from their current history and reviews."""
        model, version = self.runtime.tenant_model(self.tenant_id)
        if model is None or model.model.quantizer is None or version is None:
            raise NotFound("user codes exist once a recommender is trained with enough users")
        history = await self.history(user)
        idx = [model.index_of[p] for p in history.items if p in model.index_of]
        blobs = (await self.session.scalars(select(Review.embedding).where(Review.user_id == user.id))).all()
        reviews = np.stack([from_bytes(b) for b in blobs]) if blobs else None
        if not idx and reviews is None:
            raise NotFound(f"user {user.external_id!r} has no history or reviews to derive a code from")
        code = tuple(model.model.user_code(idx, reviews))
        return UserCode(code=code, model_version=version, neighbours=await self._sharing(model, user, code))

    async def _sharing(self, model: TenantModel, user: User, code: tuple[int, ...]) -> list[str]:
        """Up to 10 other current users who had the same code at training time."""
        same = [
            int(pk)
            for pk, c in zip(model.user_pks, model.user_codes, strict=True)
            if tuple(int(x) for x in c) == code and int(pk) != user.id
        ][:50]
        if not same:
            return []
        alive = await self.session.scalars(
            select(User.external_id)
            .where(User.id.in_(same), User.tenant_id == self.tenant_id)
            .order_by(User.id)
        )
        return list(alive)[:10]
