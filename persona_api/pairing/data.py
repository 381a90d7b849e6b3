"""The recipe x ingredient data the pairing models train on, and a reader for the Ahn et al. files.

The flavor-network bundle (Ahn et al. 2011, Sci. Rep. 1:196) has recipes as
``region,ingredient,...`` lines and compounds as ``ingredient id -> compound id`` edges keyed by
the ids in ``ingr_info.tsv``. Only ingredients that occur in some recipe are kept, so an index
means the same thing in every matrix built from :class:`PairingData`.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from numpy.typing import NDArray

RECIPES_FILE = "recipes_by_region_s3equiv.csv"


@dataclass(frozen=True)
class PairingData:
    """Recipes over a fixed ingredient vocabulary (all indices refer to ``ingredients``)."""

    ingredients: list[str]
    """Canonical names; the index of a name is its ingredient index."""
    categories: list[str]
    """Category per ingredient, ``""`` if unknown."""
    recipes: list[NDArray[np.int64]]
    """Unique ingredient indices per recipe."""
    cuisines: list[str | None]
    """Cuisine (region) per recipe, ``None`` if unknown."""
    compounds: list[NDArray[np.int64]]
    """Flavor-compound indices per ingredient (empty when unknown)."""

    @property
    def n_ingredients(self) -> int:
        """Size of the ingredient vocabulary."""
        return len(self.ingredients)

    def subset(self, recipes: Sequence[NDArray[np.int64]], cuisines: Sequence[str | None]) -> PairingData:
        """The same vocabulary and compounds with other recipes (e.g. a training split)."""
        return PairingData(
            ingredients=self.ingredients,
            categories=self.categories,
            recipes=list(recipes),
            cuisines=list(cuisines),
            compounds=self.compounds,
        )


def recipe_matrix(recipes: Sequence[NDArray[np.int64]], n_ingredients: int) -> sp.csr_matrix:
    """Binary ``recipes x ingredients`` CSR matrix (float32)."""
    lengths = np.fromiter((len(r) for r in recipes), dtype=np.int64, count=len(recipes))
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    indices = np.concatenate(list(recipes)) if len(recipes) else np.zeros(0, np.int64)
    data = np.ones(len(indices), dtype=np.float32)
    matrix = sp.csr_matrix((data, indices, indptr), shape=(len(recipes), n_ingredients))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def _read_tsv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8") as handle:
        return [row for row in csv.reader(handle, delimiter="\t") if row and not row[0].startswith("#")]


def read_flavor_network(folder: Path) -> PairingData:
    """Read ``recipes_by_region_s3equiv.csv``, ``ingr_info.tsv`` and ``ingr_comp.tsv`` from ``folder``.

    Ingredients are ordered by name; compounds are renumbered densely over the ones that the kept
    ingredients carry. Names stay as given (snake_case).
    """
    rows: list[list[str]] = []
    with (folder / RECIPES_FILE).open(encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            rows.append(line.rstrip("\n").split(","))
    names = sorted({name for row in rows for name in row[1:] if name})
    index = {name: i for i, name in enumerate(names)}
    recipes = [np.unique(np.array([index[x] for x in row[1:] if x], dtype=np.int64)) for row in rows]
    cuisines: list[str | None] = [row[0] or None for row in rows]

    categories = [""] * len(names)
    file_ids: dict[str, int] = {}
    for row in _read_tsv(folder / "ingr_info.tsv"):
        if len(row) >= 2 and row[1] in index:
            file_ids[row[0]] = index[row[1]]
            categories[index[row[1]]] = row[2] if len(row) > 2 else ""
    per_ingredient: list[set[int]] = [set() for _ in names]
    compound_ids: dict[str, int] = {}
    comp_path = folder / "ingr_comp.tsv"
    if comp_path.exists():
        for row in _read_tsv(comp_path):
            if len(row) >= 2 and row[0] in file_ids:
                compound = compound_ids.setdefault(row[1], len(compound_ids))
                per_ingredient[file_ids[row[0]]].add(compound)
    compounds = [np.array(sorted(c), dtype=np.int64) for c in per_ingredient]
    return PairingData(
        ingredients=names, categories=categories, recipes=recipes, cuisines=cuisines, compounds=compounds
    )


@dataclass(frozen=True)
class Holdout:
    """Recipes with one ingredient removed from some of them (the retrieval protocol)."""

    recipes: list[NDArray[np.int64]]
    """All recipes, the chosen ones without their held-out ingredient."""
    rows: NDArray[np.int64]
    """Indices of the shortened recipes."""
    targets: NDArray[np.int64]
    """The removed ingredient of each shortened recipe."""


def hold_out(recipes: Sequence[NDArray[np.int64]], fraction: float, seed: int) -> Holdout:
    """Remove one random ingredient from a random ``fraction`` of all recipes.

    Only recipes with at least two ingredients are eligible; the number chosen is
    ``int(fraction * len(recipes))`` (capped by the eligible count). The shortened recipes stay in
    ``recipes``, so a model trained on them still sees the rest of every recipe.
    """
    rng = np.random.default_rng(seed)
    eligible = np.flatnonzero(np.fromiter((len(r) >= 2 for r in recipes), dtype=bool, count=len(recipes)))
    size = min(int(fraction * len(recipes)), len(eligible))
    rows = np.sort(rng.choice(eligible, size=size, replace=False)).astype(np.int64)
    targets = np.array([rng.choice(recipes[i]) for i in rows], dtype=np.int64)
    shortened = list(recipes)
    for row, target in zip(rows, targets, strict=True):
        shortened[row] = recipes[row][recipes[row] != target]
    return Holdout(recipes=shortened, rows=rows, targets=targets)
