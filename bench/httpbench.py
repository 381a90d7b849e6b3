"""What the HTTP benchmarks share: the server under test as a subprocess, concurrent drivers and
percentiles. Imported by the scripts in ``bench/`` (run them as ``python bench/<name>.py``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np


# --- the server --------------------------------------------------------------------------------------
def code_version() -> str:
    """The checked-out commit and how many tracked files differ from it (the server imports these)."""
    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
        )
    except OSError:
        return "unknown"
    changed = len(dirty.stdout.splitlines())
    return f"{sha.stdout.strip() or 'unknown'}" + (f" + {changed} modified files" if changed else "")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(workdir: Path, url: str, admin_token: str) -> dict[str, str]:
    """This process's environment without its ``PERSONA_*`` variables, plus the benchmark's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_")}
    env.update(
        PERSONA_DATABASE_URL=url,
        PERSONA_MODELS_DIR=str(workdir / "models"),
        PERSONA_VAR_DIR=str(workdir / "var"),
        PERSONA_ADMIN_TOKEN=admin_token,
        OPENBLAS_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
    )
    return env


@contextmanager
def serving(
    workdir: Path, url: str, admin_token: str, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[str, float]]:
    """Run ``persona-api serve`` on a free loopback port; yields its base URL and start-up seconds."""
    port = free_port()
    env = service_env(workdir, url, admin_token)
    env.update(
        PERSONA_RATE_LIMIT_PER_MINUTE="0",
        PERSONA_ARTIFACT_POLL_SECONDS="0",
        PERSONA_LOG_LEVEL="WARNING",
    )
    env.update(extra_env or {})
    log_path = workdir / "server.log"
    base = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "persona_api", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}"
                    )
                if time.perf_counter() - t0 > 180:
                    raise RuntimeError(f"server not up after 180 s:\n{log_path.read_text()[-3000:]}")
                try:
                    if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            yield base, time.perf_counter() - t0
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_cli(workdir: Path, url: str, admin_token: str, *args: str) -> float:
    """``python -m persona_api <args>`` against the benchmark's database; returns its seconds.
    Output goes to ``<workdir>/<first arg>.log``."""
    env = service_env(workdir, url, admin_token)
    t0 = time.perf_counter()
    with (workdir / f"{args[0]}.log").open("w") as log:
        subprocess.run(
            [sys.executable, "-m", "persona_api", *args],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )
    return time.perf_counter() - t0


async def wait_for_version(api: httpx.AsyncClient, within: float = 300) -> str:
    """The artifact version ``/readyz`` reports, once the server has loaded one and has finished
    preloading the embedding model (which would otherwise compete with the first measurements)."""
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        ready = (await api.get("/readyz")).json()
        version = ready.get("artifact_version")
        if version and ready.get("embedding_model") != "loading":
            return str(version)
        await asyncio.sleep(0.5)
    raise RuntimeError("the server did not load the new model version")


# --- HTTP measurements -------------------------------------------------------------------------------
@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) * 1e3 if self.latencies else float("nan")

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else float("nan")


async def drive(
    call: Callable[[int], Awaitable[httpx.Response]], total: int, clients: int, time_limit: float
) -> Run:
    """``total`` calls spread over ``clients`` concurrent workers, stopping early at ``time_limit``."""
    run, counter = Run(), iter(range(total))
    start = time.perf_counter()
    deadline = start + time_limit

    async def worker() -> None:
        for i in counter:
            if time.perf_counter() > deadline:
                return
            t0 = time.perf_counter()
            try:
                response = await call(i)
            except httpx.HTTPError as exc:
                run.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            if response.is_success:
                run.latencies.append(time.perf_counter() - t0)
            else:
                run.errors.append(f"{response.status_code}: {response.text[:300]}")

    await asyncio.gather(*(worker() for _ in range(clients)))
    run.seconds = time.perf_counter() - start
    return run


def checked(response: httpx.Response) -> Any:
    if not response.is_success:
        raise RuntimeError(
            f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
        )
    return response.json()


def data_bench_main(
    doc: str | None,
    *,
    data: Path,
    marker: str,
    source: str,
    requests: int,
    clients: int,
    run: Callable[[Path, argparse.Namespace], Coroutine[Any, Any, dict[str, Any]]],
    report: Callable[[dict[str, Any], argparse.Namespace], dict[str, Any]],
) -> None:
    """The command line of a benchmark that loads a dataset into a served API, trains and measures.

    ``marker`` is a file that must be in ``--data``; ``source`` names its SOURCE.md for the error.
    ``run(workdir, args)`` does the work (in ``--workdir``, or a temporary folder) and ``report``
    turns its result into the last printed line.
    """
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=data)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in the work folder")
    parser.add_argument("--workdir", type=Path, help="default: a temporary folder")
    parser.add_argument("--requests", type=int, default=requests)
    parser.add_argument("--clients", type=int, default=clients)
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per measured run")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --workdir of an earlier run: skip loading and training, measure again",
    )
    args = parser.parse_args()
    if not (args.data / marker).is_file():
        raise SystemExit(f"no {marker} in {args.data}; pass --data (see {source})")
    run_and_report(args, run, report)


def run_and_report(
    args: argparse.Namespace,
    run: Callable[[Path, argparse.Namespace], Coroutine[Any, Any, Any]],
    report: Callable[[Any, argparse.Namespace], dict[str, Any]],
) -> None:
    """``run`` in ``args.workdir`` (or a temporary folder), then print ``report`` as one JSON line."""
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        result = asyncio.run(run(args.workdir.resolve(), args))
    else:
        with tempfile.TemporaryDirectory(prefix="persona-bench-") as tmp:
            result = asyncio.run(run(Path(tmp), args))
    print(json.dumps(report(result, args)))
