"""Dropping users from a saved memory snapshot (``MemoryIndex.save``'s three files) without loading
it: the rows of the users go from the dense index and the entries' columns, and their BM25 states
from ``lexical.json``, which is never decoded below its per-user level.

Rebuilding through ``MemoryIndex.load`` and ``save`` would cost what loading the whole tenant costs
(every user's BM25 index rebuilt); this is bounded by reading and writing the files once.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import msgspec
import numpy as np

from persona_api.memory.index import DENSE_FILE, ENTRIES_FILE, FORMAT, LEXICAL_FILE
from persona_api.memory.shard import new_dense

FILES = (DENSE_FILE, ENTRIES_FILE, LEXICAL_FILE)


class _Lexical(msgspec.Struct, forbid_unknown_fields=True):
    format: int
    users: dict[str, msgspec.Raw]


def holds_users(folder: Path, user_pks: frozenset[int]) -> bool:
    """Whether the snapshot in ``folder`` has memories of any of ``user_pks``."""
    with np.load(folder / ENTRIES_FILE, allow_pickle=False) as entries:
        owners = entries["user_id"]
    return bool(np.isin(owners, np.fromiter(user_pks, np.int64, len(user_pks))).any())


def write_without_users(folder: Path, user_pks: frozenset[int], out: Path) -> None:
    """Write the snapshot in ``folder`` without ``user_pks``'s memories into ``out`` (same file
    names and format). Raises ``ValueError`` (or ``OSError``, ``KeyError``) if it is unreadable."""
    with np.load(folder / ENTRIES_FILE, allow_pickle=False) as entries:
        columns = {name: entries[name] for name in entries.files}
    if int(columns["format"]) != FORMAT:
        raise ValueError(f"unsupported memory index format {int(columns['format'])}")
    ids = columns["id"]
    keep = ~np.isin(columns["user_id"], np.fromiter(user_pks, np.int64, len(user_pks)))
    dense = faiss.read_index(str(folder / DENSE_FILE))
    if not isinstance(dense, faiss.IndexIDMap2) or not np.array_equal(
        faiss.vector_to_array(dense.id_map), ids
    ):
        raise ValueError(f"{DENSE_FILE} does not match {ENTRIES_FILE}")
    inner = faiss.downcast_index(dense.index)
    if not isinstance(inner, faiss.IndexScalarQuantizer):
        raise ValueError(f"{DENSE_FILE} is not a scalar quantizer index")
    codes = faiss.vector_to_array(inner.codes).reshape(len(ids), inner.code_size)
    lexical = msgspec.json.decode((folder / LEXICAL_FILE).read_bytes(), type=_Lexical)

    rebuilt = faiss.IndexIDMap2(new_dense(int(columns["dim"])))
    rebuilt.add_sa_codes(codes[keep], ids[keep])
    faiss.write_index(rebuilt, str(out / DENSE_FILE))
    # Row columns are filtered; the scalars (format, dim, applied_seq) are 0-d and stay.
    np.savez(out / ENTRIES_FILE, **{k: c[keep] if c.ndim == 1 else c for k, c in columns.items()})
    gone = {str(pk) for pk in user_pks}
    users = {user: state for user, state in lexical.users.items() if user not in gone}
    (out / LEXICAL_FILE).write_bytes(msgspec.json.encode(_Lexical(format=lexical.format, users=users)))
