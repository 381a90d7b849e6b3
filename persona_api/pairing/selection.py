"""Choosing, on validation, how the recipe mode combines its components and whether to blend in flavor.

Two candidates: the fixed-weight mixture (:mod:`.blending`) and the gated log-linear combiner
(:mod:`.combiner`). Both are fitted on the validation queries, so they are compared on 2-fold
cross-fitted figures; the winner is then refitted on all of them. The flavor weight of the blend
mode is chosen last, on top of the chosen recipe mode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from persona_api.pairing import blending, combiner
from persona_api.pairing.scoring import softmax_absent

RECIPE_COMPONENTS = ("knn", "knn_soft", "mlp", "ease", "popularity")
MIN_FOLD = 20
"""Smallest half of the validation queries worth cross-fitting on."""


@dataclass(frozen=True)
class Selection:
    weights: dict[str, float]
    """Mixture weights (used when ``combiner`` is None)."""
    combiner: dict[str, float] | None
    """Combiner weights, if the combiner won."""
    flavor_weight: float
    blend_wins: bool
    """Whether the blend (with ``flavor_weight > 0``) beat the pure recipe mode."""
    figures: dict[str, Any]
    """Validation figures of every candidate (JSON-serialisable)."""


def recipe_distribution(
    parts: Mapping[str, NDArray[np.float64]],
    present: NDArray[np.bool_],
    weights: Mapping[str, float],
    combiner_weights: Mapping[str, float] | None,
) -> NDArray[np.float64]:
    """The recipe-mode distribution: the combiner's softmax if there is one, else the mixture."""
    if combiner_weights is not None:
        return softmax_absent(combiner.combine(parts, combiner_weights), present)
    return blending.mixture(parts, weights)


def choose(
    parts: Mapping[str, NDArray[np.float64]],
    present: NDArray[np.bool_],
    targets: NDArray[np.int64],
    flavor_weights: Sequence[float],
) -> Selection:
    """Pick the recipe-mode combination and the blend's flavor weight; see the module docstring."""
    figures: dict[str, Any] = {}
    for name, dist in parts.items():
        figures[name] = blending.retrieval_metrics(blending.masked(dist, present), targets)
    names = [n for n in RECIPE_COMPONENTS if n in parts]
    weights, best, _ = blending.search_weights(parts, present, targets, names)
    figures["mixture"] = {"weights": weights, **best}
    features = combiner.feature_names(names)
    crossed: dict[str, list[float]] = {"mixture": [], "combiner": []}
    fold = np.arange(len(targets)) % 2 == 0
    if fold.sum() >= MIN_FOLD and (~fold).sum() >= MIN_FOLD:
        for train_half in (fold, ~fold):
            a = {k: v[train_half] for k, v in parts.items()}
            b = {k: v[~train_half] for k, v in parts.items()}
            mix_w, _, _ = blending.search_weights(a, present[train_half], targets[train_half], names)
            comb_w = combiner.fit_weights(a, present[train_half], targets[train_half], features)
            candidates = {"mixture": blending.mixture(b, mix_w), "combiner": combiner.combine(b, comb_w)}
            for key, scores in candidates.items():
                got = blending.retrieval_metrics(
                    blending.masked(scores, present[~train_half]), targets[~train_half]
                )
                crossed[key].append(blending.objective(got))
                figures.setdefault(f"{key}_crossfit", []).append(got)
    chosen: dict[str, float] | None = None
    if crossed["combiner"] and np.mean(crossed["combiner"]) > np.mean(crossed["mixture"]):
        chosen = combiner.fit_weights(parts, present, targets, features)
    recipe = recipe_distribution(parts, present, weights, chosen)
    figures["recipe"] = {
        "method": "combiner" if chosen else "mixture",
        "combiner": chosen,
        **blending.retrieval_metrics(blending.masked(recipe, present), targets),
    }
    blends = []
    for fw in flavor_weights:
        mixed = (1.0 - fw) * recipe + fw * parts["flavor_dist"]
        blends.append((fw, blending.retrieval_metrics(blending.masked(mixed, present), targets)))
    flavor_weight, blend_figures = max(blends, key=lambda b: blending.objective(b[1]))
    figures["blend"] = {"flavor_weight": flavor_weight, **blend_figures}
    wins = (
        flavor_weight > 0 and blending.objective(blend_figures) > blending.objective(figures["recipe"]) + 1e-9
    )
    return Selection(weights, chosen, flavor_weight, wins, figures)
