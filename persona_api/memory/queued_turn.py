"""The turn of a queued extraction job as the extraction worker reads it: the turn as the extractors
see it (speaker names and the two turns before it), and where its memories go."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.memory.extract import TurnInput
from persona_api.memory.names import owner_name
from persona_api.memory.tables import ConversationSession, MemoryExtraction, Partner, Turn
from persona_api.store.tables import User


@dataclass(frozen=True)
class QueuedTurn:
    tenant_id: str
    user_id: int
    session_id: int
    turn: TurnInput
    participants: tuple[str, ...]
    partner_ids: dict[str, int]


async def load_queued_turn(s: AsyncSession, job_id: int) -> QueuedTurn | None:
    """The turn of ``job_id`` as the extractors see it: speaker names and the two turns before it."""
    job = await s.get(MemoryExtraction, job_id)
    turn = await s.get(Turn, job.turn_id) if job is not None else None
    if job is None or turn is None:
        return None
    conv = await s.get(ConversationSession, turn.session_id)
    user = await s.get(User, job.user_id)
    if conv is None or user is None:
        return None
    partners = (
        (await s.scalars(select(Partner).where(Partner.id.in_(conv.partner_ids)))).all()
        if conv.partner_ids
        else []
    )
    names = {p.id: p.name for p in partners}
    owner = owner_name(user)

    def display(partner_id: int | None) -> str:
        return owner if partner_id is None else names.get(partner_id, owner)

    before = (
        await s.scalars(
            select(Turn)
            .where(Turn.session_id == conv.id, Turn.position < turn.position)
            .order_by(Turn.position.desc())
            .limit(2)
        )
    ).all()[::-1]
    participants = (owner, *names.values())
    speaker = display(turn.speaker_partner_id)
    return QueuedTurn(
        tenant_id=job.tenant_id,
        user_id=job.user_id,
        session_id=conv.id,
        turn=TurnInput(
            turn_id=turn.external_id,
            speaker=speaker,
            text=turn.text,
            at=turn.at,
            addressees=tuple(n for n in participants if n != speaker),
            previous=tuple((display(p.speaker_partner_id), p.text) for p in before),
            previous_ids=tuple(p.external_id for p in before),
        ),
        participants=participants,
        partner_ids={name: pid for pid, name in names.items()},
    )
