"""Dropping users from a saved memory snapshot gives the snapshot of an index without them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from persona_api.memory.index import MemoryIndex
from persona_api.memory.index_types import IndexEntry
from persona_api.memory.lexical import tokenize
from persona_api.memory.snapshot import FILES, holds_users, write_without_users

DIM = 16


def _index() -> MemoryIndex:
    rng = np.random.default_rng(4)
    texts = {
        1: ["Ulrika keeps a zebrafinch", "Ulrika runs the Vostrakka marathon"],
        2: ["Bertil restores sailboats", "Bertil sails to Gdansk", "Bertil keeps bees"],
        3: ["Carin paints lighthouses"],
    }
    index = MemoryIndex(dim=DIM)
    index.applied_seq = 42
    entries: list[IndexEntry] = []
    for user, lines in texts.items():
        for text in lines:
            vector = rng.standard_normal(DIM).astype(np.float32)
            entries.append(
                IndexEntry(
                    id=len(entries) + 1,
                    user_id=user,
                    subject_id=0,
                    session_id=0,
                    observed_at=float(len(entries)),
                    current=True,
                    vector=vector / np.linalg.norm(vector),
                    tokens=tuple(tokenize(text)),
                )
            )
    index.upsert(entries)
    return index


def test_the_rewritten_snapshot_loads_as_the_index_without_the_user(tmp_path: Path) -> None:
    index = _index()
    index.save(tmp_path / "before")
    assert holds_users(tmp_path / "before", frozenset({1})) and not holds_users(
        tmp_path / "before", frozenset({9})
    )
    (tmp_path / "after").mkdir()

    write_without_users(tmp_path / "before", frozenset({1}), tmp_path / "after")

    rewritten = MemoryIndex.load(tmp_path / "after")
    index.remove_user(1)
    assert rewritten.applied_seq == 42 and len(rewritten) == len(index) == 4
    assert rewritten.ids_for_user(1) == []
    for user in (2, 3):
        assert rewritten.ids_for_user(user) == index.ids_for_user(user)
    query = np.ones(DIM, np.float32) / np.sqrt(DIM)
    tokens = tokenize("keeps sailboats")
    assert rewritten.search(2, query, tokens, k=3) == index.search(2, query, tokens, k=3)
    text = "".join((tmp_path / "after" / name).read_bytes().decode("latin-1") for name in FILES)
    assert "zebrafinch" not in text and "vostrakka" not in text and "sailboat" in text


def test_a_mismatched_snapshot_is_refused(tmp_path: Path) -> None:
    _index().save(tmp_path / "a")
    MemoryIndex(dim=DIM).save(tmp_path / "empty")
    (tmp_path / "a" / "dense.faiss").write_bytes((tmp_path / "empty" / "dense.faiss").read_bytes())
    (tmp_path / "out").mkdir()
    with pytest.raises(ValueError, match="does not match"):
        write_without_users(tmp_path / "a", frozenset({1}), tmp_path / "out")
