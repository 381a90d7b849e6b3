"""Leave-one-out ranking metrics over the full catalogue.

Every function takes *ranks*: the 0-based position of the held-out item in a user's ranking, where
excluded items (the user's history) were scored ``-inf`` beforehand. Ties are broken halfway
between the optimistic and the pessimistic position, so a model that scores everything alike (say
a co-occurrence model that knows nothing about a user) gets no credit for the order of an array.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray


def mask_history(scores: NDArray[np.float32], histories: Sequence[Iterable[int]]) -> None:
    """Set ``scores[u, i] = -inf`` for every item ``i`` in row ``u``'s history, in place."""
    rows: list[int] = []
    cols: list[int] = []
    for row, history in enumerate(histories):
        items = list(history)
        rows.extend([row] * len(items))
        cols.extend(items)
    if rows:
        scores[np.asarray(rows), np.asarray(cols)] = -np.inf


def target_ranks(scores: NDArray[np.float32], targets: NDArray[np.int64]) -> NDArray[np.int64]:
    """0-based rank of ``targets[u]`` in row ``u`` of ``scores`` (shape ``(n_users, n_items)``)."""
    target_scores = scores[np.arange(len(targets)), targets][:, None]
    higher = (scores > target_scores).sum(axis=1)
    ties = (scores == target_scores).sum(axis=1) - 1
    ranks: NDArray[np.int64] = (higher + ties // 2).astype(np.int64)
    return ranks


def recall_at(ranks: NDArray[np.int64], k: int) -> float:
    """Share of users whose held-out item is in the top ``k`` (hit rate, with one relevant item)."""
    return float(np.mean(ranks < k)) if len(ranks) else 0.0


def ndcg_at(ranks: NDArray[np.int64], k: int) -> float:
    """Mean NDCG@k with one relevant item: ``1 / log2(rank + 2)`` if it is in the top ``k``."""
    if not len(ranks):
        return 0.0
    gains = np.where(ranks < k, 1.0 / np.log2(ranks.astype(np.float64) + 2.0), 0.0)
    return float(np.mean(gains))


def summarize(ranks: NDArray[np.int64], ks: Sequence[int] = (5, 10)) -> dict[str, float]:
    """``{"recall@k": ..., "ndcg@k": ...}`` for every ``k``."""
    out: dict[str, float] = {}
    for k in ks:
        out[f"recall@{k}"] = recall_at(ranks, k)
        out[f"ndcg@{k}"] = ndcg_at(ranks, k)
    return out
