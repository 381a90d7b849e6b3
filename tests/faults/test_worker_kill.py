"""The extraction worker SIGKILLed mid-batch, inside the write transaction of one of the turns it
claimed: after a restart, every queued turn is extracted, and none twice (one queue row, one
extraction and one memory per turn; the turns committed before the kill are not asked about again).

The killed worker is ``persona-api worker`` run through ``tests/faults/worker_job.py``; the
restarted one runs in this process, on the same database and the same loopback LLM.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from persona_api.app import create_app
from persona_api.config import Settings
from persona_api.kernel.embed import MiniLMEmbedder
from persona_api.memory.tables import MemoryExtraction, Turn
from persona_api.worker import run_worker
from tests.conftest import ADMIN_TOKEN, fetch_all, new_tenant
from tests.faults.support import clean_env, eventually, tail
from tests.integration.test_llm_extraction import answer
from tests.llm_server import FakeLLM, Reply

WRAPPER = Path(__file__).with_name("worker_job.py")
LEASE = 2.0
"""Seconds the killed worker's claims last (see worker_job.py)."""
# Each turn, and the one memory the loopback LLM extracts from it (unlike each other, so none
# merges into another).
FACTS = {
    "I moved to Lisbon in May.": "Caroline moved to Lisbon in May 2023.",
    "I adopted a grey cat called Pixel.": "Caroline adopted a grey cat called Pixel.",
    "I'm training for the Berlin marathon.": "Caroline is training for the Berlin marathon.",
    "I work as a nurse at the city hospital.": "Caroline works as a nurse at the city hospital.",
    "I started violin lessons on Tuesdays.": "Caroline takes violin lessons on Tuesdays.",
    "My brother Tom lives in Toronto.": "Caroline's brother Tom lives in Toronto.",
    "I'm allergic to peanuts.": "Caroline is allergic to peanuts.",
    "We plan a trip to Japan next spring.": "Caroline plans a trip to Japan in spring 2024.",
    "I volunteer at the animal shelter on Sundays.": "Caroline volunteers at an animal shelter on Sundays.",
    "I collect vintage postcards from Italy.": "Caroline collects vintage postcards from Italy.",
}
KILL_AT = 3
"""The killed worker dies in its third turn's write: two turns are committed, six more claimed."""


def asked_about(body: dict[str, Any]) -> str:
    return str(json.loads(body["messages"][1]["content"])["turn"]["text"])


