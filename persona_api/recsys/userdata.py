"""The recommender's part of user export and deletion: interactions and reviews.

Trained artifacts keep only row ids and codes of users; a deleted user's row id is never shown
(similar users are re-checked against the database) and drops out at the next re-index.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.recsys.service import RecsysRuntime
from persona_api.recsys.tables import CatalogItem, Interaction, Review
from persona_api.store.userdata import UserRef


class RecsysUserData:
    name = "recommendations"

    def __init__(self, runtime: RecsysRuntime) -> None:
        self.runtime = runtime

    async def export(self, session: AsyncSession, user: UserRef) -> Any:
        interactions = await session.execute(
            select(Interaction, CatalogItem.external_id)
            .join(CatalogItem, CatalogItem.id == Interaction.item_id)
            .where(Interaction.user_id == user.id)
            .order_by(Interaction.at, Interaction.id)
        )
        reviews = await session.execute(
            select(Review, CatalogItem.external_id)
            .join(CatalogItem, CatalogItem.id == Review.item_id)
            .where(Review.user_id == user.id)
            .order_by(Review.at, Review.id)
        )
        return {
            "interactions": [
                {
                    "item": item,
                    "type": i.kind,
                    "value": i.value,
                    "weight": i.weight,
                    "at": i.at.isoformat(),
                    "id": i.event_id,
                }
                for i, item in interactions.tuples()
            ],
            "reviews": [
                {"item": item, "text": r.text, "rating": r.rating, "at": r.at.isoformat()}
                for r, item in reviews.tuples()
            ],
        }

    async def erase(self, session: AsyncSession, user: UserRef) -> int:
        removed = 0
        for table in (Interaction, Review):
            result = await session.execute(delete(table).where(table.user_id == user.id))
            removed += int(getattr(result, "rowcount", 0) or 0)
        return removed

    async def forget(self, user: UserRef) -> None:
        self.runtime.forget_tenant_cache(user.tenant_id)

    async def forget_tenant(self, tenant_id: str) -> None:
        self.runtime.forget_tenant_cache(tenant_id)
