"""msgspec Structs of the catalog, interaction and recommendation routes, and the bulk decoder."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, TypeVar

import msgspec

from persona_api.errors import FieldProblem, InvalidInput, PayloadTooLarge
from persona_api.http.schemas import ExternalId

T = TypeVar("T")

MAX_ITEMS_PER_BATCH = 1000
MAX_EVENTS_PER_BATCH = 5000
MAX_REVIEWS_PER_BATCH = 500
NDJSON = "application/x-ndjson"

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
AttributeValue = str | int | float | bool | list[str]
Attributes = Annotated[
    dict[Annotated[str, msgspec.Meta(min_length=1, max_length=64)], AttributeValue],
    msgspec.Meta(
        max_length=32, description="Up to 32 attributes: strings, numbers, booleans or lists of strings."
    ),
]
Kind = Literal["view", "click", "add_to_cart", "purchase", "rating", "like", "dislike"]


class ItemBody(msgspec.Struct, forbid_unknown_fields=True):
    id: ExternalId
    title: Title
    description: Annotated[str, msgspec.Meta(max_length=10_000)] | None = None
    attributes: Attributes = msgspec.field(default_factory=dict)


class ItemOut(msgspec.Struct):
    id: str
    title: str
    description: str | None
    attributes: dict[str, AttributeValue]
    created_at: datetime
    updated_at: datetime


class UpsertOut(msgspec.Struct):
    created: int
    updated: int
    unchanged: int


class InteractionBody(msgspec.Struct, forbid_unknown_fields=True):
    user: ExternalId
    item: ExternalId
    type: Kind
    value: Annotated[float, msgspec.Meta(ge=0, le=5)] | None = None
    """The rating, for ``type: rating`` only."""
    weight: Annotated[float, msgspec.Meta(gt=0, le=1000)] | None = None
    """Replaces the configured weight of ``type`` for this event."""
    at: datetime | None = None
    id: ExternalId | None = None
    """The client's event id: a replayed event with the same user and id is not stored twice."""


class InteractionOut(msgspec.Struct):
    item: str
    type: str
    value: float | None
    weight: float | None
    at: datetime
    id: str | None


class ReviewBody(msgspec.Struct, forbid_unknown_fields=True):
    user: ExternalId
    item: ExternalId
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=10_000)]
    rating: Annotated[float, msgspec.Meta(ge=0, le=5)] | None = None
    at: datetime | None = None


class Ingested(msgspec.Struct):
    accepted: int
    duplicates: int
    """Interactions: replayed event ids skipped. Reviews: earlier reviews replaced."""
    users_created: int


class RecommendedItem(msgspec.Struct):
    id: str
    title: str
    score: float
    reason: str
    because: list[str]
    """Ids of the history items that drove this recommendation."""
    attributes: dict[str, AttributeValue]


class Recommendations(msgspec.Struct):
    items: list[RecommendedItem]
    strategy: Literal["sequential", "popular", "similar"]
    model_version: str | None
    user: str | None = None


class NextRequest(msgspec.Struct, forbid_unknown_fields=True):
    items: Annotated[list[ExternalId], msgspec.Meta(min_length=1, max_length=200)]
    """The session's items, oldest first."""
    k: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10
    exclude_seen: bool = True
    exclude: Annotated[list[ExternalId], msgspec.Meta(max_length=1000)] = msgspec.field(default_factory=list)
    filters: Annotated[dict[str, str], msgspec.Meta(max_length=16)] = msgspec.field(default_factory=dict)
    """Only items whose attribute ``key`` equals (or, for lists, contains) ``value``."""


class UserCodeOut(msgspec.Struct):
    user: str
    code: list[int]
    code_str: str
    """The code as ``a-b-c``: users with similar tastes share prefixes."""
    model_version: str
    similar_users: list[str]
    """Other users who had the same code when the model was trained."""


def decode_batch(body: bytes, content_type: str, kind: type[T], max_items: int) -> list[T]:
    """A JSON array or NDJSON (one object per line) of ``kind``, with at most ``max_items``."""
    if content_type.split(";")[0].strip().lower() == NDJSON:
        lines = [(n, line) for n, line in enumerate(body.splitlines(), 1) if line.strip()]
        if len(lines) > max_items:
            raise PayloadTooLarge(f"at most {max_items} records per batch; got {len(lines)}")
        out: list[T] = []
        for n, line in lines:
            try:
                out.append(msgspec.json.decode(line, type=kind))
            except msgspec.DecodeError as exc:
                raise InvalidInput(f"line {n}: {exc}", [FieldProblem(f"line {n}", str(exc))]) from None
        records = out
    else:
        try:
            records = msgspec.json.decode(body, type=list[kind])  # type: ignore[valid-type]
        except msgspec.DecodeError as exc:
            raise InvalidInput(f"invalid batch: {exc}", [FieldProblem(_path(str(exc)), str(exc))]) from None
        if len(records) > max_items:
            raise PayloadTooLarge(f"at most {max_items} records per batch; got {len(records)}")
    if not records:
        raise InvalidInput("the batch is empty", [FieldProblem("$", "at least one record")])
    return records


def _path(message: str) -> str:
    # msgspec ends its validation messages with "- at `$[3].title`".
    marker = "at `"
    return message.rsplit(marker, 1)[1].rstrip("`") if marker in message else "$"
