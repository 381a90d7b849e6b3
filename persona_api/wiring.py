"""The one wiring function: every long-lived part of the service, built from settings.

The API process (:func:`persona_api.app.create_app`) and the extraction worker process
(:mod:`persona_api.worker`) both call :func:`build_runtime`, so they hold the same parts made the
same way. Nothing here opens a connection or loads a model: that happens on first use, or in the
app's lifespan.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from persona_api.config import Settings, parse_interaction_weights
from persona_api.kernel.artifacts import ArtifactStore
from persona_api.kernel.embed import BatchingEmbedder, Embedder, MiniLMEmbedder
from persona_api.kernel.hotswap import ArtifactHolder, ArtifactLoaders
from persona_api.llm.client import LLMClient, config_from_settings
from persona_api.memory.context import MemoryRuntime
from persona_api.memory.extract import RuleExtractor
from persona_api.memory.extraction import ExtractionWorker, extraction_policy
from persona_api.memory.extraction_queue import ExtractionQueue
from persona_api.memory.feed import MemoryIndexes, Snapshot
from persona_api.memory.llm_extract import LLMExtractor
from persona_api.memory.step import STEP as MEMORY_STEP
from persona_api.memory.step import MemorySnapshots
from persona_api.pairing.bundle import STEP as PAIRING_STEP
from persona_api.pairing.bundle import PairingModels
from persona_api.pairing.runtime import PairingRuntime
from persona_api.preferences.bundle import STEP as PREFERENCES_STEP
from persona_api.preferences.bundle import PreferenceModels
from persona_api.preferences.runtime import PreferenceRuntime
from persona_api.recsys.bundle import STEP as SEQREC_STEP
from persona_api.recsys.bundle import RecModels
from persona_api.recsys.catalog import CatalogItems
from persona_api.recsys.service import RecsysRuntime


class Readiness:
    """What the API loads in the background at start, and whether it is loaded: ``/readyz``
    answers 503 until the embedding model (when preloaded) and the served artifacts are.

    The app's lifespan reports the embedder's load here instead of waiting for it, so the process
    answers liveness probes while the model loads.
    """

    def __init__(self, artifacts: ArtifactHolder, *, preload: bool) -> None:
        self._artifacts = artifacts
        self.embedder = "loading" if preload else "on first use"
        """``loading``, ``ready``, ``failed`` (the preload is retried) or ``on first use``."""

    def embedder_loaded(self, error: BaseException | None = None) -> None:
        self.embedder = "ready" if error is None else "failed"

    @property
    def artifacts(self) -> str:
        """``loading`` until the first load of ``CURRENT`` has finished, then ``loaded``, ``none``
        (no version published) or ``failed`` (the version ``CURRENT`` names does not load)."""
        holder = self._artifacts
        if holder.current is not None:
            return "loaded"
        if not holder.settled:
            return "loading"
        return "failed" if holder.failed_version is not None else "none"

    @property
    def ready(self) -> bool:
        return self.embedder in ("ready", "on first use") and self.artifacts != "loading"


@dataclass(frozen=True, kw_only=True)
class Runtime:
    """The long-lived parts of one process; request handlers reach them through ``app.state``."""

    settings: Settings
    engine: AsyncEngine
    artifacts: ArtifactHolder
    embedder: Embedder
    llm: LLMClient | None
    memory: MemoryRuntime
    extraction: ExtractionWorker
    recsys: RecsysRuntime
    pairing: PairingRuntime
    preferences: PreferenceRuntime
    readiness: Readiness


def build_runtime(
    settings: Settings,
    *,
    engine: AsyncEngine,
    loaders: ArtifactLoaders,
    embedder: Embedder | None = None,
    llm: LLMClient | None = None,
    queue_turns: bool | None = None,
) -> Runtime:
    """Every domain's runtime over one engine, one embedder, one LLM client and one artifact holder.

    ``queue_turns``: whether new turns go to the LLM extraction queue (default: when an LLM is
    configured and ``PERSONA_LLM_EXTRACT_MEMORIES`` is on); the worker process always extracts.
    """
    artifacts = ArtifactHolder(ArtifactStore(settings.models_dir, keep=settings.keep_versions), loaders)
    embedder = embedder or BatchingEmbedder(MiniLMEmbedder(runtime=settings.embed_runtime))
    llm_config = config_from_settings(settings)
    llm = llm or (LLMClient(llm_config) if llm_config else None)
    if queue_turns is None:
        queue_turns = llm is not None and settings.llm_extract_memories
    # With an LLM, turns are queued and extracted off the request path (the rules are the fallback).
    queue = ExtractionQueue() if queue_turns and llm is not None else None
    snapshots = artifacts.component(MEMORY_STEP, MemorySnapshots)

    def memory_snapshot(tenant_id: str) -> Snapshot | None:
        loaded = snapshots()
        return loaded.lookup(tenant_id) if loaded is not None else None

    memory = MemoryRuntime(
        embedder=embedder,
        indexes=MemoryIndexes(dim=embedder.dim, snapshots=memory_snapshot),
        extractor=RuleExtractor(),
        queue=queue,
    )
    extraction = ExtractionWorker(
        sessions=async_sessionmaker(engine, expire_on_commit=False),
        runtime=memory,
        queue=queue or ExtractionQueue(),
        llm=LLMExtractor(llm) if queue is not None and llm is not None else None,
        fallback=memory.extractor,
        policy=extraction_policy(settings),
    )
    return Runtime(
        settings=settings,
        engine=engine,
        artifacts=artifacts,
        embedder=embedder,
        llm=llm,
        memory=memory,
        extraction=extraction,
        recsys=RecsysRuntime(
            models=artifacts.component(SEQREC_STEP, RecModels),
            weights=parse_interaction_weights(settings.interaction_weights),
            embedder=embedder,
        ),
        pairing=PairingRuntime(artifacts.component(PAIRING_STEP, PairingModels)),
        preferences=PreferenceRuntime(
            embedder=embedder,
            models=artifacts.component(PREFERENCES_STEP, PreferenceModels),
            items=CatalogItems(),
        ),
        readiness=Readiness(artifacts, preload=settings.preload_models),
    )
