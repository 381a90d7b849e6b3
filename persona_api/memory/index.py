"""The in-memory hybrid search index of the conversation memory: one ``MemoryIndex`` per tenant.

It holds every memory of the tenant, current and superseded, follows the database change feed
through ``upsert``/``remove`` and answers queries for one owner at a time: FAISS dense retrieval and
BM25 over the same filtered candidate set, fused with weighted RRF (or a min-max linear blend).

Each user is a *shard*, so a query costs what the user owns, not what the tenant owns. A shard is
a positional FAISS ``IndexScalarQuantizer`` (fp16, inner product), row ``i`` being memory
``ids[i]`` (that column is the id map); aligned
numpy columns (subject, session, observed_at, current, alive) that turn a ``SearchFilter`` into
one vectorised mask; and a ``BM25Index`` of the user's memories (so IDF is the user's).

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

Mutations never rebuild anything on the search path: columns grow in place, a removed or re-embedded
row becomes a tombstone (``alive`` False, in no mask, gone from BM25), a metadata-only change such as
supersession updates its row in place, and a shard compacts once a quarter of its rows are dead.
``save`` writes the live rows as one tenant-wide ``IndexIDMap2(IndexScalarQuantizer fp16)`` keyed
by memory id, so the artifact carries its own id map. A ``threading.RLock`` serialises one tenant's
mutations and searches; FAISS releases the GIL while it scans.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np
from numpy.typing import NDArray

from persona_api.errors import ArtifactError
from persona_api.memory.lexical import BM25Index

FORMAT = 1
DENSE_FILE = "dense.faiss"
ENTRIES_FILE = "entries.npz"
LEXICAL_FILE = "lexical.json"

_GATHER_MAX = 64
_OVERFETCH_MIN_FRACTION = 0.25
_COLUMNS: dict[str, type[np.generic]] = {
    "id": np.int64,
    "subject_id": np.int64,
    "session_id": np.int64,
    "observed_at": np.float64,
    "current": np.bool_,
    "seq": np.int64,
    "alive": np.bool_,
}
_META = ("id", "subject_id", "session_id", "observed_at", "current")
"""The columns an entry sets; ``seq`` (append order) and ``alive`` belong to the shard."""


@dataclass(frozen=True, eq=False)
class IndexEntry:
    """One memory as the index sees it (equality is identity: the vector is an array)."""

    id: int
    """Memory id (database primary key)."""
    user_id: int
    """Owner (``users.id``)."""
    subject_id: int
    """0 = the owner, otherwise the partner id."""
    session_id: int
    """0 = none."""
    observed_at: float
    """POSIX seconds."""
    current: bool
    """False once superseded."""
    vector: NDArray[np.float32]
    """L2-normalised, shape ``(dim,)``."""
    tokens: tuple[str, ...]
    """``lexical.tokenize`` of the memory text."""


@dataclass(frozen=True)
class SearchFilter:
    """Restricts a search to some of the owner's memories; ``None`` means no restriction."""

    subject_ids: frozenset[int] | None = None
    session_ids: frozenset[int] | None = None
    observed_from: float | None = None
    """Inclusive lower bound on ``observed_at``."""
    observed_to: float | None = None
    """Exclusive upper bound on ``observed_at``."""
    include_superseded: bool = False


@dataclass(frozen=True)
class Hit:
    """One search result."""

    id: int
    score: float
    """Fused score, higher is better."""
    dense: float
    """Cosine similarity (0 if not in the dense top list)."""
    lexical: float
    """BM25 (0 if no shared term)."""


@dataclass(frozen=True)
class FusionWeights:
    """How the dense and lexical lists combine; ``candidates`` is each list's length."""

    dense: float = 1.0
    lexical: float = 1.0
    method: Literal["rrf", "linear"] = "rrf"
    rrf_k: float = 60.0
    candidates: int = 100

    def __post_init__(self) -> None:
        if self.dense < 0 or self.lexical < 0 or self.rrf_k <= 0 or self.candidates < 1:
            raise ValueError(f"invalid fusion weights: {self}")
        if self.method not in ("rrf", "linear"):
            raise ValueError(f"unknown fusion method {self.method!r}")


_NO_FILTER = SearchFilter()
_DEFAULT_WEIGHTS = FusionWeights()
Ranked = list[tuple[int, float]]


