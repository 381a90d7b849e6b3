"""Tables of value profiles: what a user values in an assistant's answers, one row per version.

A profile has up to 40 preferences in Janus's four dimensions (style, background knowledge,
informativeness, harmlessness) and a free-text note. ``partner`` is ``""`` for the user's own
profile, or a conversation partner's id for an override used when talking about/with that partner.
Every ``PUT`` adds a version; older versions stay as history until the user (or the override) is
deleted (``ON DELETE CASCADE`` from ``users``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from persona_api.store.tables import Base, BigIntId, utcnow


class ValueProfile(Base):
    __tablename__ = "value_profiles"
    __table_args__ = (
        UniqueConstraint("user_id", "partner", "version", name="uq_value_profiles_user_partner_version"),
        Index("ix_value_profiles_tenant", "tenant_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("users.id", ondelete="CASCADE"))
    partner: Mapped[str] = mapped_column(String(128), default="")
    """``""``: the user's own profile; otherwise the partner id this override applies to."""
    version: Mapped[int] = mapped_column(Integer)
    preferences: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """``[{"dimension", "subdimension", "preference", "description"}, ...]`` in the client's order."""
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
