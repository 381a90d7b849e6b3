"""Score blending: per-user z-normalisation, and blend weights chosen on held-out next items.

Components score on unrelated scales (logits, co-occurrence sums, cosine similarities), so each
user's scores from each component are standardised over the catalogue before they are mixed.

Choosing weights means ranking the held-out item under many weightings. Rather than re-ranking the
whole catalogue each time, every user keeps a *candidate pool*: the union of each component's
top-``k`` items. An item outside every pool cannot reach the top 10 of a blend with non-negative
weights in practice, and within the pool the held-out item's rank is exact for any single
component, so a weighting is evaluated in milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

_PAD = np.float32(-1e4)
_MISS = 10**9


def z_stats(raw: NDArray[np.float32]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Row means and standard deviations of ``(n, n_items)`` scores (std 0 becomes 1)."""
    mean = raw.mean(axis=1, keepdims=True, dtype=np.float32)
    std = raw.std(axis=1, keepdims=True, dtype=np.float32)
    return mean, np.where(std > 0, std, np.float32(1.0)).astype(np.float32)


def z_normalize(raw: NDArray[np.float32]) -> NDArray[np.float32]:
    mean, std = z_stats(raw)
    return np.asarray((raw - mean) / std, dtype=np.float32)


@dataclass(frozen=True)
class CandidatePool:
    names: tuple[str, ...]
    z: NDArray[np.float32]
    """``(users, k, components)`` standardised scores of each user's candidates."""
    target: NDArray[np.int64]
    """Position of the held-out item among the user's candidates, -1 if it is not one."""

    def ranks(self, weights: Sequence[float]) -> NDArray[np.int64]:
        """Rank of each held-out item under the blend ``sum_c weights[c] * z[..., c]``."""
        scores = self.z @ np.asarray(weights, dtype=np.float32)
        rows = np.arange(len(scores))
        hit = self.target >= 0
        at = scores[rows, np.maximum(self.target, 0)][:, None]
        higher = (scores > at).sum(axis=1)
        ties = (scores == at).sum(axis=1) - 1
        return np.where(hit, higher + ties // 2, _MISS).astype(np.int64)


def build_pool(z: Mapping[str, NDArray[np.float32]], targets: NDArray[np.int64], k: int) -> CandidatePool:
    """Pool from standardised ``(users, n_items)`` scores with the users' histories already at -inf."""
    names = tuple(z)
    users = len(targets)
    k = min(k, next(iter(z.values())).shape[1])
    merged = np.sort(np.concatenate([np.argpartition(-z[n], k - 1, axis=1)[:, :k] for n in names], axis=1))
    # An item several components proposed appears once; its other slots become padding.
    repeat = np.zeros(merged.shape, dtype=bool)
    repeat[:, 1:] = merged[:, 1:] == merged[:, :-1]
    pool = np.empty((users, merged.shape[1], len(names)), dtype=np.float32)
    for c, name in enumerate(names):
        # Masked (history) items can be candidates only in tiny catalogues; keep them finite so that
        # a zero weight cannot turn them into NaN.
        pool[:, :, c] = np.maximum(np.take_along_axis(z[name], merged, axis=1), _PAD)
    pool[repeat] = _PAD
    is_target = (merged == np.asarray(targets)[:, None]) & ~repeat
    target_pos = np.where(is_target.any(axis=1), is_target.argmax(axis=1), -1).astype(np.int64)
    return CandidatePool(names, pool, target_pos)


def merge_pools(pools: Sequence[CandidatePool]) -> CandidatePool:
    width = max(p.z.shape[1] for p in pools)
    padded = [np.pad(p.z, ((0, 0), (0, width - p.z.shape[1]), (0, 0)), constant_values=_PAD) for p in pools]
    return CandidatePool(pools[0].names, np.concatenate(padded), np.concatenate([p.target for p in pools]))


def ndcg(ranks: NDArray[np.int64], k: int = 10) -> float:
    return float(np.mean(np.where(ranks < k, 1.0 / np.log2(np.minimum(ranks, k) + 2.0), 0.0)))


def search_weights(
    pool: CandidatePool, grid: Sequence[float], *, rounds: int = 4, k: int = 10
) -> tuple[dict[str, float], float]:
    """Coordinate ascent on NDCG@k over ``grid`` values per component, from the best single one.

    Returns the weights and their NDCG@k; a component keeps weight 0 unless it improves the blend.
    """
    n = len(pool.names)
    singles = [ndcg(pool.ranks(np.eye(n)[c]), k) for c in range(n)]
    weights = np.eye(n)[int(np.argmax(singles))]
    best = max(singles)
    for _ in range(rounds):
        changed = False
        for c in range(n):
            for value in grid:
                if value == weights[c]:
                    continue
                trial = weights.copy()
                trial[c] = value
                if not trial.any():
                    continue
                score = ndcg(pool.ranks(trial), k)
                if score > best + 1e-9:
                    best, weights, changed = score, trial, True
        if not changed:
            break
    top = float(weights.max())
    return {name: float(w / top) for name, w in zip(pool.names, weights, strict=True)}, best
