"""A log-linear combination of the component distributions, gated by the neighbours' confidence.

The plain mixture cannot express "trust the neighbours when one candidate dominates their votes,
the network otherwise" except through fixed weights. Here the ranking score is
``sum_c w_c log(p_c + eps_c)`` plus the neighbour and network terms multiplied by the neighbours'
top probability, with the few weights fitted by softmax cross-entropy on validation queries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from numpy.typing import NDArray

# Floors inside the logs: the neighbour distribution is often exactly 0 for plausible ingredients,
# so it gets a large floor; the smooth components only need to avoid log(0).
EPSILON = {"knn": 1e-3, "knn_soft": 1e-4, "mlp": 1e-6, "ease": 1e-6, "popularity": 1e-6}
GATED = ("knn", "mlp")


def feature_names(available: Sequence[str]) -> list[str]:
    """Names of the features built from the available components, in order."""
    names = [c for c in EPSILON if c in available]
    names += [f"{c}*confidence" for c in GATED if c in available]
    return names


def features(components: Mapping[str, NDArray[np.float64]], names: Sequence[str]) -> NDArray[np.float32]:
    """``queries x ingredients x features`` inputs of the combiner."""
    confidence = components["knn"].max(axis=1, keepdims=True)
    columns = []
    for name in names:
        base = name.split("*")[0]
        column = np.log(components[base] + EPSILON[base])
        columns.append(column * confidence if name.endswith("*confidence") else column)
    return np.stack(columns, axis=-1).astype(np.float32)


def combine(
    components: Mapping[str, NDArray[np.float64]], weights: Mapping[str, float]
) -> NDArray[np.float64]:
    """The combiner's logits (present ingredients are not masked here)."""
    names = list(weights)
    x = features(components, names).astype(np.float64)
    logits: NDArray[np.float64] = x @ np.array([weights[n] for n in names], dtype=np.float64)
    return logits


def fit_weights(
    components: Mapping[str, NDArray[np.float64]],
    present: NDArray[np.bool_],
    targets: NDArray[np.int64],
    names: Sequence[str],
) -> dict[str, float]:
    """Weights minimising the softmax cross-entropy of the held-out ingredients (L-BFGS)."""
    x = torch.from_numpy(features(components, names))
    mask = torch.from_numpy(present)
    y = torch.from_numpy(targets)
    start = [1.0 if n in ("knn", "mlp") else 0.0 for n in names]
    w = torch.tensor(start, dtype=torch.float32, requires_grad=True)
    optimiser = torch.optim.LBFGS([w], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        logits = (x @ w).masked_fill(mask, -1e9)
        loss = torch.nn.functional.cross_entropy(logits, y) + 1e-4 * (w * w).sum()
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves backward unannotated
        return loss

    optimiser.step(closure)  # type: ignore[no-untyped-call]
    return {n: float(v) for n, v in zip(names, w.detach().numpy(), strict=True)}
