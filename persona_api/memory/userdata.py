"""Memory's part of user export and deletion: partners, sessions, turns, memories, links, and the
index entries of every replica (through ``delete`` changes in the feed).

The export names memories by their numbers within the user, as the API does, never by row id."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.memory.feed import DELETE, MemoryIndexes, lock_head, record_changes
from persona_api.memory.tables import (
    ConversationSession,
    Memory,
    MemoryExtraction,
    MemoryLink,
    Partner,
    Turn,
)
from persona_api.store.userdata import UserRef


class MemoryUserData:
    name = "memory"

    def __init__(self, indexes: MemoryIndexes) -> None:
        self.indexes = indexes

    async def export(self, session: AsyncSession, user: UserRef) -> Any:
        partners = (
            await session.scalars(select(Partner).where(Partner.user_id == user.id).order_by(Partner.id))
        ).all()
        pname = {p.id: p.external_id for p in partners}
        convs = (
            await session.scalars(
                select(ConversationSession)
                .where(ConversationSession.user_id == user.id)
                .order_by(ConversationSession.ordinal)
            )
        ).all()
        sname = {c.id: c.external_id for c in convs}
        turns = (await session.scalars(select(Turn).where(Turn.user_id == user.id).order_by(Turn.id))).all()
        memories = (
            await session.scalars(select(Memory).where(Memory.user_id == user.id).order_by(Memory.number))
        ).all()
        ids = [m.id for m in memories]
        number = {m.id: m.number for m in memories}  # links and replacements stay within the user
        links = (
            (
                await session.execute(
                    select(MemoryLink.memory_id, MemoryLink.linked_id, MemoryLink.kind, MemoryLink.score)
                    .where(or_(MemoryLink.memory_id.in_(ids), MemoryLink.linked_id.in_(ids)))
                    .order_by(MemoryLink.memory_id, MemoryLink.linked_id)
                )
            ).all()
            if ids
            else []
        )
        return {
            "partners": [
                {"id": p.external_id, "name": p.name, "kind": p.kind, "created_at": p.created_at.isoformat()}
                for p in partners
            ],
            "sessions": [
                {
                    "id": c.external_id,
                    "ordinal": c.ordinal,
                    "started_at": c.started_at.isoformat(),
                    "partners": [pname.get(p) for p in c.partner_ids],
                    "turns": [
                        {
                            "id": t.external_id,
                            "speaker": pname.get(t.speaker_partner_id, "user")
                            if t.speaker_partner_id
                            else "user",
                            "text": t.text,
                            "at": t.at.isoformat(),
                        }
                        for t in turns
                        if t.session_id == c.id
                    ],
                }
                for c in convs
            ],
            "memories": [
                {
                    "id": m.number,
                    "text": m.text,
                    "about": pname.get(m.subject_partner_id) if m.subject_partner_id else "user",
                    "session": sname.get(m.session_id) if m.session_id else None,
                    "source_turn_ids": m.source_turn_ids,
                    "origin": m.origin,
                    "key": m.fact_key,
                    "observed_at": m.observed_at.isoformat(),
                    "valid_from": m.valid_from.isoformat(),
                    "valid_to": m.valid_to.isoformat() if m.valid_to else None,
                    "superseded_by": number.get(m.superseded_by) if m.superseded_by is not None else None,
                    "provenance": [_observation(o, sname) for o in m.provenance],
                }
                for m in memories
            ],
            "links": [
                {"memory_id": number[a], "linked_id": number[b], "kind": k, "score": s}
                for a, b, k, s in links
                if a in number and b in number
            ],
        }

    async def erase(self, session: AsyncSession, user: UserRef) -> int:
        await lock_head(session, user.tenant_id)
        ids = list(await session.scalars(select(Memory.id).where(Memory.user_id == user.id)))
        await session.execute(delete(Memory).where(Memory.user_id == user.id))
        await session.execute(delete(MemoryExtraction).where(MemoryExtraction.user_id == user.id))
        await session.execute(delete(Turn).where(Turn.user_id == user.id))
        await session.execute(delete(ConversationSession).where(ConversationSession.user_id == user.id))
        await session.execute(delete(Partner).where(Partner.user_id == user.id))
        await record_changes(session, user.tenant_id, [(i, DELETE) for i in ids])
        return len(ids)

    async def forget(self, user: UserRef) -> None:
        index = self.indexes.loaded(user.tenant_id)
        if index is not None:
            index.remove_user(user.id)

    async def forget_tenant(self, tenant_id: str) -> None:
        self.indexes.drop_tenant(tenant_id)


def _observation(observed: dict[str, Any], session_names: dict[int, str]) -> dict[str, Any]:
    """An observation as exported: its session by the client's id (the row id is every tenant's)."""
    out = {k: v for k, v in observed.items() if k != "session_id"}
    session_id = observed.get("session_id")
    out["session"] = session_names.get(session_id) if session_id is not None else None
    return out
