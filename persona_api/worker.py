"""``persona-api worker``: LLM memory extraction in a process of its own.

The API queues new turns in ``memory_extractions``; this process claims them, asks the LLM, embeds
and writes the memories (see :mod:`persona_api.memory.extraction`). Running it beside the API keeps
that work off the API's event loop and embedding thread. Any number of workers may run against one
database: claims are exclusive. ``serve`` starts one by default (``PERSONA_LLM_EXTRACT_WORKER``),
and restarts it when it exits, waiting longer after each quick exit (:class:`Backoff`).

The worker also runs erasure passes (:mod:`persona_api.store.erasure`) over the models folder, so
deleted users leave the artifacts even while no API process runs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from persona_api.capabilities import steps
from persona_api.config import Settings
from persona_api.errors import ConfigurationError
from persona_api.kernel.embed import Embedder
from persona_api.kernel.hotswap import ArtifactLoaders
from persona_api.kernel.scrub import scrubbers
from persona_api.llm.client import config_from_settings
from persona_api.store.db import create_engine
from persona_api.store.erasure import Eraser
from persona_api.wiring import build_runtime

log = logging.getLogger("persona_api.worker")

ERASURE_POLL_SECONDS = 5.0
"""The worker's erasure passes, when ``PERSONA_ARTIFACT_POLL_SECONDS`` is 0 (it has no deletions
to wake it)."""


async def run_worker(settings: Settings, *, embedder: Embedder | None = None) -> None:
    """Extract queued turns until cancelled (SIGTERM and SIGINT cancel it in ``persona-api worker``)."""
    if config_from_settings(settings) is None:
        raise ConfigurationError(
            "the extraction worker needs an LLM: set PERSONA_LLM_BASE_URL and PERSONA_LLM_MODEL"
        )
    engine = create_engine(settings)
    # The API's wiring; this process serves no artifacts and sends every queued turn to the LLM.
    runtime = build_runtime(
        settings, engine=engine, loaders=ArtifactLoaders(), embedder=embedder, queue_turns=True
    )
    worker, llm = runtime.extraction, runtime.llm
    if llm is None:
        raise ConfigurationError("the extraction worker could not build its LLM client")
    eraser = Eraser(engine, runtime.artifacts.store, scrubbers(steps()))
    log.info("memory_worker.started", extra={"database": engine.url.get_backend_name()})
    erasing = asyncio.create_task(eraser.run(settings.artifact_poll_seconds or ERASURE_POLL_SECONDS))
    try:
        await worker.run()
    finally:
        erasing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await erasing
        await llm.aclose()
        await engine.dispose()
        log.info("memory_worker.stopped")


def main(settings: Settings, *, exit_with: int | None = None) -> int:
    """Run :func:`run_worker` until SIGTERM or SIGINT (or, with ``exit_with``, until that process,
    the ``serve`` that started this one, is gone); returns the exit code."""

    import torch

    torch.set_num_threads(1)  # it shares the machine with the API: one core for its model calls
    if settings.llm_extract_nice:
        os.nice(settings.llm_extract_nice)  # and yields the CPU to the API's requests
    return run_until_stopped(lambda: run_worker(settings), exit_with=exit_with, name="memory_worker")


def run_until_stopped(
    work: Callable[[], Coroutine[Any, Any, None]], *, exit_with: int | None, name: str
) -> int:
    """Run ``work()`` until SIGTERM or SIGINT, or (with ``exit_with``) until this process is no longer
    that parent's child; returns the exit code. The worker and the webhook sender both run so."""

    async def supervised() -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            if task is not None:
                loop.add_signal_handler(sig, task.cancel)
        watchdog = asyncio.create_task(_exit_with(exit_with, task, name)) if exit_with and task else None
        with contextlib.suppress(asyncio.CancelledError):
            await work()
        if watchdog is not None:
            watchdog.cancel()

    asyncio.run(supervised())
    return 0


