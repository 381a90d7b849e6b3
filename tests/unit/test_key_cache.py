"""The in-process caches of checked API keys: expiry, eviction and their bound."""

from __future__ import annotations

from persona_api.http.auth import KeyCache, RefusedKeys
from persona_api.store.tenants import KeyOwner


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


A = KeyOwner(tenant_id="ten_a", rate_limit_per_minute=None)
B = KeyOwner(tenant_id="ten_b", rate_limit_per_minute=5)


def test_a_checked_key_is_trusted_until_it_expires() -> None:
    clock = Clock()
    cache = KeyCache(ttl=10, clock=clock)
    cache.put("h1", A)
    clock.now += 9.9
    assert cache.get("h1") == A
    clock.now += 0.2
    assert cache.get("h1") is None
    assert cache.get("h1") is None  # the expired entry is gone, not revived


def test_revoking_and_deleting_the_tenant_evict_at_once() -> None:
    cache = KeyCache(ttl=60, clock=Clock())
    cache.put("h1", A)
    cache.put("h2", A)
    cache.put("h3", B)
    cache.evict_key("h1")
    assert cache.get("h1") is None and cache.get("h2") == A
    cache.evict_tenant("ten_a")
    assert cache.get("h2") is None
    assert cache.get("h3") == B
    assert cache.get("h3").rate_limit_per_minute == 5  # type: ignore[union-attr]
    cache.evict_key("never-seen")  # harmless


def test_zero_ttl_caches_nothing_and_size_is_bounded() -> None:
    off = KeyCache(ttl=0, clock=Clock())
    off.put("h1", A)
    assert off.get("h1") is None
    small = KeyCache(ttl=60, max_entries=2, clock=Clock())
    small.put("h1", A)
    small.put("h2", A)
    assert small.get("h1") == A
    small.put("h3", A)  # h1 is the oldest stored
    assert small.get("h3") == A
    assert [small.get(h) is not None for h in ("h1", "h2", "h3")] == [False, True, True]


def test_a_refused_key_is_remembered_for_its_ttl_within_a_bound() -> None:
    clock = Clock()
    refused = RefusedKeys(ttl=5, max_entries=3, clock=clock)
    refused.put("bad", True)
    assert "bad" in refused and "other" not in refused
    clock.now += 4.9
    assert "bad" in refused
    clock.now += 0.2
    assert "bad" not in refused
    for n in range(10):
        refused.put(f"bad{n}", True)
    assert [f"bad{n}" in refused for n in range(10)] == [False] * 7 + [True] * 3
    off = RefusedKeys(ttl=0, clock=clock)
    off.put("bad", True)
    assert "bad" not in off
