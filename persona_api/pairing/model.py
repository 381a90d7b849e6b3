"""The pairing model the API serves: recipe completion, flavor neighbours and pair compatibility.

``fit`` holds out one ingredient from a small share of recipes (the same protocol as the offline
evaluation), trains every component on the rest, and picks the mixture weights on those held-out
ingredients. The non-parametric parts are then rebuilt on all recipes; the network keeps the
weights it learnt without the held-out ingredients, which are too few to be worth a second run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
import torch
from numpy.typing import NDArray

from persona_api.pairing import selection
from persona_api.pairing.compat import cooccurrence_counts, shrunk_pmi
from persona_api.pairing.completion import CompletionEnsemble, build_ensemble
from persona_api.pairing.completion_training import train_completion
from persona_api.pairing.data import PairingData, hold_out, recipe_matrix
from persona_api.pairing.flavor import flavor_similarity, shared_compound_counts
from persona_api.pairing.neighbours import RecipeNeighbours, ease_weights
from persona_api.pairing.options import PairingConfig
from persona_api.pairing.scorer import Mode, PairingScorer, positions
from persona_api.pairing.scoring import component_distributions

DEFAULT_WEIGHTS = {"knn": 0.5, "mlp": 0.3, "ease": 0.2, "popularity": 0.0}


class PairingModel(PairingScorer):
    """A :class:`PairingScorer` fitted on a tenant's recipes, and saved to and loaded from a folder;
    see the module docstring."""

    # ----------------------------------------------------------------------------------- fitting
    @classmethod
    def fit(
        cls,
        data: PairingData,
        *,
        seed: int = 0,
        validation_fraction: float = 0.05,
        progress: Callable[[str], None] | None = None,
        config: PairingConfig | None = None,
    ) -> PairingModel:
        """Train every component and choose the mixture on a held-out validation split.

        One ingredient is removed from ``validation_fraction`` of the recipes (if there are at least
        ``config.min_validation_recipes``); components are trained without those, the candidates
        are compared on retrieving them, and ``report`` records every figure and what won.
        """
        config = config or PairingConfig()
        say = progress or (lambda _message: None)
        started = time.perf_counter()
        m = data.n_ingredients
        cuisines = sorted({c for c in data.cuisines if c})
        index = {c: i for i, c in enumerate(cuisines)}
        codes = np.array([index[c] if c else -1 for c in data.cuisines], dtype=np.int64)
        full = recipe_matrix(data.recipes, m)
        cooccurrence = cooccurrence_counts(full)
        shared = shared_compound_counts(data.compounds) if m else np.zeros((0, 0), np.int32)
        flavor = flavor_similarity(shared)
        compat = shrunk_pmi(cooccurrence, len(data.recipes), config.pmi_pseudo_count)
        # The recipe parts only know ingredients that occur in recipes: a tenant's vocabulary may be
        # mostly ingredients known for their compounds alone (the demo: 381 of 1,530), and every
        # query would otherwise read their rows of EASE and the network's output layer.
        active = np.flatnonzero(np.diag(cooccurrence) > 0).astype(np.int64)
        position = positions(active, m)
        m_recipe = len(active)

        validate = validation_fraction > 0 and len(data.recipes) >= config.min_validation_recipes
        split = hold_out(data.recipes, validation_fraction, seed) if validate else None
        train_recipes = [position[r] for r in (split.recipes if split is not None else data.recipes)]
        usable = sum(len(r) >= 2 for r in train_recipes)
        net: CompletionEnsemble | None = None
        if usable >= config.min_completion_recipes:
            say(f"training completion network on {usable} recipes")
            net = train_completion(
                train_recipes, codes, m_recipe, len(cuisines), config.completion, seed=seed, progress=progress
            )
        report: dict[str, Any] = {
            "recipes": len(data.recipes),
            "ingredients": m,
            "recipe_ingredients": m_recipe,
            "validation_queries": 0 if split is None else len(split.rows),
            "completion_network": net is not None,
            "config": config.to_json(),
        }
        weights = dict(DEFAULT_WEIGHTS) if net is not None else {"knn": 0.6, "ease": 0.4}
        combiner_weights: dict[str, float] | None = None
        flavor_weight = 0.0
        default_mode: Mode = "recipe"
        train_matrix = recipe_matrix(train_recipes, m_recipe)
        neighbours = RecipeNeighbours.fit(train_matrix, codes, config.neighbours)
        ease = ease_weights(train_matrix, config.ease_l2)
        probe = cls(
            ingredients=list(data.ingredients),
            categories=list(data.categories),
            cuisines=cuisines,
            active=active,
            neighbours=neighbours,
            ease=ease,
            net=net,
            flavor=flavor,
            cooccurrence=cooccurrence,
            shared_compounds=shared,
            compat=compat,
            weights=weights,
            combiner=None,
            flavor_weight=0.0,
            default_mode="recipe",
            config=config,
            report=report,
        )
        if split is not None and len(split.rows):
            say(f"validating on {len(split.rows)} held-out ingredients")
            weights, combiner_weights, flavor_weight, default_mode = probe._validate(
                split.recipes, split.rows, split.targets, codes
            )
        if split is not None:
            # The index and EASE are cheap to rebuild, and should know every ingredient of every recipe.
            every = recipe_matrix([position[r] for r in data.recipes], m_recipe)
            neighbours = RecipeNeighbours.fit(every, codes, config.neighbours)
            ease = ease_weights(every, config.ease_l2)
        report["weights"] = weights
        report["combiner"] = combiner_weights
        report["flavor_weight"] = flavor_weight
        report["default_mode"] = default_mode
        report["train_seconds"] = round(time.perf_counter() - started, 2)
        say(f"pairing model fitted in {report['train_seconds']} s, default mode {default_mode}")
        probe.neighbours, probe.ease = neighbours, ease
        probe.weights, probe.combiner = weights, combiner_weights
        probe.flavor_weight, probe.default_mode = flavor_weight, default_mode
        return probe

    def _validate(
        self,
        recipes: Sequence[NDArray[np.int64]],
        rows: NDArray[np.int64],
        targets: NDArray[np.int64],
        codes: NDArray[np.int64],
    ) -> tuple[dict[str, float], dict[str, float] | None, float, Mode]:
        sets = [recipes[i] for i in rows]
        parts, present = component_distributions(self.components, sets, codes[rows], [], 0.0)
        chosen = selection.choose(parts, present, targets, self.config.flavor_weights)
        self.report["validation"] = chosen.figures
        mode: Mode = "blend" if chosen.blend_wins else "recipe"
        return chosen.weights, chosen.combiner, chosen.flavor_weight, mode

    # ----------------------------------------------------------------------------------- storage
    def save(self, folder: Path) -> None:
        """Write ``arrays.npz``, ``completion.pt`` (if any) and ``model.json`` into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        index = self.neighbours.matrix
        np.savez(
            folder / "arrays.npz",
            index_indptr=index.indptr.astype(np.int64),
            index_indices=index.indices.astype(np.int64),
            index_cuisines=self.neighbours.cuisine_codes,
            active=self.active,
            idf=self.neighbours.idf,
            ease=self.ease,
            flavor=self.flavor,
            cooccurrence=self.cooccurrence,
            shared_compounds=self.shared_compounds,
            compat=self.compat,
        )
        if self.net is not None:
            torch.save(self.net.state_dict(), folder / "completion.pt")
        meta = {
            "ingredients": self.ingredients,
            "categories": self.categories,
            "cuisines": self.cuisines,
            "weights": self.weights,
            "combiner": self.combiner,
            "flavor_weight": self.flavor_weight,
            "default_mode": self.default_mode,
            "config": self.config.to_json(),
            "report": self.report,
        }
        (folder / "model.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> PairingModel:
        """Read a model written by :meth:`save`."""
        meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        config = PairingConfig.from_json(meta["config"])
        m = len(meta["ingredients"])
        with np.load(folder / "arrays.npz", allow_pickle=False) as arrays:
            a = {key: arrays[key] for key in arrays.files}
        active = a.get("active", np.arange(m, dtype=np.int64))
        indices = a["index_indices"]
        matrix = sp.csr_matrix(
            (np.ones(len(indices), np.float32), indices, a["index_indptr"]),
            shape=(len(a["index_indptr"]) - 1, len(active)),
        )
        neighbours = RecipeNeighbours(matrix, a["index_cuisines"], a["idf"], config.neighbours)
        net: CompletionEnsemble | None = None
        if (folder / "completion.pt").exists():
            net = build_ensemble(len(active), len(meta["cuisines"]), config.completion)
            net.load_state_dict(torch.load(folder / "completion.pt", weights_only=True))
            net.eval()
        return cls(
            ingredients=list(meta["ingredients"]),
            categories=list(meta["categories"]),
            cuisines=list(meta["cuisines"]),
            active=active,
            neighbours=neighbours,
            ease=a["ease"],
            net=net,
            flavor=a["flavor"],
            cooccurrence=a["cooccurrence"],
            shared_compounds=a["shared_compounds"],
            compat=a["compat"],
            weights={k: float(v) for k, v in meta["weights"].items()},
            combiner=None if meta["combiner"] is None else {k: float(v) for k, v in meta["combiner"].items()},
            flavor_weight=float(meta["flavor_weight"]),
            default_mode=meta["default_mode"],
            config=config,
            report=meta["report"],
        )
