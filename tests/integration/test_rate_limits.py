"""Rate limits through the app: per tenant for valid keys, per client address otherwise, a
stricter budget for refused keys, negative caching of refused keys, the IETF draft's headers,
the trusted proxy header, and counts shared through Redis.

Each app gets a frozen clock (the limiter's windows and the key caches read it), so a window
never rolls over in the middle of a test.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import event

from persona_api.app import create_app
from persona_api.config import Settings
from tests.conftest import TenantKey, admin_headers, new_tenant

Client = AsyncTestClient[Litestar]
REDIS_URL = "redis://127.0.0.1:6379/0"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def serving(settings: Settings, clock: Clock, **overrides: Any) -> AsyncIterator[Client]:
    app = create_app(settings.with_overrides(**overrides))
    app.state.rate_limiter.clock = clock
    app.state.authenticator.keys.clock = clock
    app.state.authenticator.refused.clock = clock
    async with AsyncTestClient(app=app) as client:
        yield client


def key_lookups(client: Client) -> list[str]:
    """Every statement that looks an API key up, from now on (the list grows as they run)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "api_keys.secret_hash = " in statement:
            seen.append(statement)

    event.listen(client.app.state.engine.sync_engine, "before_cursor_execute", record)
    return seen


_ITEM = re.compile(r'^"(?P<name>[^"]+)"(?P<params>(?:;[a-z]+=\d+)+)$')


def structured(value: str) -> tuple[str, dict[str, int]]:
    """One item of the draft's headers: ``"tenant";q=600;w=60`` -> ("tenant", {"q": 600, "w": 60})."""
    found = _ITEM.match(value)
    assert found, value
    params = dict(p.split("=") for p in found["params"].lstrip(";").split(";"))
    return found["name"], {k: int(v) for k, v in params.items()}


def limit(response: httpx.Response) -> tuple[str, int, int, int]:
    """(policy, quota, remaining, reset) of a limited response; both headers must agree."""
    name, policy = structured(response.headers["ratelimit-policy"])
    same, state = structured(response.headers["ratelimit"])
    assert same == name and policy["w"] == 60 and 1 <= state["t"] <= policy["w"]
    return name, policy["q"], state["r"], state["t"]


def random_key() -> dict[str, str]:
    return {"Authorization": f"Bearer pk_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"}


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "urn:persona-api:problem:rate-limited"
    _, _, remaining, reset = limit(response)
    assert remaining == 0 and response.headers["retry-after"] == str(reset)


async def test_random_keys_from_one_address_get_429_after_the_failed_auth_limit(settings: Settings) -> None:
    async with serving(
        settings, Clock(), rate_limit_per_minute=100, rate_limit_failed_auth_per_minute=3
    ) as c:
        tenant = await new_tenant(c)
        assert (await c.get("/v1/users", headers=tenant.headers)).status_code == 200  # now cached
        lookups = key_lookups(c)
        refused = [await c.get("/v1/users", headers=random_key()) for _ in range(3)]
        assert [r.status_code for r in refused] == [401, 401, 401]
        assert [limit(r)[:3] for r in refused] == [("auth-failure", 3, n) for n in (2, 1, 0)]
        for _ in range(5):
            assert_rate_limited(await c.get("/v1/users", headers=random_key()))
        # Only the first three made-up keys were looked up; the rest cost no database round trip.
        assert len(lookups) == 3
        # The address's other budgets are untouched: a cached key, and requests without a key.
        assert limit(await c.get("/v1/users", headers=tenant.headers))[:3] == ("tenant", 100, 98)
        anonymous = await c.get("/v1/users")
        assert anonymous.status_code == 401 and limit(anonymous)[:3] == ("address", 100, 99)


async def test_with_the_default_limit_off_refused_keys_are_not_limited_either(settings: Settings) -> None:
    # What the test suite's own settings (and a fuzzer sending bad credentials) rely on.
    async with serving(settings, Clock(), rate_limit_per_minute=0) as c:
        answers = [await c.get("/v1/users", headers=random_key()) for _ in range(40)]
        assert {r.status_code for r in answers} == {401}
        assert all("ratelimit" not in r.headers for r in answers)


