"""msgspec Structs of the preference-latent routes (comparisons, latents, scoring, objectives)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from persona_api.http.schemas import ExternalId

MAX_COMPARISONS_PER_BATCH = 500
MAX_SCORE_CANDIDATES = 200
MAX_QUERY_CANDIDATES = 100

OptionText = Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
Context = Annotated[str, msgspec.Meta(max_length=4000)]
ObjectiveName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class OptionBody(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """An option: ``{"text": "..."}`` or ``{"item": "<catalog item id>"}``, exactly one."""

    text: OptionText | None = None
    item: ExternalId | None = None

    def __post_init__(self) -> None:
        if (self.text is None) == (self.item is None):
            raise ValueError('an option is {"text": ...} or {"item": ...}, exactly one')


class ComparisonBody(msgspec.Struct, forbid_unknown_fields=True):
    id: ExternalId
    """The client's id: re-sending the same comparison is a no-op (counted as a duplicate)."""
    chosen: OptionBody
    rejected: OptionBody
    context: Context | None = None
    """The prompt or situation the options answered (stored and exported)."""
    strength: Annotated[float, msgspec.Meta(gt=0.0, le=1.0)] = 1.0
    """How clear the preference was: the comparison's weight in the fit."""
    tie: bool = False
    """Neither was preferred: pulls the two options' utilities together."""


class ComparisonBatch(msgspec.Struct, forbid_unknown_fields=True):
    comparisons: Annotated[
        list[ComparisonBody], msgspec.Meta(min_length=1, max_length=MAX_COMPARISONS_PER_BATCH)
    ]


class OptionOut(msgspec.Struct, omit_defaults=True):
    text: str | None = None
    item: str | None = None


class ComparisonOut(msgspec.Struct):
    id: str
    chosen: OptionOut
    rejected: OptionOut
    context: str | None
    strength: float
    tie: bool
    created_at: datetime


class LatentOut(msgspec.Struct):
    user: str | None
    """null for the population's prior (``GET /v1/preferences/prior``)."""
    model_version: str
    version: int
    """The stored version (0: nothing stored, the population prior)."""
    n_comparisons: int
    prototype_weights: list[float]
    weights_std: list[float]
    ideal_point: list[float]
    uncertainty: float
    """sqrt of the trace of the weights' posterior covariance: shrinks as comparisons come in."""
    objective: dict[str, float] | None
    updated_at: datetime | None
    prior: bool
    """True while the latent is the population prior (no comparisons)."""


class ComparisonsAdded(msgspec.Struct):
    created: int
    duplicates: int
    preferences: LatentOut


class LatentVersionOut(msgspec.Struct):
    version: int
    model_version: str
    n_comparisons: int
    reason: str
    prototype_weights: list[float]
    uncertainty: float
    objective: dict[str, float] | None
    created_at: datetime


class ScoreRequest(msgspec.Struct, forbid_unknown_fields=True):
    candidates: Annotated[list[OptionBody], msgspec.Meta(min_length=2, max_length=MAX_SCORE_CANDIDATES)]
    context: Context | None = None
    """Accepted for symmetry with comparisons; the model does not condition on it yet."""


class ScoredOut(msgspec.Struct):
    index: int
    option: OptionOut
    utility: float
    """Relative utility for the user (only differences between candidates matter)."""
    std: float
    win_probability: float
    """Mean probability of being preferred to each other candidate."""
    rank: int
    """1 for the best candidate by utility."""
    objective_score: float | None = None
    """The user's objective direction applied to this candidate (when a direction is set)."""


class ScoresOut(msgspec.Struct):
    user: str | None
    """The user scored for; null for the population's prior (``POST /v1/preferences/score``)."""
    model_version: str
    n_comparisons: int
    prior: bool
    candidates: list[ScoredOut]
    """In request order."""


class QueryRequest(msgspec.Struct, forbid_unknown_fields=True):
    candidates: Annotated[list[OptionBody], msgspec.Meta(min_length=2, max_length=MAX_QUERY_CANDIDATES)]


class NextQueryOut(msgspec.Struct):
    first: int
    second: int
    """Indices into the request's candidates."""
    first_option: OptionOut
    second_option: OptionOut
    expected_information_bits: float
    probability_first: float
    """Predicted probability that the user prefers ``first``."""
    model_version: str


class ObjectiveBody(msgspec.Struct, forbid_unknown_fields=True):
    weights: Annotated[dict[ObjectiveName, float], msgspec.Meta(min_length=1, max_length=32)]


class ObjectiveOut(msgspec.Struct):
    user: str
    weights: dict[str, float] | None
    """A unit vector over the objectives, or null when none is set."""


class ObjectiveInfo(msgspec.Struct):
    name: str
    description: str
    positive_anchor: str
    negative_anchor: str


class ObjectivesOut(msgspec.Struct):
    objectives: list[ObjectiveInfo]
