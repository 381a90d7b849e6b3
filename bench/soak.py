"""A soak test of the whole service: a mixed workload at a fixed share of its measured saturation,
for half an hour, with a re-index in the middle.

    OPENBLAS_NUM_THREADS=1 HF_HUB_OFFLINE=1 nice -n 5 python bench/soak.py \
        [--minutes 30] [--share 0.5] [--database sqlite|postgresql+asyncpg://...] [--workdir DIR]

1. Two subprocesses: the instant OpenAI-compatible LLM of ``chat_overhead.py`` (chats get "OK.",
   extraction requests one memory quoting the turn) and the real API (``python -m persona_api
   serve``), which starts its LLM memory-extraction worker as a process of its own.
2. Seed, over HTTP: a tenant and key; ``--items`` titled items in eight categories; ``--users``
   users, each with a history of interactions in one or two favourite categories, a partner, a
   session, a value profile and ``--memories`` memories (``memory_search.py``'s sentences); five
   comparisons each for a fifth of them. Then ``persona-api reindex``, so that recommendations come
   from the trained model and the preference population model is trained.
3. Saturation: ``--clients`` closed-loop clients run the mix for ``--saturation-seconds``; the
   rate they complete is the maximum sustainable throughput of the mix. The extraction queue they
   leave is drained before the soak.
4. Soak: open-loop Poisson arrivals at ``--share`` of that rate for ``--minutes``, drawn from the
   mix (memory searches, recommendations, chats; writes of memories, turns, comparisons and
   interactions). Latency runs from each request's scheduled start, so a stall counts for every
   request it delays. At ``--reindex-at`` minutes ``persona-api reindex`` runs beside the server,
   which hot-swaps the version it publishes. At the end of every minute: the RSS of the server and
   of its child processes (from /proc), the database's size, the artifact folder's size and the
   turns queued for extraction.

Targets: no 5xx; the p99 of the last ``--window`` minutes at most 20% above the p99 of the first
``--window`` minutes after the ``--warmup``; RSS (server and workers) less than 10% higher at the
end than at the end of the warm-up. Prints tables, and as the last line one JSON object with
everything and the verdicts. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from chat_overhead import QUERIES, drain_time, instant_llm, progress
from httpbench import checked, code_version, run_and_report, run_cli, service_env, serving, wait_for_version
from memory_search import Corpus
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

# Shares of the arrivals; reads first, then writes.
MIX = {
    "search": 0.22,
    "recommend": 0.22,
    "chat": 0.12,
    "memory": 0.10,
    "turns": 0.12,
    "comparison": 0.08,
    "interactions": 0.14,
}
CATEGORIES = {
    "camping": ("tent", "sleeping bag", "camping stove", "headlamp", "camp chair", "water filter"),
    "kitchen": ("tea kettle", "chef's knife", "cast iron pan", "spice grinder", "rice cooker", "teapot"),
    "books": ("science fiction novel", "cookbook", "travel guide", "poetry collection", "atlas", "memoir"),
    "garden": ("watering can", "pruning shears", "seed tray", "hose reel", "trowel", "compost bin"),
    "fitness": ("yoga mat", "kettlebell", "jump rope", "foam roller", "running vest", "resistance band"),
    "music": ("ukulele", "metronome", "guitar strap", "harmonica", "music stand", "headphones"),
    "travel": ("carry-on bag", "packing cubes", "neck pillow", "passport wallet", "adapter plug", "daypack"),
    "toys": ("wooden puzzle", "kite", "board game", "building blocks", "plush fox", "marble run"),
}
ADJECTIVES = ("compact", "classic", "lightweight", "deluxe", "handmade", "weatherproof")
EDITIONS = ("standard", "travel", "family", "pro")
SEED_KINDS = ("view", "view", "click", "add_to_cart", "purchase", "like")
SOAK_KINDS = ("view", "view", "view", "click", "add_to_cart", "purchase", "like", "dislike")
OPTIONS = (
    "Hiking up a mountain trail",
    "Shopping for designer handbags",
    "Kayaking on a quiet river",
    "A day at the mall",
    "Reading in a hammock",
    "A loud nightclub",
    "Cooking a long dinner with friends",
    "Watching a football match in a bar",
    "Visiting a modern art museum",
    "A weekend of video games",
    "Camping under the stars",
    "A spa day in the city",
)


# --- the tenant's data -------------------------------------------------------------------------------
def catalog(n: int) -> list[dict[str, Any]]:
    """``n`` items spread over the categories, each with its own title."""
    names = list(CATEGORIES)
    items = []
    for i in range(n):
        category, j = names[i % len(names)], i // len(names)
        nouns = CATEGORIES[category]
        adjective = ADJECTIVES[j % len(ADJECTIVES)]
        noun = nouns[(j // len(ADJECTIVES)) % len(nouns)]
        edition = EDITIONS[(j // (len(ADJECTIVES) * len(nouns))) % len(EDITIONS)]
        title = f"{adjective.capitalize()} {noun}, {edition} edition"
        items.append({"id": f"item-{i}", "title": title, "attributes": {"category": category}})
    return items


@dataclass
class World:
    """The seeded tenant: its users and the items each of them favours."""

    users: list[str]
    names: list[str]
    favourites: list[list[str]]
    chat_sessions: dict[int, str] = field(default_factory=dict)


def world(users: int, items: list[dict[str, Any]], rng: random.Random) -> World:
    by_category: dict[str, list[str]] = {}
    for item in items:
        by_category.setdefault(item["attributes"]["category"], []).append(item["id"])
    favourites = []
    for _ in range(users):
        chosen = rng.sample(sorted(by_category), rng.randint(1, 2))
        favourites.append([i for c in chosen for i in by_category[c]])
    return World([f"soak-{u}" for u in range(users)], [f"User{u}" for u in range(users)], favourites)


async def each(count: int, call: Any, concurrency: int = 4) -> None:
    """``call(i)`` for every ``i < count``, ``concurrency`` at a time; any failure stops the seed."""
    counter = iter(range(count))

    async def worker() -> None:
        for i in counter:
            await call(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def seed(api: httpx.AsyncClient, args: argparse.Namespace) -> World:
    rng, corpus = random.Random(0), Corpus(0)
    items = catalog(args.items)
    for begin in range(0, len(items), 1000):
        checked(await api.post("/v1/items", json=items[begin : begin + 1000]))
    w = world(args.users, items, rng)

    async def person(u: int) -> None:
        user, base = w.users[u], f"/v1/users/{w.users[u]}"
        checked(await api.post("/v1/users", json={"id": user, "metadata": {"name": w.names[u]}}))
        checked(await api.post(f"{base}/partners", json={"id": "friend", "name": f"Friend of {w.names[u]}"}))
        checked(await api.post(f"{base}/sessions", json={"id": "main", "partners": ["friend"]}))
        tone = {"dimension": "style", "subdimension": "tone", "preference": "warm and brief"}
        checked(await api.put(f"{base}/values", json={"preferences": [tone]}))
        for _ in range(args.memories):
            draft = corpus.memory((w.names[u],))
            checked(await api.post(f"{base}/memories", json={"text": draft.text}))

    await each(args.users, person)
    # One after another: concurrent first uses of an option text race in the service (see
    # docs/benchmarks.md, "Soak"); once stored, the soak's comparisons reuse these texts.
    for u in range(args.users // 5):
        pairs = [rng.sample(OPTIONS, 2) for _ in range(5)]
        comparisons = [
            {"id": f"seed-{k}", "chosen": {"text": a}, "rejected": {"text": b}}
            for k, (a, b) in enumerate(pairs)
        ]
        checked(await api.post(f"/v1/users/{w.users[u]}/comparisons", json={"comparisons": comparisons}))
    start = datetime.now(UTC) - timedelta(days=90)
    events = []
    for u, user in enumerate(w.users):
        history = rng.sample(w.favourites[u], min(len(w.favourites[u]), rng.randint(6, 16)))
        for d, item in enumerate(history):
            at = (start + timedelta(days=d, minutes=u)).isoformat()
            events.append(
                {"user": user, "item": item, "type": rng.choice(SEED_KINDS), "at": at, "id": f"s{d}"}
            )
    for begin in range(0, len(events), 5000):
        checked(await api.post("/v1/interactions", json=events[begin : begin + 5000]))
    progress(f"seeded {len(items)} items, {args.users} users, {len(events)} interactions")
    return w


# --- the workload ------------------------------------------------------------------------------------
@dataclass
class Sample:
    op: str
    at: float
    """Scheduled start, seconds after the phase began."""
    latency: float
    """Seconds from the scheduled start to the answer."""
    lag: float
    """Seconds the request was sent after its scheduled start (the client's own delay)."""
    status: str
    """The HTTP status code, or the transport error's class name."""


class Workload:
    """One request of each kind of the mix, for a random seeded user."""

    def __init__(self, api: httpx.AsyncClient, w: World, seed: int) -> None:
        self.api, self.w = api, w
        self.rng, self.corpus = random.Random(seed), Corpus(seed)
        self.serial = itertools.count()
        self.ops, self.weights = list(MIX), list(MIX.values())

    def pick(self) -> str:
        return self.rng.choices(self.ops, weights=self.weights)[0]

    async def timed(self, op: str, scheduled: float, origin: float) -> Sample:
        sent = time.perf_counter()
        try:
            response = await self.call(op)
            status = str(response.status_code)
            if not response.is_success:
                problem = response.json().get("type", "") if response.text.startswith("{") else ""
                status += f" {problem.rsplit(':', 1)[-1]}" if problem else ""
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        return Sample(op, scheduled - origin, time.perf_counter() - scheduled, sent - scheduled, status)

    async def call(self, op: str) -> httpx.Response:
        u, rng, k = self.rng.randrange(len(self.w.users)), self.rng, next(self.serial)
        base = f"/v1/users/{self.w.users[u]}"
        if op == "search":
            query = self.corpus.query() if rng.random() < 0.5 else rng.choice(QUERIES)
            return await self.api.post(f"{base}/memories/search", json={"query": query, "k": 10})
        if op == "recommend":
            return await self.api.get(f"{base}/recommendations", params={"k": 10})
        if op == "chat":
            session = self.w.chat_sessions.get(u)
            body: dict[str, Any] = {"messages": [{"role": "user", "content": rng.choice(QUERIES)}]}
            if session:
                body["session"] = session
            response = await self.api.post(f"{base}/chat", json=body)
            if response.is_success and not session:
                self.w.chat_sessions[u] = response.json()["session"]
            return response
        if op == "memory":
            draft = self.corpus.memory((self.w.names[u],))
            return await self.api.post(f"{base}/memories", json={"text": draft.text})
        if op == "turns":
            turns = [
                {"id": f"t{k}a", "speaker": "friend", "text": self.corpus.line()},
                {"id": f"t{k}b", "speaker": "user", "text": self.corpus.line()},
            ]
            return await self.api.post(f"{base}/sessions/main/turns", json={"turns": turns})
        if op == "comparison":
            a, b = rng.sample(OPTIONS, 2)
            comparison = {"id": f"c{k}", "chosen": {"text": a}, "rejected": {"text": b}}
            return await self.api.post(f"{base}/comparisons", json={"comparisons": [comparison]})
        events = [
            {
                "user": self.w.users[u],
                "item": rng.choice(self.w.favourites[u]),
                "type": rng.choice(SOAK_KINDS),
            }
            | {"id": f"e{k}-{j}"}
            for j in range(rng.randint(1, 3))
        ]
        return await self.api.post("/v1/interactions", json=events)


async def closed_loop(work: Workload, clients: int, seconds: float) -> tuple[float, list[Sample]]:
    """``clients`` clients each sending the next request as soon as the last is answered, for
    ``seconds``; returns the rate of 2xx answers and every sample."""
    origin = time.perf_counter()
    samples: list[Sample] = []

    async def client() -> None:
        while (now := time.perf_counter()) < origin + seconds:
            samples.append(await work.timed(work.pick(), now, origin))

    await asyncio.gather(*(client() for _ in range(clients)))
    return sum(1 for s in samples if s.status[0] == "2") / (time.perf_counter() - origin), samples


async def open_loop(work: Workload, rate: float, seconds: float, origin: float) -> list[Sample]:
    """Poisson arrivals at ``rate`` per second from ``origin``, each sent whatever is in flight."""
    arrivals, samples = random.Random(1), []
    in_flight: set[asyncio.Task[None]] = set()

    async def one(op: str, scheduled: float) -> None:
        samples.append(await work.timed(op, scheduled, origin))

    t = arrivals.expovariate(rate)
    while t < seconds:
        await asyncio.sleep(max(0.0, origin + t - time.perf_counter()))
        task = asyncio.create_task(one(work.pick(), origin + t))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        t += arrivals.expovariate(rate)
    if in_flight:
        await asyncio.wait(in_flight)
    return samples


# --- what is watched ---------------------------------------------------------------------------------
def _parents() -> dict[int, int]:
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            table[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return table


def server_pid() -> int:
    """The ``persona-api serve`` subprocess of this process."""
    for pid, parent in _parents().items():
        if parent == os.getpid():
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if b"persona_api" in args and b"serve" in args:
                return pid
    raise RuntimeError("no persona-api serve process among this process's children")


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_s(pid: int) -> float:
    """User and system CPU seconds ``pid`` has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_usage(pid: int) -> tuple[float, float, float, float]:
    """RSS (MB) and CPU seconds of ``pid``, and their sums over its descendants (the worker)."""
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    below, stack = [], list(children.get(pid, []))
    while stack:
        below.append(stack.pop())
        stack.extend(children.get(below[-1], []))
    return rss_mb(pid), sum(rss_mb(p) for p in below), cpu_s(pid), sum(cpu_s(p) for p in below)


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20 if path.exists() else 0.0


@dataclass
class Minute:
    minute: int
    server_rss_mb: float
    workers_rss_mb: float
    database_mb: float
    wal_mb: float
    artifacts_mb: float
    queued_turns: int
    server_cpu_s: float
    """Cumulative: the per-minute rows show the server's CPU milliseconds per request."""
    workers_cpu_s: float
    load1: float
    """The host's 1-minute load average (how contended the cores were)."""


class Watcher:
    """Samples the server's processes, the database and the artifact folder."""

    def __init__(self, url: str, sqlite_file: Path | None, models: Path, pid: int) -> None:
        self.engine = create_async_engine(url, poolclass=NullPool)
        self.sqlite_file, self.models, self.pid = sqlite_file, models, pid

    async def sample(self, minute: int) -> Minute:
        async with self.engine.connect() as conn:
            queued = text("SELECT count(*) FROM memory_extractions WHERE status = 'pending'")
            pending = int((await conn.execute(queued)).scalar_one())
            if self.sqlite_file is None:
                size = text("SELECT pg_database_size(current_database())")
                database, wal = int((await conn.execute(size)).scalar_one()) / 2**20, 0.0
        if self.sqlite_file is not None:
            wal_file = self.sqlite_file.with_name(self.sqlite_file.name + "-wal")
            database = self.sqlite_file.stat().st_size / 2**20
            wal = wal_file.stat().st_size / 2**20 if wal_file.exists() else 0.0
        server, workers, server_cpu, workers_cpu = tree_usage(self.pid)
        artifacts, load = folder_mb(self.models), os.getloadavg()[0]
        return Minute(
            minute, server, workers, database, wal, artifacts, pending, server_cpu, workers_cpu, load
        )

    async def every_minute(self, origin: float, minutes: int, out: list[Minute]) -> None:
        for m in range(minutes + 1):
            await asyncio.sleep(max(0.0, origin + 60 * m - time.perf_counter()))
            out.append(await self.sample(m))


async def reindex_midway(
    api: httpx.AsyncClient, origin: float, at: float, end: float, workdir: Path, url: str, token: str
) -> dict[str, Any]:
    """``persona-api reindex`` at ``at`` seconds after ``origin``: how long the job ran and when the
    server swapped its version in. A job still running at ``end`` is stopped (and reported so)."""
    await asyncio.sleep(max(0.0, origin + at - time.perf_counter()))
    before = (await api.get("/readyz")).json().get("artifact_version")
    progress("re-index (persona-api reindex) beside the soak ...")
    started, result = time.perf_counter(), {"at_min": round(at / 60, 2)}
    with (workdir / "reindex-midway.log").open("w") as log:
        job = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "persona_api",
            "reindex",
            env=service_env(workdir, url, token),
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            code = await asyncio.wait_for(job.wait(), max(1.0, origin + end - time.perf_counter()))
        except TimeoutError:
            job.terminate()
            await job.wait()
            return result | {"failed": f"still running after {time.perf_counter() - started:.0f} s; stopped"}
    result["job_s"] = round(time.perf_counter() - started, 1)
    if code:
        return result | {"failed": f"exit {code}, see reindex-midway.log"}
    while (version := (await api.get("/readyz")).json().get("artifact_version")) == before:
        if time.perf_counter() > origin + end + 60:
            return result | {"failed": "never swapped in"}
        await asyncio.sleep(0.5)
    result["swapped_s"] = round(time.perf_counter() - started, 1)
    progress(
        f"re-index took {result['job_s']:.0f} s; {version} served {result['swapped_s']:.0f} s after its start"
    )
    return result


# --- the run -----------------------------------------------------------------------------------------
async def run(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    sqlite_file = workdir / "soak.db" if args.database == "sqlite" else None
    url = f"sqlite+aiosqlite:///{sqlite_file}" if sqlite_file else args.database
    if args.reset_database and not sqlite_file:
        await reset_schema(url)
    token = "bench-admin-token-0123456789"
    with instant_llm(workdir) as llm:
        env = {
            "PERSONA_LLM_BASE_URL": llm,
            "PERSONA_LLM_MODEL": "instant",
            "PERSONA_ARTIFACT_POLL_SECONDS": "2",
        }
        with serving(workdir, url, token, env) as (base, startup):
            progress(f"server up in {startup:.1f} s at {base}; instant LLM at {llm}")
            admin_auth = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(base_url=base, headers=admin_auth, timeout=60) as admin:
                tenant = checked(await admin.post("/v1/admin/tenants", json={"name": "soak"}))["id"]
                key = checked(await admin.post(f"/v1/admin/tenants/{tenant}/keys", json={"name": "soak"}))[
                    "key"
                ]
            auth = {"Authorization": f"Bearer {key}"}
            # The seed's batches embed hundreds of texts: a patient client for them.
            async with httpx.AsyncClient(base_url=base, headers=auth, timeout=900) as loader:
                w = await seed(loader, args)
                progress("training (persona-api reindex) ...")
                train_s = await asyncio.to_thread(run_cli, workdir, url, token, "reindex")
                await wait_for_version(loader)
            limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
            async with httpx.AsyncClient(base_url=base, headers=auth, limits=limits, timeout=60) as api:
                return await soak(api, w, workdir, url, token, sqlite_file, args) | {
                    "startup_s": round(startup, 1),
                    "train_s": round(train_s, 1),
                }


async def soak(
    api: httpx.AsyncClient,
    w: World,
    workdir: Path,
    url: str,
    token: str,
    sqlite_file: Path | None,
    args: argparse.Namespace,
) -> dict[str, Any]:
    work = Workload(api, w, seed=2)
    await drain_time(url)
    progress(f"saturation: {args.clients} closed-loop clients for {args.saturation_seconds:.0f} s ...")
    answered, closed = await closed_loop(work, args.clients, args.saturation_seconds)
    backlog = await drain_time(url)
    # The mix's chats and turns leave extraction work behind, done by the worker once the clients
    # stop: the sustainable rate counts the time that takes too.
    duration = closed[-1].at + closed[-1].latency if closed else args.saturation_seconds
    saturation = answered * duration / (duration + backlog[1])
    progress(
        f"closed loop {answered:.1f} req/s; {backlog[0]} turns queued for extraction, drained in "
        f"{backlog[1]:.0f} s; sustainable {saturation:.1f} req/s"
    )
    rate = args.share * saturation
    watcher = Watcher(url, sqlite_file, workdir / "models", server_pid())
    progress(f"soak: {rate:.1f} req/s for {args.minutes} min (re-index at minute {args.reindex_at:g}) ...")
    minutes: list[Minute] = []
    origin = time.perf_counter() + 1.0
    watch = asyncio.create_task(watcher.every_minute(origin, args.minutes, minutes))
    reindex = asyncio.create_task(
        reindex_midway(api, origin, args.reindex_at * 60, args.minutes * 60, workdir, url, token)
    )
    samples = await open_loop(work, rate, args.minutes * 60.0, origin)
    await watch
    await watcher.engine.dispose()
    return {
        "saturation_rps": saturation,
        "closed_loop_rps": answered,
        "saturation_errors": Counter(s.status for s in closed if s.status[0] != "2"),
        "extraction_backlog": backlog,
        "rate": rate,
        "samples": samples,
        "minutes": minutes,
        "reindex": await reindex,
    }


async def reset_schema(url: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


# --- the report --------------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)) * 1e3, 1) if values else float("nan")


def summary(samples: list[Sample]) -> dict[str, Any]:
    """Count, errors and latency percentiles of the answered (2xx) requests."""
    ok = [s.latency for s in samples if s.status[0] == "2"]
    return {
        "n": len(samples),
        "errors": len(samples) - len(ok),
        "p50_ms": pct(ok, 50),
        "p95_ms": pct(ok, 95),
        "p99_ms": pct(ok, 99),
        "lag_p99_ms": pct([s.lag for s in samples], 99),
    }


def table(title: str, rows: list[dict[str, Any]], columns: dict[str, str]) -> None:
    """``columns``: key -> format (width, precision); the key is the header."""
    widths = {key: max(len(key), int(spec.split(".")[0])) + 2 for key, spec in columns.items()}
    print(f"\n{title:<14}" + "".join(f"{key:>{widths[key]}}" for key in columns))
    for row in rows:
        cells = (
            f"{row.get(k, float('nan')):>{widths[k]}.{spec.split('.')[1]}f}" for k, spec in columns.items()
        )
        print(f"{row['name']!s:<14}" + "".join(cells))


def windows(args: argparse.Namespace) -> tuple[tuple[int, int], tuple[int, int]]:
    """The first window after the warm-up and the last one, as [start, end) minutes; shorter than
    ``--window`` when the run leaves less than two windows after the warm-up."""
    span = max(1, min(args.window, (args.minutes - args.warmup) // 2))
    return (args.warmup, args.warmup + span), (args.minutes - span, args.minutes)


def verdicts(
    samples: list[Sample], minutes: dict[int, Minute], args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    first, last = windows(args)
    p99_first = summary([s for s in samples if first[0] <= s.at / 60 < first[1]])["p99_ms"]
    p99_last = summary([s for s in samples if last[0] <= s.at / 60 < last[1]])["p99_ms"]
    start, end = minutes.get(args.warmup), minutes.get(args.minutes)
    rss_start = start.server_rss_mb + start.workers_rss_mb if start else float("nan")
    rss_end = end.server_rss_mb + end.workers_rss_mb if end else float("nan")
    server_errors = sum(1 for s in samples if s.status[0] == "5")
    return {
        "no_5xx": {"count": server_errors, "pass": server_errors == 0},
        "p99_stable": {
            "first_window_min": list(first),
            "last_window_min": list(last),
            "p99_first_ms": p99_first,
            "p99_last_ms": p99_last,
            "ratio": round(p99_last / p99_first, 3),
            "pass": p99_last <= 1.2 * p99_first,
        },
        "rss_growth": {
            "warmup_end_mb": round(rss_start, 1),
            "end_mb": round(rss_end, 1),
            "growth_pct": round(100 * (rss_end / rss_start - 1), 1),
            "pass": rss_end < 1.1 * rss_start,
        },
    }


def report(result: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    samples: list[Sample] = result["samples"]
    minutes: dict[int, Minute] = {m.minute: m for m in result["minutes"]}
    kind = "SQLite" if args.database == "sqlite" else "PostgreSQL"
    print(f"\nsoak of the whole service on {kind}, code {code_version()}")
    print(
        f"saturation {result['saturation_rps']:.1f} req/s (closed loop of {args.clients} clients "
        f"{result['closed_loop_rps']:.1f} req/s, then the extraction backlog); offered "
        f"{result['rate']:.1f} req/s ({args.share:g} of it) for {args.minutes} min, {len(samples)} requests"
    )
    per_minute = []
    for m in range(1, args.minutes + 1):
        row = {"minute": m} | summary([s for s in samples if m - 1 <= s.at / 60 < m])
        if m in minutes:
            row |= {k: round(v, 1) for k, v in asdict(minutes[m]).items() if k != "minute"}
        if m in minutes and m - 1 in minutes and row["n"]:
            spent = minutes[m].server_cpu_s - minutes[m - 1].server_cpu_s
            row["server_cpu_ms_per_req"] = round(1e3 * spent / row["n"], 1)
            row["workers_cpu_s"] = round(minutes[m].workers_cpu_s - minutes[m - 1].workers_cpu_s, 1)
        per_minute.append(row)
    columns = {"n": "5.0", "errors": "4.0", "p50_ms": "6.1", "p99_ms": "6.1", "lag_p99_ms": "6.1"}
    sizes = {"server_rss_mb": "6.0", "workers_rss_mb": "6.0", "database_mb": "6.1", "wal_mb": "6.1"}
    sizes |= {"artifacts_mb": "6.1", "queued_turns": "5.0", "server_cpu_ms_per_req": "6.1"}
    sizes |= {"workers_cpu_s": "5.1", "load1": "5.1"}
    table("minute", [r | {"name": r["minute"]} for r in per_minute], columns | sizes)
    per_op = {op: summary([s for s in samples if s.op == op]) for op in MIX}
    del columns["lag_p99_ms"]
    table("operation", [r | {"name": op} for op, r in per_op.items()], columns | {"p95_ms": "6.1"})

    errors: dict[str, Counter[str]] = {}
    for s in samples:
        if s.status[0] != "2":
            errors.setdefault(s.status, Counter())[s.op] += 1
    print("\nerrors by status: " + ("none" if not errors else ""))
    for status, ops in sorted(errors.items()):
        print(f"  {status}: {ops.total()} ({', '.join(f'{op} {n}' for op, n in sorted(ops.items()))})")
    if result["saturation_errors"]:
        print(f"errors during the saturation phase: {dict(result['saturation_errors'])}")
    start, end = minutes.get(args.warmup), minutes.get(args.minutes)
    growth = {
        key: round(getattr(end, key) - getattr(start, key), 1)
        for key in ("server_rss_mb", "workers_rss_mb", "database_mb", "wal_mb", "artifacts_mb")
        if start and end
    }
    print(
        f"growth from the end of the warm-up (minute {args.warmup}) to the end: "
        + ", ".join(f"{k} {v:+.1f}" for k, v in growth.items())
    )
    print("re-index: " + ", ".join(f"{k} {v}" for k, v in result["reindex"].items()))
    queued, drained = result["extraction_backlog"]
    print(f"extraction backlog after the saturation phase: {queued} turns, drained in {drained:.0f} s")
    targets = verdicts(samples, minutes, args)
    for name, target in targets.items():
        print(
            f"target {name}: {'pass' if target['pass'] else 'FAIL'} ",
            {k: v for k, v in target.items() if k != "pass"},
        )
    return {
        "database": kind,
        "code": code_version(),
        "minutes": args.minutes,
        "share": args.share,
        "users": args.users,
        "items": args.items,
        "saturation_rps": round(result["saturation_rps"], 1),
        "closed_loop_rps": round(result["closed_loop_rps"], 1),
        "offered_rps": round(result["rate"], 1),
        "startup_s": result["startup_s"],
        "train_s": result["train_s"],
        "extraction_backlog": {"turns": queued, "drained_s": round(drained, 1)},
        "per_minute": per_minute,
        "per_operation": per_op,
        "errors": errors,
        "saturation_errors": dict(result["saturation_errors"]),
        "growth": growth,
        "reindex": result["reindex"],
        "targets": targets,
        "pass": all(t["pass"] for t in targets.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=int, default=30, help="length of the soak")
    parser.add_argument("--share", type=float, default=0.5, help="share of the saturation rate offered")
    parser.add_argument(
        "--database",
        default="sqlite",
        help="sqlite (a file in the work folder) or a postgresql+asyncpg:// URL",
    )
    parser.add_argument(
        "--reset-database",
        action="store_true",
        help="drop and recreate the PostgreSQL database's public schema first (everything in it is lost)",
    )
    parser.add_argument("--workdir", type=Path, help="default: a temporary folder")
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--memories", type=int, default=4, help="memories seeded per user")
    parser.add_argument("--clients", type=int, default=8, help="closed-loop clients measuring saturation")
    parser.add_argument("--saturation-seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=int, default=2, help="minutes of the soak before the targets count")
    parser.add_argument(
        "--window", type=int, default=5, help="minutes whose p99 the stability target compares"
    )
    parser.add_argument("--reindex-at", type=float, help="minute of the re-index (default: half-way)")
    args = parser.parse_args()
    if args.reindex_at is None:
        args.reindex_at = args.minutes / 2
    run_and_report(args, run, report)


if __name__ == "__main__":
    main()
