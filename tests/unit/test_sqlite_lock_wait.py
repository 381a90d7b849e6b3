"""SQLite's write lock: a writer waits (at a fine grain) while another connection holds it, and
gives up with "database is locked" after ``SQLITE_LOCK_WAIT``."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from persona_api.config import Settings
from persona_api.store import db


async def _hold_lock_then_insert(tmp_path: Path, hold: float) -> float:
    engine = db.create_engine(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'lock.db'}"))
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        async with engine.connect() as holder, engine.connect() as waiter:
            await holder.execute(text("INSERT INTO t VALUES (1)"))  # takes the write lock

            async def release() -> None:
                await asyncio.sleep(hold)
                await holder.commit()

            releasing = asyncio.create_task(release())
            started = time.perf_counter()
            try:
                await waiter.execute(text("INSERT INTO t VALUES (2)"))
                await waiter.commit()
                return time.perf_counter() - started
            finally:
                await releasing
    finally:
        await engine.dispose()


async def test_a_writer_waits_for_the_lock_and_then_writes(tmp_path: Path) -> None:
    waited = await _hold_lock_then_insert(tmp_path, hold=0.05)
    assert waited >= 0.045  # it really waited for the other connection's commit


async def test_a_writer_gives_up_after_the_lock_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "SQLITE_LOCK_WAIT", 0.05)
    with pytest.raises(OperationalError, match="database is locked"):
        await _hold_lock_then_insert(tmp_path, hold=0.3)


async def _engine_with_table(tmp_path: Path) -> AsyncEngine:
    engine = db.create_engine(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'gate.db'}"))
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (x INTEGER)"))
    return engine


async def test_writers_of_one_process_take_the_lock_in_the_order_they_asked(tmp_path: Path) -> None:
    engine = await _engine_with_table(tmp_path)
    order: list[int] = []

    async def writer(i: int) -> None:
        await asyncio.sleep(0.002 * i)  # ask in order 0, 1, 2, ...
        async with engine.connect() as conn:
            await conn.execute(text("INSERT INTO t VALUES (:i)"), {"i": i})
            order.append(i)
            await asyncio.sleep(0.01)  # hold the lock while the others queue
            await conn.commit()

    try:
        await asyncio.gather(*(writer(i) for i in range(12)))
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 12
    finally:
        await engine.dispose()
    assert order == list(range(12))


async def test_a_rolled_back_or_closed_writer_lets_the_next_one_in(tmp_path: Path) -> None:
    engine = await _engine_with_table(tmp_path)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("INSERT INTO t VALUES (1)"))
            await conn.rollback()
        async with engine.connect() as conn:
            await conn.execute(text("INSERT INTO t VALUES (2)"))
        # Closed without a commit: the pool rolls it back.
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t VALUES (3)"))
        async with engine.connect() as conn:
            assert [r[0] for r in await conn.execute(text("SELECT x FROM t"))] == [3]
    finally:
        await engine.dispose()


async def test_a_writer_of_another_process_is_waited_for_in_sqlite(tmp_path: Path) -> None:
    """Two engines on one file stand for two processes: the gate is per engine, the file lock
    is shared, and the second engine's writer waits for the first's commit."""
    first = await _engine_with_table(tmp_path)
    second = db.create_engine(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'gate.db'}"))
    try:
        async with first.connect() as holder:
            await holder.execute(text("INSERT INTO t VALUES (1)"))

            async def release() -> None:
                await asyncio.sleep(0.05)
                await holder.commit()

            releasing = asyncio.create_task(release())
            started = time.perf_counter()
            async with second.begin() as waiter:
                await waiter.execute(text("INSERT INTO t VALUES (2)"))
            waited = time.perf_counter() - started
            await releasing
        assert waited >= 0.045
    finally:
        await first.dispose()
        await second.dispose()


async def test_one_engine_serves_event_loops_in_several_threads(tmp_path: Path) -> None:
    """Each loop has its own queue; writers of different loops meet in SQLite's lock."""
    engine = await _engine_with_table(tmp_path)

    async def write(value: int, hold: float) -> None:
        async with engine.connect() as conn:
            await conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": value})
            await asyncio.sleep(hold)
            await conn.commit()

    def in_thread(value: int, hold: float) -> threading.Thread:
        thread = threading.Thread(target=lambda: asyncio.run(write(value, hold)))
        thread.start()
        return thread

    try:
        threads = [in_thread(1, 0.05), in_thread(2, 0.0)]
        await write(3, 0.02)
        for thread in threads:
            await asyncio.to_thread(thread.join, 10)
        await asyncio.wait_for(write(4, 0.0), 1.0)  # no gate was left held
        async with engine.connect() as conn:
            assert sorted(r[0] for r in await conn.execute(text("SELECT x FROM t"))) == [1, 2, 3, 4]
    finally:
        await engine.dispose()
