"""The sender: delivers the outbox at least once, in order per endpoint and user.

Each pass claims the due deliveries that head their queue (no older pending delivery for the same
endpoint and user) with a lease, posts them concurrently, and records the outcome: a 2xx is
delivered; anything else (another status, a timeout, a refused connection) is retried after an
exponentially growing, jittered wait, until the event is older than the give-up age, when the
delivery is marked failed and the user's next event goes out. A sender that dies mid-pass loses
nothing: its leases lapse and another pass (its own after a restart, or another sender's) takes
the deliveries again, which is why a receiver may see an event twice and must use its ``id``.

Any number of senders may run against one database; a lease is taken by one conditional UPDATE.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import aliased

from persona_api import __version__
from persona_api.config import Settings
from persona_api.store.db import create_engine
from persona_api.store.outbox import WebhookDelivery, WebhookEndpoint, WebhookEvent
from persona_api.store.tables import utcnow
from persona_api.webhooks.service import UnsafeDestination, check_destination
from persona_api.webhooks.signing import HEADER, sign

log = logging.getLogger("persona_api.webhooks")


@dataclass(frozen=True, kw_only=True)
class SenderPolicy:
    timeout: float = 10.0
    """Seconds a receiver has to answer one delivery."""
    poll: float = 1.0
    """Seconds between passes while nothing is due."""
    lease: float = 25.0
    """Seconds a claimed delivery stays the claimant's: more than a pass takes (one ``timeout``, the
    pass's deliveries being sent at once), so that only a sender that died lets it lapse."""
    first_retry: float = 5.0
    max_retry: float = 1800.0
    give_up_after: float = 86_400.0
    """Seconds after the event was written that a delivery stops being retried (a day)."""
    batch: int = 16
    """Deliveries claimed, and sent at once, per pass."""
    allow_private: bool = False
    retention: float = 7 * 86_400.0
    """Seconds delivered and failed deliveries stay in the delivery log."""

    def retry_delay(self, attempts: int, draw: float) -> float:
        """The wait after the ``attempts``-th failed attempt: doubling from ``first_retry``, capped at
        ``max_retry``, times a jitter in [0.5, 1.5) so that many failures do not retry in step."""
        return float(min(self.max_retry, self.first_retry * 2.0 ** max(0, attempts - 1)) * (0.5 + draw))


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    attempts: int
    event_id: str
    event_type: str
    event_created_at: datetime
    body: str
    url: str
    secret: str


