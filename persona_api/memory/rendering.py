"""How a memory is shown to its reader: whom it is about, which session it came from, and the tag
that says both (``Rendered``, made by ``render_memories``); a search result shown with the memories
linked to it (``Found``).

Readers know a memory by its ``number`` (1, 2, 3... within its user), never by its row id, which
every tenant shares; ``Rendered.superseded_by`` is the replacing memory's number."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.memory.fusion import Hit
from persona_api.memory.names import owner_name
from persona_api.memory.tables import ConversationSession, Memory, Partner
from persona_api.store.tables import User


@dataclass(frozen=True)
class Rendered:
    """A memory with what a reader needs: whom it is about and where it came from."""

    memory: Memory
    about: str
    partner_id: str | None
    session_id: str | None
    session_ordinal: int | None
    tag: str
    superseded_by: int | None
    """The number of the memory that replaced this one (``memory.superseded_by`` is its row id)."""


@dataclass(frozen=True)
class Found:
    item: Rendered
    hit: Hit
    linked: list[Rendered]


async def render_memories(
    session: AsyncSession, user: User, memories: Sequence[Memory], partners: dict[int, Partner] | None = None
) -> list[Rendered]:
    """Memories with their tags; ``partners`` (id -> partner) saves a query when known."""
    partner_ids = {m.subject_partner_id for m in memories if m.subject_partner_id is not None}
    session_ids = {m.session_id for m in memories if m.session_id is not None}
    if partners is None:
        partners = (
            {p.id: p for p in await session.scalars(select(Partner).where(Partner.id.in_(partner_ids)))}
            if partner_ids
            else {}
        )
    sessions = (
        {
            s.id: s
            for s in await session.scalars(
                select(ConversationSession).where(ConversationSession.id.in_(session_ids))
            )
        }
        if session_ids
        else {}
    )
    successors = await _numbers(session, user, memories)
    me = owner_name(user)
    out = []
    for m in memories:
        partner = partners.get(m.subject_partner_id) if m.subject_partner_id else None
        conv = sessions.get(m.session_id) if m.session_id else None
        about = partner.name if partner else me
        if conv is not None:
            tag = f"about {about}, from session {conv.ordinal} ({conv.started_at.date().isoformat()})"
        else:
            tag = f"about {about}, noted {m.observed_at.date().isoformat()}"
        out.append(
            Rendered(
                memory=m,
                about=about,
                partner_id=partner.external_id if partner else None,
                session_id=conv.external_id if conv else None,
                session_ordinal=conv.ordinal if conv else None,
                tag=tag,
                superseded_by=successors.get(m.superseded_by) if m.superseded_by is not None else None,
            )
        )
    return out


async def _numbers(session: AsyncSession, user: User, memories: Sequence[Memory]) -> dict[int, int]:
    """Row id -> number of ``memories`` and of the memories that replaced them, in one query for
    the replacements not among ``memories``."""
    numbers = {m.id: m.number for m in memories}
    missing = {m.superseded_by for m in memories if m.superseded_by is not None} - numbers.keys()
    if missing:
        # By primary key, the owner checked here (a user column in the query sends SQLite down the
        # user's index).
        rows = await session.execute(
            select(Memory.id, Memory.number, Memory.user_id).where(Memory.id.in_(missing))
        )
        numbers.update((pk, number) for pk, number, owner in rows.tuples().all() if owner == user.id)
    return numbers
