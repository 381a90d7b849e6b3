"""Pair compatibility: how much more often two ingredients share a recipe than popularity predicts.

The score is a shrunk pointwise mutual information, ``log((c_ij + k) / (e_ij + k))`` with
``e_ij = n_i n_j / N`` the count expected if ingredients were combined at random. The pseudo-count
``k`` pulls pairs with little evidence towards 0, so a negative score means "seen together
clearly less than chance" rather than "both are rare".
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from numpy.typing import NDArray


def cooccurrence_counts(matrix: sp.csr_matrix) -> NDArray[np.int32]:
    """``m x m`` number of recipes containing both ingredients (diagonal: recipes per ingredient)."""
    binary = matrix.astype(np.float64)
    return np.asarray(np.rint((binary.T @ binary).toarray()), dtype=np.int32)


def shrunk_pmi(cooccurrence: NDArray[np.int32], n_recipes: int, pseudo_count: float) -> NDArray[np.float32]:
    """The compatibility matrix described in the module docstring (zero diagonal)."""
    counts = cooccurrence.astype(np.float64)
    popularity = np.diag(counts)
    expected = np.outer(popularity, popularity) / max(n_recipes, 1)
    pmi = np.log((counts + pseudo_count) / (expected + pseudo_count))
    np.fill_diagonal(pmi, 0.0)
    return pmi.astype(np.float32)
