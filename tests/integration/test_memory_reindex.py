"""The re-index job snapshots every tenant's memory index; an API process starts from the
snapshot and catches up with the memories written after it."""

from __future__ import annotations

import json
import logging

import pytest
from litestar.testing import AsyncTestClient

from persona_api.app import create_app
from persona_api.capabilities import steps as all_steps
from persona_api.config import Settings
from persona_api.jobs.reindex import run_reindex
from persona_api.kernel.embed import MiniLMEmbedder
from tests.conftest import new_tenant


async def test_api_starts_from_the_snapshot_and_catches_up(
    settings: Settings, embedder: MiniLMEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    async with AsyncTestClient(app=create_app(settings, embedder=embedder)) as client:
        tenant = await new_tenant(client)
        h = tenant.headers
        await client.post("/v1/users", json={"id": "ann", "metadata": {"name": "Ann"}}, headers=h)
        for text in ("Ann grows tomatoes on her balcony.", "Ann plays the cello in an orchestra."):
            assert (
                await client.post("/v1/users/ann/memories", json={"text": text}, headers=h)
            ).status_code == 201

    version = await run_reindex(settings, registry=all_steps())
    folder = settings.models_dir / version / "memory"
    directory = json.loads((folder / "snapshots.json").read_text())
    assert directory[tenant.tenant_id] >= 2
    manifest = json.loads((settings.models_dir / version / "manifest.json").read_text())
    assert manifest["input_rows"]["memories"] >= 2 and "memory" in manifest["steps"]

    caplog.set_level(logging.INFO, logger="persona_api.memory")
    async with AsyncTestClient(app=create_app(settings, embedder=embedder)) as client:
        assert (await client.get("/readyz")).json()["artifact_version"] == version
        await client.post(
            "/v1/users/ann/memories", json={"text": "Ann adopted a grey cat called Smoke."}, headers=h
        )
        found = await client.post("/v1/users/ann/memories/search", json={"query": "cello"}, headers=h)
        assert "cello" in found.json()["results"][0]["memory"]["text"]
        fresh = await client.post("/v1/users/ann/memories/search", json={"query": "cat"}, headers=h)
        assert "Smoke" in fresh.json()["results"][0]["memory"]["text"]
    loaded = [r for r in caplog.records if r.getMessage() == "memory.index_loaded"]
    assert loaded and getattr(loaded[0], "tenant_id", None) == tenant.tenant_id
