"""Engine and session setup for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from persona_api.config import Settings
from persona_api.errors import Conflict


def ensure_sqlite_dir(database_url: str) -> None:
    """Create the folder of a file-backed SQLite database so a fresh checkout just works."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer (API replicas and the re-index job share the
    # file); foreign keys make ON DELETE CASCADE real; the busy timeout turns lock contention
    # into a short wait instead of an immediate "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(settings: Settings, *, pooled: bool = True) -> AsyncEngine:
    """An async engine for ``settings.database_url`` with per-backend hardening."""
    url = settings.database_url
    kwargs: dict[str, Any] = {"echo": settings.db_echo}
    if settings.is_sqlite:
        ensure_sqlite_dir(url)
        kwargs["connect_args"] = {"timeout": 5}
    elif pooled:
        kwargs.update(pool_size=settings.db_pool_size, max_overflow=settings.db_pool_size, pool_pre_ping=True)
    else:
        kwargs["poolclass"] = NullPool
    engine = create_async_engine(url, **kwargs)
    if settings.is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def commit_or_conflict(session: AsyncSession, detail: str) -> None:
    """Commit; a unique-constraint violation (a concurrent twin of this write) becomes a 409."""
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(detail) from None
