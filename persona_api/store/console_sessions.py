"""Web console sessions: who signed in (a tenant key, by its hash, or the admin token), for which
tenant, with which scope, until when.

The browser holds only a random token (signed, in an HttpOnly cookie: see
:mod:`persona_api.console.auth`); this table holds its SHA-256, so neither a stolen database nor a
log line can be replayed as a session. Signing out deletes the row; so does expiry, lazily.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from persona_api.store.tables import Base, utcnow


class ConsoleSession(Base):
    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 of the session token."""
    key_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    """The signed-in tenant key's hash (checked again on every request); None for the admin."""
    admin: Mapped[bool] = mapped_column(default=False)
    tenant_id: Mapped[str | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), default=None, index=True
    )
    """The tenant the pages show; the admin picks one (None until then)."""
    scope: Mapped[str] = mapped_column(String(16), default="write")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(
    session: AsyncSession,
    *,
    hours: float,
    key_hash: str | None = None,
    tenant_id: str | None = None,
    scope: str = "write",
    admin: bool = False,
) -> str:
    """A new session; returns its token (the only copy)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
    session.add(
        ConsoleSession(
            id=_digest(token),
            key_hash=key_hash,
            admin=admin,
            tenant_id=tenant_id,
            scope=scope,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    await session.flush()
    return token


async def find_session(session: AsyncSession, token: str) -> ConsoleSession | None:
    """The live session of ``token``, or None (unknown, signed out or expired)."""
    row = await session.get(ConsoleSession, _digest(token))
    if row is None or row.expires_at <= utcnow():
        return None
    return row


async def close_session(session: AsyncSession, token: str) -> None:
    await session.execute(delete(ConsoleSession).where(ConsoleSession.id == _digest(token)))
