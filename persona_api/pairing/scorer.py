"""A fitted pairing model's parts, and how they score: additions to partial recipes in every mode,
and the compatibility of pairs.

:class:`~persona_api.pairing.model.PairingModel` adds fitting and storage; serving and the
evaluation score through the methods here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from persona_api.pairing import blending, selection
from persona_api.pairing.completion import CompletionEnsemble
from persona_api.pairing.neighbours import RecipeNeighbours
from persona_api.pairing.options import PairingConfig
from persona_api.pairing.scoring import Components, component_distributions

Mode = Literal["recipe", "flavor", "blend"]


def positions(active: NDArray[np.int64], m: int) -> NDArray[np.int64]:
    """Index of each of ``m`` ingredients within ``active``, -1 for the others."""
    out = np.full(m, -1, dtype=np.int64)
    out[active] = np.arange(len(active))
    return out


class PairingScorer:
    """Scores ingredients as additions to a partial recipe; see the module docstring."""

    def __init__(
        self,
        *,
        ingredients: list[str],
        categories: list[str],
        cuisines: list[str],
        active: NDArray[np.int64],
        neighbours: RecipeNeighbours,
        ease: NDArray[np.float32],
        net: CompletionEnsemble | None,
        flavor: NDArray[np.float32],
        cooccurrence: NDArray[np.int32],
        shared_compounds: NDArray[np.int32],
        compat: NDArray[np.float32],
        weights: dict[str, float],
        combiner: dict[str, float] | None,
        flavor_weight: float,
        default_mode: Mode,
        config: PairingConfig,
        report: dict[str, Any],
    ) -> None:
        self.ingredients = ingredients
        self.categories = categories
        self.cuisines = cuisines
        self.active = np.asarray(active, dtype=np.int64)
        self.position = positions(self.active, len(ingredients))
        self.neighbours = neighbours
        self.ease = ease
        self.net = net
        self.flavor = flavor
        self.cooccurrence = cooccurrence
        self.shared_compounds = shared_compounds
        self.popularity: NDArray[np.int32] = np.diag(cooccurrence).astype(np.int32)
        self.compat = compat
        self.weights = weights
        self.combiner = combiner
        self.flavor_weight = flavor_weight
        self.default_mode: Mode = default_mode
        self.config = config
        self.report = report
        self._cuisine_index = {name: i for i, name in enumerate(cuisines)}

    @property
    def n_ingredients(self) -> int:
        """Size of the ingredient vocabulary."""
        return len(self.ingredients)

    def cuisine_codes(self, cuisines: Sequence[str | None]) -> NDArray[np.int64]:
        """Index of each cuisine label, ``-1`` for ``None`` or an unknown label."""
        return np.array([self._cuisine_index.get(c, -1) if c else -1 for c in cuisines], dtype=np.int64)

    @property
    def components(self) -> Components:
        """The fitted parts, as the scoring functions take them."""
        return Components(
            neighbours=self.neighbours,
            ease=self.ease,
            ease_temperature=self.config.ease_temperature,
            net=self.net,
            flavor=self.flavor,
            popularity=self.popularity[self.active].astype(np.float64),
            active=self.active,
            position=self.position,
        )

    # ----------------------------------------------------------------------------------- scoring
    def score_modes(
        self,
        sets: Sequence[NDArray[np.int64]],
        cuisines: Sequence[str | None],
        modes: Sequence[str],
        *,
        extra_recipes: Sequence[NDArray[np.int64]] = (),
        extra_weight: float = 1.0,
    ) -> dict[str, NDArray[np.float32]]:
        """Scores of many partial recipes under several modes at once (each ``len(sets) x m``).

        Besides ``recipe``, ``flavor`` and ``blend``, any component name (``knn``, ``mlp``,
        ``ease``, ``popularity``) may be asked for. Present ingredients score -inf.
        """
        needed: set[str] = set()
        for mode in modes:
            if mode == "flavor":
                needed.add("flavor")
            elif mode in ("recipe", "blend"):
                needed.update(self.combiner or self.weights)
                if mode == "blend" and self.flavor_weight > 0:
                    needed.add("flavor_dist")
            else:
                needed.add(mode)
        # The combiner's gated features are named "knn*confidence" etc.: they need their base part.
        needed = {name.split("*")[0] for name in needed}
        parts, present = component_distributions(
            self.components,
            [np.unique(np.asarray(s, dtype=np.int64)) for s in sets],
            self.cuisine_codes(cuisines),
            extra_recipes,
            extra_weight,
            needed,
        )
        out: dict[str, NDArray[np.float32]] = {}
        for mode in modes:
            if mode == "flavor":
                combined = parts["flavor"]
            elif mode in ("recipe", "blend"):
                combined = selection.recipe_distribution(parts, present, self.weights, self.combiner)
                if mode == "blend" and self.flavor_weight > 0:
                    fw = self.flavor_weight
                    combined = (1.0 - fw) * combined + fw * parts["flavor_dist"]
            else:
                combined = parts[mode]
            out[mode] = blending.masked(combined, present).astype(np.float32)
        return out

    def score_batch(
        self,
        sets: Sequence[NDArray[np.int64]],
        cuisines: Sequence[str | None],
        *,
        mode: Mode = "blend",
        extra_recipes: Sequence[NDArray[np.int64]] = (),
        extra_weight: float = 1.0,
    ) -> NDArray[np.float32]:
        """:meth:`scores` for many partial recipes at once (``len(sets) x n_ingredients``)."""
        return self.score_modes(
            sets, cuisines, [mode], extra_recipes=extra_recipes, extra_weight=extra_weight
        )[mode]

    def scores(
        self,
        present: Sequence[int],
        *,
        mode: Mode = "blend",
        cuisine: str | None = None,
        extra_recipes: Sequence[NDArray[np.int64]] = (),
        extra_weight: float = 1.0,
    ) -> NDArray[np.float32]:
        """Score of every ingredient as an addition to ``present`` (higher = better; present: -inf).

        ``extra_recipes`` (e.g. the user's own recipes) join the neighbour index for this query
        with weight ``extra_weight``. ``mode="blend"`` equals ``"recipe"`` when validation gave the
        flavor part no weight.
        """
        query = np.asarray(list(present), dtype=np.int64)
        batch = self.score_batch(
            [query], [cuisine], mode=mode, extra_recipes=extra_recipes, extra_weight=extra_weight
        )
        row: NDArray[np.float32] = batch[0]
        return row

    def compatibility(self, a: NDArray[np.int64], b: NDArray[np.int64]) -> NDArray[np.float32]:
        """Shrunk PMI of each pair ``(a[k], b[k])``: > 0 often together, < 0 rarely together."""
        return self.compat[np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)].astype(np.float32)
