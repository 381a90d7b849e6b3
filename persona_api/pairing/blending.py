"""Choosing how to mix the component distributions, on held-out validation recipes.

Every component yields, per query, a distribution over the ingredients not yet present. A mixture
of distributions is robust to components being confident on different queries (the neighbour
model is nearly certain when a near-duplicate recipe exists and flat otherwise), which a sum of raw
scores is not. Weights are chosen by grid search on the retrieval objective itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from persona_api.kernel.ranking import target_ranks


def retrieval_metrics(scores: NDArray[np.float64], targets: NDArray[np.int64]) -> dict[str, float]:
    """``{"map": mean reciprocal rank, "hr@20": hit rate}``; present ingredients must be -inf."""
    if not len(targets):
        return {"map": 0.0, "hr@20": 0.0}
    ranks = target_ranks(scores.astype(np.float32), targets)
    return {"map": float(np.mean(1.0 / (ranks + 1.0))), "hr@20": float(np.mean(ranks < 20))}


def objective(figures: Mapping[str, float]) -> float:
    """What validation maximises: both the ranking quality and the top-20 hit rate."""
    return figures["map"] + figures["hr@20"]


def mixture(
    components: Mapping[str, NDArray[np.float64]], weights: Mapping[str, float]
) -> NDArray[np.float64]:
    """``sum_c weights[c] * components[c]`` over the components with a positive weight."""
    out: NDArray[np.float64] | None = None
    for name, weight in weights.items():
        if weight <= 0 or name not in components:
            continue
        part = weight * components[name]
        out = part if out is None else out + part
    if out is None:
        first = next(iter(components.values()))
        return np.zeros_like(first)
    return out


def search_weights(
    components: Mapping[str, NDArray[np.float64]],
    present: NDArray[np.bool_],
    targets: NDArray[np.int64],
    names: Sequence[str],
    step: float = 0.1,
) -> tuple[dict[str, float], dict[str, float], list[dict[str, object]]]:
    """Best simplex weights over ``names`` on a grid; returns (weights, figures, all trials)."""
    ticks = round(1.0 / step)
    best: tuple[float, dict[str, float], dict[str, float]] | None = None
    trials: list[dict[str, object]] = []
    for combo in itertools.product(range(ticks + 1), repeat=len(names)):
        if sum(combo) != ticks:
            continue
        weights = {name: k / ticks for name, k in zip(names, combo, strict=True)}
        figures = retrieval_metrics(masked(mixture(components, weights), present), targets)
        trials.append({"weights": weights, **figures})
        if best is None or objective(figures) > best[0] + 1e-12:
            best = (objective(figures), weights, figures)
    assert best is not None
    return best[1], best[2], trials


def masked(scores: NDArray[np.float64], present: NDArray[np.bool_]) -> NDArray[np.float64]:
    """A copy with present ingredients at -inf."""
    out = scores.copy()
    out[present] = -np.inf
    return out
