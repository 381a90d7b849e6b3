"""Helpers of the fault tests: polling for a condition with a deadline, a tenant over HTTP, and
``persona-api serve`` as a child process."""

from __future__ import annotations

import asyncio
import inspect
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from persona_api.store import migrate
from tests.conftest import admin_headers
from tests.faults.pgcluster import Cluster, free_port


def wait_for(condition: str, check: Callable[[], object], within: float, every: float = 0.05) -> None:
    """Poll ``check()`` until it is truthy; fail naming ``condition`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {within} s waiting until {condition}")
        time.sleep(every)


async def eventually(
    condition: str, check: Callable[[], object | Awaitable[object]], within: float, every: float = 0.05
) -> None:
    """:func:`wait_for` without blocking the event loop; ``check`` may be a coroutine function."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {within} s waiting until {condition}")
        await asyncio.sleep(every)


async def tenant_key(http: httpx.AsyncClient, name: str = "faults") -> dict[str, str]:
    """A new tenant's API key, as request headers."""
    made = await http.post("/v1/admin/tenants", json={"name": name}, headers=admin_headers())
    assert made.status_code == 201, made.text
    key = await http.post(f"/v1/admin/tenants/{made.json()['id']}/keys", json={}, headers=admin_headers())
    assert key.status_code == 201, key.text
    return {"Authorization": f"Bearer {key.json()['key']}"}


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without its ``PERSONA_*`` variables, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_")}
    return {**env, "PYTHONUNBUFFERED": "1", **settings}


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


class Serve:
    """``persona-api serve`` as a child process, logging to a file."""

    def __init__(self, env: dict[str, str], cwd: Path, *args: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = cwd / f"serve-{self.port}.log"
        with self.log.open("w") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "persona_api", "serve", "--port", str(self.port), *args],
                cwd=cwd,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

    def _get(self, path: str) -> dict[str, Any] | None:
        try:
            response = httpx.get(self.base + path, timeout=5)
        except httpx.HTTPError:
            return None
        return dict(response.json()) if response.status_code == 200 else None

    def wait_ready(self, within: float = 180) -> None:
        """Until ``/readyz`` is 200 with the embedding model loaded (the first start on a busy
        machine imports torch and loads the model: tens of seconds)."""

        def ready() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"serve exited early ({self.process.returncode}):\n{tail(self.log)}")
            body = self._get("/readyz")
            return body is not None and body["embedding_model"] == "ready"

        wait_for("serve is ready with its model loaded", ready, within, every=0.2)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def new_pg_database(cluster: Cluster) -> str:
    """A fresh, migrated database in ``cluster`` (started if a test left it stopped), as a URL."""
    cluster.ensure_running()
    name = f"faults_{secrets.token_hex(4)}"
    cluster.sql(f"CREATE DATABASE {name}")
    url = cluster.url(name)
    migrate.upgrade(url)
    return url


def new_sqlite_database(folder: Path) -> str:
    """A fresh, migrated SQLite database file in ``folder``."""
    url = f"sqlite+aiosqlite:///{folder / 'persona.db'}"
    migrate.upgrade(url)
    return url
