"""Recommendation latency over HTTP with the Amazon Beauty catalog loaded through the API.

    OPENBLAS_NUM_THREADS=1 HF_HUB_OFFLINE=1 python bench/recommend.py \
        [--data ../shared/data/amazon-beauty] [--database-url URL] [--workdir DIR] [--requests N]

1. The real API runs as a subprocess (``python -m persona_api serve``) on a loopback port.
2. Load: a tenant and key through the admin API; the 12,086 titled items through ``POST /v1/items``
   (batches of 1,000, each title embedded by the service); every user's train and validation items
   through ``POST /v1/interactions`` as NDJSON (batches of 5,000, one event a day per user).
3. Train: ``python -m persona_api reindex`` (the job docs/operations.md describes); the server picks the
   new version up by polling ``models/CURRENT``.
4. Measure ``GET /v1/users/{id}/recommendations?k=10`` for random users: one client in sequence,
   then ``--clients`` concurrent keep-alive clients; also ``POST /v1/recommendations/next`` and
   ``GET /v1/items/{id}/similar``. Latency is client-side; client and server share the 2 cores.

Prints a table, and as the last line one JSON object with the headline figures. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from httpbench import Run, checked, code_version, data_bench_main, drive, run_cli, serving, wait_for_version

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "amazon-beauty"


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def read_beauty(folder: Path) -> tuple[list[dict[str, str]], list[tuple[str, list[str]]]]:
    items = []
    with (folder / "items.tsv").open(encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            idx, _asin, title = line.rstrip("\n").split("\t", 2)
            items.append({"id": f"i{idx}", "title": title})
    users = []
    with (folder / "sequences.tsv").open(encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            _uidx, uid, train, val, _test = line.rstrip("\n").split("\t")
            users.append((uid, [f"i{x}" for x in train.split()] + [f"i{val}"]))
    return items, users


async def load(
    api: httpx.AsyncClient, items: list[dict[str, str]], users: list[tuple[str, list[str]]]
) -> dict[str, float]:
    t0 = time.perf_counter()
    for start in range(0, len(items), 1000):
        checked(await api.post("/v1/items", json=items[start : start + 1000]))
    t_items = time.perf_counter() - t0
    progress(f"{len(items)} items in {t_items:.0f} s")
    base = datetime(2014, 1, 1, tzinfo=UTC)
    lines = [
        json.dumps(
            {"user": uid, "item": it, "type": "purchase", "at": (base + timedelta(days=d)).isoformat()}
        )
        for uid, seq in users
        for d, it in enumerate(seq)
    ]
    t1 = time.perf_counter()
    headers = {"Content-Type": "application/x-ndjson"}
    for start in range(0, len(lines), 5000):
        checked(
            await api.post(
                "/v1/interactions", content="\n".join(lines[start : start + 5000]), headers=headers
            )
        )
    t_events = time.perf_counter() - t1
    progress(f"{len(lines)} interactions in {t_events:.0f} s")
    return {"items_s": t_items, "items": len(items), "events_s": t_events, "events": len(lines)}


async def measure(
    base: str, key: str, users: list[str], items: list[str], args: argparse.Namespace
) -> dict[str, Run]:
    rng = random.Random(0)
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=60
    ) as api:
        picks = [rng.choice(users) for _ in range(args.requests)]
        sessions = [rng.sample(items, 5) for _ in range(args.requests)]

        async def user_call(i: int) -> httpx.Response:
            return await api.get(f"/v1/users/{picks[i]}/recommendations", params={"k": 10})

        async def next_call(i: int) -> httpx.Response:
            return await api.post("/v1/recommendations/next", json={"items": sessions[i], "k": 10})

        async def similar_call(i: int) -> httpx.Response:
            return await api.get(f"/v1/items/{sessions[i][0]}/similar", params={"k": 10})

        await drive(user_call, 50, 1, 60)  # warm-up: connections, model pages, caches
        runs = {
            "user, 1 client": await drive(user_call, args.requests, 1, args.time_limit),
            f"user, {args.clients} clients": await drive(
                user_call, args.requests, args.clients, args.time_limit
            ),
            "session next, 1 client": await drive(next_call, args.requests, 1, args.time_limit),
            "similar items, 1 client": await drive(similar_call, args.requests, 1, args.time_limit),
        }
    return runs


async def run(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    items, users = read_beauty(args.data)
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    admin_token = "bench-admin-token-0123456789"
    with serving(workdir, url, admin_token, {"PERSONA_ARTIFACT_POLL_SECONDS": "1"}) as (base, startup):
        progress(f"server up in {startup:.1f} s at {base}")
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {admin_token}"}, timeout=600
        ) as admin:
            known = checked(await admin.get("/v1/admin/tenants", params={"limit": 500}))["items"]
            reuse = [t["id"] for t in known if t["name"] == "beauty"] if args.reuse else []
            tenant = (
                reuse[0]
                if reuse
                else checked(await admin.post("/v1/admin/tenants", json={"name": "beauty"}))["id"]
            )
            key = checked(await admin.post(f"/v1/admin/tenants/{tenant}/keys", json={"name": "bench"}))["key"]
        if reuse:
            progress(f"reusing the loaded tenant {tenant} and the trained model in {workdir}")
            async with httpx.AsyncClient(base_url=base) as api:
                await wait_for_version(api)
            runs = await measure(base, key, [u for u, _ in users], [i["id"] for i in items], args)
            return {
                "loaded": {
                    "items": len(items),
                    "events": 0,
                    "items_s": float("nan"),
                    "events_s": float("nan"),
                },
                "train_s": float("nan"),
                "runs": runs,
            }
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=600
        ) as api:
            loaded = await load(api, items, users)
            progress("training (persona-api reindex) ...")
            train_s = await asyncio.to_thread(run_cli, workdir, url, admin_token, "reindex")
            version = await wait_for_version(api)
            progress(f"trained in {train_s:.0f} s; serving {version}")
        runs = await measure(base, key, [u for u, _ in users], [i["id"] for i in items], args)
    return {"loaded": loaded, "train_s": train_s, "runs": runs}


def report(result: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    loaded, runs = result["loaded"], result["runs"]
    print(f"\nrecommendation latency over HTTP, code {code_version()}")
    print(f"{loaded['items']} items, {loaded['events']} interactions, reindex {result['train_s']:.0f} s")
    print(
        f"load: items {loaded['items'] / loaded['items_s']:.0f}/s (embedded), "
        f"interactions {loaded['events'] / loaded['events_s']:.0f}/s"
    )
    print(f"{'request':<28}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>8}{'errors':>8}")
    for name, r in runs.items():
        print(
            f"{name:<28}{len(r.latencies):>6}{r.pct(50):>9.1f}{r.pct(95):>9.1f}{r.pct(99):>9.1f}{r.rate:>8.1f}{len(r.errors):>8}"
        )
    one, many = runs["user, 1 client"], runs[f"user, {args.clients} clients"]
    return {
        "p50_ms": round(one.pct(50), 2),
        "p95_ms": round(one.pct(95), 2),
        "p99_ms": round(one.pct(99), 2),
        f"p99_ms_{args.clients}_clients": round(many.pct(99), 2),
        f"rps_{args.clients}_clients": round(many.rate, 1),
        "train_s": round(result["train_s"], 1),
    }


def main() -> None:
    data_bench_main(
        __doc__,
        data=DEFAULT_DATA,
        marker="sequences.tsv",
        source="../shared/data/amazon-beauty/SOURCE.md",
        requests=1000,
        clients=16,
        run=run,
        report=report,
    )


if __name__ == "__main__":
    main()
