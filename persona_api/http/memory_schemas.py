"""msgspec Structs of the conversation-memory routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from persona_api.http.schemas import ExternalId, Name

MAX_TURNS_PER_BATCH = 256
TurnText = Annotated[str, msgspec.Meta(min_length=1, max_length=10_000)]
MemoryText = Annotated[str, msgspec.Meta(min_length=1, max_length=4_000)]


class PartnerCreate(msgspec.Struct, forbid_unknown_fields=True):
    id: ExternalId
    name: Name
    kind: Literal["person", "agent", "bot"] = "person"


class PartnerOut(msgspec.Struct):
    id: str
    name: str
    kind: str
    created_at: datetime


class SessionCreate(msgspec.Struct, forbid_unknown_fields=True):
    partners: Annotated[list[ExternalId], msgspec.Meta(min_length=1, max_length=32)]
    id: ExternalId | None = None
    started_at: datetime | None = msgspec.field(default=None)
    """When the session started (timezone-aware); default now."""


class SessionOut(msgspec.Struct):
    id: str
    ordinal: int
    started_at: datetime
    partners: list[str]


class TurnBody(msgspec.Struct, forbid_unknown_fields=True):
    speaker: Annotated[str, msgspec.Meta(min_length=1, max_length=128, description='"user" or a partner id')]
    text: TurnText
    id: ExternalId | None = None
    at: datetime | None = None


class TurnBatch(msgspec.Struct, forbid_unknown_fields=True):
    turns: Annotated[list[TurnBody], msgspec.Meta(min_length=1)]


class TurnOut(msgspec.Struct):
    id: str
    speaker: str
    text: str
    at: datetime
    position: int
    status: str = "complete"
    """``complete``; for a chat reply, ``failed`` (upstream failure) or ``interrupted`` (the client
    hung up mid-stream)."""


class MemoryWrite(msgspec.Struct):
    id: int
    """The memory's number within the user (as in ``MemoryOut.id``)."""
    status: Literal["created", "merged"]
    superseded: list[int]
    """The numbers of the memories it replaced."""


class IngestOut(msgspec.Struct):
    accepted: list[str]
    skipped: list[str]
    """Turn ids already in the session (ingest is idempotent for client turn ids)."""
    memories: list[MemoryWrite]


class MemoryCreate(msgspec.Struct, forbid_unknown_fields=True):
    text: MemoryText
    partner: ExternalId | None = None
    """The partner this memory is about; default: the user."""
    session: ExternalId | None = None
    turn_ids: Annotated[list[str], msgspec.Meta(max_length=64)] = msgspec.field(default_factory=list)
    observed_at: datetime | None = None
    valid_from: datetime | None = None
    key: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    """A fact slot such as ``home_city``: a newer memory with the same key supersedes the older one."""


class MemoryOut(msgspec.Struct):
    id: int
    """The memory's number within the user: 1, 2, 3... in the order written, never reused."""
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
    """The number of the memory that replaced this one."""
    mentions: int


class MemoryCreated(msgspec.Struct):
    status: Literal["created", "merged"]
    superseded: list[int]
    """The numbers of the memories it replaced."""
    memory: MemoryOut


class MemoryHistory(msgspec.Struct):
    items: list[MemoryOut]


class DeletedCount(msgspec.Struct):
    deleted: int


class SearchRequest(msgspec.Struct, forbid_unknown_fields=True):
    query: Annotated[str, msgspec.Meta(min_length=1, max_length=2_000)]
    k: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10
    partner: ExternalId | None = None
    subject: ExternalId | None = None
    """``"user"`` for memories about the user, or a partner id."""
    session: ExternalId | None = None
    observed_from: datetime | None = None
    observed_to: datetime | None = None
    include_superseded: bool = False
    include_linked: bool = False


class SearchHit(msgspec.Struct):
    memory: MemoryOut
    score: float
    dense: float
    lexical: float
    linked: list[MemoryOut]


class SearchResponse(msgspec.Struct):
    results: list[SearchHit]
