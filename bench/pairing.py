"""Pairing latency over HTTP with the Ahn et al. flavor network loaded by ``persona-api demo``.

    OPENBLAS_NUM_THREADS=1 HF_HUB_OFFLINE=1 python bench/pairing.py \
        [--data ../shared/data/flavor-network] [--database-url URL] [--workdir DIR] [--requests N]

1. The real API runs as a subprocess (``python -m persona_api serve``) on a loopback port.
2. Load: a tenant and key through the admin API, then ``persona-api demo load-recipes DIR
   --tenant ID`` (1,530 ingredients with their compounds, 56,498 recipes).
3. Train: ``persona-api reindex``; the server picks the version up by polling ``models/CURRENT``.
4. Measure ``POST /v1/pairings/complete`` (k=10, default mode) for 2-6 ingredients of random
   recipes: one client in sequence, then ``--clients`` concurrent clients; then the flavor mode, a
   user with dislikes and own recipes, ``/missing`` and ``/check``. Client and server share the
   2 cores.

Prints a table, and as the last line one JSON object with the headline figures. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from httpbench import Run, checked, code_version, data_bench_main, drive, run_cli, serving, wait_for_version

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "flavor-network"
RECIPES = "recipes_by_region_s3equiv.csv"


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def read_recipes(folder: Path) -> list[list[str]]:
    with (folder / RECIPES).open(encoding="utf-8") as fh:
        return [line.rstrip("\n").split(",")[1:] for line in fh if not line.startswith("#") and "," in line]


async def measure(base: str, key: str, recipes: list[list[str]], args: argparse.Namespace) -> dict[str, Run]:
    rng = random.Random(0)
    queries = []
    for _ in range(args.requests):
        recipe = rng.choice([r for r in recipes if len(r) >= 3])
        queries.append(rng.sample(recipe, min(len(recipe) - 1, rng.randint(2, 6))))
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=60
    ) as api:
        checked(
            await api.put(
                "/v1/users/bench-user/food-preferences",
                json={"dislikes": ["cilantro"], "allergies": ["peanut", "shrimp"]},
            )
        )
        own = [
            {"id": f"bench-own-{i}", "ingredients": r, "user": "bench-user"}
            for i, r in enumerate(recipes[:50])
        ]
        checked(await api.post("/v1/recipes", json=own))

        def complete(extra: dict[str, Any]) -> Any:
            async def call(i: int) -> httpx.Response:
                return await api.post(
                    "/v1/pairings/complete", json={"ingredients": queries[i], "k": 10, **extra}
                )

            return call

        async def missing(i: int) -> httpx.Response:
            return await api.post("/v1/pairings/missing", json={"ingredients": queries[i]})

        async def check(i: int) -> httpx.Response:
            return await api.post("/v1/pairings/check", json={"ingredients": queries[i]})

        await drive(complete({}), 50, 1, 60)  # warm-up: connections, caches
        return {
            "complete, 1 client": await drive(complete({}), args.requests, 1, args.time_limit),
            f"complete, {args.clients} clients": await drive(
                complete({}), args.requests, args.clients, args.time_limit
            ),
            "complete flavor, 1 client": await drive(
                complete({"mode": "flavor"}), args.requests, 1, args.time_limit
            ),
            "complete + user, 1 client": await drive(
                complete({"user": "bench-user"}), args.requests, 1, args.time_limit
            ),
            "missing, 1 client": await drive(missing, args.requests, 1, args.time_limit),
            "check, 1 client": await drive(check, args.requests, 1, args.time_limit),
        }


async def run(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    recipes = read_recipes(args.data)
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    admin_token = "bench-admin-token-0123456789"
    with serving(workdir, url, admin_token, {"PERSONA_ARTIFACT_POLL_SECONDS": "1"}) as (base, startup):
        progress(f"server up in {startup:.1f} s at {base}")
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {admin_token}"}, timeout=600
        ) as admin:
            known = checked(await admin.get("/v1/admin/tenants", params={"limit": 500}))["items"]
            reuse = [t["id"] for t in known if t["name"] == "flavor"] if args.reuse else []
            tenant = (
                reuse[0]
                if reuse
                else checked(await admin.post("/v1/admin/tenants", json={"name": "flavor"}))["id"]
            )
            key = checked(await admin.post(f"/v1/admin/tenants/{tenant}/keys", json={"name": "bench"}))["key"]
        if reuse:
            progress(f"reusing the loaded tenant {tenant} and the trained model in {workdir}")
            async with httpx.AsyncClient(base_url=base) as api:
                await wait_for_version(api)
            runs = await measure(base, key, recipes, args)
            return {"load_s": float("nan"), "train_s": float("nan"), "recipes": len(recipes), "runs": runs}
        progress("persona-api demo load-recipes ...")
        load_s = await asyncio.to_thread(
            run_cli, workdir, url, admin_token, "demo", "load-recipes", str(args.data), "--tenant", tenant
        )
        progress(f"loaded in {load_s:.0f} s; training (persona-api reindex) ...")
        train_s = await asyncio.to_thread(run_cli, workdir, url, admin_token, "reindex")
        async with httpx.AsyncClient(base_url=base) as api:
            version = await wait_for_version(api)
        progress(f"trained in {train_s:.0f} s; serving {version}")
        runs = await measure(base, key, recipes, args)
    return {"load_s": load_s, "train_s": train_s, "recipes": len(recipes), "runs": runs}


def report(result: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    runs = result["runs"]
    print(f"\npairing latency over HTTP, code {code_version()}")
    print(
        f"{result['recipes']} recipes: demo load {result['load_s']:.0f} s "
        f"({result['recipes'] / result['load_s']:.0f} recipes/s), reindex {result['train_s']:.0f} s"
    )
    print(f"{'request':<30}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>8}{'errors':>8}")
    for name, r in runs.items():
        print(
            f"{name:<30}{len(r.latencies):>6}{r.pct(50):>9.1f}{r.pct(95):>9.1f}{r.pct(99):>9.1f}"
            f"{r.rate:>8.1f}{len(r.errors):>8}"
        )
        for error in r.errors[:3]:
            print(f"    error: {error}")
    one, many = runs["complete, 1 client"], runs[f"complete, {args.clients} clients"]
    return {
        "complete_p50_ms": round(one.pct(50), 2),
        "complete_p99_ms": round(one.pct(99), 2),
        f"complete_p99_ms_{args.clients}_clients": round(many.pct(99), 2),
        f"complete_rps_{args.clients}_clients": round(many.rate, 1),
        "user_p99_ms": round(runs["complete + user, 1 client"].pct(99), 2),
        "train_s": round(result["train_s"], 1),
    }


def main() -> None:
    data_bench_main(
        __doc__,
        data=DEFAULT_DATA,
        marker=RECIPES,
        source="../shared/data/flavor-network/SOURCE.md",
        requests=2000,
        clients=8,
        run=run,
        report=report,
    )


if __name__ == "__main__":
    main()
