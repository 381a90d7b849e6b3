"""Re-ranking recommendations by a user's preference latent (``rerank=preferences``).

The recommender proposes a pool (``POOL_FACTOR`` times the wanted number, at most ``MAX_POOL``).
Each item gets ``(1 - PREFERENCE_WEIGHT) * r + PREFERENCE_WEIGHT * p``, where ``r`` is its position
in the recommender's order scaled to 1 (first) .. 0 (last) and ``p`` is the user's utility of the
item's catalog embedding (latent utility, plus the objective utility when a direction is set)
min-max scaled to 1 (best) .. 0 (worst); the best ``k`` are returned with that mixed score. With no
spread in utility (the bootstrap prior) the recommender's order stands.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from persona_api.kernel.embed import from_bytes
from persona_api.preferences.options import option_key
from persona_api.preferences.service import Preferences
from persona_api.recsys.service import Pick, Result
from persona_api.recsys.tables import CatalogItem
from persona_api.store.tables import User

POOL_FACTOR = 3
MAX_POOL = 300
PREFERENCE_WEIGHT = 0.5


def pool_size(k: int) -> int:
    """How many recommendations to ask for before re-ranking ``k``."""
    return min(max(k * POOL_FACTOR, k), MAX_POOL)


async def rerank(preferences: Preferences, user: User, result: Result, k: int) -> Result:
    """``result``'s items re-ordered by the mix above, cut to ``k``."""
    if len(result.items) < 2:
        return Result(items=result.items[:k], strategy=result.strategy, model_version=result.model_version)
    ids = [p.item.id for p in result.items]
    found = await preferences.session.execute(
        select(CatalogItem.id, CatalogItem.embedding, CatalogItem.external_id).where(
            CatalogItem.id.in_(ids), CatalogItem.tenant_id == preferences.tenant_id
        )
    )
    # A Result has .keys() (its columns), so dict() would read it as a mapping: iterate it instead.
    rows = {int(pk): (blob, external) for pk, blob, external in found.tuples()}
    present = [p for p in result.items if p.item.id in rows]
    embeddings = np.stack([from_bytes(rows[p.item.id][0]) for p in present])
    keys = [option_key("item", rows[p.item.id][1]) for p in present]
    utility = await preferences.utilities(user, embeddings, keys)
    n = len(present)
    position = 1.0 - np.arange(n, dtype=np.float64) / max(n - 1, 1)
    spread = float(utility.max() - utility.min())
    liking = (utility - utility.min()) / spread if spread > 1e-12 else np.zeros(n)
    mixed = (1.0 - PREFERENCE_WEIGHT) * position + PREFERENCE_WEIGHT * liking
    order = np.argsort(-mixed, kind="stable")[:k]
    items = [
        Pick(
            item=present[i].item, score=float(mixed[i]), reason=present[i].reason, because=present[i].because
        )
        for i in order
    ]
    return Result(items=items, strategy=result.strategy, model_version=result.model_version)
