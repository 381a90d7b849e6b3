"""aiosqlite's interface with SQLite called on the event loop's own thread.

aiosqlite runs each connection's calls on a thread of its own and hands every call over a queue:
one statement through SQLAlchemy is four hand-offs (cursor, execute, fetch, close), about 0.8 ms
of CPU here against 0.06 ms for the statement itself, and a chat request makes about twenty. The
thread exists so that a call which waits cannot block the event loop; here none waits: SQLite's
busy timeout is 0 (:mod:`persona_api.store.db` waits for another writer's lock with an async
sleep), so a call returns as soon as SQLite has done its work. What is left on the loop is that
work, which for the service's indexed reads and small writes is tens of microseconds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Generator
from functools import partial
from typing import Any

import aiosqlite


class InlineConnection(aiosqlite.Connection):
    """An ``aiosqlite.Connection`` whose calls run at once on the calling thread (no worker
    thread, no queue). SQLAlchemy's ``sqlite+aiosqlite`` dialect drives it unchanged."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        return self._connect().__await__()

    def stop(self) -> None:
        """Close the SQLite connection (nothing else to stop)."""
        self._running = False
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.close()

    async def close(self) -> None:
        self.stop()


def inline_creator(database: str, **kwargs: Any) -> Callable[[], InlineConnection]:
    """An ``async_creator`` for ``create_async_engine``: connections to ``database`` (a path or
    ``:memory:``) opened with ``sqlite3.connect(database, **kwargs)``."""
    # The pool may close a connection from another thread (e.g. at interpreter exit).
    connector = partial(sqlite3.connect, database, check_same_thread=False, **kwargs)
    return partial(InlineConnection, connector)
