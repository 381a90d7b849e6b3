"""Options users compare or score: free texts and catalog items, resolved to embeddings.

A text is embedded with the app's MiniLM embedder (in a worker thread, all new texts of a request in
one batch) and kept in ``preference_options`` under the hash of its kind and text, so it is never
embedded twice. A catalog item reuses the item's own embedding (title and description); items are
always read from the catalog, so an edited item is compared as it is now, and an unknown item id is
a 422 that names it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.errors import FieldProblem, InvalidInput
from persona_api.kernel.embed import Embedder, from_bytes, to_bytes
from persona_api.preferences.tables import PreferenceOption
from persona_api.store.db import upsert_for

CHUNK = 500
"""Rows per ``IN (...)`` query: under every backend's bound-parameter limit."""
CACHE_SIZE = 4096
"""Text embeddings kept in memory: candidates that are scored again are not embedded again."""


class EmbeddingCache:
    """A small LRU of text embeddings by tenant and option key (the text itself is not kept)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[str, NDArray[np.float32]] = OrderedDict()

    def get(self, key: str) -> NDArray[np.float32] | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: str, vector: NDArray[np.float32]) -> None:
        self._entries[key] = vector
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


class CatalogEntry(Protocol):
    """A catalog item as an option: what its embedding reads, and the embedding."""

    @property
    def text(self) -> str: ...

    @property
    def embedding(self) -> NDArray[np.float32]: ...


class ItemSource(Protocol):
    """Where catalog items come from: the recommendations catalog, passed in by the composition
    root (preferences do not read another domain's tables)."""

    async def find(
        self, session: AsyncSession, tenant_id: str, external_ids: Sequence[str]
    ) -> Mapping[str, CatalogEntry]:
        """The tenant's items among ``external_ids``, by external id (absent ones left out)."""
        ...


@dataclass(frozen=True)
class OptionIn:
    """Exactly one of ``text`` and ``item`` (the catalog item's external id)."""

    text: str | None = None
    item: str | None = None

    @property
    def kind(self) -> str:
        return "item" if self.item is not None else "text"

    @property
    def value(self) -> str:
        return self.item if self.item is not None else (self.text or "")

    @property
    def key(self) -> str:
        return option_key(self.kind, self.value)


def option_key(kind: str, value: str) -> str:
    """The option's identity within a tenant: sha256 of its kind and text or item id."""
    return hashlib.sha256(f"{kind}\x00{value}".encode()).hexdigest()


@dataclass(frozen=True)
class Resolved:
    """An option with its embedding; ``id`` is its ``preference_options`` row once stored."""

    key: str
    kind: str
    text: str
    item_id: str | None
    embedding: NDArray[np.float32]
    id: int | None = None


class OptionStore:
    """Resolves options of one tenant; ``store=True`` writes new ones (the caller commits)."""

    def __init__(
        self,
        session: AsyncSession,
        tenant_id: str,
        embedder: Embedder,
        items: ItemSource,
        cache: EmbeddingCache | None = None,
    ) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.embedder = embedder
        self.items = items
        self.cache = cache or EmbeddingCache(0)

    async def _stored(self, keys: Sequence[str]) -> dict[str, PreferenceOption]:
        unique = sorted(set(keys))
        found: dict[str, PreferenceOption] = {}
        for start in range(0, len(unique), CHUNK):
            rows = await self.session.scalars(
                select(PreferenceOption).where(
                    PreferenceOption.tenant_id == self.tenant_id,
                    PreferenceOption.key.in_(unique[start : start + CHUNK]),
                )
            )
            found.update((r.key, r) for r in rows)
        return found

    async def _items(self, options: Sequence[OptionIn], fields: Sequence[str]) -> Mapping[str, CatalogEntry]:
        wanted = sorted({o.item for o in options if o.item is not None})
        found = await self.items.find(self.session, self.tenant_id, wanted) if wanted else {}
        missing = [
            (f, o.item) for f, o in zip(fields, options, strict=True) if o.item and o.item not in found
        ]
        if missing:
            names = sorted({m for _, m in missing})
            raise InvalidInput(
                f"unknown items: {', '.join(repr(n) for n in names[:20])}; "
                "add them with POST /v1/items first",
                [FieldProblem(f"{f}.item", f"unknown item {m!r}") for f, m in missing[:100]],
            )
        return found

    async def resolve(
        self, options: Sequence[OptionIn], fields: Sequence[str], *, store: bool
    ) -> list[Resolved]:
        """Each option with its embedding, in order; ``fields`` name each option in errors."""
        items = await self._items(options, fields)
        stored = await self._stored([o.key for o in options])
        by_key: dict[str, Resolved] = {}
        for o in options:
            if o.key in by_key:
                continue
            row = stored.get(o.key)
            if o.item is not None:
                item = items[o.item]
                by_key[o.key] = Resolved(o.key, "item", item.text, o.item, item.embedding)
            elif row is not None:
                by_key[o.key] = Resolved(o.key, "text", row.text, None, from_bytes(row.embedding), row.id)
            elif (cached := self.cache.get(f"{self.tenant_id}:{o.key}")) is not None:
                by_key[o.key] = Resolved(o.key, "text", o.text or "", None, cached)
        texts = [o.text or "" for o in options if o.key not in by_key and o.item is None]
        texts = list(dict.fromkeys(texts))
        if texts:
            vectors = await asyncio.to_thread(self.embedder.encode, texts)
            for text, vector in zip(texts, vectors, strict=True):
                key = option_key("text", text)
                by_key[key] = Resolved(key, "text", text, None, np.asarray(vector, np.float32))
                self.cache.put(f"{self.tenant_id}:{key}", by_key[key].embedding)
        if store:
            by_key = await self._write(by_key, stored)
        return [by_key[o.key] for o in options]

    async def _write(
        self, resolved: dict[str, Resolved], stored: dict[str, PreferenceOption]
    ) -> dict[str, Resolved]:
        """Insert new options, refresh items whose catalog text changed; give every one its row id.

        New rows go in with ``ON CONFLICT DO NOTHING`` and are read back: a concurrent request
        that first used the same text stored the same row, and both then share it.
        """
        rows: dict[str, PreferenceOption] = {}
        new: list[dict[str, object]] = []
        for key, r in resolved.items():
            row = stored.get(key)
            blob = to_bytes(r.embedding)
            if row is None:
                new.append(
                    {"tenant_id": self.tenant_id, "key": key, "kind": r.kind, "text": r.text}
                    | {"item_id": r.item_id, "embedding": blob}
                )
                continue
            if row.kind == "item" and (row.text != r.text or row.embedding != blob):
                row.text, row.embedding = r.text, blob
            rows[key] = row
        await self.session.flush()
        if new:
            insert = upsert_for(self.session)(PreferenceOption)
            ignore_twins = insert.on_conflict_do_nothing(index_elements=["tenant_id", "key"])
            for start in range(0, len(new), CHUNK):
                await self.session.execute(ignore_twins, new[start : start + CHUNK])
            rows.update(await self._stored([str(n["key"]) for n in new]))
        return {
            key: Resolved(r.key, r.kind, r.text, r.item_id, r.embedding, rows[key].id)
            for key, r in resolved.items()
        }