class WebhookSender:
    def __init__(
        self,
        engine: AsyncEngine,
        policy: SenderPolicy | None = None,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] = utcnow,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.engine = engine
        self.policy = policy or SenderPolicy()
        self._http = http
        self.clock = clock
        self.draw = draw

    async def run(self) -> None:
        """Pass after pass until cancelled; the log is pruned about every ten minutes."""
        http = self._http or httpx.AsyncClient(follow_redirects=False)
        pruned_at = self.clock() - timedelta(days=1)
        log.info("webhooks.sender_started")
        try:
            while True:
                if self.clock() - pruned_at > timedelta(minutes=10):
                    pruned_at = self.clock()
                    with contextlib.suppress(Exception):
                        await self.prune()
                try:
                    sent = await self.run_once(http)
                except Exception:
                    log.warning("webhooks.pass_failed", exc_info=True)
                    sent = 0
                if sent == 0:
                    await asyncio.sleep(self.policy.poll)
        finally:
            if self._http is None:
                await http.aclose()

    async def run_once(self, http: httpx.AsyncClient | None = None) -> int:
        """One pass: claim what is due, attempt it, record the outcomes; returns how many."""
        claimed = await self._claim()
        if not claimed:
            return 0
        client = http or self._http
        if client is None:
            async with httpx.AsyncClient(follow_redirects=False) as own:
                return await self._attempt_all(own, claimed)
        return await self._attempt_all(client, claimed)

    async def _attempt_all(self, http: httpx.AsyncClient, claimed: list[Claimed]) -> int:
        async def one(c: Claimed) -> None:
            status, error = await self._post(http, c)
            await self._record(c, status, error)

        await asyncio.gather(*(one(c) for c in claimed))
        return len(claimed)

    async def _claim(self) -> list[Claimed]:
        now = self.clock()
        d, earlier = WebhookDelivery, aliased(WebhookDelivery)
        free = or_(d.lease_until.is_(None), d.lease_until < now)
        behind = exists().where(
            and_(
                earlier.endpoint_id == d.endpoint_id,
                earlier.order_key == d.order_key,
                earlier.state == "pending",
                earlier.id < d.id,
            )
        )
        async with AsyncSession(self.engine) as session, session.begin():
            due = list(
                await session.scalars(
                    select(d.id)
                    .where(d.state == "pending", d.next_attempt_at <= now, free, ~behind)
                    .order_by(d.id)
                    .limit(self.policy.batch)
                )
            )
            if not due:
                return []
            lease = now + timedelta(seconds=self.policy.lease)
            taken = list(
                await session.scalars(
                    update(d)
                    .where(d.id.in_(due), d.state == "pending", free)
                    .values(lease_until=lease)
                    .returning(d.id)
                )
            )
            if not taken:
                return []
            rows = (
                await session.execute(
                    select(d.id, d.attempts, WebhookEvent, WebhookEndpoint.url, WebhookEndpoint.secret)
                    .join(WebhookEvent, WebhookEvent.id == d.event_id)
                    .join(WebhookEndpoint, WebhookEndpoint.id == d.endpoint_id)
                    .where(d.id.in_(taken))
                    .order_by(d.id)
                )
            ).all()
            return [
                Claimed(delivery_id, attempts, e.id, e.type, e.created_at, e.body, url, secret)
                for delivery_id, attempts, e, url, secret in rows
            ]

    async def _post(self, http: httpx.AsyncClient, c: Claimed) -> tuple[int | None, str | None]:
        """The receiver's status (None when there was none) and what went wrong (None: delivered)."""
        body = c.body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"persona-api-webhooks/{__version__}",
            HEADER: sign(c.secret, body, int(self.clock().timestamp())),
            "X-Persona-Event-Id": c.event_id,
            "X-Persona-Event-Type": c.event_type,
            "X-Persona-Delivery-Attempt": str(c.attempts + 1),
        }
        try:
            if not self.policy.allow_private:
                await check_destination(c.url)
            response = await http.post(c.url, content=body, headers=headers, timeout=self.policy.timeout)
        except UnsafeDestination as exc:
            return None, str(exc)
        except httpx.TimeoutException:
            return None, f"no answer within {self.policy.timeout:g} s"
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= response.status_code < 300:
            return response.status_code, None
        return response.status_code, f"HTTP {response.status_code}"

    async def _record(self, c: Claimed, status: int | None, error: str | None) -> None:
        now = self.clock()
        attempts = c.attempts + 1
        values: dict[str, object] = {"attempts": attempts, "last_status": status, "lease_until": None}
        if error is None:
            values |= {"state": "delivered", "delivered_at": now, "last_error": None}
        else:
            delay = self.policy.retry_delay(attempts, self.draw())
            too_old = (now - c.event_created_at).total_seconds() + delay > self.policy.give_up_after
            values |= {"last_error": error[:500], "next_attempt_at": now + timedelta(seconds=delay)}
            if too_old:
                values["state"] = "failed"
        async with AsyncSession(self.engine) as session, session.begin():
            await session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == c.delivery_id).values(values)
            )
        log.info(
            "webhooks.attempted",
            extra={
                "delivery": c.delivery_id,
                "event": c.event_id,
                "type": c.event_type,
                "attempt": attempts,
                "status": status,
                "outcome": "delivered" if error is None else values.get("state", "retry"),
            },
        )

    async def prune(self) -> int:
        """Forget deliveries finished longer than ``retention`` ago, and events none refers to."""
        cutoff = self.clock() - timedelta(seconds=self.policy.retention)
        d = WebhookDelivery
        async with AsyncSession(self.engine) as session, session.begin():
            result = await session.execute(
                delete(d)
                .where(d.state != "pending", d.created_at < cutoff)
                .execution_options(synchronize_session=False)
            )
            orphan = ~exists().where(d.event_id == WebhookEvent.id)
            await session.execute(delete(WebhookEvent).where(WebhookEvent.created_at < cutoff, orphan))
        return int(getattr(result, "rowcount", 0) or 0)


def policy_from_settings(settings: Settings) -> SenderPolicy:
    return SenderPolicy(
        timeout=settings.webhook_timeout_seconds,
        lease=2 * settings.webhook_timeout_seconds + 5,
        max_retry=settings.webhook_max_retry_seconds,
        give_up_after=settings.webhook_give_up_hours * 3600,
        allow_private=settings.webhook_allow_private_urls,
    )


async def run_sender(settings: Settings) -> None:
    """``persona-api webhooks``: the sender until cancelled."""
    engine = create_engine(settings)
    try:
        await WebhookSender(engine, policy_from_settings(settings)).run()
    finally:
        await engine.dispose()
        log.info("webhooks.sender_stopped")
