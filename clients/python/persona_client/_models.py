"""The API's models, as the OpenAPI document has them.

Written by clients/python/generate.py: do not edit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec


class AssistantMessage(msgspec.Struct, kw_only=True, omit_defaults=True):
    """AssistantMessage"""

    role: str
    content: str


class AvoidOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """AvoidOut"""

    ingredient: str
    reason: Literal["dislike", "allergy"]


class ChatCompletionIn(msgspec.Struct, kw_only=True, omit_defaults=True):
    """OpenAI's chat completion request. Only ``messages`` is required; every field not named here"""

    messages: list[dict[str, Any]]
    model: str | None = None
    stream: bool | None = False
    stream_options: dict[str, Any] | None = None
    user: str | None = None


class ChatIn(msgspec.Struct, kw_only=True, omit_defaults=True):
    """ChatIn"""

    messages: list[ChatMessage]
    session: str | None = None
    partner: str | None = None
    stream: bool | None = False
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    budget_tokens: int | None = 800
    memories_k: int | None = 8


class ChatMessage(msgspec.Struct, kw_only=True, omit_defaults=True):
    """ChatMessage"""

    role: Literal["assistant", "user"]
    content: str


class ChatOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """ChatOut"""

    message: AssistantMessage
    session: str
    memories_used: list[MemoryUsed]
    usage: UsageOut | None
    model: str
    finish_reason: str | None


class CheckOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """CheckOut"""

    score: float | None
    pairs: list[PairOut]
    advise_against: list[PairOut]
    avoid: list[AvoidOut]
    model_version: str
    unscored: list[str]


class CheckRequest(msgspec.Struct, kw_only=True, omit_defaults=True):
    """CheckRequest"""

    ingredients: list[str]
    user: str | None = None


class ComparisonBatch(msgspec.Struct, kw_only=True, omit_defaults=True):
    """ComparisonBatch"""

    comparisons: list[ComparisonBody]


class ComparisonBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """ComparisonBody"""

    id: str
    chosen: OptionBody
    rejected: OptionBody
    context: str | None = None
    strength: float | None = 1.0
    tie: bool | None = False


class ComparisonOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """ComparisonOut"""

    id: str
    chosen: OptionOut
    rejected: OptionOut
    context: str | None
    strength: float
    tie: bool
    created_at: datetime


class ComparisonsAdded(msgspec.Struct, kw_only=True, omit_defaults=True):
    """ComparisonsAdded"""

    created: int
    duplicates: int
    preferences: LatentOut


class CompleteRequest(msgspec.Struct, kw_only=True, omit_defaults=True):
    """CompleteRequest"""

    ingredients: list[str]
    k: int | None = 10
    mode: Literal["blend", "flavor", "recipe"] | None = None
    cuisine: str | None = None
    exclude: list[str] | None = msgspec.field(default_factory=list)
    categories: list[str] | None = msgspec.field(default_factory=list)
    user: str | None = None


class DeletedCount(msgspec.Struct, kw_only=True, omit_defaults=True):
    """DeletedCount"""

    deleted: int


class DeliveryOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """DeliveryOut"""

    id: int
    event_id: str
    type: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None


