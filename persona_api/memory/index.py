"""The in-memory hybrid search index of the conversation memory: one ``MemoryIndex`` per tenant.

It holds every memory of the tenant, current and superseded, follows the database change feed
through ``upsert``/``remove`` and answers queries for one owner at a time: FAISS dense retrieval and
BM25 over the same filtered candidate set, fused with weighted RRF (or a min-max linear blend; see
``persona_api.memory.fusion``).

Each user is a *shard* (``persona_api.memory.shard``, which also explains the dense search path), so
a query costs what the user owns, not what the tenant owns.

Mutations never rebuild anything on the search path: columns grow in place, a removed or re-embedded
row becomes a tombstone (``alive`` False, in no mask, gone from BM25), a metadata-only change such as
supersession updates its row in place, and a shard compacts once a quarter of its rows are dead.
``save`` writes the live rows as one tenant-wide ``IndexIDMap2(IndexScalarQuantizer fp16)`` keyed
by memory id, so the artifact carries its own id map. A ``threading.RLock`` serialises one tenant's
mutations and searches; FAISS releases the GIL while it scans.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from numpy.typing import NDArray

from persona_api.errors import ArtifactError
from persona_api.memory.fusion import FusionWeights, Hit, fuse
from persona_api.memory.index_types import IndexEntry, SearchFilter
from persona_api.memory.lexical import BM25Index
from persona_api.memory.shard import COLUMNS, META, Shard, new_dense

FORMAT = 1
DENSE_FILE = "dense.faiss"
ENTRIES_FILE = "entries.npz"
LEXICAL_FILE = "lexical.json"


_NO_FILTER = SearchFilter()
_DEFAULT_WEIGHTS = FusionWeights()


def _renamed(state: dict[str, Any], rename: dict[int, int]) -> dict[str, Any]:
    """A ``BM25Index`` state with every document id replaced through ``rename``."""
    postings = {}
    for term, flat in state["postings"].items():
        flat = list(flat)
        flat[0::2] = map(rename.__getitem__, flat[0::2])
        postings[term] = flat
    return {**state, "docs": [rename[doc_id] for doc_id in state["docs"]], "postings": postings}


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
        self._shards: dict[int, Shard] = {}
        self._owner: dict[int, int] = {}
        self._codec = new_dense(dim)

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
                meta = {name: np.array([getattr(e, name) for e in group], COLUMNS[name]) for name in META}
                self._shards.setdefault(user_id, Shard(self.dim)).append(
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
        return fuse(dense, lexical, bm25, k, weights)

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
            dense = faiss.IndexIDMap2(new_dense(self.dim))
            parts: dict[str, list[NDArray[Any]]] = {name: [] for name in [*META, "user_id"]}
            lexical: dict[str, Any] = {}
            for user_id in sorted(self._shards):
                shard = self._shards[user_id]
                live = np.flatnonzero(shard.col("alive"))
                live = live[np.argsort(shard.col("id")[live])]  # by memory id: see load
                dense.add_sa_codes(shard.codes()[live], shard.col("id")[live])
                for name in META:
                    parts[name].append(shard.col(name)[live])
                parts["user_id"].append(np.full(len(live), user_id, np.int64))
                memory_of = dict(
                    zip(shard.col("seq")[live].tolist(), shard.col("id")[live].tolist(), strict=True)
                )
                lexical[str(user_id)] = _renamed(shard.lexical.to_state(), memory_of)
            columns: dict[str, Any] = {
                name: np.concatenate(chunks) if chunks else np.empty(0, COLUMNS.get(name, np.int64))
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
            if any(len(arrays[name]) != len(ids) for name in [*META, "user_id"]):
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
                shard = Shard(index.dim)
                vectors = index._codec.sa_decode(codes[rows])  # fp16 -> float32 -> fp16 is lossless
                shard.append(vectors, {name: arrays[name][rows] for name in META}, None, seqs=ids[rows])
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

    def _same_vector(self, shard: Shard, row: int, vector: NDArray[np.float32]) -> bool:
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
