"""The service's own overhead per chat request, against an instant loopback LLM.

    OPENBLAS_NUM_THREADS=1 HF_HUB_OFFLINE=1 python bench/chat_overhead.py \
        [--database-url URL] [--workdir DIR] [--requests N] [--users N] [--extraction llm|rules]
        [--worker process|inline] [--clients 1,16]

1. An instant OpenAI-compatible LLM runs as a second subprocess of this script (``--serve-llm``):
   chat requests get "OK." at once (JSON or server-sent events); memory-extraction requests get one
   memory quoting the turn, so the background extraction worker does its real work (embedding,
   deduplication, writing) while the chats are measured.
2. The real API runs as a subprocess (``python -m persona_api serve``, which starts its extraction
   worker as a process of its own unless ``--worker inline``) pointed at it. Each of
   ``--users`` users gets a value profile and ``--memories`` memories, and one chat session.
3. Measure ``POST /v1/users/{id}/chat`` (render the system message with retrieval, record the user's
   turn, call the LLM, record the reply) with 1 and 16 concurrent clients, plain and streamed, and
   as baselines the bare round trip to the instant LLM and ``POST .../system-message`` alone
   (rendering with retrieval, no recording). Client, API and LLM share the 2 cores.
4. With LLM extraction, how many turns were still queued when the runs ended, and how long the
   worker took to extract them.

The overhead is the chat latency minus the bare LLM round trip. Target: overhead p95 under 40 ms.
Prints a table, and as the last line one JSON object with the headline figures. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from httpbench import Run, checked, code_version, drive, free_port, run_and_report, serving

QUERIES = [
    "Any ideas for dinner tonight?",
    "What should I read next?",
    "Plan a relaxed weekend for me.",
    "How do I keep my plants alive while travelling?",
    "Suggest a gift for my sister.",
    "What is a good warm-up before running?",
]
FACTS = [
    "{name} lives in Lisbon and works as a nurse on night shifts.",
    "{name} is vegetarian and loves spicy food.",
    "{name} reads mostly science fiction, lately Ursula K. Le Guin.",
    "{name}'s sister Ana has a birthday in March.",
    "{name} runs 10 km every Sunday morning.",
    "{name} has a cat called Miso and three ficus plants.",
    "{name} is learning Japanese for a trip to Kyoto in autumn.",
    "{name} prefers short, direct answers.",
]


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the instant LLM ---------------------------------------------------------------------------------
def _answer(body: dict[str, Any]) -> str:
    messages = body.get("messages") or [{}]
    if str(messages[0].get("content", "")).startswith("You extract long-term memories"):
        turn = json.loads(messages[-1]["content"])["turn"]
        text = f"{turn['speaker']} said: {turn['text'][:300]}"
        return json.dumps({"memories": [{"text": text, "about": turn["speaker"], "kind": "fact"}]})
    return "OK."


class InstantLLM(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        content, model = _answer(body), body.get("model", "instant")
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        if body.get("stream"):
            events = [
                {
                    "object": "chat.completion.chunk",
                    "model": model,
                    "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
                },
                {
                    "object": "chat.completion.chunk",
                    "model": model,
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                },
                {"object": "chat.completion.chunk", "model": model, "choices": [], "usage": usage},
            ]
            data = (
                b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
            )
            content_type = "text/event-stream"
        else:
            choice = {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
            completion = {"object": "chat.completion", "model": model, "choices": [choice], "usage": usage}
            data, content_type = json.dumps(completion).encode(), "application/json"
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def instant_llm(workdir: Path) -> Any:
    """This script with ``--serve-llm PORT`` as a subprocess; yields the API root."""
    port = free_port()
    with (workdir / "llm.log").open("w") as log:
        proc = subprocess.Popen([sys.executable, __file__, "--serve-llm", str(port)], stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}/v1"
        try:
            for _ in range(100):
                try:
                    httpx.post(f"{base}/chat/completions", json={"messages": []}, timeout=1.0)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=10)


# --- the measurement ---------------------------------------------------------------------------------
async def seed(api: httpx.AsyncClient, args: argparse.Namespace) -> list[str]:
    """Users with values and memories; returns each user's chat session."""
    sessions = []
    for u in range(args.users):
        user, name = f"bench-{u}", f"User{u}"
        checked(await api.post("/v1/users", json={"id": user, "metadata": {"name": name}}))
        values = {
            "preferences": [{"dimension": "style", "subdimension": "tone", "preference": "warm, brief"}]
        }
        checked(await api.put(f"/v1/users/{user}/values", json=values))
        for i in range(args.memories):
            text = FACTS[i % len(FACTS)].format(name=name) + ("" if i < len(FACTS) else f" (note {i})")
            checked(await api.post(f"/v1/users/{user}/memories", json={"text": text}))
        first = checked(
            await api.post(f"/v1/users/{user}/chat", json={"messages": [{"role": "user", "content": "Hi!"}]})
        )
        sessions.append(first["session"])
    return sessions