class Evidence(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Evidence"""

    ingredient: str
    count: int


class FieldError(msgspec.Struct, kw_only=True, omit_defaults=True):
    """FieldError"""

    field: str
    message: str
    source: str | None = None


class FoodPreferences(msgspec.Struct, kw_only=True, omit_defaults=True):
    """FoodPreferences"""

    dislikes: list[str] | None = msgspec.field(default_factory=list)
    allergies: list[str] | None = msgspec.field(default_factory=list)


class Health(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Health"""

    status: str


class IngestOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """IngestOut"""

    accepted: list[str]
    skipped: list[str]
    memories: list[MemoryWrite]


class Ingested(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Ingested"""

    accepted: int
    duplicates: int
    users_created: int


class IngredientBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """IngredientBody"""

    name: str
    category: str | None = None
    compounds: list[str] | None = None


class IngredientDetail(msgspec.Struct, kw_only=True, omit_defaults=True):
    """IngredientDetail"""

    name: str
    key: str
    category: str
    compounds: list[str]
    recipes: int


class IngredientOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """IngredientOut"""

    name: str
    key: str
    category: str


class InteractionBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """InteractionBody"""

    user: str
    item: str
    type: Literal["add_to_cart", "click", "dislike", "like", "purchase", "rating", "view"]
    value: float | None = None
    weight: float | None = None
    at: str | None = None
    id: str | None = None


class InteractionOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """InteractionOut"""

    item: str
    type: str
    value: float | None
    weight: float | None
    at: datetime
    id: str | None


class IssuedKeyOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """IssuedKeyOut"""

    id: str
    tenant_id: str
    name: str
    prefix: str
    scope: Literal["read", "write"]
    key: str
    created_at: datetime


class ItemBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """ItemBody"""

    id: str
    title: str
    description: str | None = None
    attributes: dict[str, str | int | float | bool | list[str]] | None = msgspec.field(default_factory=dict)


class ItemOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """ItemOut"""

    id: str
    title: str
    description: str | None
    attributes: dict[str, str | int | float | bool | list[str]]
    created_at: datetime
    updated_at: datetime


class KeyCreate(msgspec.Struct, kw_only=True, omit_defaults=True):
    """KeyCreate"""

    name: str | None = ""
    scope: Literal["read", "write"] | None = "write"


class KeyOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """KeyOut"""

    id: str
    tenant_id: str
    name: str
    prefix: str
    scope: Literal["read", "write"]
    created_at: datetime
    revoked_at: datetime | None


class LatentOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """LatentOut"""

    user: str | None
    model_version: str
    version: int
    n_comparisons: int
    prototype_weights: list[float]
    weights_std: list[float]
    ideal_point: list[float]
    uncertainty: float
    objective: dict[str, float] | None
    updated_at: datetime | None
    prior: bool


class LatentVersionOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """LatentVersionOut"""

    version: int
    model_version: str
    n_comparisons: int
    reason: str
    prototype_weights: list[float]
    uncertainty: float
    objective: dict[str, float] | None
    created_at: datetime


class MemoryCreate(msgspec.Struct, kw_only=True, omit_defaults=True):
    """MemoryCreate"""

    text: str
    partner: str | None = None
    session: str | None = None
    turn_ids: list[str] | None = msgspec.field(default_factory=list)
    observed_at: str | None = None
    valid_from: str | None = None
    key: str | None = None


class MemoryCreated(msgspec.Struct, kw_only=True, omit_defaults=True):
    """MemoryCreated"""

    status: Literal["created", "merged"]
    superseded: list[int]
    memory: MemoryOut


class MemoryHistory(msgspec.Struct, kw_only=True, omit_defaults=True):
    """MemoryHistory"""

    items: list[MemoryOut]


class MemoryOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """MemoryOut"""

    id: int
    text: str
    about: str
    partner: str | None
    session: str | None
    session_ordinal: int | None
    tag: str
    source_turn_ids: list[str]
    origin: str
    key: str | None
    observed_at: datetime
    valid_from: datetime
    valid_to: datetime | None
    superseded_by: int | None
    mentions: int


class MemoryUsed(msgspec.Struct, kw_only=True, omit_defaults=True):
    """MemoryUsed"""

    id: int
    tag: str


class MemoryWrite(msgspec.Struct, kw_only=True, omit_defaults=True):
    """MemoryWrite"""

    id: int
    status: Literal["created", "merged"]
    superseded: list[int]


class MissingRequest(msgspec.Struct, kw_only=True, omit_defaults=True):
    """MissingRequest"""

    ingredients: list[str]
    k: int | None = 3
    cuisine: str | None = None
    user: str | None = None


class NextQueryOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """NextQueryOut"""

    first: int
    second: int
    first_option: OptionOut
    second_option: OptionOut
    expected_information_bits: float
    probability_first: float
    model_version: str


class NextRequest(msgspec.Struct, kw_only=True, omit_defaults=True):
    """NextRequest"""

    items: list[str]
    k: int | None = 10
    exclude_seen: bool | None = True
    exclude: list[str] | None = msgspec.field(default_factory=list)
    filters: dict[str, str] | None = msgspec.field(default_factory=dict)


class ObjectiveBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """ObjectiveBody"""

    weights: dict[str, float]


class ObjectiveInfo(msgspec.Struct, kw_only=True, omit_defaults=True):
    """ObjectiveInfo"""

    name: str
    description: str
    positive_anchor: str
    negative_anchor: str


class ObjectiveOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """ObjectiveOut"""

    user: str
    weights: dict[str, float] | None


class ObjectivesOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """ObjectivesOut"""

    objectives: list[ObjectiveInfo]


class OpenAIErrorBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """OpenAIErrorBody"""

    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIErrorOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An OpenAI error object: what the OpenAI-compatible routes answer instead of a problem."""

    error: OpenAIErrorBody


class OptionBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An option: ``{"text": "..."}`` or ``{"item": "<catalog item id>"}``, exactly one."""

    text: str | None = None
    item: str | None = None


class OptionOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """OptionOut"""

    text: str | None = None
    item: str | None = None


class PairOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """PairOut"""

    a: str
    b: str
    score: float
    together: int
    expected: float
    shared_compounds: int
    advise_against: bool
    why: list[str]


class PartOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """PartOut"""

    kind: str
    ref: str
    tokens: int
    tag: str | None = None


class PartnerCreate(msgspec.Struct, kw_only=True, omit_defaults=True):
    """PartnerCreate"""

    id: str
    name: str
    kind: Literal["agent", "bot", "person"] | None = "person"


class PartnerOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """PartnerOut"""

    id: str
    name: str
    kind: str
    created_at: datetime


class PreferenceIn(msgspec.Struct, kw_only=True, omit_defaults=True):
    """PreferenceIn"""

    dimension: str
    subdimension: str
    preference: str
    description: str | None = ""


class PreferenceOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """PreferenceOut"""

    dimension: str
    subdimension: str
    preference: str
    description: str


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An RFC 9457 problem: ``type`` is a ``urn:persona-api:problem:...`` URN."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str | None
    errors: list[FieldError] | None = None
    upstream_status: int | None = None


class QueryRequest(msgspec.Struct, kw_only=True, omit_defaults=True):
    """QueryRequest"""

    candidates: list[OptionBody]


class Readiness(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Readiness"""

    status: str
    database: str
    schema_revision: str | None
    artifact_version: str | None
    artifacts: str
    embedding_model: str
    version: str


class RecipeBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """RecipeBody"""

    ingredients: list[str]
    id: str | None = None
    cuisine: str | None = None
    title: str | None = None
    user: str | None = None


class RecipeOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """RecipeOut"""

    id: str
    ingredients: list[str]
    cuisine: str | None
    title: str | None
    user: str | None


class Recommendations(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Recommendations"""

    items: list[RecommendedItem]
    strategy: Literal["sequential", "popular", "similar"]
    model_version: str | None
    user: str | None = None


class RecommendedItem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """RecommendedItem"""

    id: str
    title: str
    score: float
    reason: str
    because: list[str]
    attributes: dict[str, str | int | float | bool | list[str]]


class ReviewBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """ReviewBody"""

    user: str
    item: str
    text: str
    rating: float | None = None
    at: str | None = None


class ScoreRequest(msgspec.Struct, kw_only=True, omit_defaults=True):
    """ScoreRequest"""

    candidates: list[OptionBody]
    context: str | None = None


class ScoredOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """ScoredOut"""

    index: int
    option: OptionOut
    utility: float
    std: float
    win_probability: float
    rank: int
    objective_score: float | None = None


class ScoresOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """ScoresOut"""

    user: str | None
    model_version: str
    n_comparisons: int
    prior: bool
    candidates: list[ScoredOut]


class SearchHit(msgspec.Struct, kw_only=True, omit_defaults=True):
    """SearchHit"""

    memory: MemoryOut
    score: float
    dense: float
    lexical: float
    linked: list[MemoryOut]


class SearchRequest(msgspec.Struct, kw_only=True, omit_defaults=True):
    """SearchRequest"""

    query: str
    k: int | None = 10
    partner: str | None = None
    subject: str | None = None
    session: str | None = None
    observed_from: str | None = None
    observed_to: str | None = None
    include_superseded: bool | None = False
    include_linked: bool | None = False


class SearchResponse(msgspec.Struct, kw_only=True, omit_defaults=True):
    """SearchResponse"""

    results: list[SearchHit]


class SessionCreate(msgspec.Struct, kw_only=True, omit_defaults=True):
    """SessionCreate"""

    partners: list[str]
    id: str | None = None
    started_at: str | None = None


class SessionOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """SessionOut"""

    id: str
    ordinal: int
    started_at: datetime
    partners: list[str]


class SuggestionOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """SuggestionOut"""

    ingredient: str
    category: str
    score: float
    reason: str
    cooked_with: list[Evidence]
    shared_compounds: list[Evidence]
    probability: float | None = None


class SuggestionsOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """SuggestionsOut"""

    suggestions: list[SuggestionOut]
    mode: Literal["recipe", "flavor", "blend"]
    model_version: str
    unscored: list[str]
    avoided: list[str]


class SystemMessageOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """SystemMessageOut"""

    message: str
    tokens: int
    budget_tokens: int
    partner: str | None
    values_version: int | None
    included: list[PartOut]
    cut: list[PartOut]


class SystemMessageRequest(msgspec.Struct, kw_only=True, omit_defaults=True):
    """SystemMessageRequest"""

    query: str
    partner: str | None = None
    budget_tokens: int | None = 800
    memories_k: int | None = 8


class TenantCreate(msgspec.Struct, kw_only=True, omit_defaults=True):
    """TenantCreate"""

    name: str
    rate_limit_per_minute: int | None = None
    create_unknown_users: bool | None = True


class TenantOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """TenantOut"""

    id: str
    name: str
    created_at: datetime
    rate_limit_per_minute: int | None
    create_unknown_users: bool


class TenantPatch(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The fields to change; a field left out keeps its value."""

    rate_limit_per_minute: int | None = None
    create_unknown_users: bool | None = None


class TurnBatch(msgspec.Struct, kw_only=True, omit_defaults=True):
    """TurnBatch"""

    turns: list[TurnBody]


class TurnBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """TurnBody"""

    speaker: str
    text: str
    id: str | None = None
    at: str | None = None


class TurnOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """TurnOut"""

    id: str
    speaker: str
    text: str
    at: datetime
    position: int
    status: str | None = "complete"


class UpsertOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """UpsertOut"""

    created: int
    updated: int
    unchanged: int


class UsageOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """UsageOut"""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class UserCodeOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """UserCodeOut"""

    user: str
    code: list[int]
    code_str: str
    model_version: str
    similar_users: list[str]


class UserCreate(msgspec.Struct, kw_only=True, omit_defaults=True):
    """UserCreate"""

    id: str
    metadata: dict[str, Any] | None = msgspec.field(default_factory=dict)


class UserExport(msgspec.Struct, kw_only=True, omit_defaults=True):
    """UserExport"""

    user: UserOut
    exported_at: datetime
    data: dict[str, Any]


class UserOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """UserOut"""

    id: str
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class UserPatch(msgspec.Struct, kw_only=True, omit_defaults=True):
    """RFC 7396 merge patch of the metadata: ``null`` removes a key."""

    metadata: dict[str, Any]


class ValuesIn(msgspec.Struct, kw_only=True, omit_defaults=True):
    """ValuesIn"""

    preferences: list[PreferenceIn]
    note: str | None = ""


class ValuesOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """ValuesOut"""

    version: int
    partner: str | None
    preferences: list[PreferenceOut]
    note: str
    created_at: datetime | None


class WebhookCreate(msgspec.Struct, kw_only=True, omit_defaults=True):
    """WebhookCreate"""

    url: str
    events: list[
        Literal[
            "artifacts.published",
            "memory.created",
            "memory.deleted",
            "memory.superseded",
            "preferences.updated",
            "user.deleted",
            "values.updated",
        ]
    ]
    description: str | None = ""


class WebhookCreated(msgspec.Struct, kw_only=True, omit_defaults=True):
    """WebhookCreated"""

    id: str
    url: str
    events: list[str]
    description: str
    created_at: datetime
    secret: str


class WebhookOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """WebhookOut"""

    id: str
    url: str
    events: list[str]
    description: str
    created_at: datetime
    secret_rotated_at: datetime | None


class WebhookSecret(msgspec.Struct, kw_only=True, omit_defaults=True):
    """WebhookSecret"""

    id: str
    secret: str
    rotated_at: datetime


class WriteOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """WriteOut"""

    created: int
    updated: int
    unchanged: int
    ids: list[str] | None = None
