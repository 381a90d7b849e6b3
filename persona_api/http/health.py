"""Liveness and readiness probes (no authentication, no rate limit)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar import Request, Response, get
from sqlalchemy import text

from persona_api import __version__
from persona_api.http.schemas import Health, Readiness
from persona_api.store.migrate import current_revision

log = logging.getLogger("persona_api.health")


@get("/healthz", operation_id="healthz", summary="Liveness: the process is up", tags=["health"])
async def healthz() -> Health:
    return Health(status="ok")


@get(
    "/readyz",
    operation_id="readyz",
    summary="Readiness: database reachable and migrated, embedding model and artifacts loaded",
    tags=["health"],
)
async def readyz(request: Request[Any, Any, Any]) -> Response[Readiness]:
    state = request.app.state
    loaded = state.artifacts.current
    revision: str | None = None
    database = "ok"
    try:
        async with asyncio.timeout(2.0), state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            revision = await conn.run_sync(current_revision)
    except Exception as exc:
        log.warning("readyz.database_unreachable", extra={"error": type(exc).__name__})
        database = "unreachable"
    if database == "ok" and revision != state.schema_head:
        database = "not migrated (run `persona-api migrate`)"
    # Loads that run in the background at start: not ready until they are done (not blocked on).
    loads = state.runtime.readiness
    ready = database == "ok" and loads.ready
    body = Readiness(
        status="ready" if ready else "not ready",
        database=database,
        schema_revision=revision,
        artifact_version=loaded.version if loaded else None,
        artifacts=loads.artifacts,
        embedding_model=loads.embedder,
        version=__version__,
    )
    return Response(body, status_code=200 if ready else 503)