async def _exit_with(parent: int, task: asyncio.Task[None], name: str) -> None:
    """Cancel ``task`` once this process is no longer ``parent``'s child (it died, even by SIGKILL)."""
    while os.getppid() == parent:  # noqa: ASYNC110  # nothing signals a parent's death: poll
        await asyncio.sleep(1.0)
    log.warning(f"{name}.parent_gone", extra={"parent": parent})
    task.cancel()


def wants_process(settings: Settings) -> bool:
    """Whether ``serve`` should start the extraction worker as a process of its own."""
    return bool(
        settings.llm_base_url and settings.llm_extract_memories and settings.llm_extract_worker == "process"
    )


@dataclass
class Backoff:
    """How long to wait before restarting a worker that exited: ``first`` seconds after a quick
    exit, doubling with each quick exit after it up to ``cap``; a worker that stayed up ``reset``
    seconds or more was healthy, and the next wait is ``first`` again."""

    first: float = 1.0
    cap: float = 60.0
    reset: float = 300.0
    _next: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.first <= self.cap:
            raise ValueError("need 0 < first <= cap")
        self._next = self.first

    def after(self, uptime: float) -> float:
        """The wait before the next start, for a worker that ran ``uptime`` seconds."""
        if uptime >= self.reset:
            self._next = self.first
        delay = self._next
        self._next = min(self.cap, 2 * self._next)
        return delay


class Child(Protocol):
    """The part of ``subprocess.Popen`` the supervisor uses."""

    pid: int

    def wait(self, timeout: float | None = None) -> int: ...
    def poll(self) -> int | None: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...


def supervise(
    spawn: Callable[[], Child],
    stopping: threading.Event,
    *,
    backoff: Backoff,
    current: list[Child],
    clock: Callable[[], float] = time.monotonic,
    name: str = "memory_worker",
) -> None:
    """Run ``spawn()`` children one after the other until ``stopping`` is set, waiting between
    them as ``backoff`` says (``stopping.wait`` is the sleep, so a stop ends it at once)."""
    while not stopping.is_set():
        started = clock()
        child = spawn()
        current[:] = [child]
        log.info(f"{name}.spawned", extra={"pid": child.pid})
        code = child.wait()
        if stopping.is_set():
            return
        uptime = clock() - started
        delay = backoff.after(uptime)
        log.warning(
            f"{name}.exited",
            extra={"pid": child.pid, "code": code, "uptime": round(uptime, 3), "restart_in": delay},
        )
        stopping.wait(delay)


@contextlib.contextmanager
def worker_process(settings: Settings, *, backoff: Backoff | None = None) -> Iterator[None]:
    """While the block runs, keep one ``persona-api worker`` child running (restarted with
    :class:`Backoff` if it exits); stop it at the end. Does nothing unless :func:`wants_process`."""
    if not wants_process(settings):
        yield
        return
    with child_process("worker", name="memory_worker", backoff=backoff):
        yield


@contextlib.contextmanager
def sender_process(settings: Settings, *, backoff: Backoff | None = None) -> Iterator[None]:
    """While the block runs, keep one ``persona-api webhooks`` child running, unless the sender is
    run elsewhere (``PERSONA_WEBHOOK_SENDER=external``)."""
    if settings.webhook_sender != "process":
        yield
        return
    with child_process("webhooks", name="webhook_sender", backoff=backoff):
        yield


@contextlib.contextmanager
def child_process(command: str, *, name: str, backoff: Backoff | None = None) -> Iterator[None]:
    """Keep ``persona-api <command> --exit-with <this pid>`` running while the block runs."""
    stopping = threading.Event()
    current: list[Child] = []

    def spawn() -> Child:
        argv = [sys.executable, "-m", "persona_api", command, "--exit-with", str(os.getpid())]
        child: Child = subprocess.Popen(argv)  # noqa: S603  # our own interpreter and fixed arguments
        return child

    supervisor = threading.Thread(
        target=supervise,
        args=(spawn, stopping),
        kwargs={"backoff": backoff or Backoff(), "current": current, "name": name},
        name=f"persona-{command}-supervisor",
        daemon=True,
    )
    supervisor.start()
    try:
        yield
    finally:
        stopping.set()
        for child in current:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
        supervisor.join(timeout=5)
