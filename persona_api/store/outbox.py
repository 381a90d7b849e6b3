"""The webhook outbox: endpoints, the events written with each change, and their deliveries.

A change that apps may want to react to (a memory stored, a user deleted, ...) calls :func:`emit`
inside its own transaction: the event and one delivery per subscribed endpoint are committed with
the change or not at all, and a sender (:mod:`persona_api.webhooks.sender`) delivers them later, at
least once. A tenant without endpoints for the event's type costs one indexed lookup and no row.

Events name their user by the client's id (``user_ref``), which also orders deliveries: an
endpoint gets one user's events in the order they were written. Deleting a user deletes their
events (see :func:`forget_user`) before ``user.deleted`` is written.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from persona_api.store.tables import Base, BigIntId, User, utcnow

EVENT_TYPES = (
    "memory.created",
    "memory.superseded",
    "memory.deleted",
    "user.deleted",
    "preferences.updated",
    "values.updated",
    "artifacts.published",
)


class WebhookEndpoint(Base):
    """A tenant's receiver URL, the event types it subscribes to, and its signing secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(100))
    """Kept in the clear: the sender signs with it (as every webhook sender must)."""
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookEvent(Base):
    """One change, as delivered: ``body`` is the exact JSON every attempt sends."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_tenant_id_user_ref", "tenant_id", "user_ref"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    user_ref: Mapped[str | None] = mapped_column(String(128), default=None)
    """The client's id of the user the event is about; None for tenant-wide events."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    body: Mapped[str] = mapped_column(Text)


class WebhookDelivery(Base):
    """One event for one endpoint: pending until a 2xx (delivered) or until it is too old (failed)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_order", "endpoint_id", "order_key", "state", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    order_key: Mapped[str] = mapped_column(String(128), default="")
    """The event's ``user_ref`` (empty for tenant-wide events): deliveries with the same endpoint and
    key go out one at a time, oldest first."""
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    """Set while a sender holds the delivery; a sender that died lets it go when it passes."""
    last_status: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)


async def emit(
    session: AsyncSession,
    tenant_id: str,
    event_type: str,
    data: dict[str, Any],
    *,
    user_pk: int | None = None,
    user_ref: str | None = None,
) -> str | None:
    """Queue ``event_type`` for every endpoint of the tenant subscribed to it, in the caller's
    transaction; returns the event id (None when no endpoint wants it).

    A user-scoped event names its user by ``user_ref`` (or ``user_pk``, looked up): the body's
    ``data`` gets it as ``user_id``.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    endpoints = [
        endpoint_id
        for endpoint_id, events in (
            await session.execute(
                select(WebhookEndpoint.id, WebhookEndpoint.events).where(
                    WebhookEndpoint.tenant_id == tenant_id
                )
            )
        ).all()
        if event_type in events
    ]
    if not endpoints:
        return None
    if user_ref is None and user_pk is not None:
        user_ref = await session.scalar(select(User.external_id).where(User.id == user_pk))
    if user_ref is not None:
        data = {"user_id": user_ref, **data}
    now = utcnow()
    event_id = f"evt_{uuid.uuid4().hex}"
    body = {"id": event_id, "type": event_type, "created_at": now.isoformat(), "data": data}
    session.add(
        WebhookEvent(
            id=event_id,
            tenant_id=tenant_id,
            type=event_type,
            user_ref=user_ref,
            created_at=now,
            body=json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str),
        )
    )
    await session.flush()  # the event before its deliveries (their foreign key)
    session.add_all(
        WebhookDelivery(
            event_id=event_id,
            endpoint_id=endpoint_id,
            order_key=user_ref or "",
            next_attempt_at=now,
            created_at=now,
        )
        for endpoint_id in endpoints
    )
    return event_id


async def forget_user(session: AsyncSession, tenant_id: str, user_ref: str) -> int:
    """Delete every event about a user (and, by cascade, its deliveries): none of their data is sent
    or kept in the delivery log after their deletion. Returns how many."""
    ids = list(
        await session.scalars(
            select(WebhookEvent.id).where(
                WebhookEvent.tenant_id == tenant_id, WebhookEvent.user_ref == user_ref
            )
        )
    )
    if ids:
        await session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(ids)))
        await session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(ids)))
    return len(ids)