def _new_dense(dim: int, kind: int = faiss.ScalarQuantizer.QT_fp16) -> Any:
    return faiss.IndexScalarQuantizer(dim, kind, faiss.METRIC_INNER_PRODUCT)


def _renamed(state: dict[str, Any], rename: dict[int, int]) -> dict[str, Any]:
    """A ``BM25Index`` state with every document id replaced through ``rename``."""
    postings = {}
    for term, flat in state["postings"].items():
        flat = list(flat)
        flat[0::2] = map(rename.__getitem__, flat[0::2])
        postings[term] = flat
    return {**state, "docs": [rename[doc_id] for doc_id in state["docs"]], "postings": postings}


def _bitmap_selector(mask: NDArray[np.bool_]) -> tuple[Any, NDArray[np.uint8]]:
    """An ``IDSelectorBitmap`` over row positions, and the buffer that must outlive it."""
    bits = np.packbits(mask, bitorder="little")
    return faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits)), bits


class _Shard:
    """One user's memories (see the module docstring).

    Rows are append-only between compactions. BM25 documents are keyed by the row's sequence number
    (append order; the memory id for rows restored by ``load``), which compaction does not change,
    and ``searchsorted`` on the ascending ``seq`` column maps them back to rows.
    """

    def __init__(self, dim: int) -> None:
        self.fine = _new_dense(dim)
        self.lexical = BM25Index()
        self.size = 0
        self.dead = 0
        self.next_seq = 0
        self.seq_is_row = True
        self.rows: dict[int, int] = {}
        self.cols: dict[str, NDArray[Any]] = {name: np.empty(0, dtype) for name, dtype in _COLUMNS.items()}

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
        for name in _META[1:]:
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


