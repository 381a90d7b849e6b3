"""Turning each component's raw scores into distributions over the ingredients not yet present.

This is the one scoring path: the API's single queries and the evaluation's batches both go
through :func:`component_distributions`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from persona_api.pairing.completion import FEW_QUERIES, CompletionEnsemble, completion_probabilities
from persona_api.pairing.data import recipe_matrix
from persona_api.pairing.neighbours import SOFT_KERNEL, RecipeNeighbours, extra_votes

ALL_COMPONENTS = ("knn", "knn_soft", "mlp", "ease", "popularity", "flavor", "flavor_dist")


@dataclass(frozen=True)
class Components:
    """Everything needed to score queries (views of a fitted model's parts)."""

    neighbours: RecipeNeighbours
    ease: NDArray[np.float32]
    ease_temperature: float
    net: CompletionEnsemble | None
    flavor: NDArray[np.float32]
    popularity: NDArray[np.float64]
    """Recipe count of each ingredient of the recipe vocabulary (``active``)."""
    active: NDArray[np.int64]
    """The ingredients that occur in some recipe. The recipe parts (neighbours, EASE, network,
    popularity) are indexed over these alone; the flavor part covers the whole vocabulary."""
    position: NDArray[np.int64]
    """Index of each ingredient in ``active``, -1 for one that occurs in no recipe."""


def to_active(sets: Sequence[NDArray[np.int64]], position: NDArray[np.int64]) -> list[NDArray[np.int64]]:
    """Ingredient sets re-indexed over the recipe vocabulary, dropping ingredients outside it."""
    out = []
    for s in sets:
        mapped = position[np.asarray(s, dtype=np.int64)]
        out.append(mapped[mapped >= 0])
    return out


def normalise(scores: NDArray[np.float64], present: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Rows of non-negative scores as distributions over the absent ingredients (0 where present).

    A row without any mass becomes uniform over the absent ingredients.
    """
    out = np.where(present, 0.0, np.maximum(scores, 0.0))
    total = out.sum(axis=1, keepdims=True)
    absent = (~present).sum(axis=1, keepdims=True)
    uniform = np.where(present, 0.0, 1.0 / np.maximum(absent, 1))
    result: NDArray[np.float64] = np.where(total > 0, out / np.where(total > 0, total, 1.0), uniform)
    return result


def softmax_absent(logits: NDArray[np.float64], present: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Softmax over the absent ingredients of each row."""
    z = np.where(present, -np.inf, logits)
    top = np.max(z, axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.exp(z - top)
    total = e.sum(axis=1, keepdims=True)
    result: NDArray[np.float64] = e / np.where(total > 0, total, 1.0)
    return result


def summed_rows(matrix: NDArray[np.float32], sets: Sequence[NDArray[np.int64]]) -> NDArray[np.float64]:
    """For each set, the sum of ``matrix``'s rows it names (``len(sets) x matrix.shape[1]``).

    A few sets are summed directly; many go through one sparse product, which reads only the rows
    of the ingredients present (never an m x m copy per query)."""
    if len(sets) <= FEW_QUERIES:
        out = np.zeros((len(sets), matrix.shape[1]), dtype=np.float64)
        for row, s in enumerate(sets):
            out[row] = matrix[np.unique(s)].sum(axis=0, dtype=np.float64)
        return out
    return np.asarray(recipe_matrix(sets, matrix.shape[0]) @ matrix, dtype=np.float64)


def component_distributions(
    parts: Components,
    sets: Sequence[NDArray[np.int64]],
    cuisine_codes: NDArray[np.int64],
    extra_recipes: Sequence[NDArray[np.int64]],
    extra_weight: float,
    needed: Collection[str] | None = None,
) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.bool_]]:
    """Per-component distributions (``queries x ingredients``) and the present-ingredient mask.

    ``flavor`` holds the raw flavor scores (the flavor mode ranks by them) and ``flavor_dist``
    their normalised form (used in the blend). A query without any neighbour falls back to the EASE
    distribution for the ``knn`` part, so that part never becomes uninformative. ``needed``
    limits the work to some components (default: all).
    """
    want = set(ALL_COMPONENTS if needed is None else needed)
    m = len(parts.position)
    present = np.zeros((len(sets), m), dtype=bool)
    for row, s in enumerate(sets):
        present[row, s] = True
    recipe_parts = _recipe_distributions(
        parts,
        to_active(sets, parts.position),
        present[:, parts.active],
        cuisine_codes,
        to_active(extra_recipes, parts.position),
        extra_weight,
        want,
    )
    out: dict[str, NDArray[np.float64]] = {}
    for name, compact in recipe_parts.items():
        # Ingredients outside the recipe vocabulary get no probability from the recipe parts.
        full = np.zeros(present.shape, dtype=np.float64)
        full[:, parts.active] = compact
        out[name] = full
    if want & {"flavor", "flavor_dist"}:
        raw = summed_rows(parts.flavor, sets)
        out["flavor"] = raw
        out["flavor_dist"] = normalise(raw, present)
    return out, present


def _recipe_distributions(
    parts: Components,
    sets: Sequence[NDArray[np.int64]],
    present: NDArray[np.bool_],
    cuisine_codes: NDArray[np.int64],
    extra_recipes: Sequence[NDArray[np.int64]],
    extra_weight: float,
    want: set[str],
) -> dict[str, NDArray[np.float64]]:
    """The recipe parts over the recipe vocabulary (``sets`` and ``present`` are indexed so)."""
    out: dict[str, NDArray[np.float64]] = {}
    if want & {"ease", "knn", "knn_soft"}:
        ease_scores = summed_rows(parts.ease, sets)
        out["ease"] = softmax_absent(parts.ease_temperature * ease_scores, present)
    kernels = [k for k in ("knn", "knn_soft") if k in want]
    if kernels:
        configs = [parts.neighbours.config if k == "knn" else SOFT_KERNEL for k in kernels]
        all_votes = parts.neighbours.votes_sets(sets, cuisine_codes, configs)
        for name, votes in zip(kernels, all_votes, strict=True):
            if name == "knn" and extra_recipes and extra_weight > 0:
                queries = recipe_matrix(sets, len(parts.active))
                votes += extra_weight * extra_votes(queries, cuisine_codes, extra_recipes, parts.neighbours)
            votes = np.where(present, 0.0, votes)
            has_mass = votes.sum(axis=1, keepdims=True) > 0
            # A query without any neighbour falls back to EASE, so the part never goes flat.
            out[name] = np.where(has_mass, normalise(votes, present), out["ease"])
    if "mlp" in want and parts.net is not None:
        out["mlp"] = completion_probabilities(parts.net, sets, cuisine_codes)
    if "popularity" in want:
        out["popularity"] = normalise(np.broadcast_to(parts.popularity, present.shape), present)
    return out
