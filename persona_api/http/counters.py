"""Counters of the rate limits, in a Litestar store: in memory (per process) or in Redis (shared).

Litestar's stores have ``get`` and ``set`` but no increment; each counter store here adds one
that cannot lose a count: a lock around read-and-write in one process, ``INCR`` in Redis. Either
answers None when it cannot count (Redis unreachable): the request is then served unlimited,
since refusing every request because the counter is away would be worse than not limiting.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

import anyio
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("persona_api.http")

NAMESPACE = "persona_api_rate_limit"
SWEEP_SECONDS = 60.0
"""How often the memory store drops expired counts (it never does on its own)."""


class Counters(Protocol):
    """A store of counts that expire."""

    async def incr(self, key: str, expires_in: int) -> int | None:
        """Add one to ``key`` (kept ``expires_in`` more seconds); its new value, or None."""

    async def count(self, key: str) -> int | None:
        """The value of ``key`` (0 if absent), or None."""


class MemoryCounters(MemoryStore):
    """Counts in this process's memory: each process (worker, replica) limits on its own."""

    def __init__(self) -> None:
        super().__init__()
        self._counting = anyio.Lock()
        self._next_sweep = time.monotonic() + SWEEP_SECONDS

    async def incr(self, key: str, expires_in: int) -> int | None:
        async with self._counting:
            value = int(await self.get(key) or 0) + 1
            await self.set(key, str(value), expires_in=expires_in)
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + SWEEP_SECONDS
            await self.delete_expired()
        return value

    async def count(self, key: str) -> int | None:
        return int(await self.get(key) or 0)


class RedisCounters(RedisStore):
    """Counts in Redis, shared by every process that uses the same server and database."""

    _failed_at = float("-inf")

    async def incr(self, key: str, expires_in: int) -> int | None:
        name = self._make_key(key)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, expires_in)
                value, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            self._unavailable(exc)
            return None
        return int(value)

    async def count(self, key: str) -> int | None:
        try:
            raw = await self.get(key)
        except (RedisError, OSError) as exc:
            self._unavailable(exc)
            return None
        return int(raw or 0)

    def _unavailable(self, exc: Exception) -> None:
        # Logged at most once a minute: every request would otherwise log the same outage.
        if time.monotonic() - self._failed_at >= SWEEP_SECONDS:
            self._failed_at = time.monotonic()
            log.warning("rate_limit.store_unavailable", extra={"error": type(exc).__name__})


def open_counters(url: str) -> MemoryCounters | RedisCounters:
    """``memory``, or a ``redis://`` / ``rediss://`` / ``unix://`` URL (a database number may follow)."""
    if url == "memory":
        return MemoryCounters()
    client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    return RedisCounters(redis=client, namespace=NAMESPACE, handle_client_shutdown=True)
