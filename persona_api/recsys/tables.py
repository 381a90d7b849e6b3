"""Tables of the recommender: the tenant's item catalog, users' interactions with items, and reviews.

Items belong to a tenant; interactions and reviews belong to a user and an item, both with
``ON DELETE CASCADE``, so deleting a user or an item removes what hangs off it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from persona_api.store.tables import Base, BigIntId, utcnow


class CatalogItem(Base):
    """An item a tenant can recommend, known to the client by ``external_id``."""

    __tablename__ = "catalog_items"
    __table_args__ = (UniqueConstraint("tenant_id", "external_id", name="uq_catalog_items_tenant_external"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(1000))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    """float32 MiniLM embedding of the title and description: a new item is recommendable at once."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Interaction(Base):
    """One event of a user with an item. ``event_id`` (the client's) makes ingestion idempotent."""

    __tablename__ = "interactions"
    __table_args__ = (
        UniqueConstraint("user_id", "event_id", name="uq_interactions_user_event"),
        Index("ix_interactions_user_at", "user_id", "at"),
        Index("ix_interactions_tenant_at", "tenant_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("users.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("catalog_items.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float, default=None)
    """The rating of a ``rating`` event (0-5)."""
    weight: Mapped[float | None] = mapped_column(Float, default=None)
    """The client's own weight; null means the configured weight of ``kind``."""
    at: Mapped[datetime] = mapped_column()
    event_id: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Review(Base):
    """Free text by a user about an item; one per user and item (a new one replaces it)."""

    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("user_id", "item_id", name="uq_reviews_user_item"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("users.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("catalog_items.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    rating: Mapped[float | None] = mapped_column(Float, default=None)
    at: Mapped[datetime] = mapped_column()
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
