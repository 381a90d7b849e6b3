"""The queue of turns waiting for off-path memory extraction (``persona_api.memory.extraction``).

A queued turn is one ``memory_extractions`` row; this module names the row's statuses and holds the
producer side that ingest uses: rows added in the ingest transaction, and a wake-up for the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.memory.tables import MemoryExtraction, Turn
from persona_api.store.tables import utcnow

PENDING, DONE, FALLBACK = "pending", "done", "fallback"


class ExtractionQueue:
    """The producer side: rows added in the caller's transaction, and a wake-up for the worker."""

    def __init__(self) -> None:
        self._wake = asyncio.Event()

    def enqueue(self, session: AsyncSession, *, tenant_id: str, user_id: int, turns: Sequence[Turn]) -> None:
        """Queue ``turns`` (flushed, so they have ids) in ``session``'s transaction."""
        now = utcnow()
        session.add_all(
            MemoryExtraction(
                tenant_id=tenant_id,
                user_id=user_id,
                turn_id=t.id,
                status=PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
            for t in turns
        )

    def notify(self) -> None:
        """Call after the commit: new rows are due now."""
        self._wake.set()

    async def wait(self, seconds: float) -> None:
        """Until :meth:`notify` or ``seconds`` have passed, whichever comes first."""
        # asyncio.timeout, not asyncio.wait_for: on Python 3.11 a cancellation that meets the
        # timeout inside wait_for can be lost, and the worker's task then never ends (seen in CI:
        # a cancelled worker stuck here).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()