async def test_a_worker_killed_mid_batch_loses_no_turn_and_extracts_none_twice(
    sqlite_url: str, tmp_path: Path, loaded_embedder: MiniLMEmbedder, llm_server: FakeLLM
) -> None:
    llm_server.respond = lambda body: Reply(content=answer((FACTS[asked_about(body)], "Caroline", "fact")))
    settings = Settings(
        database_url=sqlite_url,
        models_dir=tmp_path / "models",
        var_dir=tmp_path / "var",
        admin_token=ADMIN_TOKEN,
        rate_limit_per_minute=0,
        artifact_poll_seconds=0,
        preload_models=False,
        llm_base_url=llm_server.base_url,
        llm_model="fake-model",
        llm_extract_worker="external",  # the API queues the turns; the workers below extract them
        llm_extract_poll_seconds=0.2,
        llm_extract_retry_seconds=0.0,
        llm_extract_concurrency=2,
    )
    async with AsyncTestClient(app=create_app(settings, embedder=loaded_embedder)) as client:
        tenant = await new_tenant(client)
        h = tenant.headers
        assert (
            await client.post("/v1/users", json={"id": "carol", "metadata": {"name": "Caroline"}}, headers=h)
        ).status_code == 201
        assert (
            await client.post("/v1/users/carol/partners", json={"id": "mel", "name": "Melanie"}, headers=h)
        ).status_code == 201
        body = {"id": "s1", "partners": ["mel"], "started_at": "2023-05-08T13:56:00Z"}
        assert (await client.post("/v1/users/carol/sessions", json=body, headers=h)).status_code == 201
        turns = [{"id": f"t{i}", "speaker": "user", "text": text} for i, text in enumerate(FACTS, 1)]
        ingest = await client.post("/v1/users/carol/sessions/s1/turns", json={"turns": turns}, headers=h)
        assert ingest.status_code == 201 and ingest.json()["memories"] == [], ingest.text  # queued

    queue = (
        select(MemoryExtraction.id, MemoryExtraction.status, MemoryExtraction.attempts, Turn.external_id)
        .join(Turn, Turn.id == MemoryExtraction.turn_id)
        .order_by(MemoryExtraction.id)
    )
    log = tmp_path / "worker.log"
    env = clean_env(
        PERSONA_DATABASE_URL=sqlite_url,
        PERSONA_LLM_BASE_URL=llm_server.base_url,
        PERSONA_LLM_MODEL="fake-model",
        PERSONA_LLM_EXTRACT_POLL_SECONDS="0.2",
        PERSONA_LLM_EXTRACT_RETRY_SECONDS="0",
        PERSONA_LLM_EXTRACT_CONCURRENCY="2",
        PERSONA_LLM_EXTRACT_NICE="0",
    )
    with log.open("w") as sink:
        worker = await asyncio.create_subprocess_exec(
            sys.executable, str(WRAPPER), str(KILL_AT), str(LEASE), env=env, stdout=sink, stderr=sink
        )
    try:
        # The first start loads the embedding model: tens of seconds on a busy machine.
        await asyncio.wait_for(worker.wait(), 300)
    except TimeoutError:
        pytest.fail(f"the worker did not die in its write within 300 s:\n{tail(log)}")
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
    assert worker.returncode == -9, tail(log)
    rows = await fetch_all(sqlite_url, queue)
    assert [r.status for r in rows] == ["done"] * (KILL_AT - 1) + ["pending"] * (len(FACTS) - KILL_AT + 1)
    committed = {r.external_id for r in rows if r.status == "done"}
    asked_before = len(llm_server.requests)

    # Restarted: once the dead worker's claims expire, the new worker takes the rest.
    restarted = asyncio.create_task(run_worker(settings, embedder=loaded_embedder))
    try:

        async def settled() -> bool:
            return all(r.status != "pending" for r in await fetch_all(sqlite_url, queue))

        await eventually("every queued turn is extracted", settled, within=60, every=0.1)
    finally:
        restarted.cancel()
        async with asyncio.timeout(60):  # a worker that ignores its cancellation fails here
            await asyncio.gather(restarted, return_exceptions=True)

    rows = await fetch_all(sqlite_url, queue)
    assert [r.external_id for r in rows] == [f"t{i}" for i in range(1, len(FACTS) + 1)]  # one row per turn
    assert all(r.status == "done" for r in rows)
    assert all(r.attempts == 1 for r in rows if r.external_id in committed)
    extracted = await fetch_all(sqlite_url, select(Turn.extracted_by).where(Turn.external_id.like("t%")))
    assert [r.extracted_by for r in extracted] == ["llm"] * len(FACTS)
    # The committed turns were not asked about again; every other turn was, after the restart.
    asked_after = {asked_about(r.body) for r in llm_server.requests[asked_before:]}
    texts = dict(zip((t["id"] for t in turns), FACTS, strict=True))
    assert asked_after == {texts[t] for t in texts if t not in committed}

    async with AsyncTestClient(app=create_app(settings, embedder=loaded_embedder)) as client:
        listed = await client.get("/v1/users/carol/memories", params={"limit": 100}, headers=h)
    assert listed.status_code == 200, listed.text
    memories = sorted((m["source_turn_ids"], m["text"]) for m in listed.json()["items"])
    assert memories == sorted(([t["id"]], FACTS[t["text"]]) for t in turns)  # one memory per turn
