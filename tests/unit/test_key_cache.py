"""The in-process cache of checked API keys: expiry, eviction and its bound."""

from __future__ import annotations

import time

import pytest

from persona_api.http.auth import KeyCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(time, "monotonic", fake)  # the clock auth.py reads
    return fake


def test_a_checked_key_is_trusted_until_it_expires(clock: Clock) -> None:
    cache = KeyCache(ttl=10)
    cache.put("h1", "ten_a")
    clock.now += 9.9
    assert cache.get("h1") == "ten_a"
    clock.now += 0.2
    assert cache.get("h1") is None
    assert cache.get("h1") is None  # the expired entry is gone, not revived


def test_revoking_and_deleting_the_tenant_evict_at_once(clock: Clock) -> None:
    cache = KeyCache(ttl=60)
    cache.put("h1", "ten_a")
    cache.put("h2", "ten_a")
    cache.put("h3", "ten_b")
    cache.evict_key("h1")
    assert cache.get("h1") is None and cache.get("h2") == "ten_a"
    cache.evict_tenant("ten_a")
    assert cache.get("h2") is None
    assert cache.get("h3") == "ten_b"
    cache.evict_key("never-seen")  # harmless


def test_zero_ttl_caches_nothing_and_size_is_bounded(clock: Clock) -> None:
    off = KeyCache(ttl=0)
    off.put("h1", "ten_a")
    assert off.get("h1") is None
    small = KeyCache(ttl=60, max_entries=2)
    small.put("h1", "ten_a")
    small.put("h2", "ten_a")
    assert small.get("h1") == "ten_a"
    small.put("h3", "ten_a")  # h2 is now the least recently stored
    assert small.get("h3") == "ten_a"
    assert sum(small.get(h) is not None for h in ("h1", "h2", "h3")) == 2
