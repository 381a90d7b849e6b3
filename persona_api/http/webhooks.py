"""Webhook endpoint routes: ``/v1/webhooks`` (create, list, get, delete), rotating an endpoint's
secret, and its recent deliveries. The secret is in the answers of create and rotate only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Controller, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.pagination import OffsetPagination
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.http.openapi import answers
from persona_api.http.pagination import PageRequest
from persona_api.http.paths import IdPath
from persona_api.store.outbox import WebhookDelivery, WebhookEndpoint
from persona_api.webhooks.service import Webhooks

EventType = Literal[
    "memory.created",
    "memory.superseded",
    "memory.deleted",
    "user.deleted",
    "preferences.updated",
    "values.updated",
    "artifacts.published",
]


class WebhookCreate(msgspec.Struct, forbid_unknown_fields=True):
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2000, examples=["https://app.example/hooks"])]
    events: Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=7)]
    description: Annotated[str, msgspec.Meta(max_length=200)] = ""


class WebhookOut(msgspec.Struct):
    id: str
    url: str
    events: list[str]
    description: str
    created_at: datetime
    secret_rotated_at: datetime | None


class WebhookCreated(msgspec.Struct):
    id: str
    url: str
    events: list[str]
    description: str
    created_at: datetime
    secret: str
    """Signs every delivery (``X-Persona-Signature``); shown here and by a rotation only."""


class WebhookSecret(msgspec.Struct):
    id: str
    secret: str
    rotated_at: datetime


class DeliveryOut(msgspec.Struct):
    id: int
    event_id: str
    type: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status: int | None
    """The receiver's HTTP status at the last attempt; null when it gave none (timeout, refused)."""
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    """When a pending delivery is tried next; null once it is delivered or failed."""
    delivered_at: datetime | None


def _out(row: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(
        id=row.id,
        url=row.url,
        events=list(row.events),
        description=row.description,
        created_at=row.created_at,
        secret_rotated_at=row.secret_rotated_at,
    )


def _delivery(row: WebhookDelivery, kind: str) -> DeliveryOut:
    return DeliveryOut(
        id=row.id,
        event_id=row.event_id,
        type=kind,
        state=row.state,  # type: ignore[arg-type]  # the column holds one of the three
        attempts=row.attempts,
        last_status=row.last_status,
        last_error=row.last_error,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at if row.state == "pending" else None,
        delivered_at=row.delivered_at,
    )


def provide_webhooks(
    state: State, db_session: NamedDependency[AsyncSession], auth_tenant: NamedDependency[str]
) -> Webhooks:
    return Webhooks(db_session, auth_tenant, allow_private=state.settings.webhook_allow_private_urls)


class WebhookController(Controller):
    path = "/v1/webhooks"
    tags = ["webhooks"]
    dependencies = {"webhooks": Provide(provide_webhooks, sync_to_thread=False)}

    @post(operation_id="createWebhook", summary="Subscribe an endpoint to event types")
    async def create_webhook(
        self, data: JSONBody[WebhookCreate], webhooks: NamedDependency[Webhooks]
    ) -> WebhookCreated:
        row = await webhooks.create(data.url, data.events, data.description)
        return WebhookCreated(
            id=row.id,
            url=row.url,
            events=list(row.events),
            description=row.description,
            created_at=row.created_at,
            secret=row.secret,
        )

    @get(operation_id="listWebhooks", summary="The tenant's webhook endpoints")
    async def list_webhooks(
        self, webhooks: NamedDependency[Webhooks], page: NamedDependency[PageRequest]
    ) -> OffsetPagination[WebhookOut]:
        rows, total = await webhooks.page(limit=page.limit, offset=page.offset)
        return OffsetPagination(
            items=[_out(r) for r in rows], limit=page.limit, offset=page.offset, total=total
        )

    @get("/{webhook_id:str}", operation_id="getWebhook", summary="One webhook endpoint")
    async def get_webhook(self, webhook_id: IdPath, webhooks: NamedDependency[Webhooks]) -> WebhookOut:
        return _out(await webhooks.get(webhook_id))

    @delete(
        "/{webhook_id:str}",
        operation_id="deleteWebhook",
        summary="Delete an endpoint (its pending deliveries are dropped)",
    )
    async def delete_webhook(self, webhook_id: IdPath, webhooks: NamedDependency[Webhooks]) -> None:
        await webhooks.delete(webhook_id)

    @post(
        "/{webhook_id:str}/rotate-secret",
        operation_id="rotateWebhookSecret",
        summary="Replace an endpoint's signing secret (the old one stops at once)",
        status_code=200,
        opt=answers(404),
    )
    async def rotate_secret(self, webhook_id: IdPath, webhooks: NamedDependency[Webhooks]) -> WebhookSecret:
        row = await webhooks.rotate_secret(webhook_id)
        assert row.secret_rotated_at is not None
        return WebhookSecret(id=row.id, secret=row.secret, rotated_at=row.secret_rotated_at)

    @get(
        "/{webhook_id:str}/deliveries",
        operation_id="listWebhookDeliveries",
        summary="An endpoint's recent deliveries, newest first",
    )
    async def deliveries(
        self, webhook_id: IdPath, webhooks: NamedDependency[Webhooks], page: NamedDependency[PageRequest]
    ) -> OffsetPagination[DeliveryOut]:
        rows, total = await webhooks.deliveries(webhook_id, limit=page.limit, offset=page.offset)
        return OffsetPagination(
            items=[_delivery(d, kind) for d, kind in rows], limit=page.limit, offset=page.offset, total=total
        )
