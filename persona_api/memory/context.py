"""What memory operations need: the process-wide runtime plus one request's session and tenant."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.kernel.embed import Embedder
from persona_api.memory.extract import Extractor
from persona_api.memory.extraction_queue import ExtractionQueue
from persona_api.memory.feed import MemoryIndexes
from persona_api.memory.fusion import FusionWeights
from persona_api.memory.tables import Partner
from persona_api.memory.writer import WritePolicy


@dataclass(frozen=True)
class SearchPolicy:
    """Default search settings, tuned on the LoCoMo dev conversations (``eval/locomo.py --grid``)."""

    fusion: FusionWeights = field(default_factory=lambda: FusionWeights(method="rrf", dense=1.0, rrf_k=2.0))
    subject_boost: float = 0.5
    """When the query names exactly the user or one partner, memories about them score this much more
    (relative); the others still compete, so a memory about someone else can still win."""
    overfetch: int = 3
    """Candidates fetched per requested result before the subject boost re-ranks them."""


@dataclass(frozen=True)
class MemoryRuntime:
    """Long-lived parts, built once in ``create_app`` (or by the evaluation and the job)."""

    embedder: Embedder
    indexes: MemoryIndexes
    extractor: Extractor
    extractor_name: str = "rules"
    policy: WritePolicy = field(default_factory=WritePolicy)
    search: SearchPolicy = field(default_factory=SearchPolicy)
    queue: ExtractionQueue | None = None
    """Set (when an LLM extracts): new turns are queued for the extraction worker instead of being
    extracted inline by ``extractor``, which then serves as the worker's fallback."""


@dataclass(frozen=True)
class MemoryContext:
    runtime: MemoryRuntime
    session: AsyncSession
    tenant_id: str

    _partners: dict[int, dict[int, Partner]] = field(default_factory=dict, compare=False, repr=False)

    async def user_partners(self, user_pk: int) -> dict[int, Partner]:
        """The user's partners by primary key, read once per context (one request's session): a
        chat needs them four times. :meth:`forget_partners` after adding one."""
        found = self._partners.get(user_pk)
        if found is None:
            rows = await self.session.scalars(select(Partner).where(Partner.user_id == user_pk))
            found = self._partners[user_pk] = {p.id: p for p in rows}
        return found

    def forget_partners(self, user_pk: int) -> None:
        self._partners.pop(user_pk, None)

    @property
    def embedder(self) -> Embedder:
        return self.runtime.embedder

    @property
    def indexes(self) -> MemoryIndexes:
        return self.runtime.indexes

    @property
    def extractor(self) -> Extractor:
        return self.runtime.extractor

    @property
    def extractor_name(self) -> str:
        return self.runtime.extractor_name

    @property
    def policy(self) -> WritePolicy:
        return self.runtime.policy
