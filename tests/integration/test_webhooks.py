"""Webhooks end to end: endpoints managed through the API, events written with the changes, and a
sender delivering them to a real loopback receiver (signatures, retries after 500s and timeouts,
order per user through an hour's outage, giving up after a day, a restart mid-backlog, erasure)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from persona_api.app import create_app
from persona_api.config import Settings
from persona_api.jobs.reindex import run_reindex
from persona_api.kernel.embed import MiniLMEmbedder
from persona_api.kernel.steps import StepRegistry
from persona_api.store.db import create_engine
from persona_api.store.outbox import EVENT_TYPES, WebhookEvent
from persona_api.store.step import TenantDirectoryStep
from persona_api.store.tables import utcnow
from persona_api.webhooks.sender import SenderPolicy, WebhookSender
from persona_api.webhooks.signing import verify
from tests.conftest import TenantKey, fetch_all, new_tenant
from tests.webhook_receiver import Receiver

POLICY = SenderPolicy(
    timeout=0.5, first_retry=5.0, max_retry=1800.0, lease=3.0, poll=0.01, allow_private=True
)


class Clock:
    """The sender's clock: real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def app(settings: Settings, embedder: MiniLMEmbedder) -> Litestar:
    return create_app(settings.with_overrides(webhook_allow_private_urls=True), embedder=embedder)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver().running() as running:
        yield running


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


