"""ULMRec-style user indexing: a short code per user from residual vector quantization.

A user's vector summarises what they bought (title embeddings, recent items weighing more) and
what they wrote (review embeddings). Residual quantization encodes it coarse-to-fine: level 0
picks the nearest of ``codebook_size`` centroids, level 1 quantizes what is left, and so on, so
users with similar tastes share code *prefixes*. :class:`PrefixPopularity` turns codes into a
recommender feature: what users sharing a prefix with you bought.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from numpy.typing import NDArray

DIM = 384
HISTORY_DECAY = 0.8
"""Weight of a history item ``t`` steps before the last one is ``HISTORY_DECAY ** t``."""


def _normalize(v: NDArray[np.float32]) -> NDArray[np.float32]:
    norm = float(np.linalg.norm(v))
    return (v / norm).astype(np.float32) if norm > 0 else v.astype(np.float32)


def user_vector(
    history_text: NDArray[np.float32], review_text: NDArray[np.float32] | None
) -> NDArray[np.float32]:
    """One L2-normalised vector per user from the title embeddings of their history ``(length, d)``
    (recency-weighted mean, chronological order) and the embeddings of their reviews (``(d,)`` or
    one row per review, averaged); each source counts equally when both exist. A user with neither
    gets the zero vector."""
    dim = history_text.shape[-1] if history_text.ndim == 2 else DIM
    history = np.zeros(dim, dtype=np.float32)
    if history_text.ndim == 2 and len(history_text):
        w = HISTORY_DECAY ** np.arange(len(history_text) - 1, -1, -1, dtype=np.float32)
        history = _normalize((history_text * w[:, None]).sum(axis=0))
    reviews = np.zeros(dim, dtype=np.float32)
    if review_text is not None and review_text.size:
        rows = np.asarray(review_text, dtype=np.float32).reshape(-1, dim)
        reviews = _normalize(rows.mean(axis=0))
    return _normalize(history + reviews)


class ResidualQuantizer:
    """Codebooks ``(levels, codebook_size, dim)`` fitted by k-means on successive residuals."""

    def __init__(self, codebooks: NDArray[np.float32]) -> None:
        self.codebooks = np.ascontiguousarray(codebooks, dtype=np.float32)

    @property
    def levels(self) -> int:
        return int(self.codebooks.shape[0])

    @property
    def codebook_size(self) -> int:
        return int(self.codebooks.shape[1])

    @classmethod
    def fit(
        cls,
        vectors: NDArray[np.float32],
        *,
        levels: int = 3,
        codebook_size: int = 16,
        seed: int = 0,
        iterations: int = 25,
    ) -> ResidualQuantizer:
        """Fit on ``(n, dim)`` vectors; needs ``n >= codebook_size``."""
        if len(vectors) < codebook_size:
            raise ValueError(f"need at least {codebook_size} vectors, got {len(vectors)}")
        rng = np.random.default_rng(seed)
        residual = np.asarray(vectors, dtype=np.float32).copy()
        books = []
        for _ in range(levels):
            centroids = _kmeans(residual, codebook_size, rng, iterations)
            books.append(centroids)
            residual -= centroids[_nearest(residual, centroids)]
        return cls(np.stack(books))

    def encode(self, vectors: NDArray[np.float32]) -> NDArray[np.int64]:
        """``(n, levels)`` codes, coarse level first."""
        residual = np.asarray(vectors, dtype=np.float32).reshape(-1, self.codebooks.shape[2]).copy()
        codes = np.zeros((len(residual), self.levels), dtype=np.int64)
        for level, centroids in enumerate(self.codebooks):
            codes[:, level] = _nearest(residual, centroids)
            residual -= centroids[codes[:, level]]
        return codes

    def decode(self, codes: NDArray[np.int64]) -> NDArray[np.float32]:
        """The reconstruction (sum of the chosen centroids) of ``(n, levels)`` codes."""
        return np.asarray(
            sum(self.codebooks[level][codes[:, level]] for level in range(self.levels)), dtype=np.float32
        )

    def save(self, path: Path) -> None:
        """Write the codebooks to exactly ``path`` (an ``.npz`` archive, whatever its suffix)."""
        with path.open("wb") as f:
            np.savez(f, codebooks=self.codebooks)

    @classmethod
    def load(cls, path: Path) -> ResidualQuantizer:
        with np.load(path, allow_pickle=False) as arrays:
            return cls(arrays["codebooks"])


def _nearest(x: NDArray[np.float32], centroids: NDArray[np.float32]) -> NDArray[np.int64]:
    distances = (centroids * centroids).sum(axis=1)[None, :] - 2.0 * (x @ centroids.T)
    return np.asarray(distances.argmin(axis=1), dtype=np.int64)


def _kmeans(x: NDArray[np.float32], k: int, rng: np.random.Generator, iterations: int) -> NDArray[np.float32]:
    """Lloyd's algorithm from a k-means++ start; an emptied cluster restarts at the worst-fit point."""
    centroids = [x[rng.integers(len(x))]]
    closest = ((x - centroids[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = float(closest.sum())
        pick = rng.choice(len(x), p=closest / total) if total > 0 else rng.integers(len(x))
        centroids.append(x[pick])
        closest = np.minimum(closest, ((x - x[pick]) ** 2).sum(axis=1))
    c = np.stack(centroids).astype(np.float32)
    for _ in range(iterations):
        assign = _nearest(x, c)
        moved = c.copy()
        for j in range(k):
            members = x[assign == j]
            if len(members):
                moved[j] = members.mean(axis=0)
            else:
                moved[j] = x[int(((x - c[assign]) ** 2).sum(axis=1).argmax())]
        if np.allclose(moved, c, atol=1e-6):
            break
        c = moved
    return c


def prefix_ids(codes: NDArray[np.int64], codebook_size: int) -> NDArray[np.int64]:
    """``(n, levels)``: column ``l`` numbers the code prefix of length ``l + 1`` within its level."""
    ids = np.zeros_like(codes)
    running = np.zeros(len(codes), dtype=np.int64)
    for level in range(codes.shape[1]):
        running = running * codebook_size + codes[:, level]
        ids[:, level] = running
    return ids


class PrefixPopularity:
    """Item shares among users who share each code prefix, summed over prefix lengths."""

    def __init__(self, tables: list[sp.csr_matrix], codebook_size: int) -> None:
        self.tables = tables
        self.codebook_size = codebook_size

    @classmethod
    def fit(
        cls,
        codes: NDArray[np.int64],
        sequences: Sequence[NDArray[np.int64]],
        n_items: int,
        *,
        codebook_size: int,
        weights: Sequence[NDArray[np.float32]] | None = None,
    ) -> PrefixPopularity:
        lengths = [len(s) for s in sequences]
        items = np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences])
        w = (
            np.concatenate([np.asarray(x, dtype=np.float64) for x in weights])
            if weights is not None
            else np.ones(len(items))
        )
        ids = prefix_ids(codes, codebook_size)
        tables = []
        for level in range(codes.shape[1]):
            rows = np.repeat(ids[:, level], lengths)
            table = sp.csr_matrix((w, (rows, items)), shape=(codebook_size ** (level + 1), n_items))
            table.sum_duplicates()
            # Shares rather than counts, smoothed so that a prefix with a handful of users says little.
            totals = np.asarray(table.sum(axis=1)).ravel()
            tables.append(sp.csr_matrix(sp.diags(1.0 / (totals + 10.0)) @ table))
        return cls(tables, codebook_size)

    def score_batch(self, codes: NDArray[np.int64]) -> NDArray[np.float32]:
        """``(n, n_items)`` scores for ``(n, levels)`` codes."""
        ids = prefix_ids(np.asarray(codes, dtype=np.int64).reshape(-1, len(self.tables)), self.codebook_size)
        n = len(ids)
        out = np.zeros((n, self.tables[0].shape[1]), dtype=np.float32)
        for level, table in enumerate(self.tables):
            pick = sp.csr_matrix((np.ones(n), (np.arange(n), ids[:, level])), shape=(n, table.shape[0]))
            out += (pick @ table).toarray().astype(np.float32)
        return out

    def arrays(self) -> dict[str, NDArray[np.generic]]:
        out: dict[str, NDArray[np.generic]] = {"codebook_size": np.array(self.codebook_size)}
        for level, table in enumerate(self.tables):
            out[f"{level}.data"] = table.data.astype(np.float32)
            out[f"{level}.indices"] = table.indices
            out[f"{level}.indptr"] = table.indptr
            out[f"{level}.shape"] = np.array(table.shape)
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, NDArray[np.generic]]) -> PrefixPopularity:
        tables = []
        level = 0
        while f"{level}.data" in arrays:
            shape = tuple(int(x) for x in arrays[f"{level}.shape"])
            tables.append(
                sp.csr_matrix(
                    (arrays[f"{level}.data"], arrays[f"{level}.indices"], arrays[f"{level}.indptr"]),
                    shape=shape,
                )
            )
            level += 1
        return cls(tables, int(arrays["codebook_size"]))
