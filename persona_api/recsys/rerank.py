"""Re-ranking recommendations by how much the user likes each item (``rerank=preferences``).

The recommender proposes a pool (``POOL_FACTOR`` times the wanted number, at most ``MAX_POOL``).
Each item gets ``(1 - PREFERENCE_WEIGHT) * r + PREFERENCE_WEIGHT * p``, where ``r`` is its position
in the recommender's order scaled to 1 (first) .. 0 (last) and ``p`` is the user's utility of the
item's catalog embedding, as a :class:`Liking` scores it (the preference latent's utility, plus the
objective utility when a direction is set), min-max scaled to 1 (best) .. 0 (worst); the best ``k``
are returned with that mixed score. With no spread in utility (the bootstrap prior) the
recommender's order stands.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.kernel.embed import from_bytes
from persona_api.recsys.service import Pick, Result
from persona_api.recsys.tables import CatalogItem
from persona_api.store.tables import User

POOL_FACTOR = 3
MAX_POOL = 300
PREFERENCE_WEIGHT = 0.5


class Liking(Protocol):
    """How much a user likes items, given their embeddings and external ids (the preference
    latents' service, passed in by the HTTP layer)."""

    async def item_utilities(
        self, user: User, embeddings: NDArray[np.float32], item_ids: Sequence[str]
    ) -> NDArray[np.float64]: ...


def pool_size(k: int) -> int:
    """How many recommendations to ask for before re-ranking ``k``."""
    return min(max(k * POOL_FACTOR, k), MAX_POOL)


async def rerank(session: AsyncSession, liking: Liking, user: User, result: Result, k: int) -> Result:
    """``result``'s items re-ordered by the mix above, cut to ``k``."""
    if len(result.items) < 2:
        return Result(items=result.items[:k], strategy=result.strategy, model_version=result.model_version)
    ids = [p.item.id for p in result.items]
    found = await session.execute(
        select(CatalogItem.id, CatalogItem.embedding, CatalogItem.external_id).where(
            CatalogItem.id.in_(ids), CatalogItem.tenant_id == user.tenant_id
        )
    )
    # A Result has .keys() (its columns), so dict() would read it as a mapping: iterate it instead.
    rows = {int(pk): (blob, external) for pk, blob, external in found.tuples()}
    present = [p for p in result.items if p.item.id in rows]
    embeddings = np.stack([from_bytes(rows[p.item.id][0]) for p in present])
    utility = await liking.item_utilities(user, embeddings, [rows[p.item.id][1] for p in present])
    n = len(present)
    position = 1.0 - np.arange(n, dtype=np.float64) / max(n - 1, 1)
    spread = float(utility.max() - utility.min())
    liking_scaled = (utility - utility.min()) / spread if spread > 1e-12 else np.zeros(n)
    mixed = (1.0 - PREFERENCE_WEIGHT) * position + PREFERENCE_WEIGHT * liking_scaled
    order = np.argsort(-mixed, kind="stable")[:k]
    items = [
        Pick(
            item=present[i].item, score=float(mixed[i]), reason=present[i].reason, because=present[i].because
        )
        for i in order
    ]
    return Result(items=items, strategy=result.strategy, model_version=result.model_version)