async def measure(base: str, llm: str, key: str, args: argparse.Namespace) -> dict[str, Run]:
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as api,
        httpx.AsyncClient(base_url=llm, limits=limits, timeout=60) as direct,
    ):
        progress(f"seeding {args.users} users with {args.memories} memories each ...")
        sessions = await seed(api, args)

        def chat(stream: bool) -> Any:
            async def call(i: int) -> httpx.Response:
                u = i % args.users
                body = {
                    "session": sessions[u],
                    "stream": stream,
                    "messages": [{"role": "user", "content": QUERIES[i % len(QUERIES)]}],
                }
                return await api.post(f"/v1/users/bench-{u}/chat", json=body)

            return call

        async def bare(i: int) -> httpx.Response:
            body = {"model": "instant", "messages": [{"role": "user", "content": QUERIES[i % len(QUERIES)]}]}
            return await direct.post("/chat/completions", json=body)

        async def render(i: int) -> httpx.Response:
            body = {"query": QUERIES[i % len(QUERIES)]}
            return await api.post(f"/v1/users/bench-{i % args.users}/system-message", json=body)

        await drive(chat(False), 30, 1, 60)  # warm-up: connections, the embedding model, caches
        runs = {"bare LLM round trip, 1 client": await drive(bare, args.requests, 1, args.time_limit)}
        runs["system message only, 1 client"] = await drive(render, args.requests, 1, args.time_limit)
        for clients in args.clients:
            for stream in (False, True):
                name = f"chat{' stream' if stream else ''}, {plural(clients)}"
                progress(name)
                runs[name] = await drive(chat(stream), args.requests, clients, args.time_limit)
            if clients > 1:
                runs[f"bare LLM round trip, {plural(clients)}"] = await drive(
                    bare, args.requests, clients, args.time_limit
                )
        return runs


def plural(clients: int) -> str:
    return f"{clients} client{'s' if clients > 1 else ''}"


async def run(workdir: Path, args: argparse.Namespace) -> dict[str, Run]:
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    admin_token = "bench-admin-token-0123456789"
    with instant_llm(workdir) as llm:
        env = {
            "PERSONA_LLM_BASE_URL": llm,
            "PERSONA_LLM_MODEL": "instant",
            "PERSONA_LLM_EXTRACT_MEMORIES": "true" if args.extraction == "llm" else "false",
            "PERSONA_LLM_EXTRACT_WORKER": args.worker,
        }
        with serving(workdir, url, admin_token, env) as (base, startup):
            progress(f"server up in {startup:.1f} s at {base}; instant LLM at {llm}")
            async with httpx.AsyncClient(
                base_url=base, headers={"Authorization": f"Bearer {admin_token}"}
            ) as admin:
                tenant = checked(await admin.post("/v1/admin/tenants", json={"name": "chat-bench"}))["id"]
                key = checked(await admin.post(f"/v1/admin/tenants/{tenant}/keys", json={"name": "bench"}))[
                    "key"
                ]
            runs = await measure(base, llm, key, args)
            if args.extraction == "llm" and args.worker != "external":
                args.backlog = await drain_time(url)
            return runs


