"""Recipe-to-recipe nearest neighbours with a sharp kernel, and an EASE item-item model.

A partial recipe is scored against every training recipe by the idf-weighted share of its
ingredients that the training recipe contains. The kernel is deliberately sharp (a high power of
that share, times a penalty for every ingredient the neighbour has beyond the query): many recipes
are near-duplicates of others, so a training recipe that contains the whole query and only one
more ingredient is very strong evidence for that ingredient. Recipes of the same cuisine count
more. The ingredient scores are the kernel-weighted votes of the neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from numpy.typing import NDArray

from persona_api.pairing.data import recipe_matrix

# Packing two sums into one sparse product: every query value is ``idf + unit``, so the integer
# part of ``overlap / unit`` is the shared-ingredient count and the rest the idf mass. The unit is a
# power of two above any query's idf mass, which keeps the split exact.
_MIN_COUNT_UNIT = 1024.0


@dataclass(frozen=True, kw_only=True)
class NeighbourConfig:
    """Shape of the neighbour kernel (see the module docstring)."""

    power: float = 8.0
    """Exponent on the idf-weighted share of the query found in a neighbour."""
    extra_penalty: float = 1.0
    """A neighbour weighs ``exp(-extra_penalty * ingredients it has beyond the query)``."""
    idf_exponent: float = 0.5
    """Ingredient weight ``log(n / df) ** idf_exponent``: rare shared ingredients say more."""
    same_cuisine: float = 4.0
    """Multiplier for neighbours of the query's cuisine."""
    min_share: float = 0.3
    """Neighbours sharing less of the query than this are skipped (speed; their weight is tiny)."""


SOFT_KERNEL = NeighbourConfig(power=2.0, extra_penalty=0.25, min_share=0.3)
"""A second, broader neighbourhood: it votes where the sharp kernel finds no near-duplicate."""


