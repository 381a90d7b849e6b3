"""Recency-weighted item-to-item co-occurrence ("customers who bought this next bought ...").

Two items co-occur when they appear close together in one user's sequence; the pair counts more
the closer they are, and more in the forward direction (earlier -> later) than backwards, since we
predict what comes next. Counts are divided by ``n_i^a * n_j^b`` so that neither very active
items nor blockbusters dominate, and each item keeps only its strongest neighbours, which both
removes noise and makes a request a few array look-ups. A user's score is the sum of the
neighbour rows of their history, weighted towards the most recent items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from numpy.typing import NDArray


@dataclass(frozen=True, kw_only=True)
class ItemKNNConfig:
    window: int = 8
    """Largest position gap that still counts as a co-occurrence."""
    gap_decay: float = 0.7
    """A pair ``gap`` positions apart counts ``gap_decay ** (gap - 1)``."""
    backward_weight: float = 0.5
    """Weight of "j came before i" relative to "j came after i"."""
    source_exponent: float = 0.5
    target_exponent: float = 0.5
    neighbours: int = 100
    recency_decay: float = 0.6
    """The history item ``t`` steps before the last one weighs ``recency_decay ** t``."""


def recency_weights(length: int, decay: float) -> NDArray[np.float32]:
    """Weights for a chronological history of ``length`` items: the last item weighs 1."""
    return (decay ** np.arange(length - 1, -1, -1, dtype=np.float64)).astype(np.float32)


class ItemKNN:
    """Top-``k`` neighbour lists from recency-weighted co-occurrence; see the module docstring."""

    def __init__(
        self,
        neighbour_items: NDArray[np.int64],
        neighbour_weights: NDArray[np.float32],
        *,
        recency_decay: float,
    ) -> None:
        self.neighbour_items = neighbour_items
        self.neighbour_weights = neighbour_weights
        self.recency_decay = recency_decay

    @property
    def n_items(self) -> int:
        return int(self.neighbour_items.shape[0])

    @classmethod
    def fit(
        cls,
        sequences: Sequence[NDArray[np.int64]],
        n_items: int,
        *,
        weights: Sequence[NDArray[np.float32]] | None = None,
        config: ItemKNNConfig = ItemKNNConfig(),
    ) -> ItemKNN:
        """Count co-occurrences in ``sequences`` (chronological item indices per user)."""
        lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        flat = (
            np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences])
            if len(sequences)
            else (np.zeros(0, dtype=np.int64))
        )
        flat_w = (
            np.concatenate([np.asarray(w, dtype=np.float64) for w in weights])
            if weights is not None and len(weights)
            else np.ones(len(flat))
        )
        owner = np.repeat(np.arange(len(lengths)), lengths)
        counts = np.bincount(flat, weights=flat_w, minlength=n_items)

        rows: list[NDArray[np.int64]] = []
        cols: list[NDArray[np.int64]] = []
        vals: list[NDArray[np.float64]] = []
        for gap in range(1, config.window + 1):
            same = owner[:-gap] == owner[gap:] if gap < len(flat) else np.zeros(0, dtype=bool)
            before, after = flat[:-gap][same], flat[gap:][same]
            # A pair is as confident as its weaker event.
            pair_w = np.minimum(flat_w[:-gap][same], flat_w[gap:][same]) * config.gap_decay ** (gap - 1)
            keep = before != after  # a repeat purchase says nothing about *other* items
            rows += [before[keep], after[keep]]
            cols += [after[keep], before[keep]]
            vals += [pair_w[keep], pair_w[keep] * config.backward_weight]
        co = sp.csr_matrix(
            (
                np.concatenate(vals) if vals else np.zeros(0),
                (
                    np.concatenate(rows) if rows else np.zeros(0, np.int64),
                    np.concatenate(cols) if cols else np.zeros(0, np.int64),
                ),
            ),
            shape=(n_items, n_items),
        )
        co.sum_duplicates()
        safe = np.maximum(counts, 1.0)
        co = sp.diags(safe**-config.source_exponent) @ co @ sp.diags(safe**-config.target_exponent)
        items, sims = _top_k_rows(sp.csr_matrix(co), config.neighbours)
        return cls(items, sims, recency_decay=config.recency_decay)

    def score(self, history: Sequence[int]) -> NDArray[np.float32]:
        """``(n_items,)`` co-occurrence scores for the next item after ``history``."""
        scores = np.zeros(self.n_items, dtype=np.float32)
        if len(history):
            h = np.asarray(history, dtype=np.int64)
            w = recency_weights(len(h), self.recency_decay)
            np.add.at(
                scores, self.neighbour_items[h].ravel(), (self.neighbour_weights[h] * w[:, None]).ravel()
            )
        return scores

    def score_batch(self, histories: Sequence[Sequence[int]]) -> NDArray[np.float32]:
        """``(len(histories), n_items)`` scores; one sparse product for the whole batch."""
        return np.asarray((self._history_matrix(histories) @ self._matrix()).toarray(), dtype=np.float32)

    def contributions(self, history: Sequence[int], item: int) -> NDArray[np.float32]:
        """How much each history item adds to ``item``'s score (same order as ``history``)."""
        h = np.asarray(history, dtype=np.int64)
        hit = self.neighbour_items[h] == item
        sims = (self.neighbour_weights[h] * hit).sum(axis=1)
        out: NDArray[np.float32] = (sims * recency_weights(len(h), self.recency_decay)).astype(np.float32)
        return out

    def _matrix(self) -> sp.csr_matrix:
        n, k = self.neighbour_items.shape
        indptr = np.arange(0, n * k + 1, k)
        return sp.csr_matrix(
            (self.neighbour_weights.ravel(), self.neighbour_items.ravel(), indptr), shape=(n, n)
        )

    def _history_matrix(self, histories: Sequence[Sequence[int]]) -> sp.csr_matrix:
        lengths = [len(h) for h in histories]
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        cols = (
            np.concatenate([np.asarray(h, dtype=np.int64) for h in histories])
            if sum(lengths)
            else (np.zeros(0, dtype=np.int64))
        )
        data = (
            np.concatenate([recency_weights(n, self.recency_decay) for n in lengths])
            if sum(lengths)
            else (np.zeros(0, dtype=np.float32))
        )
        return sp.csr_matrix((data, cols, indptr), shape=(len(histories), self.n_items))

    def arrays(self) -> dict[str, NDArray[np.generic]]:
        """Everything needed to rebuild the model with :meth:`from_arrays` (for ``.npz`` files)."""
        return {
            "items": self.neighbour_items,
            "weights": self.neighbour_weights,
            "recency_decay": np.array(self.recency_decay),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, NDArray[np.generic]]) -> ItemKNN:
        return cls(
            arrays["items"].astype(np.int64),
            arrays["weights"].astype(np.float32),
            recency_decay=float(arrays["recency_decay"]),
        )


def _top_k_rows(matrix: sp.csr_matrix, k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Dense ``(n, k)`` arrays of each row's largest entries; short rows are padded with weight 0."""
    n = matrix.shape[0]
    items = np.zeros((n, k), dtype=np.int64)
    sims = np.zeros((n, k), dtype=np.float32)
    for row in range(n):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        cols, vals = matrix.indices[start:end], matrix.data[start:end]
        if len(vals) > k:
            top = np.argpartition(-vals, k - 1)[:k]
            cols, vals = cols[top], vals[top]
        order = np.argsort(-vals, kind="stable")
        items[row, : len(order)] = cols[order]
        sims[row, : len(order)] = vals[order]
    return items, sims
