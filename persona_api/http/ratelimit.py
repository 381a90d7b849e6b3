"""Rate limits: per tenant for valid keys, per client address for everything else.

Three policies, named as in the responses' headers (the IETF httpapi ratelimit-headers draft:
``RateLimit-Policy: "tenant";q=600;w=60`` and ``RateLimit: "tenant";r=598;t=41``):

- ``tenant``: every key of a tenant draws on one budget, the tenant's own limit or the default;
- ``address``: requests without a key, per client address, at the default limit;
- ``auth-failure``: requests whose key is refused, per client address, at a stricter limit. It is
  checked before an unknown key is looked up, so a flood of made-up keys stops costing database
  lookups once the address has used its budget.

Counts are fixed windows of a minute, kept in a Litestar store (see ``http.counters``). Litestar's
own ``RateLimitMiddleware`` is not used: it keys a bucket by a synchronous function of the request
(a tenant needs the key looked up first), has one limit for every bucket, keeps a list of every
request's timestamp per bucket, and writes the older draft's ``RateLimit-Limit/Remaining/Reset``.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from persona_api.http.auth import Authenticator, bearer_token, remember_owner
from persona_api.http.client_address import ClientAddress
from persona_api.http.counters import Counters
from persona_api.http.problems import problem

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Policy:
    name: str
    quota: int
    window: int = WINDOW_SECONDS

    @property
    def header(self) -> str:
        return f'"{self.name}";q={self.quota};w={self.window}'


def _policy(name: str, quota: int) -> Policy | None:
    return Policy(name, quota) if quota > 0 else None


@dataclass(frozen=True)
class Usage:
    """A bucket's count in its current window, this request included, and the seconds left."""

    policy: Policy
    used: int
    reset: int

    @property
    def exceeded(self) -> bool:
        return self.used > self.policy.quota

    def headers(self) -> dict[str, str]:
        remaining = max(0, self.policy.quota - self.used)
        return {
            "RateLimit-Policy": self.policy.header,
            "RateLimit": f'"{self.policy.name}";r={remaining};t={self.reset}',
        }


class RateLimiter:
    """The policies and their counters. ``per_minute`` is the default of tenants and the limit of
    requests without a key; a policy whose limit is 0 does not limit (and sends no headers)."""

    def __init__(
        self,
        counters: Counters,
        *,
        per_minute: int,
        failed_auth_per_minute: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.counters = counters
        self.per_minute = per_minute
        self.address = _policy("address", per_minute)
        self.failed_auth = _policy("auth-failure", failed_auth_per_minute)
        self.clock = clock

    def tenant(self, own_per_minute: int | None) -> Policy | None:
        return _policy("tenant", self.per_minute if own_per_minute is None else own_per_minute)

    async def hit(self, policy: Policy | None, partition: str) -> Usage | None:
        """Count one request in ``partition``'s bucket of ``policy``."""
        return await self._usage(policy, partition, count=True)

    async def peek(self, policy: Policy | None, partition: str) -> Usage | None:
        """What :meth:`hit` would answer, without counting."""
        return await self._usage(policy, partition, count=False)

    async def _usage(self, policy: Policy | None, partition: str, *, count: bool) -> Usage | None:
        if policy is None:
            return None
        # Each bucket's windows are shifted by a fixed amount of its own, so that all buckets do
        # not start afresh in the same second.
        shift = zlib.crc32(partition.encode()) % policy.window
        window, elapsed = divmod(self.clock() + shift, policy.window)
        key = f"{policy.name}:{partition}:{int(window)}"
        reset = max(1, math.ceil(policy.window - elapsed))
        if count:
            # Kept a whole window, not just what is left of it: the key names its window, so it is
            # never counted in again, and the store's clock need not agree with ``clock``.
            used = await self.counters.incr(key, expires_in=policy.window + 1)
        else:
            seen = await self.counters.count(key)
            used = None if seen is None else seen + 1
        return None if used is None else Usage(policy, used, reset)


_REFUSALS = {
    "tenant": "this tenant's rate limit ({quota} requests a minute) is used up",
    "address": "too many requests without an API key from this address ({quota} a minute)",
    "auth-failure": "too many requests with invalid API keys from this address ({quota} a minute)",
}


class RateLimitMiddleware(ASGIMiddleware):
    """Counts each request against its policy; over the limit, answers 429 problem+json with
    ``Retry-After``. Every counted response carries ``RateLimit-Policy`` and ``RateLimit``."""

    scopes = (ScopeType.HTTP,)

    def __init__(
        self,
        limiter: RateLimiter,
        authenticator: Authenticator,
        client_address: ClientAddress,
        *,
        exclude: Sequence[str] = (),
    ) -> None:
        self.limiter = limiter
        self.authenticator = authenticator
        self.client_address = client_address
        prefixes = tuple(p.rstrip("/") for p in exclude)
        self.should_bypass_for_scope = lambda scope: _under(scope["path"], prefixes)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        request: Request[Any, Any, Any] = Request(scope)
        usage = await self._count(request)
        if usage is None:
            await next_app(scope, receive, send)
        elif usage.exceeded:
            detail = _REFUSALS[usage.policy.name].format(quota=usage.policy.quota)
            headers = {**usage.headers(), "Retry-After": str(usage.reset)}
            response = problem(request, 429, f"{detail}; retry after {usage.reset} s", headers=headers)
            await response.to_asgi_response(app=None, request=request)(scope, receive, send)
        else:
            await next_app(scope, receive, _with_headers(send, usage.headers()))

    async def _count(self, request: Request[Any, Any, Any]) -> Usage | None:
        limiter = self.limiter
        token = bearer_token(request.headers)
        if token is None:
            return await limiter.hit(limiter.address, self.client_address(request))
        if not self.authenticator.known(token):
            # An unknown key costs a lookup: not for an address that used up its failures.
            ahead = await limiter.peek(limiter.failed_auth, self.client_address(request))
            if ahead is not None and ahead.exceeded:
                return ahead
        owner = await self.authenticator.check(token)
        remember_owner(request.scope, owner)
        if owner is None:
            return await limiter.hit(limiter.failed_auth, self.client_address(request))
        return await limiter.hit(limiter.tenant(owner.rate_limit_per_minute), owner.tenant_id)


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


def _with_headers(send: Send, headers: dict[str, str]) -> Send:
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message.setdefault("headers", [])
            mutable = MutableScopeHeaders(message)
            for name, value in headers.items():
                mutable[name] = value
        await send(message)

    return send_with_headers
