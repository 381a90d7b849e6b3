"""``persona-api webhooks`` SIGKILLed mid-backlog, with deliveries in flight: after a restart every
event arrives (at least once, the same id when twice), each user's in the order written, and the
delivery log ends with every delivery delivered."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from persona_api.app import create_app
from persona_api.config import Settings
from persona_api.kernel.embed import MiniLMEmbedder
from persona_api.store.outbox import WebhookDelivery
from tests.conftest import ADMIN_TOKEN, fetch_all, new_tenant
from tests.faults.support import clean_env, eventually, tail
from tests.webhook_receiver import Receiver

USERS = ("ana", "ben")
PER_USER = 8


def fact(user: str, i: int) -> str:
    return f"{user} noted item {i}: the code word is {user}-{i * 17}."


async def test_a_sender_killed_mid_backlog_delivers_everything_after_a_restart(
    sqlite_url: str, tmp_path: Path, loaded_embedder: MiniLMEmbedder
) -> None:
    settings = Settings(
        database_url=sqlite_url,
        models_dir=tmp_path / "models",
        var_dir=tmp_path / "var",
        admin_token=ADMIN_TOKEN,
        rate_limit_per_minute=0,
        artifact_poll_seconds=0,
        preload_models=False,
        webhook_allow_private_urls=True,
    )
    with Receiver().running() as receiver:
        receiver.behave = lambda n: (200, 0.25)  # a slow receiver: the kill finds deliveries in flight
        async with AsyncTestClient(app=create_app(settings, embedder=loaded_embedder)) as client:
            tenant = await new_tenant(client)
            hook = {"url": receiver.url, "events": ["memory.created"]}
            assert (await client.post("/v1/webhooks", json=hook, headers=tenant.headers)).status_code == 201
            for i in range(PER_USER):
                for user in USERS:
                    body = {"text": fact(user, i)}
                    made = await client.post(f"/v1/users/{user}/memories", json=body, headers=tenant.headers)
                    assert made.status_code == 201, made.text

        env = clean_env(
            PERSONA_DATABASE_URL=sqlite_url,
            PERSONA_WEBHOOK_ALLOW_PRIVATE_URLS="true",
            PERSONA_WEBHOOK_TIMEOUT_SECONDS="1",  # claims last 2 x 1 + 5 = 7 s
        )
        log = tmp_path / "sender.log"
        command = [sys.executable, "-m", "persona_api", "webhooks"]
        with log.open("w") as sink:
            first = await asyncio.create_subprocess_exec(*command, env=env, stdout=sink, stderr=sink)
            await eventually("the first sender delivered a few", lambda: len(receiver.received) >= 3, 60)
            first.send_signal(signal.SIGKILL)
            assert await first.wait() == -9
            killed_at = len(receiver.received)
            assert killed_at < len(USERS) * PER_USER, "the backlog was done before the kill"
            second = await asyncio.create_subprocess_exec(*command, env=env, stdout=sink, stderr=sink)
            try:

                async def all_recorded() -> bool:
                    states = await fetch_all(sqlite_url, select(WebhookDelivery.state))
                    return [s.state for s in states] == ["delivered"] * (len(USERS) * PER_USER)

                await eventually(f"the restarted sender delivered the rest\n{tail(log)}", all_recorded, 90)
            finally:
                second.terminate()
                await second.wait()

    delivered = receiver.delivered()
    for user in USERS:
        texts = [e["data"]["memory"]["text"] for e in delivered if e["data"]["user_id"] == user]
        assert list(dict.fromkeys(texts)) == [fact(user, i) for i in range(PER_USER)]
    by_id: dict[str, str] = {}
    for event in delivered:  # a repeat is the same event: same id, same body
        assert (
            by_id.setdefault(event["id"], event["data"]["memory"]["text"]) == event["data"]["memory"]["text"]
        )
    assert len({e["id"] for e in delivered}) == len(USERS) * PER_USER
