"""The item catalog of a tenant: bulk upsert (with title embeddings), read, list, delete.

Every method is scoped by ``tenant_id``; another tenant's item is indistinguishable from a missing
one. Writes commit their own transaction: a failed batch writes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.errors import FieldProblem, InvalidInput, NotFound
from persona_api.kernel.embed import Embedder, from_bytes, to_bytes
from persona_api.recsys.tables import CatalogItem
from persona_api.store.db import flush_or_conflict
from persona_api.store.pages import list_and_count
from persona_api.store.tables import utcnow

AttributeValue = str | int | float | bool | list[str]


@dataclass(frozen=True, kw_only=True)
class ItemIn:
    external_id: str
    title: str
    description: str | None = None
    attributes: dict[str, AttributeValue] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemSummary:
    """What a recommendation shows of an item (no embedding: candidates are read in bulk)."""

    id: int
    external_id: str
    title: str
    attributes: dict[str, Any]


@dataclass(frozen=True)
class ItemEmbedding:
    """An item as other capabilities see it: the text its embedding reads, and the embedding."""

    text: str
    embedding: NDArray[np.float32]


class CatalogItems:
    """The catalog's face to other capabilities (preference options compare catalog items)."""

    CHUNK = 500
    """Ids per ``IN (...)`` query: under every backend's bound-parameter limit."""

    async def find(
        self, session: AsyncSession, tenant_id: str, external_ids: Sequence[str]
    ) -> dict[str, ItemEmbedding]:
        """The tenant's items among ``external_ids``, by external id (absent ones left out)."""
        wanted = sorted(set(external_ids))
        found: dict[str, ItemEmbedding] = {}
        for start in range(0, len(wanted), self.CHUNK):
            rows = await session.scalars(
                select(CatalogItem).where(
                    CatalogItem.tenant_id == tenant_id,
                    CatalogItem.external_id.in_(wanted[start : start + self.CHUNK]),
                )
            )
            found.update(
                (r.external_id, ItemEmbedding(item_text(r.title, r.description), from_bytes(r.embedding)))
                for r in rows
            )
        return found


@dataclass(frozen=True)
class UpsertResult:
    created: int
    updated: int
    unchanged: int


def item_text(title: str, description: str | None) -> str:
    """What the item embedding reads: the title, then the description."""
    return f"{title}. {description}" if description else title


def matches(attributes: dict[str, Any], wanted: dict[str, str]) -> bool:
    """True if every wanted attribute equals the item's value (or is among its list values)."""
    for key, value in wanted.items():
        have = attributes.get(key)
        if isinstance(have, list):
            if value not in (str(v) for v in have):
                return False
        elif have is None or (str(have).lower() if isinstance(have, bool) else str(have)) != value:
            return False
    return True


class Catalog:
    def __init__(self, session: AsyncSession, tenant_id: str, embedder: Embedder) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.embedder = embedder

    async def upsert(self, items: Sequence[ItemIn]) -> UpsertResult:
        """Create or replace items by external id; only changed texts are embedded again."""
        seen: dict[str, int] = {}
        for i, it in enumerate(items):
            if it.external_id in seen:
                raise InvalidInput(
                    "an item appears twice in the batch",
                    [FieldProblem(f"[{i}].id", f"same id as item {seen[it.external_id]}")],
                )
            seen[it.external_id] = i
        existing = await self.by_external_ids([it.external_id for it in items])
        to_embed = [
            it
            for it in items
            if (row := existing.get(it.external_id)) is None
            or item_text(row.title, row.description) != item_text(it.title, it.description)
        ]
        vectors = await asyncio.to_thread(
            self.embedder.encode, [item_text(it.title, it.description) for it in to_embed]
        )
        embedded = {it.external_id: to_bytes(v) for it, v in zip(to_embed, vectors, strict=True)}
        now = utcnow()
        created = updated = 0
        for it in items:
            row = existing.get(it.external_id)
            if row is None:
                self.session.add(
                    CatalogItem(
                        tenant_id=self.tenant_id,
                        external_id=it.external_id,
                        title=it.title,
                        description=it.description,
                        attributes=dict(it.attributes),
                        embedding=embedded[it.external_id],
                        created_at=now,
                        updated_at=now,
                    )
                )
                created += 1
            elif (row.title, row.description, row.attributes) != (it.title, it.description, it.attributes):
                row.title, row.description, row.attributes = it.title, it.description, dict(it.attributes)
                row.embedding = embedded.get(it.external_id, row.embedding)
                row.updated_at = now
                updated += 1
        await flush_or_conflict(self.session, "the items were changed concurrently; retry the batch")
        return UpsertResult(created=created, updated=updated, unchanged=len(items) - created - updated)

    async def by_external_ids(self, external_ids: Iterable[str]) -> dict[str, CatalogItem]:
        ids = sorted(set(external_ids))
        found: dict[str, CatalogItem] = {}
        for start in range(0, len(ids), 500):  # stays under every backend's bound-parameter limit
            rows = await self.session.scalars(
                select(CatalogItem).where(
                    CatalogItem.tenant_id == self.tenant_id,
                    CatalogItem.external_id.in_(ids[start : start + 500]),
                )
            )
            found.update((r.external_id, r) for r in rows)
        return found

    async def resolve(self, external_ids: Sequence[str], field_name: str) -> dict[str, int]:
        """External ids -> row ids; unknown ids are a 422 that names each of them."""
        rows = await self.by_external_ids(external_ids)
        unknown = sorted(set(external_ids) - rows.keys())
        if unknown:
            shown = ", ".join(repr(u) for u in unknown[:20])
            more = f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
            raise InvalidInput(
                f"unknown items: {shown}{more}; add them with POST /v1/items first",
                [FieldProblem(field_name, f"unknown item {u!r}") for u in unknown[:100]],
            )
        return {k: r.id for k, r in rows.items()}

    async def get(self, external_id: str) -> CatalogItem:
        row = (await self.by_external_ids([external_id])).get(external_id)
        if row is None:
            raise NotFound(f"item {external_id!r} not found")
        return row

    async def summaries(self, ids: Sequence[int]) -> dict[int, ItemSummary]:
        """Items by row id, restricted to this tenant; missing ids are left out."""
        found: dict[int, ItemSummary] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            result = await self.session.execute(
                select(
                    CatalogItem.id, CatalogItem.external_id, CatalogItem.title, CatalogItem.attributes
                ).where(CatalogItem.id.in_(chunk), CatalogItem.tenant_id == self.tenant_id)
            )
            found.update((r[0], ItemSummary(*r)) for r in result.tuples())
        return found

    async def list(self, *, limit: int, offset: int) -> tuple[list[CatalogItem], int]:
        where = CatalogItem.tenant_id == self.tenant_id
        order = [CatalogItem.id.asc()]
        return await list_and_count(
            self.session, CatalogItem, where, order_by=order, limit=limit, offset=offset
        )

    async def delete(self, external_id: str) -> None:
        """Remove an item with its interactions and reviews (``ON DELETE CASCADE``)."""
        row = await self.get(external_id)
        await self.session.execute(delete(CatalogItem).where(CatalogItem.id == row.id))
        await self.session.flush()