async def test_a_refused_key_hits_the_database_once_per_ttl(settings: Settings) -> None:
    clock = Clock()
    overrides = {"rate_limit_failed_auth_per_minute": 1000, "auth_refused_cache_seconds": 5.0}
    async with serving(settings, clock, **overrides) as c:
        tenant = await new_tenant(c)
        lookups = key_lookups(c)
        bad = random_key()
        assert [(await c.get("/v1/users", headers=bad)).status_code for _ in range(6)] == [401] * 6
        assert len(lookups) == 1
        clock.now += 4.9
        assert (await c.get("/v1/users", headers=bad)).status_code == 401
        assert len(lookups) == 1
        clock.now += 0.2  # the refusal expired: one more lookup, then cached again
        for _ in range(3):
            assert (await c.get("/v1/users", headers=bad)).status_code == 401
        assert len(lookups) == 2
        # A revoked key is refused and then remembered as refused.
        assert (await c.get("/v1/users", headers=tenant.headers)).status_code == 200
        await c.delete(f"/v1/admin/keys/{tenant.key_id}", headers=admin_headers())
        assert [(await c.get("/v1/users", headers=tenant.headers)).status_code for _ in range(3)] == [401] * 3
        assert len(lookups) == 4  # the valid key once, the revoked key once


async def issue_key(client: Client, tenant_id: str) -> TenantKey:
    body = (await client.post(f"/v1/admin/tenants/{tenant_id}/keys", json={}, headers=admin_headers())).json()
    return TenantKey(tenant_id=tenant_id, key=body["key"], key_id=body["id"])


async def test_two_keys_of_one_tenant_share_one_budget(settings: Settings) -> None:
    async with serving(settings, Clock(), rate_limit_per_minute=4) as c:
        first = await new_tenant(c, "a")
        second = await issue_key(c, first.tenant_id)
        other = await new_tenant(c, "b")
        answers = [await c.get("/v1/users", headers=k.headers) for k in (first, second, first, second)]
        assert [r.status_code for r in answers] == [200] * 4
        assert [limit(r)[:3] for r in answers] == [("tenant", 4, n) for n in (3, 2, 1, 0)]
        resets = {limit(r)[3] for r in answers}
        assert len(resets) == 1  # one window, one reset time
        assert_rate_limited(await c.get("/v1/users", headers=first.headers))
        assert_rate_limited(await c.get("/v1/users", headers=second.headers))
        # A third key minted now draws on the same spent budget.
        third = await issue_key(c, first.tenant_id)
        assert_rate_limited(await c.get("/v1/users", headers=third.headers))
        assert limit(await c.get("/v1/users", headers=other.headers))[:3] == ("tenant", 4, 3)
        # Ops and admin routes stay unlimited and carry no rate-limit headers.
        for path in ("/healthz", "/readyz", "/metrics", "/schema/openapi.json"):
            response = await c.get(path)
            assert response.status_code == 200 and "ratelimit" not in response.headers
        listed = await c.get("/v1/admin/tenants", headers=admin_headers())
        assert listed.status_code == 200 and "ratelimit" not in listed.headers


async def test_a_tenant_limit_set_through_the_admin_api_applies_at_once(settings: Settings) -> None:
    async with serving(settings, Clock(), rate_limit_per_minute=100, auth_cache_seconds=300.0) as c:
        tenant = await new_tenant(c)
        neighbour = await new_tenant(c, "neighbour")
        path = f"/v1/admin/tenants/{tenant.tenant_id}"
        assert limit(await c.get("/v1/users", headers=tenant.headers))[:3] == ("tenant", 100, 99)

        changed = await c.patch(path, json={"rate_limit_per_minute": 2}, headers=admin_headers())
        assert changed.status_code == 200 and changed.json()["rate_limit_per_minute"] == 2
        assert (await c.get(path, headers=admin_headers())).json()["rate_limit_per_minute"] == 2
        # The key is cached for 300 s, yet the new limit holds from the next request on.
        assert limit(await c.get("/v1/users", headers=tenant.headers))[:3] == ("tenant", 2, 0)
        assert_rate_limited(await c.get("/v1/users", headers=tenant.headers))
        assert limit(await c.get("/v1/users", headers=neighbour.headers))[:3] == ("tenant", 100, 99)

        back = await c.patch(path, json={"rate_limit_per_minute": None}, headers=admin_headers())
        assert back.json()["rate_limit_per_minute"] is None
        assert limit(await c.get("/v1/users", headers=tenant.headers))[:3] == ("tenant", 100, 96)

        await c.patch(path, json={"rate_limit_per_minute": 0}, headers=admin_headers())
        unlimited = await c.get("/v1/users", headers=tenant.headers)
        assert unlimited.status_code == 200 and "ratelimit" not in unlimited.headers


