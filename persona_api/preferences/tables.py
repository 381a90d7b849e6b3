"""Tables of preference latents: the options users compared, the comparisons, and each user's
fitted latents (one row per version).

An option is a text or a catalog item, stored once per tenant with its embedding under ``key``
(a hash of its kind and text or item id), so refits and the re-index job never embed twice.
Comparisons and latents belong to a user and go with them (``ON DELETE CASCADE``); options a
deleted user alone referred to are removed by the user-data handler.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from persona_api.store.tables import Base, BigIntId, utcnow


class PreferenceOption(Base):
    __tablename__ = "preference_options"
    __table_args__ = (UniqueConstraint("tenant_id", "key", name="uq_preference_options_tenant_key"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    """``text`` or ``item``."""
    text: Mapped[str] = mapped_column(Text)
    """The option's text; for an item, the title and description it was embedded from."""
    item_id: Mapped[str | None] = mapped_column(String(128), default=None)
    """The catalog item's external id, for ``kind == "item"``."""
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    """float32 MiniLM embedding (L2-normalised)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PreferenceComparison(Base):
    """One stated preference: ``chosen`` over ``rejected`` (or a tie), with an optional context."""

    __tablename__ = "preference_comparisons"
    __table_args__ = (
        UniqueConstraint("user_id", "client_id", name="uq_preference_comparisons_user_client"),
        Index("ix_preference_comparisons_tenant", "tenant_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(128))
    context: Mapped[str | None] = mapped_column(Text, default=None)
    chosen_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("preference_options.id", ondelete="CASCADE"))
    rejected_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("preference_options.id", ondelete="CASCADE")
    )
    strength: Mapped[float] = mapped_column(Float, default=1.0)
    tie: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PreferenceLatentRow(Base):
    """A user's latent as fitted after some change (a comparison, an objective, a new model)."""

    __tablename__ = "preference_latents"
    __table_args__ = (UniqueConstraint("user_id", "version", name="uq_preference_latents_user_version"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("users.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column()
    model_version: Mapped[str] = mapped_column(String(100))
    n_comparisons: Mapped[int] = mapped_column()
    latent: Mapped[dict[str, Any]] = mapped_column(JSON)
    """:meth:`Latent.to_json` (``mean``, ``covariance``, ``n_comparisons``)."""
    objective: Mapped[dict[str, float] | None] = mapped_column(JSON, default=None)
    """The DPA objective direction: a unit vector as ``{objective name: weight}``."""
    reason: Mapped[str] = mapped_column(String(32))
    """What made this version: ``comparisons``, ``objective``, ``model`` or ``deleted``."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
