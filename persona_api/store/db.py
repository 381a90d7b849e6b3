"""Engine and session setup for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.util import await_only

from persona_api.config import Settings
from persona_api.errors import Conflict
from persona_api.store.inline_sqlite import inline_creator


def ensure_sqlite_dir(database_url: str) -> None:
    """Create the folder of a file-backed SQLite database so a fresh checkout just works."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


SQLITE_LOCK_WAIT = 5.0
"""Seconds a statement waits for SQLite's write lock before "database is locked" (then a 503)."""
_FIRST_PAUSE, _LONGEST_PAUSE = 0.0002, 0.02


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer (API replicas, the extraction worker and the
    # re-index job share the file); foreign keys make ON DELETE CASCADE real. SQLite's own busy
    # handler is off: it sleeps 1, 2, 5, 10, 15 ms ... between tries, so a lock held for 3 ms cost
    # a waiter 8; _wait_for_lock below retries at a finer grain instead.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted and rewritten rows are overwritten with zeros, so the file's free space does not keep
    # a deleted user's texts (docs/operations.md#erasure: writes cost about 10-20% more).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _wait_for_lock(run: Any, dialect: Any) -> None:
    """Run ``run()``; while another connection holds SQLite's write lock, try again after a pause
    (0.2 ms, growing by half each time to at most 20 ms), for up to :data:`SQLITE_LOCK_WAIT` seconds.

    Retrying the statement is safe: with the sqlite3 driver a transaction begins at its first
    write, and only that statement can find the lock taken (in WAL mode reads never wait for it).
    """
    deadline = time.monotonic() + SQLITE_LOCK_WAIT
    pause = _FIRST_PAUSE
    while True:
        try:
            run()
            return
        except dialect.dbapi.OperationalError as error:
            if "database is locked" not in str(error) or time.monotonic() + pause > deadline:
                raise
        await_only(asyncio.sleep(pause))  # the event loop runs on meanwhile
        pause = min(pause * 1.5, _LONGEST_PAUSE)


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


class _WriteGate:
    """One engine's writers, in order: the connection that holds SQLite's write lock holds the
    gate too (from its transaction's first write to its commit or rollback), and the others queue
    on an asyncio lock, first come first served, instead of polling the file lock.

    Without it, concurrent requests of one process raced for the lock: the polling waiters lost to
    newcomers again and again, and under load a few requests waited seconds. Writers of other
    processes (the extraction worker, the re-index job) still meet in SQLite's lock, where
    :func:`_wait_for_lock` waits for them.
    """

    def __init__(self) -> None:
        # Per event loop (an engine may serve several, one per thread): its lock and the id of
        # the connection holding it.
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopGate] = (
            weakref.WeakKeyDictionary()
        )

    def enter(self, connection: Any, statement: str, dialect: Any) -> None:
        """Called before each statement: a connection's first write waits for the gate."""
        if not statement.lstrip()[:7].upper().startswith(_WRITES):
            return  # reads never take SQLite's write lock (WAL)
        loop = asyncio.get_running_loop()
        gate = self._loops.get(loop)
        if gate is None:
            gate = self._loops[loop] = _LoopGate(asyncio.Lock())
        if gate.holder == id(connection):
            return
        try:
            await_only(_acquire_within(gate.lock, SQLITE_LOCK_WAIT))
        except TimeoutError:
            message = "database is locked (this process's other writers held it)"
            raise dialect.dbapi.OperationalError(message) from None
        gate.holder = id(connection)

    def leave(self, connection: Any) -> None:
        """Called after a connection's commit, rollback, close or termination (given the pool's
        proxy or the driver's connection), from any thread."""
        key = id(getattr(connection, "dbapi_connection", connection))
        for loop, gate in list(self._loops.items()):
            if gate.holder != key:
                continue
            gate.holder = None
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                gate.lock.release()
            elif not loop.is_closed():
                loop.call_soon_threadsafe(gate.lock.release)
            return


async def _acquire_within(lock: asyncio.Lock, seconds: float) -> None:
    """``lock.acquire()`` or ``TimeoutError`` (asyncio.timeout: Python 3.11's wait_for can lose a
    cancellation that meets its timeout)."""
    async with asyncio.timeout(seconds):
        await lock.acquire()


@dataclass
class _LoopGate:
    lock: asyncio.Lock
    holder: int | None = None


def _gated(gate: _WriteGate, method: Any) -> Any:
    """``method(connection)`` (the dialect's commit, rollback or close), then out of the gate."""

    def run(connection: Any, *args: Any) -> Any:
        try:
            return method(connection, *args)
        finally:
            gate.leave(connection)

    return run


def _hooks(gate: _WriteGate) -> dict[str, Any]:
    """The engine's statement hooks: into the gate at a transaction's first write, then run the
    statement, waiting out another process's write lock."""

    def run(context: Any, statement: str, call: Any) -> bool:
        gate.enter(context.root_connection.connection.dbapi_connection, statement, context.dialect)
        _wait_for_lock(call, context.dialect)
        return True

    return {
        "do_execute": lambda cursor, statement, parameters, context: run(
            context, statement, lambda: cursor.execute(statement, parameters)
        ),
        "do_execute_no_params": lambda cursor, statement, context: run(
            context, statement, lambda: cursor.execute(statement)
        ),
        "do_executemany": lambda cursor, statement, parameters, context: run(
            context, statement, lambda: cursor.executemany(statement, parameters)
        ),
    }


