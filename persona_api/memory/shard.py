"""One user's shard of the memory search index (``persona_api.memory.index``) and its dense search path.

A shard is a positional FAISS ``IndexScalarQuantizer`` (fp16, inner product), row ``i`` being memory
``ids[i]`` (that column is the id map); aligned numpy columns (subject, session, observed_at, current,
alive) that turn a ``SearchFilter`` into one vectorised mask; and a ``BM25Index`` of the user's
memories (so IDF is the user's).

Dense path, chosen by measurement (``bench/index_micro.py --alternatives``: top-100 for a
100k-memory user of a 120k-memory tenant, 384-d, one thread, CPU-time p50 / p95 in ms):

    tenant ``IndexIDMap2(IndexFlatIP)`` + ``IDSelectorBatch`` of the user's ids   25.7 / 36.9
    tenant ``IndexIDMap2(IndexFlatIP)``, no selector (unfiltered lower bound)     9.5 / 9.9
    per-user numpy float32 matrix, matmul + argpartition                         13.7 / 16.3
    per-user FAISS ``IndexFlatIP`` float32                                        6.7 / 7.3
    per-user FAISS fp16 scalar quantizer                                          3.1 / 3.5
    per-user FAISS fp16 + ``IDSelectorBitmap`` (95% pass)                         5.8 / 6.1
    per-user FAISS int8 top-164, fp16 rerank                                      2.2 / 2.6

A flat scan is bound by memory bandwidth (100k float32 vectors are 154 MB), so exact float32 cannot
meet a 5 ms p95 at 100k here whichever library runs it, and a tenant-wide index with an id selector
also pays for the whole tenant on every query and removal. This module scans the fp16 codes (cosine
error below ``2**-11``). An int8 first pass with fp16 re-ranking measured a little faster but
returned the wrong neighbours on real MiniLM vectors (their components are small, so
``QT_8bit_direct_signed`` codes lose the ranking); exactness won. Filters reach FAISS as an
``IDSelectorBitmap`` over shard rows via ``SearchParameters``; since that path skips FAISS's
batched kernel, a filter passing at least a quarter of the rows over-fetches without a selector
and drops rejected rows (the first survivors are the filtered top), retrying with the bitmap if
too few survive. Up to ``_GATHER_MAX`` selected rows skip the scan and are scored directly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import faiss
import numpy as np
from numpy.typing import NDArray

from persona_api.memory.index_types import IndexEntry, Ranked, SearchFilter
from persona_api.memory.lexical import BM25Index

__all__ = ["COLUMNS", "META", "Shard", "new_dense"]

_GATHER_MAX = 64
_OVERFETCH_MIN_FRACTION = 0.25
COLUMNS: dict[str, type[np.generic]] = {
    "id": np.int64,
    "subject_id": np.int64,
    "session_id": np.int64,
    "observed_at": np.float64,
    "current": np.bool_,
    "seq": np.int64,
    "alive": np.bool_,
}
META = ("id", "subject_id", "session_id", "observed_at", "current")
"""The columns an entry sets; ``seq`` (append order) and ``alive`` belong to the shard."""


def new_dense(dim: int, kind: int = faiss.ScalarQuantizer.QT_fp16) -> Any:
    """An empty inner-product scalar-quantizer index for a shard's vectors (fp16 codes by default)."""
    return faiss.IndexScalarQuantizer(dim, kind, faiss.METRIC_INNER_PRODUCT)


def _bitmap_selector(mask: NDArray[np.bool_]) -> tuple[Any, NDArray[np.uint8]]:
    """An ``IDSelectorBitmap`` over row positions, and the buffer that must outlive it."""
    bits = np.packbits(mask, bitorder="little")
    return faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits)), bits


