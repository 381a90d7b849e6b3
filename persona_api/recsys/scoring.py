"""The array work behind :class:`~.service.Recommender`: a history's scores over the trained items
and those added since, an item's neighbours, the history items that explain a pick (and the reason
shown for it), and a window of ranks found without sorting the whole catalogue."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from persona_api.kernel.embed import from_bytes
from persona_api.recsys.bundle import TenantModel
from persona_api.recsys.tables import CatalogItem


def _ranks(scores: NDArray[np.float32], start: int, stop: int) -> NDArray[np.int64]:
    """Indices of the items ranked ``start .. stop - 1`` by score, best first, without sorting
    the whole catalogue (a partition finds the top ``stop``)."""
    top = np.argpartition(-scores, stop - 1)[:stop] if stop < len(scores) else np.arange(len(scores))
    top = top[np.argsort(-scores[top], kind="stable")]
    return top[start:stop].astype(np.int64)


def _score(
    model: TenantModel, history: list[int], new_pks: NDArray[np.int64], new_text: NDArray[np.float32]
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    scores = model.model.score(history)
    if len(new_pks):
        extra = model.model.score_new_items(history, new_text)
        return np.concatenate([model.item_pks, new_pks]), np.concatenate([scores, extra]).astype(np.float32)
    return model.item_pks, scores


def _similar(model: TenantModel, item: CatalogItem, n: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    index = model.index_of.get(item.id)
    if index is not None:
        # The ANN index over the model's item space (HNSW for large catalogs).
        sims, idx = model.ann.search(model.ann.reconstruct(index)[None, :], n)
        keep = idx[0] >= 0
        return model.item_pks[idx[0][keep]], sims[0][keep].astype(np.float32)
    # An item newer than the model: neighbours by title among the trained items.
    query = from_bytes(item.embedding)
    sims = model.item_text @ query
    top = np.argsort(-sims)[:n]
    return model.item_pks[top], sims[top].astype(np.float32)


def _because(
    model: TenantModel, history: list[int], pk: int, new_pks: NDArray[np.int64], new_text: NDArray[np.float32]
) -> list[str]:
    index = model.index_of.get(pk)
    if index is not None:
        drivers = model.model.explain(history, index, k=2)
    else:
        where = np.flatnonzero(new_pks == pk)
        if not len(where):
            return []
        sims = model.item_text[history] @ new_text[where[0]]
        drivers = [history[int(i)] for i in np.argsort(-sims)[:2]]
    return [model.item_external[i] for i in drivers]


def _reason(because: list[str]) -> str:
    return f"follows your interest in {', '.join(because)}" if because else "fits your recent history"
