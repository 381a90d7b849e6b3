"""Conversation memory's webhook events, written in the transaction of the change they describe
(see :mod:`persona_api.store.outbox`; nothing is written for a tenant without a subscriber)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.memory.tables import Memory, Partner
from persona_api.store.outbox import emit
from persona_api.store.tables import User


def event_view(memory: Memory, partners: dict[int, str]) -> dict[str, Any]:
    """A memory as the events carry it (its number is the API's memory id)."""
    return {
        "id": memory.number,
        "text": memory.text,
        "partner": partners.get(memory.subject_partner_id) if memory.subject_partner_id else None,
        "key": memory.fact_key,
        "origin": memory.origin,
        "observed_at": memory.observed_at.isoformat(),
        "valid_from": memory.valid_from.isoformat() if memory.valid_from else None,
        "valid_to": memory.valid_to.isoformat() if memory.valid_to else None,
    }


async def announce_written(
    session: AsyncSession, tenant_id: str, user_id: int, written: Sequence[tuple[Memory, Sequence[Memory]]]
) -> None:
    """``memory.created`` for each new memory, ``memory.superseded`` for each one it replaced."""
    if not written:
        return
    partners = {m.subject_partner_id for new, old in written for m in (new, *old)} - {None}
    names: dict[int, str] = {}
    if partners:
        query = select(Partner.id, Partner.external_id).where(Partner.id.in_(partners))
        names = {pk: name for pk, name in (await session.execute(query)).all()}
    for memory, superseded in written:
        await emit(
            session, tenant_id, "memory.created", {"memory": event_view(memory, names)}, user_pk=user_id
        )
        for old in superseded:
            data = {"memory": event_view(old, names), "superseded_by": memory.number}
            await emit(session, tenant_id, "memory.superseded", data, user_pk=user_id)


async def announce_deleted(
    session: AsyncSession, tenant_id: str, user: User, numbers: Sequence[int], partner: str | None = None
) -> None:
    """``memory.deleted`` for each deleted memory number (``partner``: they were about that partner)."""
    for number in numbers:
        data: dict[str, Any] = {"memory_id": number}
        if partner is not None:
            data["partner"] = partner
        await emit(session, tenant_id, "memory.deleted", data, user_ref=user.external_id)
