"""Implicit-feedback matrix factorisation (Hu, Koren & Volinsky) through ``implicit``'s CPU ALS.

Only the item factors are kept. A user's vector is solved from their history at request time with
the same least-squares step ALS uses during training, so users who were not in the training data
(or who bought something since) are scored without refitting, like ``recalculate_user=True``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from numpy.typing import NDArray


@dataclass(frozen=True, kw_only=True)
class ALSConfig:
    factors: int = 128
    regularization: float = 1.0
    alpha: float = 10.0
    """Confidence of an observed event is ``alpha * weight``."""
    iterations: int = 15
    seed: int = 0
    threads: int = 2


class ALSModel:
    """Item factors plus a cached Gram matrix; see the module docstring."""

    def __init__(self, item_factors: NDArray[np.float32], *, regularization: float, alpha: float) -> None:
        self.item_factors = np.ascontiguousarray(item_factors, dtype=np.float32)
        self.regularization = regularization
        self.alpha = alpha
        f = self.item_factors.astype(np.float64)
        self._gram = f.T @ f + regularization * np.eye(f.shape[1])

    @property
    def n_items(self) -> int:
        return int(self.item_factors.shape[0])

    @classmethod
    def fit(
        cls,
        sequences: Sequence[NDArray[np.int64]],
        n_items: int,
        *,
        weights: Sequence[NDArray[np.float32]] | None = None,
        config: ALSConfig = ALSConfig(),
    ) -> ALSModel:
        """Factorise the user x item matrix built from ``sequences`` (repeats add up)."""
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        matrix = _user_item_matrix(sequences, weights, n_items)
        # implicit runs its own threads; a threaded BLAS underneath oversubscribes the cores (and
        # implicit warns). faiss bundles an OpenMP OpenBLAS that ignores OPENBLAS_NUM_THREADS, so the
        # limit is set here rather than trusted to the environment.
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=config.factors,
                regularization=config.regularization,
                alpha=config.alpha,
                iterations=config.iterations,
                random_state=config.seed,
                num_threads=config.threads,
            )
            model.fit(matrix, show_progress=False)
        return cls(np.asarray(model.item_factors), regularization=config.regularization, alpha=config.alpha)

    def user_factors(
        self, history: Sequence[int], weights: Sequence[float] | None = None
    ) -> NDArray[np.float64]:
        """Least-squares user vector for ``history`` with item factors fixed."""
        f = self.item_factors.shape[1]
        if not len(history):
            return np.zeros(f)
        items, conf = _aggregate(history, weights, self.alpha)
        y = self.item_factors[items].astype(np.float64)
        a = self._gram + (y.T * (conf - 1.0)) @ y
        b = (y * conf[:, None]).sum(axis=0)
        return np.asarray(np.linalg.solve(a, b), dtype=np.float64)

    def score(self, history: Sequence[int]) -> NDArray[np.float32]:
        """``(n_items,)`` predicted preferences after ``history``."""
        return np.asarray(self.item_factors @ self.user_factors(history).astype(np.float32), dtype=np.float32)

    def score_batch(self, histories: Sequence[Sequence[int]]) -> NDArray[np.float32]:
        users = (
            np.stack([self.user_factors(h) for h in histories]).astype(np.float32)
            if histories
            else (np.zeros((0, self.item_factors.shape[1]), dtype=np.float32))
        )
        return np.asarray(users @ self.item_factors.T, dtype=np.float32)

    def arrays(self) -> dict[str, NDArray[np.generic]]:
        return {
            "item_factors": self.item_factors,
            "regularization": np.array(self.regularization),
            "alpha": np.array(self.alpha),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, NDArray[np.generic]]) -> ALSModel:
        return cls(
            arrays["item_factors"].astype(np.float32),
            regularization=float(arrays["regularization"]),
            alpha=float(arrays["alpha"]),
        )


def _aggregate(
    history: Sequence[int], weights: Sequence[float] | None, alpha: float
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Unique items and their confidences, summing repeats as the training matrix does."""
    h = np.asarray(history, dtype=np.int64)
    w = np.ones(len(h)) if weights is None else np.asarray(weights, dtype=np.float64)
    items, inverse = np.unique(h, return_inverse=True)
    return items, (alpha * np.bincount(inverse, weights=w)).astype(np.float64)


def _user_item_matrix(
    sequences: Sequence[NDArray[np.int64]], weights: Sequence[NDArray[np.float32]] | None, n_items: int
) -> sp.csr_matrix:
    lengths: list[int] = [len(s) for s in sequences]
    rows = np.repeat(np.arange(len(sequences)), lengths)
    cols = (
        np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences])
        if sum(lengths)
        else (np.zeros(0, dtype=np.int64))
    )
    vals = (
        np.concatenate([np.asarray(w, dtype=np.float32) for w in weights])
        if weights is not None and len(cols)
        else np.ones(len(cols), dtype=np.float32)
    )
    matrix = sp.csr_matrix((vals, (rows, cols)), shape=(len(sequences), n_items), dtype=np.float32)
    matrix.sum_duplicates()
    return matrix
