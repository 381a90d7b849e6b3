"""Off-path memory extraction: the worker that drains the queue of ingested turns.

With an LLM configured, ``Conversations.add_turns`` stores turns with ``extracted_by`` null and one
``memory_extractions`` row each, in the ingest transaction, then wakes the worker. The worker (one
task in the API's lifespan; any number of replicas may run one) claims due rows by pushing their
``next_attempt_at`` past a lease, asks the LLM for the turn's memories, and writes them in one
transaction that also marks the turn and the row. A failed attempt (upstream error, timeout, an
answer that is not valid JSON of the schema) is recorded in ``last_error`` and retried with backoff;
after ``max_attempts`` the deterministic rules extract the turn instead (status ``fallback``). A
claim lost to a crash is retried once its lease expires. No turn is ever dropped.

The producer side and the row statuses are ``persona_api.memory.extraction_queue``; how a claimed
row's turn is read is ``persona_api.memory.queued_turn``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from persona_api.config import Settings
from persona_api.errors import PersonaError
from persona_api.memory.context import MemoryRuntime
from persona_api.memory.extract import Extractor, MemoryCandidate
from persona_api.memory.extraction_queue import DONE, FALLBACK, PENDING, ExtractionQueue
from persona_api.memory.llm_extract import ExtractionFailed, LLMExtractor
from persona_api.memory.queued_turn import QueuedTurn, load_queued_turn
from persona_api.memory.tables import MemoryExtraction, Turn
from persona_api.memory.writer import NewMemory, write_memories
from persona_api.store.tables import utcnow

log = logging.getLogger("persona_api.memory.extraction")


@dataclass(frozen=True, kw_only=True)
class ExtractionPolicy:
    max_attempts: int = 3
    retry_base: float = 10.0
    """Seconds before the second attempt; doubles per attempt up to ``retry_cap``."""
    retry_cap: float = 600.0
    lease: float = 300.0
    """How long a claim is exclusive; longer than one LLM call with all its client-side retries."""
    poll: float = 5.0
    batch: int = 8
    concurrency: int = 4
    """LLM calls in flight at once for one claimed batch (1: in claim order)."""

    def backoff(self, attempt: int) -> float:
        return min(self.retry_cap, self.retry_base * 2.0 ** max(0, attempt - 1))


def extraction_policy(settings: Settings) -> ExtractionPolicy:
    """The worker's schedule from ``PERSONA_LLM_EXTRACT_*``."""
    return ExtractionPolicy(
        max_attempts=settings.llm_extract_attempts,
        retry_base=settings.llm_extract_retry_seconds,
        poll=settings.llm_extract_poll_seconds,
        concurrency=settings.llm_extract_concurrency,
    )


@dataclass(frozen=True)
class _Extracted:
    job_id: int
    attempt: int
    loaded: QueuedTurn
    candidates: list[MemoryCandidate]
    status: str
    error: str | None


