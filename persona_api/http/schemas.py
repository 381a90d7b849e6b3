"""msgspec Structs at the HTTP boundary of the foundation (admin, users, health)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

ExternalId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@+-]*$",
        description="The client's own id: letters, digits and . _ : @ + - (max 128).",
        examples=["user-42"],
    ),
]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Metadata = Annotated[
    dict[str, Any],
    msgspec.Meta(description="Free-form JSON object stored with the user (at most 16 KiB encoded)."),
]


RateLimit = Annotated[
    int,
    msgspec.Meta(
        ge=0,
        le=1_000_000,
        description="Requests per minute, all the tenant's keys together (0: not limited).",
        examples=[600],
    ),
]


class TenantCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    rate_limit_per_minute: RateLimit | None = None
    """The tenant's own rate limit; null: the service's ``PERSONA_RATE_LIMIT_PER_MINUTE``."""
    create_unknown_users: bool = True
    """The OpenAI-compatible endpoint creates a user it does not know yet (false: a 404)."""


class TenantPatch(msgspec.Struct, forbid_unknown_fields=True):
    """The fields to change; a field left out keeps its value."""

    rate_limit_per_minute: RateLimit | msgspec.UnsetType | None = msgspec.UNSET
    """The tenant's own rate limit; null: back to the service's default."""
    create_unknown_users: bool | msgspec.UnsetType = msgspec.UNSET
    """Whether the OpenAI-compatible endpoint creates users it does not know (else a 404)."""


class TenantOut(msgspec.Struct):
    id: str
    name: str
    created_at: datetime
    rate_limit_per_minute: int | None
    """The tenant's own rate limit; null: it has the service's default."""
    create_unknown_users: bool


KeyScope = Annotated[
    Literal["read", "write"],
    msgspec.Meta(
        description="write: every tenant route; read: only the routes that change nothing (others: 403)."
    ),
]


class KeyCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    scope: KeyScope = "write"


class KeyOut(msgspec.Struct):
    """An API key as listed: the secret is never shown again, only its prefix."""

    id: str
    tenant_id: str
    name: str
    prefix: str
    scope: KeyScope
    created_at: datetime
    revoked_at: datetime | None


class IssuedKeyOut(msgspec.Struct):
    """A newly issued key. ``key`` is shown only in this response: store it now."""

    id: str
    tenant_id: str
    name: str
    prefix: str
    scope: KeyScope
    key: str
    created_at: datetime


class UserCreate(msgspec.Struct, forbid_unknown_fields=True):
    id: ExternalId
    metadata: Metadata = msgspec.field(default_factory=dict)


class UserPatch(msgspec.Struct, forbid_unknown_fields=True):
    """RFC 7396 merge patch of the metadata: ``null`` removes a key."""

    metadata: Metadata


class UserOut(msgspec.Struct):
    id: str
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class UserExport(msgspec.Struct):
    """Everything stored about a user; ``data`` has one section per capability."""

    user: UserOut
    exported_at: datetime
    data: dict[str, Any]


class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    status: str
    database: str
    schema_revision: str | None
    artifact_version: str | None
    artifacts: str
    """``loading`` until the start-up load of ``CURRENT`` ends; then ``loaded``, ``none`` (nothing
    published) or ``failed`` (the version ``CURRENT`` names does not load)."""
    embedding_model: str
    """``ready``; ``loading`` while the start-up preload runs; ``on first use`` without a preload;
    ``failed`` if the preload failed (it is retried, and requests retry the load)."""
    version: str
