"""Rank fusion for memory search: how the dense and lexical ranked lists of a query combine into
``Hit``s, by weighted reciprocal rank fusion (RRF) or a min-max linear blend (``FusionWeights``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from persona_api.memory.index_types import Ranked


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


def fuse(dense: Ranked, lexical: Ranked, bm25: dict[int, float], k: int, weights: FusionWeights) -> list[Hit]:
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
