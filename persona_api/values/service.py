"""Value profiles: what a user wants from an assistant, in Janus's four dimensions.

A profile is a list of preferences (``dimension``, ``subdimension``, ``preference``,
``description``) and a free-text note. Every write adds a version; reads return the latest.
A per-partner override (``partner`` set) is a separate versioned profile that :func:`merge`
lays over the user's own one: an override entry replaces the user's entry with the same
dimension and subdimension, other entries are appended, and a non-empty override note wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.errors import FieldProblem, InvalidInput, NotFound
from persona_api.store.db import flush_or_conflict
from persona_api.store.outbox import emit
from persona_api.store.pages import list_and_count
from persona_api.store.tables import User, utcnow
from persona_api.store.users import UserService
from persona_api.values.tables import ValueProfile

DIMENSIONS = ("style", "background_knowledge", "informativeness", "harmlessness")
MAX_PREFERENCES = 40
MAX_SUBDIMENSION = 100
MAX_PREFERENCE = 300
MAX_DESCRIPTION = 1000
MAX_NOTE = 2000
MAX_PARTNER = 128


@dataclass(frozen=True, kw_only=True)
class Preference:
    dimension: str
    subdimension: str
    preference: str
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class Values:
    """One version of a profile (or the merge of a profile and a partner override)."""

    preferences: tuple[Preference, ...]
    note: str = ""
    partner: str | None = None
    version: int = 0
    created_at: datetime | None = None


def _dimension(raw: str) -> str:
    return raw.strip().lower().replace(" ", "_").replace("-", "_")


def _text(problems: list[FieldProblem], field: str, value: str, *, limit: int, required: bool) -> str:
    text = value.strip()
    if required and not text:
        problems.append(FieldProblem(field, "must not be empty"))
    if len(text) > limit:
        problems.append(FieldProblem(field, f"must be at most {limit} characters"))
    return text


def validate(preferences: Sequence[Preference], note: str) -> tuple[tuple[Preference, ...], str]:
    """Normalised preferences and note, or :class:`InvalidInput` naming every offending field.

    Dimensions are matched case-insensitively with spaces or hyphens for underscores
    (``"Background knowledge"`` is ``background_knowledge``); texts are stripped.
    """
    problems: list[FieldProblem] = []
    if not 1 <= len(preferences) <= MAX_PREFERENCES:
        problems.append(FieldProblem("preferences", f"must hold 1 to {MAX_PREFERENCES} entries"))
    clean: list[Preference] = []
    for i, p in enumerate(preferences):
        at = f"preferences[{i}]"
        dimension = _dimension(p.dimension)
        if dimension not in DIMENSIONS:
            problems.append(FieldProblem(f"{at}.dimension", f"must be one of {', '.join(DIMENSIONS)}"))
        clean.append(
            Preference(
                dimension=dimension,
                subdimension=_text(
                    problems, f"{at}.subdimension", p.subdimension, limit=MAX_SUBDIMENSION, required=True
                ),
                preference=_text(
                    problems, f"{at}.preference", p.preference, limit=MAX_PREFERENCE, required=True
                ),
                description=_text(
                    problems, f"{at}.description", p.description, limit=MAX_DESCRIPTION, required=False
                ),
            )
        )
    note = _text(problems, "note", note, limit=MAX_NOTE, required=False)
    if problems:
        raise InvalidInput("the value profile is invalid", problems)
    return tuple(clean), note


def merge(base: Values | None, override: Values | None) -> Values | None:
    """The values that apply with a partner: ``override`` laid over ``base`` (see the module doc)."""
    if base is None or override is None:
        return override or base
    replaced = {(p.dimension, p.subdimension.lower()): p for p in override.preferences}
    merged = [replaced.pop((p.dimension, p.subdimension.lower()), p) for p in base.preferences]
    merged += [p for p in override.preferences if (p.dimension, p.subdimension.lower()) in replaced]
    return Values(
        preferences=tuple(merged),
        note=override.note or base.note,
        partner=override.partner,
        version=override.version,
        created_at=override.created_at,
    )


def _values(row: ValueProfile) -> Values:
    return Values(
        preferences=tuple(Preference(**p) for p in row.preferences),
        note=row.note,
        partner=row.partner or None,
        version=row.version,
        created_at=row.created_at,
    )


def export_row(row: ValueProfile) -> dict[str, Any]:
    """The JSON form of one stored version (user export)."""
    return {
        "partner": row.partner or None,
        "version": row.version,
        "preferences": row.preferences,
        "note": row.note,
        "created_at": row.created_at.isoformat(),
    }


class ValueProfiles:
    """Reads and writes one tenant's value profiles; users are named by their external ids."""

    def __init__(self, session: AsyncSession, tenant_id: str, users: UserService) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.users = users

    def _where(self, user: User, partner: str | None) -> tuple[Any, ...]:
        return (
            ValueProfile.tenant_id == self.tenant_id,
            ValueProfile.user_id == user.id,
            ValueProfile.partner == (partner or ""),
        )

    async def put(
        self, user_id: str, preferences: Sequence[Preference], note: str = "", *, partner: str | None = None
    ) -> Values:
        """Validate, then store a new version (creating the user if needed); older ones stay as history."""
        clean, note = validate(preferences, note)
        if partner is not None and not 0 < len(partner) <= MAX_PARTNER:
            raise InvalidInput(
                "the partner id is invalid", [FieldProblem("partner_id", "1 to 128 characters")]
            )
        user = await self.users.get_or_create(user_id)
        last = await self.session.scalar(
            select(func.max(ValueProfile.version)).where(*self._where(user, partner))
        )
        row = ValueProfile(
            tenant_id=self.tenant_id,
            user_id=user.id,
            partner=partner or "",
            version=(last or 0) + 1,
            preferences=[asdict(p) for p in clean],
            note=note,
            created_at=utcnow(),
        )
        self.session.add(row)
        await flush_or_conflict(self.session, "the value profile was changed concurrently; retry")
        data = {"partner": partner, "version": row.version}
        await emit(self.session, self.tenant_id, "values.updated", data, user_ref=user.external_id)
        return _values(row)

    async def find(self, user: User, *, partner: str | None = None) -> Values | None:
        row = await self.session.scalar(
            select(ValueProfile)
            .where(*self._where(user, partner))
            .order_by(ValueProfile.version.desc())
            .limit(1)
        )
        return _values(row) if row is not None else None

    async def latest(self, user_id: str, *, partner: str | None = None) -> Values:
        user = await self.users.get(user_id)
        found = await self.find(user, partner=partner)
        if found is None:
            whose = f"for partner {partner!r} " if partner else ""
            raise NotFound(f"user {user.external_id!r} has no value profile {whose}yet")
        return found

    async def effective(self, user: User, *, partner: str | None = None) -> Values | None:
        """The user's values, with ``partner``'s override merged in when there is one."""
        if not partner:
            return await self.find(user)

        def newest(who: str | None) -> Any:
            return (
                select(ValueProfile.id)
                .where(*self._where(user, who))
                .order_by(ValueProfile.version.desc())
                .limit(1)
                .scalar_subquery()
            )

        # Both newest versions (the user's own and the partner's override) in one round trip.
        rows = {
            r.partner: r
            for r in await self.session.scalars(
                select(ValueProfile).where(ValueProfile.id.in_([newest(None), newest(partner)]))
            )
        }
        base, override = rows.get(""), rows.get(partner)
        return merge(
            _values(base) if base is not None else None, _values(override) if override is not None else None
        )

    async def history(
        self, user_id: str, *, partner: str | None = None, limit: int, offset: int
    ) -> tuple[list[Values], int]:
        """Versions, newest first."""
        user = await self.users.get(user_id)
        where = self._where(user, partner)
        order = [ValueProfile.version.desc()]
        rows, total = await list_and_count(
            self.session, ValueProfile, *where, order_by=order, limit=limit, offset=offset
        )
        return [_values(r) for r in rows], total

    async def delete_override(self, user_id: str, partner: str) -> int:
        """Remove a partner override with its history; :class:`NotFound` if there is none."""
        user = await self.users.get(user_id)
        result = await self.session.execute(delete(ValueProfile).where(*self._where(user, partner)))
        removed = int(getattr(result, "rowcount", 0) or 0)
        if not removed:
            raise NotFound(f"user {user_id!r} has no value profile for partner {partner!r}")
        data = {"partner": partner, "version": None}  # the override is gone: the user's own values apply
        await emit(self.session, self.tenant_id, "values.updated", data, user_ref=user.external_id)
        return removed
