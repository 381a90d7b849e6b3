"""Rate-limit parts without the app: the client address, the windows and the memory counters."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from litestar import Request

from persona_api.config import load_settings
from persona_api.errors import ConfigurationError
from persona_api.http.client_address import ClientAddress, hop_host, normalize
from persona_api.http.counters import MemoryCounters
from persona_api.http.ratelimit import RateLimiter


def request(*headers: tuple[str, str], peer: str = "10.0.0.1") -> Request[Any, Any, Any]:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers]
    return Request({"type": "http", "headers": raw, "client": (peer, 50000)})  # type: ignore[arg-type]


def test_without_a_trusted_header_the_peer_counts_whatever_the_client_sends() -> None:
    plain = ClientAddress()
    assert plain(request(("X-Forwarded-For", "198.51.100.1"))) == "10.0.0.1"
    assert plain(request(peer="testclient")) == "testclient"  # not an IP: kept as it is


def test_the_trusted_hop_is_counted_from_the_right() -> None:
    one = ClientAddress("X-Forwarded-For")
    # The client wrote the left part; the proxy next to the service appended the right one.
    assert one(request(("X-Forwarded-For", "1.1.1.1, 198.51.100.7"))) == "198.51.100.7"
    # Several header lines make one list, in order.
    lines = request(("X-Forwarded-For", "1.1.1.1, 2.2.2.2"), ("X-Forwarded-For", "198.51.100.8"))
    assert one(lines) == "198.51.100.8"
    two = ClientAddress("X-Forwarded-For", hops=2)
    assert two(request(("X-Forwarded-For", "1.1.1.1, 198.51.100.7, 10.9.9.9"))) == "198.51.100.7"
    # Fewer entries than hops: the request met only the inner proxy, whose entry is the first.
    assert two(request(("X-Forwarded-For", "198.51.100.7"))) == "198.51.100.7"


def test_a_missing_or_unreadable_header_falls_back_to_the_peer() -> None:
    trusted = ClientAddress("X-Forwarded-For")
    assert trusted(request()) == "10.0.0.1"
    assert trusted(request(("X-Forwarded-For", "1.1.1.1, not-an-address"))) == "10.0.0.1"
    assert trusted(request(("X-Forwarded-For", " , "))) == "10.0.0.1"


def test_forwarded_elements_ports_and_ipv6_networks() -> None:
    assert hop_host('for="[2001:db8::1]:4711";proto=https') == "2001:db8::1"
    assert hop_host("proto=http;For=192.0.2.60") == "192.0.2.60"
    assert hop_host("192.0.2.60:8080") == "192.0.2.60"
    assert hop_host("2001:db8::1") == "2001:db8::1"
    assert normalize("2001:db8::1") == normalize("2001:db8::ffff:1") == "2001:db8::/64"
    assert normalize("2001:db8:0:1::1") == "2001:db8:0:1::/64"
    assert normalize("::ffff:192.0.2.1") == "192.0.2.1"
    assert normalize("unknown") is None
    forwarded = ClientAddress("Forwarded")
    assert forwarded(request(("Forwarded", 'for=1.1.1.1, for="[2001:db8::5]"'))) == "2001:db8::/64"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingCounters(MemoryCounters):
    def __init__(self) -> None:
        super().__init__()
        self.expiries: list[int] = []

    async def incr(self, key: str, expires_in: int) -> int | None:
        self.expiries.append(expires_in)
        return await super().incr(key, expires_in)


async def test_a_window_counts_until_it_resets_and_peeking_counts_nothing() -> None:
    clock = Clock(1_000_000.0)
    counters = RecordingCounters()
    limiter = RateLimiter(counters, per_minute=3, failed_auth_per_minute=0, clock=clock)
    policy = limiter.tenant(None)
    assert policy is not None and policy.quota == 3
    assert limiter.failed_auth is None and limiter.tenant(0) is None  # 0: not limited
    assert await limiter.hit(None, "ten_a") is None

    ahead = await limiter.peek(policy, "ten_a")
    assert ahead is not None and (ahead.used, ahead.exceeded) == (1, False)
    used = [await limiter.hit(policy, "ten_a") for _ in range(4)]
    assert [u.used for u in used if u] == [1, 2, 3, 4]
    assert [u.exceeded for u in used if u] == [False, False, False, True]
    first, last = used[0], used[-1]
    assert first is not None and last is not None
    assert 1 <= first.reset <= 60 and last.reset == first.reset
    assert last.headers() == {
        "RateLimit-Policy": '"tenant";q=3;w=60',
        "RateLimit": f'"tenant";r=0;t={first.reset}',
    }
    other = await limiter.hit(policy, "ten_b")
    assert other is not None and other.used == 1  # buckets are apart

    clock.now += first.reset - 0.5
    later = await limiter.hit(policy, "ten_a")
    assert later is not None and later.used == 5 and later.reset == 1
    clock.now += 0.5  # the window is over
    fresh = await limiter.hit(policy, "ten_a")
    assert fresh is not None and fresh.used == 1 and fresh.reset == 60
    # A count is kept a whole window however little of it is left: the store's clock is not ours.
    assert set(counters.expiries) == {61}


async def test_memory_counts_lose_nothing_under_concurrency() -> None:
    counters, concurrent = MemoryCounters(), 50
    values = await asyncio.gather(*(counters.incr("k", expires_in=60) for _ in range(concurrent)))
    assert sorted(v for v in values if v is not None) == list(range(1, concurrent + 1))
    assert await counters.count("k") == concurrent
    assert await counters.count("absent") == 0


def test_rate_limit_settings_are_read_and_checked() -> None:
    settings = load_settings(
        {
            "PERSONA_RATE_LIMIT_FAILED_AUTH_PER_MINUTE": "5",
            "PERSONA_RATE_LIMIT_STORE": "redis://127.0.0.1:6379/2",
            "PERSONA_TRUSTED_PROXY_HEADER": "X-Forwarded-For",
            "PERSONA_TRUSTED_PROXY_HOPS": "2",
            "PERSONA_AUTH_REFUSED_CACHE_SECONDS": "3",
        }
    )
    assert settings.rate_limit_failed_auth_per_minute == 5
    assert settings.rate_limit_store == "redis://127.0.0.1:6379/2"
    assert (settings.trusted_proxy_header, settings.trusted_proxy_hops) == ("X-Forwarded-For", 2)
    assert settings.auth_refused_cache_seconds == 3.0
    assert load_settings({}).trusted_proxy_header is None
    # Unset, the failed-auth limit is 30, never above the default limit, and off with it.
    assert load_settings({}).failed_auth_per_minute == 30
    assert load_settings({"PERSONA_RATE_LIMIT_PER_MINUTE": "10"}).failed_auth_per_minute == 10
    assert load_settings({"PERSONA_RATE_LIMIT_PER_MINUTE": "0"}).failed_auth_per_minute == 0
    explicit = {"PERSONA_RATE_LIMIT_PER_MINUTE": "0", "PERSONA_RATE_LIMIT_FAILED_AUTH_PER_MINUTE": "50"}
    assert load_settings(explicit).failed_auth_per_minute == 50
    assert load_settings({"PERSONA_RATE_LIMIT_FAILED_AUTH_PER_MINUTE": ""}).failed_auth_per_minute == 30
    assert load_settings({"PERSONA_TRUSTED_PROXY_HEADER": ""}).trusted_proxy_header is None
    for name, value in (
        ("PERSONA_RATE_LIMIT_FAILED_AUTH_PER_MINUTE", "-1"),
        ("PERSONA_RATE_LIMIT_STORE", "memcached://x"),
        ("PERSONA_TRUSTED_PROXY_HEADER", "X Forwarded For"),
        ("PERSONA_TRUSTED_PROXY_HOPS", "0"),
        ("PERSONA_AUTH_REFUSED_CACHE_SECONDS", "-2"),
    ):
        with pytest.raises(ConfigurationError, match=name):
            load_settings({name: value})
