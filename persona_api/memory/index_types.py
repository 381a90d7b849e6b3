"""The vocabulary the memory search index and its shards share: what one memory looks like to the
index (``IndexEntry``), how a search is narrowed (``SearchFilter``), and a ranked list (``Ranked``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


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


Ranked = list[tuple[int, float]]
