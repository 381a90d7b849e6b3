"""A tenant's webhook endpoints: create (the secret shown once), list, delete, rotate the secret,
and the recent deliveries of one endpoint.

An endpoint's URL must be ``http`` or ``https`` and, unless the operator allows private
destinations (``PERSONA_WEBHOOK_ALLOW_PRIVATE_URLS``), resolve only to public addresses: a tenant
must not be able to make the service POST into the network it runs in. The sender checks the
addresses again before every attempt, so a name that later resolves inward is refused then too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import uuid
from collections.abc import Sequence

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.errors import FieldProblem, InvalidInput, NotFound
from persona_api.store.outbox import EVENT_TYPES, WebhookDelivery, WebhookEndpoint, WebhookEvent
from persona_api.store.pages import list_and_count
from persona_api.store.tables import utcnow
from persona_api.webhooks.signing import new_secret

MAX_ENDPOINTS_PER_TENANT = 20


class UnsafeDestination(Exception):
    """The URL's host resolves to an address the service does not send to."""


async def check_destination(url: str) -> None:
    """Raise :class:`UnsafeDestination` unless every address ``url``'s host resolves to is public."""
    parsed = httpx.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parsed.host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeDestination(f"the host {parsed.host!r} does not resolve ({exc.strerror})") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise UnsafeDestination(f"the host {parsed.host!r} resolves to a non-public address ({address})")


def check_url(url: str) -> None:
    """The URL's shape: absolute ``http(s)`` with a host, no credentials, at most 2000 characters."""
    problem = None
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        problem = "an absolute http:// or https:// URL"
    elif parsed.userinfo:
        problem = "no user name or password in the URL (the signature authenticates us)"
    elif len(url) > 2000:
        problem = "at most 2000 characters"
    if problem:
        raise InvalidInput("the webhook URL is invalid", [FieldProblem("url", problem)])


def check_events(events: Sequence[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if not events or unknown:
        message = f"unknown event types {unknown}" if unknown else "at least one event type"
        raise InvalidInput(
            "the event types are invalid",
            [FieldProblem("events", f"{message}; known: {', '.join(EVENT_TYPES)}")],
        )
    return list(dict.fromkeys(events))


class Webhooks:
    """One tenant's endpoints, in the request's transaction."""

    def __init__(self, session: AsyncSession, tenant_id: str, *, allow_private: bool) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.allow_private = allow_private

    async def create(self, url: str, events: Sequence[str], description: str = "") -> WebhookEndpoint:
        check_url(url)
        subscribed = check_events(events)
        if not self.allow_private:
            try:
                await check_destination(url)
            except UnsafeDestination as exc:
                raise InvalidInput("the webhook URL is refused", [FieldProblem("url", str(exc))]) from None
        count = await self.session.scalar(
            select(func.count())
            .select_from(WebhookEndpoint)
            .where(WebhookEndpoint.tenant_id == self.tenant_id)
        )
        if (count or 0) >= MAX_ENDPOINTS_PER_TENANT:
            raise InvalidInput(f"a tenant has at most {MAX_ENDPOINTS_PER_TENANT} webhook endpoints")
        endpoint = WebhookEndpoint(
            id=f"whk_{uuid.uuid4().hex}",
            tenant_id=self.tenant_id,
            url=url,
            events=subscribed,
            secret=new_secret(),
            description=description,
            created_at=utcnow(),
        )
        self.session.add(endpoint)
        await self.session.flush()
        return endpoint

    async def page(self, *, limit: int, offset: int) -> tuple[list[WebhookEndpoint], int]:
        return await list_and_count(
            self.session,
            WebhookEndpoint,
            WebhookEndpoint.tenant_id == self.tenant_id,
            order_by=[WebhookEndpoint.created_at.asc(), WebhookEndpoint.id.asc()],
            limit=limit,
            offset=offset,
        )

    async def get(self, endpoint_id: str) -> WebhookEndpoint:
        endpoint = await self.session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None or endpoint.tenant_id != self.tenant_id:
            raise NotFound(f"webhook endpoint {endpoint_id!r} not found")
        return endpoint

    async def delete(self, endpoint_id: str) -> None:
        """Remove the endpoint; its pending deliveries go with it (nothing more is sent to it)."""
        endpoint = await self.get(endpoint_id)
        await self.session.delete(endpoint)
        await self.session.flush()

    async def rotate_secret(self, endpoint_id: str) -> WebhookEndpoint:
        """A new secret, used from the next attempt on; the old one stops signing at once."""
        endpoint = await self.get(endpoint_id)
        endpoint.secret = new_secret()
        endpoint.secret_rotated_at = utcnow()
        await self.session.flush()
        return endpoint

    async def deliveries(
        self, endpoint_id: str, *, limit: int, offset: int
    ) -> tuple[list[tuple[WebhookDelivery, str]], int]:
        """The endpoint's deliveries, newest first, each with its event's type."""
        await self.get(endpoint_id)
        where = WebhookDelivery.endpoint_id == endpoint_id
        total = await self.session.scalar(select(func.count()).select_from(WebhookDelivery).where(where))
        rows = (
            await self.session.execute(
                select(WebhookDelivery, WebhookEvent.type)
                .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                .where(where)
                .order_by(WebhookDelivery.id.desc())
                .limit(limit)
                .offset(offset)
            )
        ).all()
        return [(delivery, kind) for delivery, kind in rows], int(total or 0)
