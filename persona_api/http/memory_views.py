"""Memory rows and rendered memories as the API's Structs."""

from __future__ import annotations

from persona_api.http.memory_schemas import (
    MemoryOut,
    PartnerOut,
    SessionOut,
    TurnOut,
)
from persona_api.memory.rendering import Rendered
from persona_api.memory.tables import ConversationSession, Partner, Turn


def memory_out(r: Rendered) -> MemoryOut:
    m = r.memory
    return MemoryOut(
        id=m.number,
        text=m.text,
        about=r.about,
        partner=r.partner_id,
        session=r.session_id,
        session_ordinal=r.session_ordinal,
        tag=r.tag,
        source_turn_ids=list(m.source_turn_ids),
        origin=m.origin,
        key=m.fact_key,
        observed_at=m.observed_at,
        valid_from=m.valid_from,
        valid_to=m.valid_to,
        superseded_by=r.superseded_by,
        mentions=len(m.provenance),
    )


def partner_out(p: Partner) -> PartnerOut:
    return PartnerOut(id=p.external_id, name=p.name, kind=p.kind, created_at=p.created_at)


def session_out(s: ConversationSession, partner_names: dict[int, str]) -> SessionOut:
    return SessionOut(
        id=s.external_id,
        ordinal=s.ordinal,
        started_at=s.started_at,
        partners=[partner_names.get(p, str(p)) for p in s.partner_ids],
    )


def turn_out(t: Turn, names: dict[int, str]) -> TurnOut:
    speaker = (
        "user" if t.speaker_partner_id is None else names.get(t.speaker_partner_id, str(t.speaker_partner_id))
    )
    return TurnOut(
        id=t.external_id, speaker=speaker, text=t.text, at=t.at, position=t.position, status=t.status
    )
