"""Named objectives (DPA directions): what a user can ask to have more or less of.

Each objective is an axis in embedding space between a positive and a negative anchor sentence.
An option's score on it is ``cos(option, positive) - cos(option, negative)``; a user's objective
direction is a unit vector of weights over the objectives, and their objective utility of an
option is the direction's dot product with the option's scores. The anchors are embedded once per
process (:class:`ObjectiveSpace`), so scoring is one small matrix product.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from persona_api.errors import FieldProblem, InvalidInput
from persona_api.kernel.embed import Embedder


@dataclass(frozen=True)
class Objective:
    name: str
    description: str
    positive: str
    negative: str


OBJECTIVES: tuple[Objective, ...] = (
    Objective(
        "helpfulness",
        "Answers that solve the problem with concrete, useful steps.",
        "Here is a clear, practical answer that solves your problem step by step.",
        "I can't help with that; figure it out yourself.",
    ),
    Objective(
        "harmlessness",
        "Safe, careful content that avoids harm to anyone.",
        "Please stay safe, be careful and treat everyone with respect.",
        "Here is how to hurt people and cause dangerous damage.",
    ),
    Objective(
        "verbosity",
        "Long, detailed, elaborate text rather than terse text.",
        "A long, thorough and extensively detailed explanation covering every aspect at great length.",
        "Short answer.",
    ),
    Objective(
        "formality",
        "Formal, professional register rather than casual chat.",
        "Dear Sir or Madam, we hereby respectfully acknowledge receipt of your correspondence.",
        "hey lol, gonna grab some food, wanna come?",
    ),
    Objective(
        "humor",
        "Funny, playful and witty rather than serious.",
        "A hilarious, witty joke that makes everyone laugh out loud.",
        "A serious, sober statement of the facts.",
    ),
    Objective(
        "creativity",
        "Original, imaginative and surprising rather than conventional.",
        "An imaginative, original and surprising idea nobody has thought of before.",
        "The usual, conventional, standard approach everyone already uses.",
    ),
)
BY_NAME: dict[str, Objective] = {o.name: o for o in OBJECTIVES}


def normalise_direction(weights: Mapping[str, float], field: str = "weights") -> dict[str, float]:
    """Validate weights over known objectives and scale them to a unit vector (422 otherwise)."""
    unknown = sorted(set(weights) - BY_NAME.keys())
    if unknown:
        known = ", ".join(BY_NAME)
        raise InvalidInput(
            f"unknown objectives: {', '.join(repr(u) for u in unknown)}; known: {known}",
            [FieldProblem(f"{field}.{u}", f"not a known objective ({known})") for u in unknown],
        )
    bad = [k for k, v in weights.items() if not math.isfinite(v)]
    if bad:
        raise InvalidInput(
            "objective weights must be finite numbers",
            [FieldProblem(f"{field}.{k}", "not finite") for k in bad],
        )
    # Scaled by the largest weight first, so squares of weights near 1e308 do not overflow.
    largest = max((abs(v) for v in weights.values()), default=0.0)
    if largest == 0.0:
        raise InvalidInput(
            "an objective direction needs at least one non-zero weight",
            [FieldProblem(field, "all weights are zero")],
        )
    scaled = {k: v / largest for k, v in weights.items()}
    norm = math.sqrt(sum(v * v for v in scaled.values()))
    return {k: v / norm for k, v in scaled.items() if v != 0.0}


class ObjectiveSpace:
    """The anchors of every objective, embedded on first use (thread-safe, once per process)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._lock = threading.Lock()
        self._axes: NDArray[np.float32] | None = None

    def axes(self) -> NDArray[np.float32]:
        """``len(OBJECTIVES) x dim``: positive minus negative anchor embedding. Blocking."""
        with self._lock:
            if self._axes is None:
                positive = self.embedder.encode([o.positive for o in OBJECTIVES])
                negative = self.embedder.encode([o.negative for o in OBJECTIVES])
                self._axes = (positive - negative).astype(np.float32)
            return self._axes

    def scores(self, embeddings: NDArray[np.float32]) -> NDArray[np.float64]:
        """Per option and objective: cosine to the positive minus cosine to the negative anchor
        (the embeddings are unit vectors, so that is one product with the axes). Blocking."""
        result: NDArray[np.float64] = np.asarray(embeddings, np.float64) @ self.axes().T.astype(np.float64)
        return result

    def utility(self, embeddings: NDArray[np.float32], direction: Mapping[str, float]) -> NDArray[np.float64]:
        """The direction's dot product with each option's objective scores. Blocking."""
        vector = np.array([direction.get(o.name, 0.0) for o in OBJECTIVES], dtype=np.float64)
        result: NDArray[np.float64] = self.scores(embeddings) @ vector
        return result
