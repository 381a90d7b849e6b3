"""A user's comparisons as stored: the batch checks the schema cannot express, lookups by client
id (for idempotency), listing, the evidence a refit reads, and deletion.

A comparison's signature (context, option keys, strength, tie) decides whether a re-sent client id
is a duplicate (same signature) or a conflict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from persona_api.errors import FieldProblem, InvalidInput, NotFound
from persona_api.preferences.options import OptionIn
from persona_api.preferences.tables import PreferenceComparison, PreferenceOption


@dataclass(frozen=True)
class ComparisonIn:
    client_id: str
    chosen: OptionIn
    rejected: OptionIn
    context: str | None = None
    strength: float = 1.0
    tie: bool = False


class ComparisonStore:
    """Comparisons of one tenant's users; writes are left to the caller's transaction."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def evidence(self, user_id: int) -> list[tuple[bytes, bytes, bool, float, str, str]]:
        """Per comparison: both embeddings, tie, strength and both option keys, oldest first."""
        chosen, rejected = aliased(PreferenceOption), aliased(PreferenceOption)
        rows = await self.session.execute(
            select(
                chosen.embedding,
                rejected.embedding,
                PreferenceComparison.tie,
                PreferenceComparison.strength,
                chosen.key,
                rejected.key,
            )
            .join(chosen, chosen.id == PreferenceComparison.chosen_id)
            .join(rejected, rejected.id == PreferenceComparison.rejected_id)
            .where(PreferenceComparison.user_id == user_id)
            .order_by(PreferenceComparison.id)
        )
        return [(a, b, bool(t), float(s), ka, kb) for a, b, t, s, ka, kb in rows.tuples()]

    async def signatures(self, user_id: int, client_ids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        chosen, rejected = aliased(PreferenceOption), aliased(PreferenceOption)
        ids = sorted(set(client_ids))
        found: dict[str, tuple[Any, ...]] = {}
        for start in range(0, len(ids), 500):
            rows = await self.session.execute(
                select(
                    PreferenceComparison.client_id,
                    PreferenceComparison.context,
                    chosen.key,
                    rejected.key,
                    PreferenceComparison.strength,
                    PreferenceComparison.tie,
                )
                .join(chosen, chosen.id == PreferenceComparison.chosen_id)
                .join(rejected, rejected.id == PreferenceComparison.rejected_id)
                .where(
                    PreferenceComparison.user_id == user_id,
                    PreferenceComparison.client_id.in_(ids[start : start + 500]),
                )
            )
            found.update((r[0], (r[1], r[2], r[3], float(r[4]), bool(r[5]))) for r in rows.tuples())
        return found

    async def list_comparisons(
        self, user_id: int, *, limit: int, offset: int
    ) -> tuple[list[tuple[PreferenceComparison, PreferenceOption, PreferenceOption]], int]:
        """A user's comparisons, newest first, with their options."""
        where = PreferenceComparison.user_id == user_id
        total = (
            await self.session.scalar(select(func.count()).select_from(PreferenceComparison).where(where))
            or 0
        )
        chosen, rejected = aliased(PreferenceOption), aliased(PreferenceOption)
        rows = await self.session.execute(
            select(PreferenceComparison, chosen, rejected)
            .join(chosen, chosen.id == PreferenceComparison.chosen_id)
            .join(rejected, rejected.id == PreferenceComparison.rejected_id)
            .where(where)
            .order_by(PreferenceComparison.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [(c, a, b) for c, a, b in rows.tuples()], total

    async def delete(self, user_id: int, client_id: str) -> None:
        """Delete one comparison (404 if the user has none with that id) and the options no
        comparison refers to any more."""
        found = await self.session.scalar(
            select(PreferenceComparison).where(
                PreferenceComparison.user_id == user_id, PreferenceComparison.client_id == client_id
            )
        )
        if found is None:
            raise NotFound(f"comparison {client_id!r} not found")
        options = (found.chosen_id, found.rejected_id)
        await self.session.delete(found)
        await self.session.flush()
        await drop_unreferenced(self.session, self.tenant_id, options)


async def drop_unreferenced(session: AsyncSession, tenant_id: str, ids: Sequence[int] | None = None) -> int:
    """Delete the tenant's options (all, or among ``ids``) that no comparison refers to."""
    referenced = exists().where(
        or_(
            PreferenceComparison.chosen_id == PreferenceOption.id,
            PreferenceComparison.rejected_id == PreferenceOption.id,
        )
    )
    stmt = delete(PreferenceOption).where(PreferenceOption.tenant_id == tenant_id, ~referenced)
    if ids is not None:
        stmt = stmt.where(PreferenceOption.id.in_(list(ids)))
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


def check_batch(comparisons: Sequence[ComparisonIn]) -> None:
    """What the schema cannot say: an option compared with itself, or a client id repeated with
    different content within the batch."""
    problems: list[FieldProblem] = []
    seen: dict[str, ComparisonIn] = {}
    for i, c in enumerate(comparisons):
        if c.chosen.key == c.rejected.key:
            problems.append(FieldProblem(f"comparisons[{i}].rejected", "the same option as chosen"))
        if c.client_id in seen and seen[c.client_id] != c:
            problems.append(
                FieldProblem(f"comparisons[{i}].id", "repeated in this batch with different content")
            )
        seen.setdefault(c.client_id, c)
    if problems:
        raise InvalidInput("invalid comparisons; nothing was written", problems)