class ExtractionWorker:
    """Drains ``memory_extractions``; ``llm`` None means only the rules (turns left by an earlier run)."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        runtime: MemoryRuntime,
        queue: ExtractionQueue,
        llm: LLMExtractor | None,
        fallback: Extractor,
        policy: ExtractionPolicy,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.runtime = runtime
        self.queue = queue
        self.llm = llm
        self.fallback = fallback
        self.policy = policy
        self.clock = clock

    async def run(self) -> None:
        """Process due rows until cancelled (the API lifespan runs this as a task)."""
        while True:
            try:
                handled = await self.drain_once()
            except Exception:  # the database may be briefly unavailable; keep the worker alive
                log.exception("memory_extraction.poll_failed")
                handled = 0
            if handled < self.policy.batch:
                await self.queue.wait(self.policy.poll)

    async def drain_leftovers(self) -> None:
        """Extract the turns an earlier run (with an LLM) left queued; run once at start-up."""
        try:
            handled = await self.drain()
        except Exception:
            log.exception("memory_extraction.drain_failed")
            return
        if handled:
            log.info("memory_extraction.drained", extra={"turns": handled})

    async def drain(self, *, max_rounds: int = 1000) -> int:
        """Process due rows until none is left (or ``max_rounds`` claims); returns how many."""
        total = 0
        for _ in range(max_rounds):
            handled = await self.drain_once()
            total += handled
            if handled == 0:
                break
        return total

    async def drain_once(self) -> int:
        """Claim up to ``batch`` due rows and process them together; returns how many.

        The LLM is asked about every claimed turn at once, and all their memories are embedded in
        one model call (a batch costs little more than a single sentence); each turn's memories
        are then written in a transaction of its own.
        """
        claimed = await self._claim()
        slots = asyncio.Semaphore(max(1, self.policy.concurrency))

        async def extract(job_id: int, attempt: int) -> _Extracted | None:
            async with slots:
                return await self._extract(job_id, attempt)

        extracted = await asyncio.gather(*(extract(job_id, attempt) for job_id, attempt in claimed))
        ready = [e for e in extracted if e is not None]
        texts = [c.text for e in ready for c in e.candidates]
        vectors = (
            await asyncio.to_thread(self.runtime.embedder.encode, texts)
            if texts
            else np.zeros((0, self.runtime.embedder.dim), dtype=np.float32)
        )
        start = 0
        for e in ready:
            end = start + len(e.candidates)
            try:
                await self._write(e, vectors[start:end])
            except Exception:
                log.exception("memory_extraction.write_failed", extra={"job": e.job_id})
                await self._retry_later(
                    e.job_id, e.attempt, "the memories could not be written", floor=self.policy.poll
                )
            start = end
        return len(claimed)

    async def _claim(self) -> list[tuple[int, int]]:
        now = self.clock()
        # Without an LLM there is nothing to wait for: a retry delay or another replica's lease is
        # skipped (the write re-checks the status under the tenant lock, so nothing is written twice).
        where = [MemoryExtraction.status == PENDING]
        if self.llm is not None:
            where.append(MemoryExtraction.next_attempt_at <= now)
        # One statement, so the write lock is held for one round trip: the conditions are checked
        # again on each row as it is updated (a claim moves ``next_attempt_at`` past now, so a
        # replica's concurrent claim of the same row updates nothing).
        due = (
            select(MemoryExtraction.id)
            .where(*where)
            .order_by(MemoryExtraction.id)
            .limit(self.policy.batch)
            .scalar_subquery()
        )
        claim = (
            update(MemoryExtraction)
            .where(MemoryExtraction.id.in_(due), *where)
            .values(
                attempts=MemoryExtraction.attempts + 1,
                next_attempt_at=now + timedelta(seconds=self.policy.lease),
                updated_at=now,
            )
            .returning(MemoryExtraction.id, MemoryExtraction.attempts)
            .execution_options(synchronize_session=False)
        )
        async with self.sessions() as s:
            claimed = sorted(
                (int(job_id), int(attempt)) for job_id, attempt in (await s.execute(claim)).all()
            )
            await s.commit()
        return claimed

    async def _extract(self, job_id: int, attempt: int) -> _Extracted | None:
        """The memories of one claimed turn, by the LLM or, after its last attempt, by the rules;
        None when there is nothing to write now (the turn is gone, or it waits for a retry)."""
        async with self.sessions() as s:
            loaded = await load_queued_turn(s, job_id)
        if loaded is None:
            return None  # the user or the turn was deleted meanwhile
        candidates: list[MemoryCandidate] | None = None
        error: str | None = None
        if self.llm is not None and attempt <= self.policy.max_attempts:
            try:
                candidates = await self.llm.extract(loaded.turn, loaded.participants)
            except ExtractionFailed as exc:
                error = str(exc)
            except PersonaError as exc:
                error = f"{exc.code}: {exc.detail}"
            if error is not None:
                log.warning("memory_extraction.failed", extra={"job": job_id, "attempt": attempt})
                if attempt < self.policy.max_attempts:
                    await self._retry_later(job_id, attempt, error)
                    return None
        if candidates is None:
            return _Extracted(job_id, attempt, loaded, self.fallback.extract([loaded.turn]), FALLBACK, error)
        return _Extracted(job_id, attempt, loaded, candidates, DONE, error)

    async def _retry_later(self, job_id: int, attempt: int, error: str, *, floor: float = 0.0) -> None:
        now = self.clock()
        delay = max(floor, self.policy.backoff(attempt))
        async with self.sessions() as s:
            await s.execute(
                update(MemoryExtraction)
                .where(MemoryExtraction.id == job_id, MemoryExtraction.status == PENDING)
                .values(
                    last_error=error[:300], next_attempt_at=now + timedelta(seconds=delay), updated_at=now
                )
                .execution_options(synchronize_session=False)
            )
            await s.commit()

    async def _write(self, extracted: _Extracted, vectors: NDArray[np.float32]) -> None:
        job_id, loaded, candidates = extracted.job_id, extracted.loaded, extracted.candidates
        status, error = extracted.status, extracted.error
        async with self.sessions() as s:
            job = await s.get(MemoryExtraction, job_id)
            turn = await s.get(Turn, job.turn_id) if job is not None else None
            if job is None or turn is None or job.status != PENDING:
                return
            items = [
                NewMemory(
                    text=c.text,
                    subject_partner_id=loaded.partner_ids.get(c.subject),
                    vector=vectors[i],
                    observed_at=c.observed_at,
                    origin="extracted",
                    session_id=loaded.session_id,
                    source_turn_ids=c.source_turn_ids,
                    fact_key=c.fact_key,
                )
                for i, c in enumerate(candidates)
            ]
            await write_memories(
                s,
                tenant_id=loaded.tenant_id,
                user_id=loaded.user_id,
                items=items,
                indexes=self.runtime.indexes,
                policy=self.runtime.policy,
            )
            # write_memories holds the tenant's lock now: it serialises this write with the user's
            # deletion and with another worker whose lease on the row ran out.
            still = await s.scalar(
                select(MemoryExtraction.status).where(MemoryExtraction.id == job_id).with_for_update()
            )
            if still != PENDING:
                await s.rollback()
                return
            turn.extracted_by = "llm" if status == DONE else "rules"
            job.status = status
            if error:  # a success after failures keeps the last failure on record
                job.last_error = error[:300]
            job.updated_at = self.clock()
            await s.commit()
        log.info("memory_extraction.done", extra={"job": job_id, "status": status, "memories": len(items)})
