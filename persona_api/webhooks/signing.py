"""The delivery signature: ``X-Persona-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``.

The HMAC's key is the endpoint's secret and its message is ``"<t>.<raw body>"``, so a receiver
that checks it knows the body came from us, unchanged, and (comparing ``t`` with its clock) not
long ago. Every attempt is signed afresh; the event id in the body stays the same.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

HEADER = "X-Persona-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105  # a public prefix, not a secret
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    secret: str, header: str, body: bytes, *, tolerance: float = TOLERANCE_SECONDS, now: float | None = None
) -> bool:
    """Whether ``header`` signs ``body`` under ``secret`` within ``tolerance`` seconds of ``now``."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