class MemoryIndex:
    """Hybrid (FAISS + BM25) search over one tenant's memories, queried one owner at a time."""

    applied_seq: int
    """The change-feed position this index reflects; maintained by the caller, kept by save/load."""

    def __init__(self, dim: int = 384) -> None:
        if dim < 1:
            raise ValueError(f"dim must be positive, got {dim}")
        self.dim = dim
        self.applied_seq = 0
        self._lock = threading.RLock()
        self._shards: dict[int, _Shard] = {}
        self._owner: dict[int, int] = {}
        self._codec = _new_dense(dim)

    def upsert(self, entries: Sequence[IndexEntry]) -> None:
        """Insert or replace entries by memory id (the last one wins within ``entries``)."""
        latest = {entry.id: entry for entry in entries}
        vectors = {mid: self._vector(entry.vector, f"memory {mid}") for mid, entry in latest.items()}
        with self._lock:
            added: dict[int, list[IndexEntry]] = {}
            touched: set[int] = set()
            for mid, entry in latest.items():
                old_user = self._owner.get(mid)
                if old_user is not None:
                    shard = self._shards[old_user]
                    row = shard.rows[mid]
                    touched.add(old_user)
                    if old_user == entry.user_id and self._same_vector(shard, row, vectors[mid]):
                        shard.update(row, entry)
                        continue
                    shard.kill(mid)
                added.setdefault(entry.user_id, []).append(entry)
                self._owner[mid] = entry.user_id
            for user_id, group in added.items():
                matrix = np.stack([vectors[entry.id] for entry in group])
                meta = {name: np.array([getattr(e, name) for e in group], _COLUMNS[name]) for name in _META}
                self._shards.setdefault(user_id, _Shard(self.dim)).append(
                    matrix, meta, [e.tokens for e in group]
                )
                touched.add(user_id)
            self._tidy(touched)

    def remove(self, ids: Sequence[int]) -> None:
        """Forget these memories; unknown ids are ignored."""
        with self._lock:
            touched: set[int] = set()
            for mid in ids:
                user_id = self._owner.pop(mid, None)
                if user_id is not None:
                    self._shards[user_id].kill(mid)
                    touched.add(user_id)
            self._tidy(touched)

    def remove_user(self, user_id: int) -> list[int]:
        """Forget every memory of ``user_id``; returns the removed ids, ascending."""
        with self._lock:
            shard = self._shards.pop(user_id, None)
            removed = sorted(shard.rows) if shard else []
            for mid in removed:
                del self._owner[mid]
            return removed

    def ids_for_user(self, user_id: int) -> list[int]:
        """Every memory id of ``user_id`` (current and superseded), ascending."""
        with self._lock:
            shard = self._shards.get(user_id)
            return sorted(shard.rows) if shard else []

    def __len__(self) -> int:
        return len(self._owner)

    def __contains__(self, memory_id: object) -> bool:
        return memory_id in self._owner

    def search(
        self,
        user_id: int,
        query_vector: NDArray[np.float32],
        query_tokens: Sequence[str],
        k: int,
        flt: SearchFilter = _NO_FILTER,
        weights: FusionWeights = _DEFAULT_WEIGHTS,
    ) -> list[Hit]:
        """The ``k`` best memories of ``user_id`` passing ``flt``, by fused dense and BM25 rank.

        Each list contributes its top ``max(weights.candidates, k)``. Ties go to the higher cosine,
        then to the lower id.
        """
        query = self._vector(query_vector, "query vector")
        with self._lock:
            shard = self._shards.get(user_id)
            if shard is None or k <= 0:
                return []
            mask = shard.select(flt)
            n = max(weights.candidates, k)
            dense = shard.dense_top(query, mask, n)
            lexical, bm25 = shard.lexical_top(query_tokens, mask, n, dense)
        return _fuse(dense, lexical, bm25, k, weights)

    def nearest(
        self, user_id: int, vector: NDArray[np.float32], k: int, flt: SearchFilter = _NO_FILTER
    ) -> list[tuple[int, float]]:
        """Dense only: ``(id, cosine)`` of the ``k`` entries of ``user_id`` passing ``flt`` most similar
        to ``vector``, best first (for dedupe and linking)."""
        query = self._vector(vector, "vector")
        with self._lock:
            shard = self._shards.get(user_id)
            if shard is None or k <= 0:
                return []
            return shard.dense_top(query, shard.select(flt), k)

    def save(self, folder: Path) -> None:
        """Write ``dense.faiss``, ``entries.npz`` and ``lexical.json`` into ``folder`` (created if needed).

        Rows are grouped by user in ascending user id; BM25 documents are keyed by memory id.
        """
        with self._lock:
            folder.mkdir(parents=True, exist_ok=True)
            dense = faiss.IndexIDMap2(_new_dense(self.dim))
            parts: dict[str, list[NDArray[Any]]] = {name: [] for name in [*_META, "user_id"]}
            lexical: dict[str, Any] = {}
            for user_id in sorted(self._shards):
                shard = self._shards[user_id]
                live = np.flatnonzero(shard.col("alive"))
                live = live[np.argsort(shard.col("id")[live])]  # by memory id: see load
                dense.add_sa_codes(shard.codes()[live], shard.col("id")[live])
                for name in _META:
                    parts[name].append(shard.col(name)[live])
                parts["user_id"].append(np.full(len(live), user_id, np.int64))
                memory_of = dict(
                    zip(shard.col("seq")[live].tolist(), shard.col("id")[live].tolist(), strict=True)
                )
                lexical[str(user_id)] = _renamed(shard.lexical.to_state(), memory_of)
            columns: dict[str, Any] = {
                name: np.concatenate(chunks) if chunks else np.empty(0, _COLUMNS.get(name, np.int64))
                for name, chunks in parts.items()
            }
            faiss.write_index(dense, str(folder / DENSE_FILE))
            np.savez(
                folder / ENTRIES_FILE,
                format=np.int64(FORMAT),
                dim=np.int64(self.dim),
                applied_seq=np.int64(self.applied_seq),
                **columns,
            )
            text = json.dumps({"format": FORMAT, "users": lexical}, separators=(",", ":"))
            (folder / LEXICAL_FILE).write_text(text, encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> MemoryIndex:
        """Read what ``save`` wrote; raises ``ArtifactError`` if it is missing or inconsistent."""
        try:
            with np.load(folder / ENTRIES_FILE, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            if int(arrays["format"]) != FORMAT:
                raise ValueError(f"unsupported memory index format {int(arrays['format'])}")
            index = cls(dim=int(arrays["dim"]))
            index.applied_seq = int(arrays["applied_seq"])
            ids = arrays["id"]
            if any(len(arrays[name]) != len(ids) for name in [*_META, "user_id"]):
                raise ValueError("entries.npz columns differ in length")
            if len(np.unique(ids)) != len(ids):
                raise ValueError("entries.npz repeats memory ids")
            dense = faiss.read_index(str(folder / DENSE_FILE))
            if not isinstance(dense, faiss.IndexIDMap2):
                raise ValueError(f"{DENSE_FILE} is not an IndexIDMap2")
            inner = faiss.downcast_index(dense.index)
            if not isinstance(inner, faiss.IndexScalarQuantizer) or inner.code_size != index._codec.code_size:
                raise ValueError("dense index is not an fp16 scalar quantizer of the entries' dimension")
            if not np.array_equal(faiss.vector_to_array(dense.id_map), ids):
                raise ValueError("dense index ids differ from entries.npz")
            codes = faiss.vector_to_array(inner.codes).reshape(len(ids), inner.code_size)
            lexical = json.loads((folder / LEXICAL_FILE).read_text(encoding="utf-8"))
            if lexical["format"] != FORMAT:
                raise ValueError(f"unsupported lexical format {lexical['format']!r}")
            users = arrays["user_id"]
            order = np.argsort(users, kind="stable")
            user_ids, starts = np.unique(users[order], return_index=True)
            if len(lexical["users"]) != len(user_ids):
                raise ValueError("lexical.json and entries.npz hold different users")
            for user_id, rows in zip(
                user_ids.tolist(), np.split(order, starts[1:]) if len(order) else [], strict=True
            ):
                state = lexical["users"][str(user_id)]
                if state["docs"] != ids[rows].tolist():  # both ascending memory ids
                    raise ValueError(f"lexical.json and entries.npz differ on the memories of user {user_id}")
                shard = _Shard(index.dim)
                vectors = index._codec.sa_decode(codes[rows])  # fp16 -> float32 -> fp16 is lossless
                shard.append(vectors, {name: arrays[name][rows] for name in _META}, None, seqs=ids[rows])
                shard.lexical = BM25Index.from_state(state)
                index._shards[user_id] = shard
                index._owner.update(dict.fromkeys(shard.rows, user_id))
        except (OSError, KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
            raise ArtifactError(f"cannot load memory index from {folder}: {exc!r}") from exc
        return index

    def _vector(self, vector: NDArray[np.float32], what: str) -> NDArray[np.float32]:
        array = np.ascontiguousarray(vector, dtype=np.float32)
        if array.shape != (self.dim,) or not np.isfinite(array).all():
            raise ValueError(f"{what} must be a finite vector of shape ({self.dim},), got {array.shape}")
        return array

    def _same_vector(self, shard: _Shard, row: int, vector: NDArray[np.float32]) -> bool:
        """Whether ``vector`` encodes to the codes stored at ``row`` (so only metadata changed)."""
        stored = shard.fine.reconstruct(row)
        return bool(np.array_equal(stored, self._codec.sa_decode(self._codec.sa_encode(vector[None]))[0]))

    def _tidy(self, users: set[int]) -> None:
        for user_id in users:
            shard = self._shards[user_id]
            if not shard.rows:
                del self._shards[user_id]
            elif shard.dead >= 16 and 4 * shard.dead >= shard.size:
                shard.compact()


def _fuse(
    dense: Ranked, lexical: Ranked, bm25: dict[int, float], k: int, weights: FusionWeights
) -> list[Hit]:
    """Fuse the two ranked lists and return the best ``k`` hits."""
    fused: dict[int, float] = {}
    for weight, ranked in ((weights.dense, dense), (weights.lexical, lexical)):
        if not ranked:
            continue
        if weights.method == "rrf":
            contributions = [weight / (weights.rrf_k + rank) for rank in range(1, len(ranked) + 1)]
        else:
            high, low = ranked[0][1], ranked[-1][1]
            span = high - low
            contributions = [weight * ((score - low) / span if span > 0 else 1.0) for _, score in ranked]
        for (mid, _), contribution in zip(ranked, contributions, strict=True):
            fused[mid] = fused.get(mid, 0.0) + contribution
    cosine = dict(dense)
    order = sorted(fused, key=lambda mid: (-fused[mid], -cosine.get(mid, 0.0), mid))[:k]
    return [Hit(mid, fused[mid], cosine.get(mid, 0.0), bm25.get(mid, 0.0)) for mid in order]