class RecipeNeighbours:
    """Kernel-weighted votes of similar training recipes; see the module docstring."""

    def __init__(
        self,
        matrix: sp.csr_matrix,
        cuisine_codes: NDArray[np.int64],
        idf: NDArray[np.float64],
        config: NeighbourConfig,
    ) -> None:
        self.matrix = matrix.astype(np.float32).tocsr()
        self.cuisine_codes = cuisine_codes
        self.idf = idf
        self.config = config
        self.lengths = np.asarray(self.matrix.sum(axis=1)).ravel()
        self._recipes_t = (self.matrix.T.tocsr()).astype(np.float64)

    @classmethod
    def fit(
        cls, matrix: sp.csr_matrix, cuisine_codes: NDArray[np.int64], config: NeighbourConfig
    ) -> RecipeNeighbours:
        """Index the training recipes (``recipes x ingredients``, binary)."""
        n = max(matrix.shape[0], 1)
        df = np.asarray(matrix.sum(axis=0)).ravel()
        # The floor keeps ingredients that are in every recipe in the sparsity pattern.
        idf = np.maximum(np.log((n + 1.0) / (df + 1.0)), 1e-3) ** config.idf_exponent
        return cls(matrix, cuisine_codes, idf, config)

    def weights(
        self, queries: sp.csr_matrix, cuisine_codes: NDArray[np.int64], config: NeighbourConfig | None = None
    ) -> sp.csr_matrix:
        """Kernel weight of every training recipe for every query (``queries x recipes``, sparse);
        ``config`` replaces the index's own kernel (e.g. a softer one)."""
        return kernel_weights(
            queries,
            cuisine_codes,
            self._recipes_t,
            self.lengths,
            self.cuisine_codes,
            self.idf,
            config or self.config,
        )

    def votes_sets(
        self,
        sets: Sequence[NDArray[np.int64]],
        cuisine_codes: NDArray[np.int64],
        configs: Sequence[NeighbourConfig],
    ) -> list[NDArray[np.float64]]:
        """:meth:`votes` of partial recipes (ingredient index arrays) under several kernels at once."""
        m = self.matrix.shape[1]
        out = [np.zeros((len(sets), m), dtype=np.float64) for _ in configs]
        for row, query in enumerate(sets):
            query = np.unique(np.asarray(query, dtype=np.int64))
            for target, votes in zip(
                out, self._query_votes(query, int(cuisine_codes[row]), configs), strict=True
            ):
                target[row] = votes
        return out

    def _query_votes(
        self, query: NDArray[np.int64], cuisine: int, configs: Sequence[NeighbourConfig]
    ) -> list[NDArray[np.float64]]:
        """The votes of one query under each kernel, from one pass over the candidate recipes.

        Per query, the candidates are the recipes holding any query ingredient, found from the
        inverted index; their kernel weights under every kernel then go through one product with
        the candidates' rows.
        """
        m = self.matrix.shape[1]
        n = self.matrix.shape[0]
        index = self._recipes_t
        starts, ends = index.indptr[query], index.indptr[query + 1]
        postings = _ranges(starts, ends)
        recipes = index.indices[postings]
        per_posting = np.repeat(self.idf[query], ends - starts)
        mass = np.bincount(recipes, weights=per_posting, minlength=n)
        query_mass = float(self.idf[query].sum())
        if query_mass <= 0 or not len(recipes):
            return [np.zeros(m) for _ in configs]
        share = mass / query_mass
        candidates = np.flatnonzero(share >= min(c.min_share for c in configs) - 1e-12)
        if not len(candidates):
            return [np.zeros(m) for _ in configs]
        count = np.bincount(recipes, minlength=n)[candidates]
        share = np.minimum(share[candidates], 1.0)
        extra = np.clip(self.lengths[candidates].astype(np.int64) - count, 0, None)
        same = (self.cuisine_codes[candidates] == cuisine) & (cuisine >= 0)
        weights = np.stack(
            [
                np.where(share >= config.min_share - 1e-12, kernel(share, extra, same, config), 0.0)
                for config in configs
            ],
            axis=1,
        )
        # Row selection and the transposed product run in scipy's compiled loops, once for all kernels.
        tallies = np.asarray(self.matrix[candidates].T @ weights, dtype=np.float64)
        return [np.ascontiguousarray(tallies[:, j]) for j in range(len(configs))]

    def votes(
        self, queries: sp.csr_matrix, cuisine_codes: NDArray[np.int64], config: NeighbourConfig | None = None
    ) -> NDArray[np.float64]:
        """Unnormalised ingredient votes, ``queries x ingredients`` (present ones not masked)."""
        weights = self.weights(queries, cuisine_codes, config)
        return np.asarray((weights @ self.matrix).toarray(), dtype=np.float64)


def kernel(
    share: NDArray[np.float64], extra: NDArray[np.int64], same: NDArray[np.bool_], config: NeighbourConfig
) -> NDArray[np.float64]:
    """Weight of each neighbour: ``share ** power * exp(-penalty * extra)``, times ``same_cuisine``
    where ``same`` (the neighbour has the query's known cuisine)."""
    w = _power(share, config.power)
    # The penalty only takes integer arguments, so a table replaces exp on every pair.
    w *= np.exp(-config.extra_penalty * np.arange(int(extra.max(initial=0)) + 1))[extra]
    if config.same_cuisine != 1.0:
        w[same] *= config.same_cuisine
    return w


def kernel_weights(
    queries: sp.csr_matrix,
    query_cuisines: NDArray[np.int64],
    recipes_t: sp.csr_matrix,
    lengths: NDArray[np.float64],
    recipe_cuisines: NDArray[np.int64],
    idf: NDArray[np.float64],
    config: NeighbourConfig,
) -> sp.csr_matrix:
    """The kernel between queries and recipes (``recipes_t`` is ``ingredients x recipes``).

    Cuisine code ``-1`` means unknown and matches nothing.
    """
    return kernel_weight_sets(queries, query_cuisines, recipes_t, lengths, recipe_cuisines, idf, [config])[0]


