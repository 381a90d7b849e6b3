"""Fixtures of the fault suite. Each test picks its databases itself, whatever
``PERSONA_TEST_DATABASE_URL`` says: a SQLite file, or a database of the suite's own throwaway
PostgreSQL cluster, which a test may stop, pause or restart (CI runs the suite once)."""

from __future__ import annotations

import faulthandler
from collections.abc import Iterator
from pathlib import Path

import pytest

from persona_api.kernel.embed import MiniLMEmbedder
from tests.faults.pgcluster import Cluster, new_cluster
from tests.faults.support import new_pg_database, new_sqlite_database


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """The suite's own PostgreSQL server (a test may stop or restart it; it is started again for
    the next test)."""
    cluster = new_cluster()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    return new_pg_database(pg_cluster)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return new_sqlite_database(tmp_path)


@pytest.fixture(scope="session")
def loaded_embedder(embedder: MiniLMEmbedder) -> MiniLMEmbedder:
    """The shared embedder with its model loaded, so no request under test waits for the load."""
    embedder.encode(["warm up"])
    return embedder


@pytest.fixture(autouse=True)
def no_test_hangs() -> Iterator[None]:
    """A test of this suite that runs 10 minutes has hung (they take seconds to a minute or two):
    print every thread's stack and end the run, rather than leave it (or CI) waiting forever."""
    faulthandler.dump_traceback_later(600, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
