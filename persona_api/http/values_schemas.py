"""msgspec Structs of the value-profile and system-message routes.

Types and coarse bounds are checked here; :func:`persona_api.values.service.validate` owns the
rules (known dimensions, counts, lengths) and reports every offending field at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

Text = Annotated[str, msgspec.Meta(max_length=4000)]


class PreferenceIn(msgspec.Struct, forbid_unknown_fields=True):
    dimension: Annotated[
        str,
        msgspec.Meta(
            max_length=64,
            description="style, background_knowledge, informativeness or harmlessness",
            examples=["style"],
        ),
    ]
    subdimension: Text
    preference: Text
    description: Text = ""


class ValuesIn(msgspec.Struct, forbid_unknown_fields=True):
    preferences: Annotated[list[PreferenceIn], msgspec.Meta(max_length=200)]
    note: Text = ""


class PreferenceOut(msgspec.Struct):
    dimension: str
    subdimension: str
    preference: str
    description: str


class ValuesOut(msgspec.Struct):
    version: int
    partner: str | None
    """``null`` for the user's own profile, else the partner id of this override."""
    preferences: list[PreferenceOut]
    note: str
    created_at: datetime | None


class SystemMessageRequest(msgspec.Struct, forbid_unknown_fields=True):
    query: Annotated[
        str, msgspec.Meta(min_length=1, max_length=4000, description="The user's current message")
    ]
    partner: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | None = None
    """Whom the user is talking with: selects a value override and memories about them."""
    budget_tokens: Annotated[int, msgspec.Meta(ge=1, le=32_000)] = 800
    """Token budget of the message, estimated as characters / 4; the base instructions always stay."""
    memories_k: Annotated[int, msgspec.Meta(ge=0, le=50)] = 8


class PartOut(msgspec.Struct):
    kind: str
    """``base``, ``value``, ``note``, ``memory`` or ``preference_summary``."""
    ref: str
    """``preferences[i]``, ``note``, the memory id, or ``preference_summary[i]``."""
    tokens: int
    tag: str | None = None
    """A memory's provenance: "about X, from session N (date)"."""


class SystemMessageOut(msgspec.Struct):
    message: str
    tokens: int
    budget_tokens: int
    partner: str | None
    values_version: int | None
    """Version of the user's (or, with a partner override, the override's) value profile used."""
    included: list[PartOut]
    cut: list[PartOut]
