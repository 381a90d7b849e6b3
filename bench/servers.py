"""Which ASGI server runs the workers: uvicorn or granian, with 1 and N workers, on the same app.

Each configuration serves ``persona_api.app:serve_app`` (what ``persona-api serve --workers N``
runs) over a fresh database with one user and 200 memories, and is measured with 16 concurrent
clients on three routes: ``/healthz`` (the framework alone), ``GET /v1/users/{id}`` (a key check
and a database read) and a memory search (the embedding model, the index and the ranker). The
driver runs on the same machine, so the figures compare the servers rather than bound them.

    OPENBLAS_NUM_THREADS=1 HF_HUB_OFFLINE=1 python bench/servers.py [--workers 2] [--seconds 10]

Prints a table and, last, one JSON line. granian is not a dependency: ``pip install granian``
first (the script says so if it is missing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from httpbench import Run, checked, drive, free_port, service_env

ADMIN = "bench-admin-token-0123456789"


def _command(server: str, workers: int, port: int) -> list[str]:
    if server == "uvicorn":
        return [
            *(sys.executable, "-m", "uvicorn", "--factory", "persona_api.app:serve_app"),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-access-log"),
        ]
    return [
        *("granian", "--interface", "asgi", "--factory", "persona_api.app:serve_app"),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-access-log"),
    ]


@contextmanager
def served(server: str, workers: int, workdir: Path, url: str) -> Iterator[str]:
    port = free_port()
    env = service_env(workdir, url, ADMIN) | {
        "PERSONA_RATE_LIMIT_PER_MINUTE": "0",
        "PERSONA_LOG_LEVEL": "WARNING",
        "PERSONA_WEBHOOK_SENDER": "external",
    }
    log = (workdir / f"{server}-{workers}.log").open("w")
    process = subprocess.Popen(_command(server, workers, port), env=env, cwd=workdir, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{server} exited: {(workdir / f'{server}-{workers}.log').read_text()[-2000:]}"
                )
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server} not ready in 180 s")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


async def measure(base: str, key: str, seconds: float, clients: int) -> dict[str, Run]:
    auth = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        queries = ["where does the user live", "which instrument", "what about food", "travel plans"]

        async def healthz(i: int) -> httpx.Response:
            return await http.get("/healthz")

        async def user(i: int) -> httpx.Response:
            return await http.get("/v1/users/bench-user", headers=auth)

        async def search(i: int) -> httpx.Response:
            body = {"query": queries[i % len(queries)], "k": 10}
            return await http.post("/v1/users/bench-user/memories/search", json=body, headers=auth)

        out = {}
        for name, call in (("trivial", healthz), ("user_get", user), ("search", search)):
            await drive(call, clients * 4, clients, 5.0)  # warm every worker (model load, caches)
            out[name] = await drive(call, 10_000_000, clients, seconds)
        return out


def seed(base: str) -> str:
    with httpx.Client(base_url=base, timeout=60) as http:
        admin = {"Authorization": f"Bearer {ADMIN}"}
        tenant = checked(http.post("/v1/admin/tenants", json={"name": "bench"}, headers=admin))["id"]
        key = str(checked(http.post(f"/v1/admin/tenants/{tenant}/keys", json={}, headers=admin))["key"])
        auth = {"Authorization": f"Bearer {key}"}
        topics = ["lives in", "plays the", "likes to cook", "plans a trip to", "works as", "collects"]
        for i in range(200):
            text = f"The bench user {topics[i % len(topics)]} thing number {i}, a detail of its own."
            checked(http.post("/v1/users/bench-user/memories", json={"text": text}, headers=auth))
        return key


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--database-url", help="default: a fresh SQLite file per configuration")
    args = parser.parse_args()
    if shutil.which("granian") is None:
        raise SystemExit("granian is not installed: pip install granian")
    results: dict[str, float] = {}
    rows = []
    for server in ("uvicorn", "granian"):
        for workers in sorted({1, args.workers}):
            with tempfile.TemporaryDirectory(prefix="persona-servers-") as tmp:
                workdir = Path(tmp)
                url = args.database_url or f"sqlite+aiosqlite:///{workdir}/bench.db"
                subprocess.run(
                    [sys.executable, "-m", "persona_api", "migrate"],
                    env=service_env(workdir, url, ADMIN),
                    check=True,
                    capture_output=True,
                )
                with served(server, workers, workdir, url) as base:
                    key = seed(base)
                    runs = asyncio.run(measure(base, key, args.seconds, args.clients))
            for name, run in runs.items():
                tag = f"{server}_{workers}w_{name}"
                results[f"{tag}_rps_{args.clients}c"] = round(run.rate, 1)
                results[f"{tag}_p95_ms"] = round(run.pct(95), 2)
                results[f"{tag}_errors"] = len(run.errors)
                rows.append((server, workers, name, run.rate, run.pct(50), run.pct(95), len(run.errors)))
    print(f"{'server':<9} {'workers':>7} {'route':<9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>6}")
    for server, workers, name, rate, p50, p95, errors in rows:
        print(f"{server:<9} {workers:>7} {name:<9} {rate:>8.1f} {p50:>8.2f} {p95:>8.2f} {errors:>6}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
