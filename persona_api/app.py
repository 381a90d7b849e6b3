"""The composition root: ``create_app`` wires settings, storage, artifacts and HTTP together.

Tests call it with injected parts (an engine, extra user-data handlers, artifact loaders);
nothing else in the package constructs long-lived resources.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import torch
from advanced_alchemy.extensions.litestar import AsyncSessionConfig, SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.types import Middleware
from sqlalchemy.ext.asyncio import AsyncEngine

from persona_api import __version__
from persona_api.capabilities import CAPABILITIES, Capability, loaders, steps
from persona_api.config import Settings, apply_process_defaults, load_settings
from persona_api.console.router import console_router, signer_for, template_config
from persona_api.http.admin import AdminController
from persona_api.http.auth import Authenticator, KeyCache, RefusedKeys, provide_tenant_id
from persona_api.http.client_address import ClientAddress
from persona_api.http.counters import open_counters
from persona_api.http.deps import DEPENDENCIES, SESSION_KEY
from persona_api.http.guard import refuse_bad_input
from persona_api.http.health import healthz, readyz
from persona_api.http.openapi import ContractJSON
from persona_api.http.problems import problem_handlers
from persona_api.http.ratelimit import RateLimiter, RateLimitMiddleware
from persona_api.http.requestid import RequestIdMiddleware
from persona_api.http.users import TenantController, UserController
from persona_api.kernel.embed import Embedder
from persona_api.kernel.hotswap import ArtifactLoaders
from persona_api.kernel.scrub import scrubbers
from persona_api.llm.client import LLMClient
from persona_api.logs import configure_logging
from persona_api.mcp_server.mount import McpMount
from persona_api.openai_compat.errors import OpenAIErrors
from persona_api.store.admin_token import resolve_admin_token
from persona_api.store.db import create_engine
from persona_api.store.erasure import Eraser
from persona_api.store.migrate import head_revision
from persona_api.store.userdata import UserDataHandler, UserDataRegistry
from persona_api.wiring import Runtime, build_runtime

log = logging.getLogger("persona_api.app")

OPS_PATHS = ["/healthz", "/readyz", "/metrics", "/schema"]
# Rate limits protect the service from tenants' keys; operators and probes are not throttled.
UNLIMITED_PATHS = [*OPS_PATHS, "/v1/admin"]


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


def _lifespan(runtime: Runtime) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """What runs around serving: artifacts loaded, the model warmed up (in the background, reported
    through ``runtime.readiness``), the artifact watcher, the erasure passes and the extraction
    drain started; everything stopped and closed at the end."""
    settings, engine, artifacts = runtime.settings, runtime.engine, runtime.artifacts
    memory, extraction, llm, queue = runtime.memory, runtime.extraction, runtime.llm, runtime.memory.queue
    readiness = runtime.readiness
    loading: list[asyncio.Future[object]] = []  # the load under way, awaited at shutdown

    async def warm_up() -> None:
        """Load the embedding model; on failure retry (5 s, 10 s, ... at most a minute apart)."""
        pause = 5.0
        while True:
            loading[:] = [asyncio.ensure_future(asyncio.to_thread(memory.embedder.encode, ["warm up"]))]
            try:
                await asyncio.shield(loading[0])
            except Exception as exc:
                readiness.embedder_loaded(exc)
                log.error("embedder.load_failed", extra={"retry_in": pause}, exc_info=True)
                await asyncio.sleep(pause)
                pause = min(2 * pause, 60.0)
                continue
            readiness.embedder_loaded()
            # Loading the model creates a few hundred thousand objects of its own: freeze them too.
            freeze_heap()
            return

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Requests score in parallel worker threads: one core each beats two contended ones
        # (measured: p99 8 ms vs 200 ms for a Beauty recommendation under load).
        torch.set_num_threads(1)
        await asyncio.to_thread(artifacts.refresh)
        freeze_heap()
        warming = asyncio.create_task(warm_up()) if settings.preload_models else None
        watcher = (
            asyncio.create_task(artifacts.watch(settings.artifact_poll_seconds, on_swap=freeze_heap))
            if settings.artifact_poll_seconds > 0
            else None
        )
        # Deleted users leave the artifacts in passes after each deletion and every poll interval.
        eraser = Eraser(engine, artifacts.store, scrubbers(steps()), after_scrub=artifacts.refresh)
        app.state.eraser = eraser
        erasing = asyncio.create_task(eraser.run(settings.artifact_poll_seconds or None))
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
            for task in (extracting, erasing, watcher):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if warming is not None:
                warming.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await warming
                with contextlib.suppress(Exception):
                    # A worker thread cannot be cancelled: let a load under way finish.
                    await asyncio.gather(*loading)
            if llm is not None:
                await llm.aclose()
            await engine.dispose()

    return lifespan


def create_app(
    settings: Settings | None = None,
    *,
    engine: AsyncEngine | None = None,
    user_data_handlers: tuple[UserDataHandler, ...] = (),
    artifact_loaders: ArtifactLoaders | None = None,
    embedder: Embedder | None = None,
    llm: LLMClient | None = None,
    capabilities: tuple[Capability, ...] = CAPABILITIES,
) -> Litestar:
    """Build the ASGI app. ``settings`` default to the ``PERSONA_*`` environment.

    Tests inject an engine, extra user-data handlers, artifact loaders, or a shared embedder (the
    model takes seconds to load; one instance can serve many apps).
    """
    settings = settings or load_settings()
    engine = engine or create_engine(settings)
    runtime = build_runtime(
        settings,
        engine=engine,
        loaders=artifact_loaders if artifact_loaders is not None else loaders(capabilities),
        embedder=embedder,
        llm=llm,
    )
    user_data = UserDataRegistry()
    for capability in capabilities:
        if capability.user_data is not None:
            user_data.register(capability.user_data(runtime))
    for handler in user_data_handlers:
        user_data.register(handler)
    lifespan = _lifespan(runtime)
    mcp = McpMount()
    admin_token = resolve_admin_token(settings)
    console_signer = signer_for(settings.console_secret, admin_token)

    db_config = SQLAlchemyAsyncConfig(
        engine_instance=engine,
        session_dependency_key=SESSION_KEY,  # handlers get it as db_session, one transaction (http.deps)
        session_config=AsyncSessionConfig(expire_on_commit=False),
        set_default_exception_handler=False,
        create_all=False,
    )
    authenticator = Authenticator(
        engine, KeyCache(settings.auth_cache_seconds), RefusedKeys(settings.auth_refused_cache_seconds)
    )
    counters = open_counters(settings.counter_store)
    rate_limiter = RateLimiter(
        counters,
        per_minute=settings.rate_limit_per_minute,
        failed_auth_per_minute=settings.failed_auth_per_minute,
    )
    prometheus = PrometheusConfig(
        app_name="persona_api", prefix="persona", group_path=True, exclude=OPS_PATHS
    )
    # Metrics outermost, so that they count the 429s too.
    middleware: list[Middleware] = [
        prometheus.middleware,
        OpenAIErrors,  # outside the limiter, so that its 429s take OpenAI's shape too
        RateLimitMiddleware(
            rate_limiter,
            authenticator,
            ClientAddress(settings.trusted_proxy_header, settings.trusted_proxy_hops),
            exclude=UNLIMITED_PATHS,
        ),
    ]

    app = Litestar(
        route_handlers=[
            healthz,
            readyz,
            _Metrics,
            AdminController,
            UserController,
            TenantController,
            mcp.handler,
            console_router(console_signer),
            *(controller for capability in capabilities for controller in capability.controllers),
        ],
        dependencies={"auth_tenant": Provide(provide_tenant_id), **DEPENDENCIES},
        plugins=[SQLAlchemyPlugin(config=db_config)],
        middleware=middleware,
        stores={"rate_limit": counters},  # closed with the app
        exception_handlers=problem_handlers(),
        before_request=refuse_bad_input,
        cors_config=CORSConfig(allow_origins=list(settings.cors_origins)) if settings.cors_origins else None,
        request_max_body_size=settings.max_body_bytes,
        template_config=template_config(),
        lifespan=[lifespan, mcp.lifespan],
        openapi_config=OpenAPIConfig(
            title="persona-api",
            version=__version__,
            description="Open personalization service for LLM applications.",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin(path="/"), ContractJSON()],
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
                "admin_token": admin_token,
                "console_signer": console_signer,
                "authenticator": authenticator,
                "rate_limiter": rate_limiter,
                "user_data": user_data,
                "runtime": runtime,
                "artifacts": runtime.artifacts,
                "memory": runtime.memory,
                "extraction": runtime.extraction,
                "recsys": runtime.recsys,
                "pairing": runtime.pairing,
                "llm": runtime.llm,
                "preferences": runtime.preferences,
                "schema_head": head_revision(),
                "unlimited_paths": UNLIMITED_PATHS,  # the OpenAPI contract declares 429 elsewhere
            }
        ),
        # Logging is configured once by the entry point (persona_api.logs), not per app.
        logging_config=None,
        debug=False,
    )
    app.asgi_handler = RequestIdMiddleware(app.asgi_handler)
    return app


def _stop_when_orphaned(parent: int) -> None:
    """A worker whose supervisor died (even by SIGKILL) stops too: it would otherwise keep serving
    on the port with nobody to restart or stop it. SIGTERM first (uvicorn shuts down cleanly), then
    a hard exit if that has not ended the process within 20 s."""
    while os.getppid() == parent:
        time.sleep(1.0)
    log.warning("app.supervisor_gone", extra={"parent": parent})
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(20.0)
    os._exit(1)


def serve_app() -> Litestar:
    """The app of one ``persona-api serve --workers N`` process: each worker reads the same
    ``PERSONA_*`` environment, configures its logging and builds its own app (caches, loaded
    artifacts, connection pool); state that must be global lives in the database or in Redis."""
    threading.Thread(
        target=_stop_when_orphaned, args=(os.getppid(),), name="persona-supervisor-watch", daemon=True
    ).start()
    apply_process_defaults()
    settings = load_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    return create_app(settings)
