"""SQLite's write lock: a writer waits (at a fine grain) while another connection holds it, and
gives up with "database is locked" after ``SQLITE_LOCK_WAIT``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

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
