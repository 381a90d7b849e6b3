"""``/readyz`` is ready only once the embedding model and the served artifacts are loaded; the
process answers ``/healthz`` meanwhile (nothing blocks on the model)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from litestar import Litestar
from litestar.testing import AsyncTestClient
from numpy.typing import NDArray

from persona_api.app import create_app
from persona_api.config import Settings
from persona_api.kernel.artifacts import ArtifactStore
from persona_api.kernel.embed import MiniLMEmbedder
from persona_api.kernel.hotswap import ArtifactHolder, ArtifactLoaders
from persona_api.kernel.manifest import Manifest
from persona_api.wiring import Readiness


class GatedEmbedder:
    """The real model, but its first use waits until the test opens ``gate`` (or fails)."""

    def __init__(self, inner: MiniLMEmbedder, *, fail: bool = False) -> None:
        self.inner, self.dim, self.fail = inner, inner.dim, fail
        self.gate = threading.Event()

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if not self.gate.wait(timeout=60):
            raise TimeoutError("the test never opened the gate")
        if self.fail:
            raise RuntimeError("model files are missing")
        return self.inner.encode(texts)


async def _readyz(client: AsyncTestClient[Litestar]) -> tuple[int, dict[str, object]]:
    response = await client.get("/readyz")
    return response.status_code, response.json()


async def test_not_ready_while_the_embedding_model_loads(
    settings: Settings, embedder: MiniLMEmbedder
) -> None:
    gated = GatedEmbedder(embedder)
    app = create_app(settings.with_overrides(preload_models=True), embedder=gated)
    async with AsyncTestClient(app=app) as client:
        try:
            assert (await client.get("/healthz")).status_code == 200
            status, body = await _readyz(client)
            assert status == 503 and body["status"] == "not ready"
            assert body["embedding_model"] == "loading" and body["database"] == "ok"
            assert body["artifacts"] == "none"  # nothing published: nothing to wait for
        finally:
            gated.gate.set()
        for _ in range(600):  # the load takes milliseconds once the gate is open
            status, body = await _readyz(client)
            if status == 200:
                break
            await asyncio.sleep(0.05)
        assert status == 200 and body["status"] == "ready" and body["embedding_model"] == "ready"


async def test_a_failed_preload_is_not_ready(settings: Settings, embedder: MiniLMEmbedder) -> None:
    gated = GatedEmbedder(embedder, fail=True)
    gated.gate.set()
    app = create_app(settings.with_overrides(preload_models=True), embedder=gated)
    async with AsyncTestClient(app=app) as client:
        for _ in range(600):
            status, body = await _readyz(client)
            if body["embedding_model"] != "loading":
                break
            await asyncio.sleep(0.05)
        assert status == 503 and body["embedding_model"] == "failed"


async def test_without_a_preload_the_model_is_not_waited_for(
    settings: Settings, embedder: MiniLMEmbedder
) -> None:
    app = create_app(settings, embedder=GatedEmbedder(embedder))  # the gate stays shut
    async with AsyncTestClient(app=app) as client:
        status, body = await _readyz(client)
        assert status == 200 and body["embedding_model"] == "on first use"


def test_artifacts_are_loading_until_the_first_load_ends(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep=3)
    with store.stage() as staged:
        (staged.path / "demo").mkdir()
        (staged.path / "demo" / "value.txt").write_text("v")
        store.publish(staged, code_version="test", input_rows={}, metrics={}, steps=["demo"])
    entered, release = threading.Event(), threading.Event()

    def slow(version_dir: Path, manifest: Manifest) -> object:
        entered.set()
        release.wait(timeout=30)
        return (version_dir / "demo" / "value.txt").read_text()

    loaders = ArtifactLoaders()
    loaders.register("demo", slow)
    holder = ArtifactHolder(store, loaders)
    readiness = Readiness(holder, preload=False)
    loading = threading.Thread(target=holder.refresh)
    loading.start()
    try:
        assert entered.wait(timeout=30)
        assert readiness.artifacts == "loading" and not readiness.ready
    finally:
        release.set()
        loading.join(timeout=30)
    assert readiness.artifacts == "loaded" and readiness.ready

    broken = ArtifactLoaders()
    broken.register("demo", lambda _dir, _manifest: 1 / 0)
    failing = ArtifactHolder(store, broken)
    failing.refresh()
    assert Readiness(failing, preload=False).artifacts == "failed"
    readiness.embedder_loaded(RuntimeError("no model"))
    assert readiness.embedder == "failed" and not readiness.ready