async def drain_time(url: str, within: float = 600.0) -> tuple[int, float]:
    """Turns still queued for extraction when the measurements end, and the seconds until the
    worker has extracted them all (does it keep up?)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    pending = text("SELECT count(*) FROM memory_extractions WHERE status = 'pending'")
    try:
        started = time.perf_counter()
        async with engine.connect() as conn:
            first = int((await conn.execute(pending)).scalar_one())
        left = first
        while left and time.perf_counter() - started < within:
            await asyncio.sleep(0.5)
            async with engine.connect() as conn:
                left = int((await conn.execute(pending)).scalar_one())
        return first, time.perf_counter() - started if not left else float("inf")
    finally:
        await engine.dispose()


def report(runs: dict[str, Run], args: argparse.Namespace) -> dict[str, Any]:
    print(
        f"\nchat overhead against an instant LLM, code {code_version()}, extraction: {args.extraction}"
        f" ({args.worker} worker)"
    )
    print(f"{'request':<34}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>8}{'errors':>8}")
    for name, r in runs.items():
        print(
            f"{name:<34}{len(r.latencies):>6}{r.pct(50):>9.1f}{r.pct(95):>9.1f}{r.pct(99):>9.1f}"
            f"{r.rate:>8.1f}{len(r.errors):>8}"
        )
        for error in r.errors[:3]:
            print(f"    error: {error}")
    out: dict[str, Any] = {"extraction": args.extraction, "worker": args.worker}
    for clients in args.clients:
        bare = runs[f"bare LLM round trip, {plural(clients)}"]
        for stream in (False, True):
            r = runs[f"chat{' stream' if stream else ''}, {plural(clients)}"]
            tag = f"{'stream_' if stream else ''}{clients}c"
            out[f"overhead_p50_ms_{tag}"] = round(r.pct(50) - bare.pct(50), 2)
            out[f"overhead_p95_ms_{tag}"] = round(r.pct(95) - bare.pct(50), 2)
    out["target_p95_ms"] = 40
    if getattr(args, "backlog", None):
        queued, seconds = args.backlog
        print(f"extraction backlog when the runs ended: {queued} turns, extracted {seconds:.1f} s later")
        out["extraction_backlog_turns"], out["extraction_drain_s"] = queued, round(seconds, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="default: a fresh SQLite file in the work folder")
    parser.add_argument("--workdir", type=Path, help="default: a temporary folder")
    parser.add_argument("--requests", type=int, default=400, help="requests per measured run")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--memories", type=int, default=40, help="memories seeded per user")
    parser.add_argument("--extraction", choices=("llm", "rules"), default="llm")
    parser.add_argument(
        "--worker",
        choices=("process", "inline", "external"),
        default="process",
        help="where LLM extraction runs (PERSONA_LLM_EXTRACT_WORKER; default process; external: no "
        "worker runs and turns stay queued, which shows what the worker's activity costs the API)",
    )
    parser.add_argument(
        "--clients",
        type=lambda v: [int(c) for c in v.split(",")],
        default=[1, 16],
        help="concurrent clients of each chat run, comma-separated (default 1,16)",
    )
    parser.add_argument("--time-limit", type=float, default=90.0, help="seconds per measured run")
    parser.add_argument("--serve-llm", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_llm:
        ThreadingHTTPServer.request_queue_size = 256  # 16 clients connecting at once
        server = ThreadingHTTPServer(("127.0.0.1", args.serve_llm), InstantLLM)
        server.daemon_threads = True
        server.serve_forever()
        return
    run_and_report(args, run, report)


if __name__ == "__main__":
    main()