class Shard:
    """One user's memories (see the module docstring).

    Rows are append-only between compactions. BM25 documents are keyed by the row's sequence number
    (append order; the memory id for rows restored by ``load``), which compaction does not change,
    and ``searchsorted`` on the ascending ``seq`` column maps them back to rows.
    """

    def __init__(self, dim: int) -> None:
        self.fine = new_dense(dim)
        self.lexical = BM25Index()
        self.size = 0
        self.dead = 0
        self.next_seq = 0
        self.seq_is_row = True
        self.rows: dict[int, int] = {}
        self.cols: dict[str, NDArray[Any]] = {name: np.empty(0, dtype) for name, dtype in COLUMNS.items()}

    def col(self, name: str) -> NDArray[Any]:
        return self.cols[name][: self.size]

    def append(
        self,
        vectors: NDArray[np.float32],
        meta: dict[str, NDArray[Any]],
        tokens: Sequence[Sequence[str]] | None,
        seqs: NDArray[np.int64] | None = None,
    ) -> None:
        """Add rows. ``load`` passes ``tokens=None`` (it restores BM25 whole) and ascending ``seqs``
        above every existing one (the memory ids, so the saved BM25 state needs no renaming)."""
        n, start = len(vectors), self.size
        if start + n > len(self.cols["id"]):
            capacity = max(16, start + n, 2 * len(self.cols["id"]))
            for name, col in self.cols.items():
                grown = np.empty(capacity, col.dtype)
                grown[:start] = col[:start]
                self.cols[name] = grown
        if seqs is None:
            seqs = np.arange(self.next_seq, self.next_seq + n)
        elif n:
            self.seq_is_row = self.seq_is_row and np.array_equal(seqs, np.arange(start, start + n))
        values: dict[str, Any] = {**meta, "seq": seqs, "alive": True}
        for name, col in self.cols.items():
            col[start : start + n] = values[name]
        self.fine.add(vectors)
        self.rows.update(zip(meta["id"].tolist(), range(start, start + n), strict=True))
        if tokens is not None:
            for seq, doc in zip(seqs.tolist(), tokens, strict=True):
                self.lexical.add(seq, doc)
        self.size += n
        self.next_seq = int(seqs[-1]) + 1 if n else self.next_seq

    def update(self, row: int, entry: IndexEntry) -> None:
        """Everything but the vector changes in place."""
        for name in META[1:]:
            self.cols[name][row] = getattr(entry, name)
        self.lexical.add(int(self.cols["seq"][row]), entry.tokens)

    def kill(self, memory_id: int) -> None:
        row = self.rows.pop(memory_id)
        self.cols["alive"][row] = False
        self.lexical.remove(int(self.cols["seq"][row]))
        self.dead += 1

    def compact(self) -> None:
        keep = self.col("alive").copy()
        selector, _bits = _bitmap_selector(~keep)
        self.fine.remove_ids(selector)
        self.cols = {name: col[: self.size][keep].copy() for name, col in self.cols.items()}
        self.size, self.dead, self.seq_is_row = int(keep.sum()), 0, False
        self.rows = dict(zip(self.cols["id"].tolist(), range(self.size), strict=True))

    def codes(self) -> NDArray[np.uint8]:
        flat = faiss.vector_to_array(self.fine.codes)
        return np.asarray(flat, dtype=np.uint8).reshape(self.size, self.fine.code_size)

    def select(self, flt: SearchFilter) -> NDArray[np.bool_]:
        mask = self.col("alive").copy()
        if not flt.include_superseded:
            mask &= self.col("current")
        for name, wanted in (("subject_id", flt.subject_ids), ("session_id", flt.session_ids)):
            if wanted is not None:
                # kind="sort": numpy's default picks a lookup table, 20x slower here (1.4 ms at 100k)
                mask &= np.isin(self.col(name), np.fromiter(wanted, np.int64, len(wanted)), kind="sort")
        if flt.observed_from is not None:
            mask &= self.col("observed_at") >= flt.observed_from
        if flt.observed_to is not None:
            mask &= self.col("observed_at") < flt.observed_to
        return mask

    def dense_top(self, query: NDArray[np.float32], mask: NDArray[np.bool_], n: int) -> Ranked:
        """The ``n`` selected rows most similar to ``query`` as ``(memory id, cosine)``, best first."""
        selected = int(np.count_nonzero(mask))
        n = min(n, selected)
        if n <= 0:
            return []
        if selected <= _GATHER_MAX:
            rows = np.flatnonzero(mask)
            sims = (self.fine.reconstruct_batch(rows) @ query).astype(np.float32)
            return _ranked(self.cols["id"][rows], sims, n)
        rows, sims = self._scan(query, mask, selected, n)
        return _ranked(self.cols["id"][rows], sims, n)

    def _scan(
        self, query: NDArray[np.float32], mask: NDArray[np.bool_], selected: int, m: int
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """The ``m`` selected rows most similar to ``query`` and their cosines, from a FAISS scan."""
        if selected >= _OVERFETCH_MIN_FRACTION * self.size:
            want = min(self.size, math.ceil(m * self.size / selected * 1.25) + 32)
            sims, labels = self.fine.search(query[None], want)
            sims, labels = sims[0], labels[0]
            keep = labels >= 0
            keep[keep] = mask[labels[keep]]
            if int(keep.sum()) >= m or want == self.size:
                return labels[keep][:m], sims[keep][:m]
        selector, _bits = _bitmap_selector(mask)
        params = faiss.SearchParameters()
        params.sel = selector
        sims, labels = self.fine.search(query[None], m, params=params)
        keep = labels[0] >= 0
        return labels[0][keep], sims[0][keep]

    def lexical_top(
        self, tokens: Sequence[str], mask: NDArray[np.bool_], n: int, dense: Ranked
    ) -> tuple[Ranked, dict[int, float]]:
        """The ``n`` best selected rows by BM25, and the BM25 of those and of the ``dense`` hits."""
        seqs, scores = self.lexical.score_arrays(tokens)
        rows = seqs if self.seq_is_row else np.searchsorted(self.col("seq"), seqs)
        keep = mask[rows]
        ids, scores = self.cols["id"][rows[keep]], scores[keep]
        ranked = _ranked(ids, scores, n)
        also = np.isin(ids, np.fromiter((mid for mid, _ in dense), np.int64, len(dense)), kind="sort")
        return ranked, dict(ranked) | dict(zip(ids[also].tolist(), scores[also].tolist(), strict=True))


def _ranked(ids: NDArray[np.int64], scores: NDArray[Any], n: int) -> Ranked:
    """The top ``n`` by score, ties to the lower id."""
    if len(scores) > 2 * n:
        # every score tied with the n-th best stays in, so the id tie-break sees them all
        nth = np.partition(scores, len(scores) - n)[len(scores) - n]
        best = np.flatnonzero(scores >= nth)
        ids, scores = ids[best], scores[best]
    order = np.lexsort((ids, -scores))[:n]
    return list(zip(ids[order].tolist(), scores[order].tolist(), strict=True))