async def subscribe(
    client: AsyncTestClient[Litestar], tenant: TenantKey, url: str, events: list[str] | None = None
) -> dict[str, Any]:
    body = {"url": url, "events": events or list(EVENT_TYPES)}
    response = await client.post("/v1/webhooks", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def drain(sender: WebhookSender, clock: Clock | None = None, passes: int = 200) -> None:
    """Passes until one finds nothing due (moving the clock past any retry wait when given one)."""
    for _ in range(passes):
        if await sender.run_once() == 0:
            if clock is None:
                return
            clock.advance(POLICY.max_retry * 1.5)
            if await sender.run_once() == 0:
                return


async def remember(
    client: AsyncTestClient[Litestar], tenant: TenantKey, user: str, text: str, **kw: Any
) -> None:
    await client.post("/v1/users", json={"id": user}, headers=tenant.headers)
    body = {"text": text, **kw}
    response = await client.post(f"/v1/users/{user}/memories", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text


async def test_endpoints_are_managed_per_tenant_and_the_secret_shown_once(
    client: AsyncTestClient[Litestar], tenant: TenantKey, receiver: Receiver
) -> None:
    created = await subscribe(client, tenant, receiver.url, ["memory.created", "user.deleted"])
    assert created["secret"].startswith("whsec_") and created["events"] == ["memory.created", "user.deleted"]
    hook = created["id"]
    listed = (await client.get("/v1/webhooks", headers=tenant.headers)).json()
    assert listed["total"] == 1 and "secret" not in listed["items"][0]
    assert "secret" not in (await client.get(f"/v1/webhooks/{hook}", headers=tenant.headers)).json()
    rotated = (await client.post(f"/v1/webhooks/{hook}/rotate-secret", headers=tenant.headers)).json()
    assert rotated["secret"] != created["secret"] and rotated["secret"].startswith("whsec_")
    other = await new_tenant(client, "other")
    assert (await client.get(f"/v1/webhooks/{hook}", headers=other.headers)).status_code == 404
    assert (await client.delete(f"/v1/webhooks/{hook}", headers=other.headers)).status_code == 404
    assert (await client.get("/v1/webhooks", headers=other.headers)).json()["total"] == 0
    assert (await client.delete(f"/v1/webhooks/{hook}", headers=tenant.headers)).status_code == 204
    assert (await client.get(f"/v1/webhooks/{hook}", headers=tenant.headers)).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x", "events": ["memory.created"]}, "url"),
        ({"url": "not a url", "events": ["memory.created"]}, "url"),
        ({"url": "https://user:pw@example.com/", "events": ["memory.created"]}, "url"),
        ({"url": "https://example.com/", "events": ["memory.teleported"]}, "events"),
        ({"url": "https://example.com/", "events": []}, "events"),
    ],
)
async def test_bad_endpoints_are_refused(
    client: AsyncTestClient[Litestar], tenant: TenantKey, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/webhooks", json=body, headers=tenant.headers)
    assert response.status_code in (400, 422), response.text
    assert field in response.text
    assert (await client.get("/v1/webhooks", headers=tenant.headers)).json()["total"] == 0


async def test_private_destinations_are_refused_unless_allowed(
    settings: Settings, embedder: MiniLMEmbedder
) -> None:
    strict = create_app(settings, embedder=embedder)  # the default: public addresses only
    async with AsyncTestClient(app=strict) as client:
        tenant = await new_tenant(client)
        for url in ("http://127.0.0.1:9/hooks", "http://10.1.2.3/hooks", "http://169.254.169.254/latest"):
            response = await client.post(
                "/v1/webhooks", json={"url": url, "events": ["memory.created"]}, headers=tenant.headers
            )
            assert response.status_code == 422 and "non-public" in response.text, url


async def test_each_change_is_delivered_signed_with_its_data(
    client: AsyncTestClient[Litestar],
    tenant: TenantKey,
    receiver: Receiver,
    engine: AsyncEngine,
    database_url: str,
) -> None:
    secret = (await subscribe(client, tenant, receiver.url))["secret"]
    h = tenant.headers
    await remember(client, tenant, "alice", "Alice lives in Lisbon.", key="home_city")
    await remember(client, tenant, "alice", "Alice lives in Porto.", key="home_city")
    assert (await client.delete("/v1/users/alice/memories/2", headers=h)).status_code == 204
    values = {"preferences": [{"dimension": "style", "subdimension": "tone", "preference": "warm"}]}
    assert (await client.put("/v1/users/alice/values", json=values, headers=h)).status_code == 200
    comparison = {"id": "c1", "chosen": {"text": "short answers"}, "rejected": {"text": "long essays"}}
    response = await client.post("/v1/users/alice/comparisons", json={"comparisons": [comparison]}, headers=h)
    assert response.status_code in (200, 201), response.text
    await drain(WebhookSender(engine, POLICY))

    events = receiver.delivered()
    assert [e["type"] for e in events] == [
        "memory.created",
        "memory.created",
        "memory.superseded",
        "memory.deleted",
        "values.updated",
        "preferences.updated",
    ]
    assert all(e["data"]["user_id"] == "alice" for e in events)
    assert events[0]["data"]["memory"]["text"] == "Alice lives in Lisbon."
    assert (
        events[2]["data"]
        == {
            "user_id": "alice",
            "memory": events[2]["data"]["memory"],
            "superseded_by": 2,
        }
        and events[2]["data"]["memory"]["id"] == 1
    )
    assert events[3]["data"]["memory_id"] == 2
    assert events[5]["data"]["n_comparisons"] == 1
    for received in receiver.received:
        assert verify(secret, received.headers["x-persona-signature"], received.body)
        assert not verify("whsec_wrong", received.headers["x-persona-signature"], received.body)
        assert received.headers["x-persona-event-id"] == received.event["id"]
        assert set(received.event) == {"id", "type", "created_at", "data"}
    assert len({e["id"] for e in events}) == len(events)

    # Deleting the user: their delivered events leave the log; user.deleted is the last word.
    assert (await client.delete("/v1/users/alice", headers=h)).status_code == 204
    await drain(WebhookSender(engine, POLICY))
    assert receiver.delivered()[-1]["type"] == "user.deleted"
    assert receiver.delivered()[-1]["data"] == {"user_id": "alice"}
    rows = await fetch_all(database_url, select(WebhookEvent.body))
    assert [r.body for r in rows if "Lisbon" in r.body or "Porto" in r.body] == []


async def test_only_subscribed_types_are_written_and_sent(
    client: AsyncTestClient[Litestar],
    tenant: TenantKey,
    receiver: Receiver,
    engine: AsyncEngine,
    database_url: str,
) -> None:
    await subscribe(client, tenant, receiver.url, ["user.deleted"])
    quiet = await new_tenant(client, "quiet")  # no endpoint: no outbox rows at all
    await remember(client, quiet, "bob", "Bob plays the cello.")
    await remember(client, tenant, "bob", "Bob plays the cello.")
    assert (await client.delete("/v1/users/bob", headers=tenant.headers)).status_code == 204
    await drain(WebhookSender(engine, POLICY))
    assert [e["type"] for e in receiver.delivered()] == ["user.deleted"]
    mine = WebhookEvent.tenant_id.in_([tenant.tenant_id, quiet.tenant_id])
    rows = await fetch_all(database_url, select(WebhookEvent.tenant_id, WebhookEvent.type).where(mine))
    assert [(r.tenant_id, r.type) for r in rows] == [(tenant.tenant_id, "user.deleted")]


async def test_failed_attempts_are_retried_with_backoff_until_delivered(
    client: AsyncTestClient[Litestar], tenant: TenantKey, receiver: Receiver, engine: AsyncEngine
) -> None:
    hook = (await subscribe(client, tenant, receiver.url, ["memory.created"]))["id"]
    script = {0: (500, 0.0), 1: (200, 2.0)}  # a 500, then an answer after the timeout, then fine
    receiver.behave = lambda n: script.get(n, (200, 0.0))
    await remember(client, tenant, "carol", "Carol keeps bees.")
    clock = Clock()
    sender = WebhookSender(engine, POLICY, clock=clock, draw=lambda: 0.5)
    assert await sender.run_once() == 1
    log = (await client.get(f"/v1/webhooks/{hook}/deliveries", headers=tenant.headers)).json()["items"]
    assert (
        log[0]["state"] == "pending" and log[0]["last_status"] == 500 and log[0]["last_error"] == "HTTP 500"
    )
    waited = datetime.fromisoformat(log[0]["next_attempt_at"]) - clock()
    assert timedelta(seconds=4) < waited <= timedelta(seconds=5)  # first_retry 5 s, jitter x1.0
    assert await sender.run_once() == 0  # not due yet
    clock.advance(5)
    assert await sender.run_once() == 1  # the timeout
    log = (await client.get(f"/v1/webhooks/{hook}/deliveries", headers=tenant.headers)).json()["items"]
    assert log[0]["last_status"] is None and "no answer" in log[0]["last_error"]
    clock.advance(10)  # the second wait doubles
    assert await sender.run_once() == 1
    [entry] = (await client.get(f"/v1/webhooks/{hook}/deliveries", headers=tenant.headers)).json()["items"]
    assert entry["state"] == "delivered" and entry["attempts"] == 3 and entry["last_status"] == 200
    assert len({r.event["id"] for r in receiver.received}) == 1 and len(receiver.received) == 3


async def test_a_receiver_down_for_an_hour_gets_everything_in_order_per_user(
    client: AsyncTestClient[Litestar], tenant: TenantKey, receiver: Receiver, engine: AsyncEngine
) -> None:
    await subscribe(client, tenant, receiver.url, ["memory.created"])
    down = True
    receiver.behave = lambda n: (503, 0.0) if down else (200, 0.0)
    clock = Clock()
    sender = WebhookSender(engine, POLICY, clock=clock)
    for i in range(4):
        for user in ("dana", "eli"):
            await remember(client, tenant, user, f"{user} fact number {i}: likes item {i * 7}.")
        await sender.run_once()
        clock.advance(60)
    for _ in range(60):  # an hour of failures, a minute at a time
        await sender.run_once()
        clock.advance(60)
    assert receiver.delivered() == []
    down = False
    await drain(sender, clock)
    delivered = receiver.delivered()
    for user in ("dana", "eli"):
        texts = [e["data"]["memory"]["text"] for e in delivered if e["data"]["user_id"] == user]
        assert texts == [f"{user} fact number {i}: likes item {i * 7}." for i in range(4)]


async def test_a_delivery_is_given_up_after_a_day_and_the_queue_moves_on(
    client: AsyncTestClient[Litestar], tenant: TenantKey, receiver: Receiver, engine: AsyncEngine
) -> None:
    hook = (await subscribe(client, tenant, receiver.url, ["memory.created"]))["id"]
    receiver.behave = lambda n: (500, 0.0)
    await remember(client, tenant, "finn", "Finn sails.")
    clock = Clock()
    sender = WebhookSender(engine, POLICY, clock=clock)
    for _ in range(100):
        await sender.run_once()
        clock.advance(1800)
    [entry] = (await client.get(f"/v1/webhooks/{hook}/deliveries", headers=tenant.headers)).json()["items"]
    assert entry["state"] == "failed" and entry["next_attempt_at"] is None
    # Retried all day: the waits doubled from 5 s to the cap (9 attempts), then 0.5-1.5 x 1800 s.
    assert 86_400 / (1.5 * 1800) <= entry["attempts"] <= 9 + 86_400 / (0.5 * 1800)
    receiver.behave = lambda n: (200, 0.0)
    await remember(client, tenant, "finn", "Finn also rows.")
    await drain(sender)
    assert [e["data"]["memory"]["text"] for e in receiver.delivered()] == ["Finn also rows."]


async def test_a_sender_stopped_mid_backlog_loses_nothing(
    client: AsyncTestClient[Litestar], tenant: TenantKey, receiver: Receiver, engine: AsyncEngine
) -> None:
    await subscribe(client, tenant, receiver.url, ["memory.created"])
    receiver.behave = lambda n: (200, 0.05)
    users = ("gus", "hal", "ivy")
    for i in range(8):
        for user in users:
            await remember(client, tenant, user, f"{user} remembers thing {i}: the number {i * 13}.")
    small_passes = dataclasses.replace(POLICY, batch=2)
    first = asyncio.create_task(WebhookSender(engine, small_passes).run())
    while len(receiver.received) < 6:  # noqa: ASYNC110  # the receiver runs in another thread
        await asyncio.sleep(0.01)
    first.cancel()  # mid-pass: some deliveries are claimed, some posted and not recorded
    with pytest.raises(asyncio.CancelledError):
        await first
    assert len(receiver.received) < 24
    clock = Clock()
    clock.advance(POLICY.lease + 1)  # the stopped sender's leases lapse
    await drain(WebhookSender(engine, POLICY, clock=clock))
    delivered = receiver.delivered()
    for user in users:
        texts = [e["data"]["memory"]["text"] for e in delivered if e["data"]["user_id"] == user]
        in_order = list(dict.fromkeys(texts))  # at least once: a repeat is the same event again
        assert in_order == [f"{user} remembers thing {i}: the number {i * 13}." for i in range(8)]


async def test_a_published_version_is_announced(
    client: AsyncTestClient[Litestar],
    tenant: TenantKey,
    receiver: Receiver,
    engine: AsyncEngine,
    settings: Settings,
) -> None:
    await subscribe(client, tenant, receiver.url, ["artifacts.published"])
    version = await run_reindex(settings, registry=StepRegistry([TenantDirectoryStep()]))
    await drain(WebhookSender(engine, POLICY))
    [event] = receiver.delivered()
    assert event["type"] == "artifacts.published" and event["data"]["version"] == version
    assert "user_id" not in event["data"]