async def test_remaining_and_reset_move_with_the_clock(settings: Settings) -> None:
    clock = Clock()
    async with serving(settings, clock, rate_limit_per_minute=3) as c:
        tenant = await new_tenant(c)
        first = limit(await c.get("/v1/users", headers=tenant.headers))
        assert first[:3] == ("tenant", 3, 2)
        clock.now += first[3] - 1  # the window's last second
        second = limit(await c.get("/v1/users", headers=tenant.headers))
        assert second == ("tenant", 3, 1, 1)
        clock.now += 1  # the window is over
        fresh = limit(await c.get("/v1/users", headers=tenant.headers))
        assert fresh == ("tenant", 3, 2, 60)


async def test_the_trusted_proxy_header_is_honoured_only_when_configured(settings: Settings) -> None:
    def forwarded(chain: str) -> dict[str, str]:
        return {"X-Forwarded-For": chain}

    async with serving(settings, Clock(), rate_limit_per_minute=2) as c:
        # Not configured: every request comes from the test client's peer, whatever it claims.
        answers = [await c.get("/v1/users", headers=forwarded(f"203.0.113.{n}")) for n in range(3)]
        assert [r.status_code for r in answers] == [401, 401, 429]

    async with serving(
        settings, Clock(), rate_limit_per_minute=2, trusted_proxy_header="X-Forwarded-For"
    ) as c:
        # What the client wrote left of the proxy's entry does not make a new bucket.
        spoofed = [await c.get("/v1/users", headers=forwarded(f"10.0.0.{n}, 203.0.113.9")) for n in range(3)]
        assert [r.status_code for r in spoofed] == [401, 401, 429]
        # Another address as the proxy saw it has a budget of its own.
        elsewhere = await c.get("/v1/users", headers=forwarded("203.0.113.10"))
        assert elsewhere.status_code == 401 and limit(elsewhere)[:3] == ("address", 2, 1)
        # One IPv6 /64 is one client.
        v6 = [await c.get("/v1/users", headers=forwarded(f"2001:db8::{n}")) for n in (1, 2, 3)]
        assert [r.status_code for r in v6] == [401, 401, 429]
        # Without the header (the request bypassed the proxy) the peer address counts.
        assert (await c.get("/v1/users")).status_code == 401

    async with serving(
        settings,
        Clock(),
        rate_limit_per_minute=1,
        trusted_proxy_header="X-Forwarded-For",
        trusted_proxy_hops=2,
    ) as c:
        first = await c.get("/v1/users", headers=forwarded("10.0.0.1, 198.51.100.4, 172.16.0.1"))
        again = await c.get("/v1/users", headers=forwarded("198.51.100.4, 172.16.0.2"))
        assert first.status_code == 401 and again.status_code == 429


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_url() -> str:
    if not _redis_reachable():
        # A developer's machine may lack Redis; the CI machine runs it, so there this is an error.
        if os.environ.get("CI"):
            pytest.fail("Redis is not reachable on 127.0.0.1:6379")
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    return REDIS_URL


async def two_processes_share(settings: Settings, store: str) -> list[int]:
    """Status codes of alternate requests of one tenant to two apps (two processes) with ``store``."""
    clock = Clock(2_000_000.0 + uuid.uuid4().int % 1000 * 60)
    async with serving(settings, clock, rate_limit_per_minute=3, rate_limit_store=store) as one:
        tenant = await new_tenant(one)
        async with serving(settings, clock, rate_limit_per_minute=3, rate_limit_store=store) as two:
            clients: list[Callable[..., Any]] = [one.get, two.get] * 3
            return [(await get("/v1/users", headers=tenant.headers)).status_code for get in clients]


async def test_a_redis_store_shares_one_budget_between_processes(settings: Settings, redis_url: str) -> None:
    assert await two_processes_share(settings, redis_url) == [200, 200, 200, 429, 429, 429]
    # With the memory store each process counts on its own.
    assert await two_processes_share(settings, "memory") == [200] * 6


async def test_an_unreachable_redis_serves_requests_unlimited(settings: Settings) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with serving(
        settings, Clock(), rate_limit_per_minute=1, rate_limit_store=f"redis://127.0.0.1:{port}"
    ) as c:
        tenant = await new_tenant(c)
        answers = [await c.get("/v1/users", headers=tenant.headers) for _ in range(3)]
        assert [r.status_code for r in answers] == [200] * 3
        assert all("ratelimit" not in r.headers for r in answers)