PG_CONNECT_TIMEOUT = 5.0
"""Seconds to open a PostgreSQL connection (asyncpg's default is 60)."""
PG_COMMAND_TIMEOUT = 60.0
"""Seconds one statement of a pooled engine (the API's, the worker's) may take before its connection
is given up; the re-index job's engine has none (its reads of whole tables may take longer)."""
PG_POOL_TIMEOUT = 10.0
"""Seconds a request waits for a free pooled connection (SQLAlchemy's default is 30)."""


def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
    """Open a PostgreSQL connection; a failure to connect (refused, timed out, the server starting
    up, shutting down or full) becomes the driver's ``OperationalError``. asyncpg raises those as
    ``OSError`` or its own classes, which SQLAlchemy would pass on unwrapped."""
    import asyncpg  # type: ignore[import-untyped]  # no type information shipped

    try:
        return dialect.connect(*cargs, **cparams)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise dialect.loaded_dbapi.OperationalError(
            f"could not connect: {type(exc).__name__}: {exc}"
        ) from exc


def _connection_lost(context: ExceptionContext) -> BaseException | None:
    """Mark a lost database connection as such (``connection_invalidated``), so callers tell it
    from a failed statement: a failure to connect, or a statement that timed out or lost its socket
    (asyncpg raises ``TimeoutError`` and ``OSError`` unwrapped; the connection is then discarded)."""
    error = context.original_exception
    if context.is_pre_ping:
        return None  # the pool replaces the connection itself
    if context.connection is None:
        if isinstance(error, context.dialect.loaded_dbapi.OperationalError):
            context.is_disconnect = True  # raised by _connect
        return None
    if isinstance(error, OSError) and context.sqlalchemy_exception is None:
        context.is_disconnect = True
        return OperationalError(context.statement, context.parameters, error, connection_invalidated=True)
    return None


def _ping_or_false(ping: Any) -> Any:
    """The pool's pre-ping, where a server that does not answer in time (asyncpg raises
    ``TimeoutError``, which SQLAlchemy passes on) fails the ping: the pool then replaces the
    connection, as for any other failed ping, instead of handing the error to the request."""

    def run(dbapi_connection: Any) -> bool:
        try:
            return bool(ping(dbapi_connection))
        except OSError:
            return False

    return run


def create_engine(settings: Settings, *, pooled: bool = True) -> AsyncEngine:
    """An async engine for ``settings.database_url`` with per-backend hardening.

    On PostgreSQL nothing waits without a bound (connecting, a pooled statement, a free pooled
    connection), pooled connections are checked before use (a restarted server's are replaced),
    and every lost connection reaches the caller as a ``DBAPIError`` with ``connection_invalidated``
    set (the HTTP layer answers 503), or as SQLAlchemy's pool ``TimeoutError``.
    """
    url = settings.database_url
    kwargs: dict[str, Any] = {"echo": settings.db_echo}
    if settings.is_sqlite:
        ensure_sqlite_dir(url)
        # Calls run on the event loop's thread (see inline_sqlite); timeout 0: see _sqlite_pragmas.
        kwargs["async_creator"] = inline_creator(make_url(url).database or ":memory:", timeout=0)
    elif pooled:
        kwargs.update(
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            pool_pre_ping=True,
            pool_timeout=PG_POOL_TIMEOUT,
            connect_args={"timeout": PG_CONNECT_TIMEOUT, "command_timeout": PG_COMMAND_TIMEOUT},
        )
    else:
        kwargs.update(poolclass=NullPool, connect_args={"timeout": PG_CONNECT_TIMEOUT})
    engine = create_async_engine(url, **kwargs)
    dialect = engine.sync_engine.dialect
    if settings.is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        gate = _WriteGate()
        for name, hook in _hooks(gate).items():
            event.listen(engine.sync_engine, name, hook)
        for name in ("do_commit", "do_rollback", "do_close", "do_terminate"):
            setattr(dialect, name, _gated(gate, getattr(dialect, name)))
    else:
        event.listen(engine.sync_engine, "do_connect", _connect)
        event.listen(engine.sync_engine, "handle_error", _connection_lost)
        dialect.do_ping = _ping_or_false(dialect.do_ping)  # type: ignore[method-assign]
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def flush_or_conflict(session: AsyncSession, detail: str) -> None:
    """Send the pending writes; a unique-constraint violation (a concurrent twin of this write)
    becomes a 409. The request's transaction commits them (see persona_api.http.deps)."""
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise Conflict(detail) from None


def upsert_for(session: AsyncSession) -> Any:
    """The session's dialect's ``insert``, the one with ``on_conflict_do_nothing``/``_do_update``
    (SQLite and PostgreSQL spell it alike)."""
    return postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
