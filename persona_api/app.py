"""The composition root: ``create_app`` wires settings, storage, artifacts and HTTP together.

Tests call it with injected parts (an engine, extra user-data handlers, artifact loaders);
nothing else in the package constructs long-lived resources.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import torch
from advanced_alchemy.extensions.litestar import AsyncSessionConfig, SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from persona_api import __version__
from persona_api.config import Settings, load_settings, parse_interaction_weights
from persona_api.http.admin import AdminController
from persona_api.http.auth import KeyCache, provide_tenant_id, rate_limit_identity
from persona_api.http.chat import ChatController
from persona_api.http.health import healthz, readyz
from persona_api.http.memory import MemoryController
from persona_api.http.pagination import provide_page
from persona_api.http.pairings import (
    FoodPreferenceController,
    IngredientController,
    PairingController,
    RecipeController,
)
from persona_api.http.preferences import ObjectiveController, PreferenceController
from persona_api.http.problems import problem_handlers
from persona_api.http.recs import ItemController, RecommendationController
from persona_api.http.requestid import RequestIdMiddleware
from persona_api.http.system_message import SystemMessageController
from persona_api.http.users import UserController
from persona_api.http.values import ValuesController
from persona_api.jobs.catalog import all_loaders
from persona_api.llm.client import LLMClient, config_from_settings
from persona_api.llm.userdata import ValuesUserData
from persona_api.memory.artifacts import STEP as MEMORY_STEP
from persona_api.memory.artifacts import MemorySnapshots
from persona_api.memory.context import MemoryRuntime
from persona_api.memory.embed import BatchingEmbedder, Embedder, MiniLMEmbedder
from persona_api.memory.extract import RuleExtractor
from persona_api.memory.extraction import ExtractionQueue, ExtractionWorker, extraction_policy
from persona_api.memory.feed import MemoryIndexes, Snapshot
from persona_api.memory.llm_extract import LLMExtractor
from persona_api.memory.userdata import MemoryUserData
from persona_api.preferences.bundle import STEP as PREFERENCES_STEP
from persona_api.preferences.bundle import PreferenceModels
from persona_api.preferences.service import PreferenceRuntime
from persona_api.preferences.userdata import PreferenceUserData
from persona_api.recsys.artifacts import ArtifactStore
from persona_api.recsys.bundle import STEP as SEQREC_STEP
from persona_api.recsys.bundle import RecModels
from persona_api.recsys.hotswap import ArtifactHolder, ArtifactLoaders
from persona_api.recsys.pairing.bundle import STEP as PAIRING_STEP
from persona_api.recsys.pairing.bundle import PairingModels
from persona_api.recsys.pairing.service import PairingRuntime
from persona_api.recsys.pairing.userdata import PairingUserData
from persona_api.recsys.service import RecsysRuntime
from persona_api.recsys.userdata import RecsysUserData
from persona_api.store.db import create_engine
from persona_api.store.migrate import head_revision
from persona_api.store.userdata import UserDataHandler, UserDataRegistry

log = logging.getLogger("persona_api.app")

OPS_PATHS = ["/healthz", "/readyz", "/metrics", "/schema"]
# Rate limits protect the service from tenants' keys; operators and probes are not throttled.
UNLIMITED_PATHS = [*OPS_PATHS, "/v1/admin"]


def resolve_admin_token(settings: Settings) -> str:
    """The configured admin token, or one generated once into ``<var_dir>/admin_token`` (0600)."""
    if settings.admin_token:
        return settings.admin_token
    path: Path = settings.admin_token_file
    if path.is_file():
        token = path.read_text().strip()
        if token:
            return token
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = path.open("x") if not path.exists() else path.open("w")
    with fd:
        path.chmod(0o600)
        fd.write(token + "\n")
    log.warning("admin_token.generated", extra={"path": str(path)})
    return token


def freeze_heap() -> None:
    """Move everything alive now (libraries, loaded models) out of the cyclic collector's reach.

    A full collection over the ~300,000 objects of a started API takes about 150 ms, which showed
    up as the 1% slowest requests; frozen objects are still freed by reference counting.
    """
    gc.collect()
    gc.freeze()


class _Metrics(PrometheusController):
    path = "/metrics"
    include_in_schema = False


def create_app(
    settings: Settings | None = None,
    *,
    engine: AsyncEngine | None = None,
    user_data_handlers: tuple[UserDataHandler, ...] = (),
    artifact_loaders: ArtifactLoaders | None = None,
    embedder: Embedder | None = None,
    llm: LLMClient | None = None,
) -> Litestar:
    """Build the ASGI app. ``settings`` default to the ``PERSONA_*`` environment.

    Tests inject an engine, extra user-data handlers, artifact loaders, or a shared embedder (the
    model takes seconds to load; one instance can serve many apps).
    """
    settings = settings or load_settings()
    engine = engine or create_engine(settings)
    artifacts = ArtifactHolder(
        ArtifactStore(settings.models_dir, keep=settings.keep_versions),
        artifact_loaders if artifact_loaders is not None else all_loaders(),
    )

    def memory_snapshot(tenant_id: str) -> Snapshot | None:
        loaded = artifacts.current
        component = loaded.components.get(MEMORY_STEP) if loaded else None
        return component.lookup(tenant_id) if isinstance(component, MemorySnapshots) else None

    embedder = embedder or BatchingEmbedder(MiniLMEmbedder(runtime=settings.embed_runtime))
    llm_config = config_from_settings(settings)
    llm = llm or (LLMClient(llm_config) if llm_config else None)
    # With an LLM, turns are queued and extracted off the request path (the rules are the fallback).
    queue = ExtractionQueue() if llm is not None and settings.llm_extract_memories else None
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

    def rec_models() -> RecModels | None:
        loaded = artifacts.current
        component = loaded.components.get(SEQREC_STEP) if loaded else None
        return component if isinstance(component, RecModels) else None

    recsys = RecsysRuntime(
        models=rec_models,
        weights=parse_interaction_weights(settings.interaction_weights),
        embedder=embedder,
    )

    def pairing_models() -> PairingModels | None:
        loaded = artifacts.current
        component = loaded.components.get(PAIRING_STEP) if loaded else None
        return component if isinstance(component, PairingModels) else None

    pairing = PairingRuntime(pairing_models)

    def preference_models() -> PreferenceModels | None:
        loaded = artifacts.current
        component = loaded.components.get(PREFERENCES_STEP) if loaded else None
        return component if isinstance(component, PreferenceModels) else None

    preferences = PreferenceRuntime(embedder=embedder, models=preference_models)
    user_data = UserDataRegistry()
    handlers: tuple[UserDataHandler, ...] = (
        MemoryUserData(memory.indexes),
        RecsysUserData(recsys),
        PairingUserData(pairing),
        ValuesUserData(),
        PreferenceUserData(preferences),
    )
    for handler in (*handlers, *user_data_handlers):
        user_data.register(handler)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Requests score in parallel worker threads: one core each beats two contended ones
        # (measured: p99 8 ms vs 200 ms for a Beauty recommendation under load).
        torch.set_num_threads(1)
        await asyncio.to_thread(artifacts.refresh)
        freeze_heap()
        warm_up = (
            asyncio.ensure_future(asyncio.to_thread(memory.embedder.encode, ["warm up"]))
            if settings.preload_models
            else None
        )
        app.state.embedder_warm_up = warm_up  # /readyz reports it
        if warm_up is not None:
            # Loading the model creates a few hundred thousand objects of its own: freeze them too.
            warm_up.add_done_callback(lambda _: freeze_heap())
        watcher = (
            asyncio.create_task(artifacts.watch(settings.artifact_poll_seconds, on_swap=freeze_heap))
            if settings.artifact_poll_seconds > 0
            else None
        )
        # Without an LLM the worker only drains turns an earlier LLM-configured run left queued.
        # With one, it runs here only when asked to (inline): by default `serve` starts it as a
        # process of its own, so its embedding and writes do not hold this process's event loop.
        extracting = asyncio.create_task(
            extraction.drain_leftovers()
            if queue is None
            else extraction.run()
            if settings.llm_extract_worker == "inline"
            else asyncio.sleep(0)
        )
        log.info(
            "app.started",
            extra={
                "version": __version__,
                "database": engine.url.get_backend_name(),
                "artifact_version": artifacts.current.version if artifacts.current else None,
            },
        )
        try:
            yield
        finally:
            extracting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await extracting
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            if warm_up is not None:
                with contextlib.suppress(Exception):
                    await warm_up  # a worker thread cannot be cancelled; let the load finish
            if llm is not None:
                await llm.aclose()
            await engine.dispose()

    db_config = SQLAlchemyAsyncConfig(
        engine_instance=engine,
        session_dependency_key="db_session",
        session_config=AsyncSessionConfig(expire_on_commit=False),
        set_default_exception_handler=False,
        create_all=False,
    )
    middleware = []
    if settings.rate_limit_per_minute > 0:
        middleware.append(
            RateLimitConfig(
                rate_limit=("minute", settings.rate_limit_per_minute),
                identifier_for_request=rate_limit_identity,
                exclude=UNLIMITED_PATHS,
            ).middleware
        )
    prometheus = PrometheusConfig(
        app_name="persona_api", prefix="persona", group_path=True, exclude=OPS_PATHS
    )
    middleware.append(prometheus.middleware)

    app = Litestar(
        route_handlers=[
            healthz,
            readyz,
            _Metrics,
            AdminController,
            UserController,
            ValuesController,
            SystemMessageController,
            ChatController,
            MemoryController,
            ItemController,
            RecommendationController,
            IngredientController,
            RecipeController,
            FoodPreferenceController,
            PairingController,
            PreferenceController,
            ObjectiveController,
        ],
        dependencies={
            "auth_tenant": Provide(provide_tenant_id),
            "page": Provide(provide_page, sync_to_thread=False),
        },
        plugins=[SQLAlchemyPlugin(config=db_config)],
        middleware=middleware,
        exception_handlers=problem_handlers(),
        cors_config=CORSConfig(allow_origins=list(settings.cors_origins)) if settings.cors_origins else None,
        request_max_body_size=settings.max_body_bytes,
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="persona-api",
            version=__version__,
            description="Open personalization service for LLM applications.",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin(path="/")],
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(type="http", scheme="bearer", description="Tenant API key"),
                    "adminToken": SecurityScheme(
                        type="http", scheme="bearer", description="PERSONA_ADMIN_TOKEN"
                    ),
                }
            ),
            security=[{"apiKey": []}],
        ),
        state=State(
            {
                "settings": settings,
                "engine": engine,
                "admin_token": resolve_admin_token(settings),
                "key_cache": KeyCache(settings.auth_cache_seconds),
                "user_data": user_data,
                "artifacts": artifacts,
                "memory": memory,
                "extraction": extraction,
                "recsys": recsys,
                "pairing": pairing,
                "llm": llm,
                "preferences": preferences,
                "schema_head": head_revision(),
            }
        ),
        # Logging is configured once by the entry point (persona_api.logs), not per app.
        logging_config=None,
        debug=False,
    )
    app.asgi_handler = RequestIdMiddleware(app.asgi_handler)
    return app
