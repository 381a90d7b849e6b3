"""Tables of the egocentric conversation memory.

Every table references ``users`` (or a row that does) with ``ON DELETE CASCADE``; the change feed
(``memory_changes``) references only the tenant, so that deletions stay visible to other replicas
after the memory rows are gone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from persona_api.store.tables import Base, BigIntId, utcnow


class Partner(Base):
    """A conversation partner of a user (a person, an agent, a bot)."""

    __tablename__ = "partners"
    __table_args__ = (UniqueConstraint("user_id", "external_id", name="uq_partners_user_external"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="person")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationSession(Base):
    """A conversation of the user with one or more partners; ``ordinal`` counts per user from 1."""

    __tablename__ = "conversation_sessions"
    __table_args__ = (
        UniqueConstraint("user_id", "external_id", name="uq_sessions_user_external"),
        UniqueConstraint("user_id", "ordinal", name="uq_sessions_user_ordinal"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(128))
    ordinal: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column()
    partner_ids: Mapped[list[int]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Turn(Base):
    """One utterance; ``speaker_partner_id`` is null when the user speaks."""

    __tablename__ = "turns"
    __table_args__ = (UniqueConstraint("session_id", "external_id", name="uq_turns_session_external"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("conversation_sessions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(128))
    position: Mapped[int] = mapped_column(Integer)
    speaker_partner_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("partners.id", ondelete="CASCADE")
    )
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column()
    extracted_by: Mapped[str | None] = mapped_column(String(32), default=None)
    """Which extractor has processed the turn (null: pending, e.g. for an off-path LLM extractor)."""
    status: Mapped[str] = mapped_column(String(16), default="complete", server_default="complete")
    """``complete``; or, for an assistant reply of the chat route, ``failed`` (the upstream call
    failed) or ``interrupted`` (the client hung up mid-stream), the text being what had arrived.
    Only complete turns yield memories."""


class Memory(Base):
    """Something the user's side of the conversation learned, about the user or a partner."""

    __tablename__ = "memories"
    __table_args__ = (
        Index("ix_memories_user_subject_current", "user_id", "subject_partner_id", "valid_to"),
        Index("ix_memories_user_hash", "user_id", "text_hash"),
        Index("ix_memories_user_key", "user_id", "fact_key"),
        Index("ux_memories_user_number", "user_id", "number", unique=True),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("users.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(BigInteger)
    """The id clients see: 1, 2, 3... within the user (``id`` is shared by every tenant)."""
    subject_partner_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("partners.id", ondelete="CASCADE")
    )
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64))
    fact_key: Mapped[str | None] = mapped_column(String(200), default=None)
    origin: Mapped[str] = mapped_column(String(16))
    session_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("conversation_sessions.id", ondelete="SET NULL"), default=None
    )
    source_turn_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    provenance: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """Every observation merged into this memory: ``{session_id, turn_ids, observed_at, origin}``."""
    observed_at: Mapped[datetime] = mapped_column()
    valid_from: Mapped[datetime] = mapped_column()
    valid_to: Mapped[datetime | None] = mapped_column(default=None)
    superseded_by: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("memories.id", ondelete="SET NULL"), default=None
    )
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class MemoryLink(Base):
    """An undirected relation between two memories of one user (stored once, low id first)."""

    __tablename__ = "memory_links"

    memory_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("memories.id", ondelete="CASCADE"), primary_key=True
    )
    linked_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("memories.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column()


class MemoryHead(Base):
    """Per-tenant change counter. Each memory write increments it under a row lock, so change
    sequence numbers are assigned in commit order without gaps (replicas can trust a watermark)."""

    __tablename__ = "memory_heads"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigIntId, default=0)


class MemoryChange(Base):
    """One entry of the change feed: memory ``memory_id`` was upserted or deleted at ``seq``."""

    __tablename__ = "memory_changes"
    __table_args__ = (Index("ix_memory_changes_tenant_seq", "tenant_id", "seq"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigIntId)
    memory_id: Mapped[int] = mapped_column(BigIntId)
    op: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MemoryExtraction(Base):
    """A turn queued for off-path (LLM) extraction, and what became of it.

    ``status`` is ``pending`` until memories were written: ``done`` (by the LLM) or ``fallback`` (the
    LLM failed ``attempts`` times; the rules extracted instead, ``last_error`` says why). A worker
    claims a pending row by pushing ``next_attempt_at`` past a lease, so a crashed claim is retried.
    """

    __tablename__ = "memory_extractions"
    __table_args__ = (Index("ix_memory_extractions_status_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    turn_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("turns.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
