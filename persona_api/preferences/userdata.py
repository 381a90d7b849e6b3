"""Preference latents' part of user export and deletion: comparisons, latent versions, objective.

Erasing a user also removes the options (texts, item references) that no comparison of the tenant
refers to any more, so a deleted user's texts do not linger in ``preference_options``. Trained
population models hold no user ids.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from persona_api.preferences.comparisons import drop_unreferenced
from persona_api.preferences.runtime import PreferenceRuntime
from persona_api.preferences.tables import PreferenceComparison, PreferenceLatentRow, PreferenceOption
from persona_api.store.userdata import UserRef


def _option(row: PreferenceOption) -> dict[str, Any]:
    if row.kind == "item":
        return {"item": row.item_id, "text": row.text}
    return {"text": row.text}


class PreferenceUserData:
    name = "preferences"

    def __init__(self, runtime: PreferenceRuntime) -> None:
        self.runtime = runtime

    async def export(self, session: AsyncSession, user: UserRef) -> Any:
        chosen, rejected = aliased(PreferenceOption), aliased(PreferenceOption)
        comparisons = await session.execute(
            select(PreferenceComparison, chosen, rejected)
            .join(chosen, chosen.id == PreferenceComparison.chosen_id)
            .join(rejected, rejected.id == PreferenceComparison.rejected_id)
            .where(PreferenceComparison.user_id == user.id)
            .order_by(PreferenceComparison.id)
        )
        latents = list(
            await session.scalars(
                select(PreferenceLatentRow)
                .where(PreferenceLatentRow.user_id == user.id)
                .order_by(PreferenceLatentRow.version)
            )
        )
        return {
            "comparisons": [
                {
                    "id": c.client_id,
                    "context": c.context,
                    "chosen": _option(a),
                    "rejected": _option(b),
                    "strength": c.strength,
                    "tie": c.tie,
                    "created_at": c.created_at.isoformat(),
                }
                for c, a, b in comparisons.tuples()
            ],
            "latents": [
                {
                    "version": r.version,
                    "model_version": r.model_version,
                    "n_comparisons": r.n_comparisons,
                    "reason": r.reason,
                    "latent": r.latent,
                    "objective": r.objective,
                    "created_at": r.created_at.isoformat(),
                }
                for r in latents
            ],
            "objective": latents[-1].objective if latents else None,
        }

    async def erase(self, session: AsyncSession, user: UserRef) -> int:
        removed = 0
        for stmt in (
            delete(PreferenceComparison).where(PreferenceComparison.user_id == user.id),
            delete(PreferenceLatentRow).where(PreferenceLatentRow.user_id == user.id),
        ):
            result = await session.execute(stmt)
            removed += int(getattr(result, "rowcount", 0) or 0)
        return removed + await drop_unreferenced(session, user.tenant_id)

    async def forget(self, user: UserRef) -> None:
        return None

    async def forget_tenant(self, tenant_id: str) -> None:
        return None
