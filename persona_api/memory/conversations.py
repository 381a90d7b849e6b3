"""Partners, sessions and turns; ingesting turns runs extraction and writes the memories.

All of a batch (its turns and the memories extracted from them) commits in one transaction.
Ingest is idempotent for client-supplied turn ids: a turn id already in the session is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import event, func, select

from persona_api.errors import Conflict, FieldProblem, InvalidInput, NotFound
from persona_api.memory.context import MemoryContext
from persona_api.memory.extract import TurnInput
from persona_api.memory.feed import lock_head
from persona_api.memory.names import SpeakerNames, owner_name
from persona_api.memory.tables import ConversationSession, Partner, Turn
from persona_api.memory.writer import NewMemory, WriteResult, write_memories
from persona_api.store.db import flush_or_conflict
from persona_api.store.pages import list_and_count
from persona_api.store.tables import User, utcnow

OWNER = "user"
"""The speaker id that means the user (the main speaker) in a turn."""


@dataclass(frozen=True)
class TurnIn:
    speaker: str
    text: str
    id: str | None = None
    at: datetime | None = None
    status: str = "complete"


@dataclass(frozen=True)
class IngestResult:
    accepted: list[Turn]
    skipped: list[str]
    memories: list[WriteResult]


class Conversations:
    """Partner, session and turn operations of one user, within one tenant."""

    def __init__(self, ctx: MemoryContext) -> None:
        self.ctx = ctx
        self.session = ctx.session

    # --- partners -------------------------------------------------------------------------
    async def create_partner(self, user: User, external_id: str, name: str, kind: str) -> Partner:
        if await self._partner_or_none(user, external_id) is not None:
            raise Conflict(f"partner {external_id!r} already exists")
        partner = Partner(user_id=user.id, external_id=external_id, name=name, kind=kind, created_at=utcnow())
        self.session.add(partner)
        await flush_or_conflict(self.session, f"partner {external_id!r} already exists")
        self.ctx.forget_partners(user.id)
        return partner

    async def _partner_or_none(self, user: User, external_id: str) -> Partner | None:
        partner: Partner | None = await self.session.scalar(
            select(Partner).where(Partner.user_id == user.id, Partner.external_id == external_id)
        )
        return partner

    async def partners(self, user: User, *, limit: int, offset: int) -> tuple[list[Partner], int]:
        where = Partner.user_id == user.id
        return await list_and_count(
            self.session, Partner, where, order_by=[Partner.id.asc()], limit=limit, offset=offset
        )

    async def partner_external_ids(self, user_pk: int) -> dict[int, str]:
        return {pid: p.external_id for pid, p in (await self.ctx.user_partners(user_pk)).items()}

    # --- sessions -------------------------------------------------------------------------
    async def create_session(
        self, user: User, *, external_id: str | None, partner_ids: Sequence[str], started_at: datetime | None
    ) -> ConversationSession:
        partners = [await self._participant(user, pid, f"partners[{i}]") for i, pid in enumerate(partner_ids)]
        if len({p.id for p in partners}) != len(partners):
            raise InvalidInput(
                "a partner is listed twice", [FieldProblem("partners", "partner ids must be unique")]
            )
        await lock_head(self.session, self.ctx.tenant_id)  # serialises ordinal assignment per tenant
        if external_id is not None and await self._session_or_none(user, external_id) is not None:
            raise Conflict(f"session {external_id!r} already exists")
        ordinal = (
            await self.session.scalar(
                select(func.max(ConversationSession.ordinal)).where(ConversationSession.user_id == user.id)
            )
            or 0
        ) + 1
        row = ConversationSession(
            user_id=user.id,
            external_id=external_id or f"session-{ordinal}",
            ordinal=ordinal,
            started_at=started_at or utcnow(),
            partner_ids=[p.id for p in partners],
            created_at=utcnow(),
        )
        self.session.add(row)
        await flush_or_conflict(self.session, f"session {row.external_id!r} already exists")
        return row

    async def _participant(self, user: User, external_id: str, field: str) -> Partner:
        partner = await self._partner_or_none(user, external_id)
        if partner is None:
            raise InvalidInput(
                f"unknown partner {external_id!r}; create it first with POST /v1/users/{{user_id}}/partners",
                [FieldProblem(field, f"no partner {external_id!r}")],
            )
        return partner

    async def _session_or_none(self, user: User, external_id: str) -> ConversationSession | None:
        found: ConversationSession | None = await self.session.scalar(
            select(ConversationSession).where(
                ConversationSession.user_id == user.id, ConversationSession.external_id == external_id
            )
        )
        return found

    async def get_session(self, user: User, external_id: str) -> ConversationSession:
        row = await self._session_or_none(user, external_id)
        if row is None:
            raise NotFound(f"session {external_id!r} not found")
        return row

    async def sessions(self, user: User, *, limit: int, offset: int) -> tuple[list[ConversationSession], int]:
        where = ConversationSession.user_id == user.id
        order = [ConversationSession.ordinal.asc()]
        return await list_and_count(
            self.session, ConversationSession, where, order_by=order, limit=limit, offset=offset
        )

    async def turns(self, conv: ConversationSession, *, limit: int, offset: int) -> tuple[list[Turn], int]:
        where = Turn.session_id == conv.id
        return await list_and_count(
            self.session, Turn, where, order_by=[Turn.position.asc()], limit=limit, offset=offset
        )

    # --- turns ----------------------------------------------------------------------------
    async def add_turns(self, user: User, conv: ConversationSession, batch: Sequence[TurnIn]) -> IngestResult:
        """Append turns and extract memories from them, in the caller's transaction.

        With an extraction queue, the turns are queued in the same transaction instead and
        ``memories`` is empty: the worker writes them shortly after.
        """
        names = await self._speaker_names(user, conv)
        problems = [
            FieldProblem(f"turns[{i}].speaker", f"{t.speaker!r} is not a participant of this session")
            for i, t in enumerate(batch)
            if t.speaker != OWNER and t.speaker not in names.by_external
        ]
        ids = [t.id for t in batch if t.id is not None]
        if len(ids) != len(set(ids)):
            problems.append(FieldProblem("turns", "turn ids must be unique within a batch"))
        if problems:
            raise InvalidInput("some turns are invalid", problems)

        await lock_head(self.session, self.ctx.tenant_id)
        existing = (
            set(
                await self.session.scalars(
                    select(Turn.external_id).where(Turn.session_id == conv.id, Turn.external_id.in_(ids))
                )
            )
            if ids
            else set()
        )
        position = (
            await self.session.scalar(select(func.max(Turn.position)).where(Turn.session_id == conv.id)) or 0
        )
        queue = self.ctx.runtime.queue
        # The inline extractor sees the two turns before each new one (the queue's worker reads them).
        previous = (
            []
            if queue is not None
            else [
                (names.display(t.speaker_partner_id), t.text, t.external_id)
                for t in reversed(
                    (
                        await self.session.scalars(
                            select(Turn)
                            .where(Turn.session_id == conv.id)
                            .order_by(Turn.position.desc())
                            .limit(2)
                        )
                    ).all()
                )
            ]
        )
        accepted: list[Turn] = []
        inputs: list[TurnInput] = []
        for item in batch:
            if item.id is not None and item.id in existing:
                continue
            position += 1
            partner_id = None if item.speaker == OWNER else names.by_external[item.speaker]
            turn = Turn(
                session_id=conv.id,
                user_id=user.id,
                external_id=item.id or f"#{position}",
                position=position,
                speaker_partner_id=partner_id,
                text=item.text,
                at=item.at or conv.started_at,
                extracted_by=None if self.ctx.runtime.queue else self.ctx.extractor_name,
                status=item.status,
            )
            accepted.append(turn)
            if item.status != "complete":
                # A failed reply is kept for the record, but says nothing worth remembering.
                turn.extracted_by = "none"
                continue
            speaker = names.display(partner_id)
            inputs.append(
                TurnInput(
                    turn_id=turn.external_id,
                    speaker=speaker,
                    text=turn.text,
                    at=turn.at,
                    addressees=tuple(n for n in names.participants if n != speaker),
                    previous=tuple((who, text) for who, text, _ in previous[-2:]),
                    previous_ids=tuple(tid for _, _, tid in previous[-2:]),
                )
            )
            previous.append((speaker, turn.text, turn.external_id))
        self.session.add_all(accepted)
        skipped = [t.id for t in batch if t.id is not None and t.id in existing]
        if queue is not None:  # an LLM extracts off the request path (persona_api.memory.extraction)
            await self.session.flush()
            complete = [t for t in accepted if t.status == "complete"]
            queue.enqueue(self.session, tenant_id=self.ctx.tenant_id, user_id=user.id, turns=complete)
            await self.session.flush()
            # The worker is woken once the queued rows are visible to it: after the commit.
            event.listen(self.session.sync_session, "after_commit", lambda _: queue.notify(), once=True)
            return IngestResult(accepted=accepted, skipped=skipped, memories=[])
        candidates = self.ctx.extractor.extract(inputs)
        vectors = await asyncio.to_thread(self.ctx.embedder.encode, [c.text for c in candidates])
        items = [
            NewMemory(
                text=c.text,
                subject_partner_id=names.subject_id(c.subject),
                vector=vectors[i],
                observed_at=c.observed_at,
                origin="extracted",
                session_id=conv.id,
                source_turn_ids=c.source_turn_ids,
                fact_key=c.fact_key,
            )
            for i, c in enumerate(candidates)
        ]
        results = await write_memories(
            self.session,
            tenant_id=self.ctx.tenant_id,
            user_id=user.id,
            items=items,
            indexes=self.ctx.indexes,
            policy=self.ctx.policy,
        )
        await self.session.flush()
        return IngestResult(accepted=accepted, skipped=skipped, memories=results)

    async def _speaker_names(self, user: User, conv: ConversationSession) -> SpeakerNames:
        known = await self.ctx.user_partners(user.id)
        partners = [known[pid] for pid in conv.partner_ids or () if pid in known]
        return SpeakerNames(
            owner_name(user), {p.external_id: p.id for p in partners}, {p.id: p.name for p in partners}
        )