def kernel_weight_sets(
    queries: sp.csr_matrix,
    query_cuisines: NDArray[np.int64],
    recipes_t: sp.csr_matrix,
    lengths: NDArray[np.float64],
    recipe_cuisines: NDArray[np.int64],
    idf: NDArray[np.float64],
    configs: Sequence[NeighbourConfig],
) -> list[sp.csr_matrix]:
    """:func:`kernel_weights` for several kernels, sharing the one costly overlap product."""
    q = sp.csr_matrix(queries, dtype=np.float64)
    q.data[:] = 1.0
    query_mass = np.asarray(q @ idf).ravel()
    unit = max(_MIN_COUNT_UNIT, 2.0 ** np.ceil(np.log2(query_mass.max(initial=0.0) + 1.0)))
    packed_q = q.copy()
    packed_q.data = (idf + unit)[q.indices]
    overlap = (packed_q @ recipes_t).tocsr()
    if overlap.nnz == 0:
        return [sp.csr_matrix(overlap.shape, dtype=np.float64) for _ in configs]
    all_rows = np.repeat(np.arange(overlap.shape[0]), np.diff(overlap.indptr))
    all_count = (overlap.data * (1.0 / unit) + 1e-9).astype(np.int64)
    all_share = (overlap.data - all_count * unit) / np.maximum(query_mass, 1e-12)[all_rows]
    out = []
    for config in configs:
        keep = all_share >= config.min_share
        rows, cols, count = all_rows[keep], overlap.indices[keep], all_count[keep]
        extra = np.clip(lengths[cols].astype(np.int64) - count, 0, None)
        same = (query_cuisines[rows] == recipe_cuisines[cols]) & (query_cuisines[rows] >= 0)
        w = kernel(np.minimum(all_share[keep], 1.0), extra, same, config)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=overlap.shape[0]))])
        out.append(sp.csr_matrix((w, cols, indptr), shape=overlap.shape))
    return out


def extra_votes(
    queries: sp.csr_matrix,
    cuisine_codes: NDArray[np.int64],
    extra: Sequence[NDArray[np.int64]],
    neighbours: RecipeNeighbours,
) -> NDArray[np.float64]:
    """Votes from recipes outside the index (a user's own), with the index's kernel and idf."""
    m = queries.shape[1]
    mat = sp.csr_matrix((len(extra), m), dtype=np.float32)
    if extra:
        mat = recipe_matrix([np.asarray(r, dtype=np.int64) for r in extra], m)
    lengths = np.asarray(mat.sum(axis=1)).ravel()
    unknown = np.full(len(extra), -1, dtype=np.int64)
    w = kernel_weights(
        queries,
        cuisine_codes,
        mat.T.tocsr().astype(np.float64),
        lengths,
        unknown,
        neighbours.idf,
        neighbours.config,
    )
    return np.asarray((w @ mat).toarray(), dtype=np.float64)


def ease_weights(matrix: sp.csr_matrix, l2: float) -> NDArray[np.float32]:
    """EASE (Steck 2019): closed-form item-item regression with a zero diagonal."""
    gram = np.asarray((matrix.T @ matrix).toarray(), dtype=np.float64)
    gram[np.diag_indices_from(gram)] += l2
    inverse = np.linalg.inv(gram)
    b = -inverse / np.diag(inverse)[None, :]
    np.fill_diagonal(b, 0.0)
    return b.astype(np.float32)


def _ranges(starts: NDArray[np.int64], ends: NDArray[np.int64]) -> NDArray[np.int64]:
    """The concatenation of ``arange(starts[i], ends[i])`` over i, without a Python loop."""
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    result: NDArray[np.int64] = offsets + np.arange(total)
    return result


def _power(x: NDArray[np.float64], exponent: float) -> NDArray[np.float64]:
    """``x ** exponent``, by repeated squaring when the exponent is a power of two (much faster)."""
    steps = np.log2(exponent) if exponent > 0 else 0.5
    if float(steps).is_integer():
        out = x.copy()
        for _ in range(int(steps)):
            out *= out
        return out
    return np.asarray(np.power(x, exponent), dtype=np.float64)
