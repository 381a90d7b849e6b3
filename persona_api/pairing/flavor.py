"""Flavor-compound pairing: ingredients that share aroma compounds with the ones present.

Two ingredients are similar in proportion to the compounds they share, normalised by the geometric
mean of their compound counts, so that ingredients with very long compound lists do not pair with
everything. A recipe's score for a candidate is the sum of its similarity to each present
ingredient. Ahn et al. (2011) show that Western recipes favour such pairs and East Asian ones avoid
them; in retrieval this mode is much weaker than the recipe-based one and is meant for novelty.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from numpy.typing import NDArray


def shared_compound_counts(compounds: Sequence[NDArray[np.int64]]) -> NDArray[np.int32]:
    """``m x m`` number of compounds each pair of ingredients shares (diagonal: own count)."""
    m = len(compounds)
    width = max((int(c.max()) + 1 for c in compounds if len(c)), default=0)
    lengths = np.fromiter((len(c) for c in compounds), dtype=np.int64, count=m)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    indices = np.concatenate(list(compounds)) if m else np.zeros(0, np.int64)
    incidence = sp.csr_matrix((np.ones(len(indices), np.float32), indices, indptr), shape=(m, width))
    return np.asarray((incidence @ incidence.T).toarray(), dtype=np.int32)


def flavor_similarity(shared: NDArray[np.int32]) -> NDArray[np.float32]:
    """``shared / sqrt(|Ci| |Cj|)`` with a zero diagonal (0 for ingredients without compounds)."""
    own = np.diag(shared).astype(np.float64)
    scale = np.sqrt(np.outer(own, own))
    similarity = np.divide(shared, scale, out=np.zeros(shared.shape, np.float64), where=scale > 0)
    np.fill_diagonal(similarity, 0.0)
    return similarity.astype(np.float32)
