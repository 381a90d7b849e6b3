"""The ``persona-api`` command: serve, worker, webhooks, migrate, reindex, erase, mcp, demo."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from persona_api.config import Settings, apply_process_defaults, load_settings
from persona_api.errors import ConfigurationError
from persona_api.logs import configure_logging


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from persona_api.store import migrate
    from persona_api.worker import sender_process, worker_process

    settings = settings.with_overrides(host=args.host or settings.host, port=args.port or settings.port)
    workers = args.workers or settings.worker_count
    if settings.auto_migrate:
        migrate.upgrade(settings.database_url)
    options = {"host": settings.host, "port": settings.port, "log_config": None, "access_log": False}
    # uvicorn re-raises the SIGTERM it handled once it has shut down; exiting through Python (not
    # the default handler) lets the block below stop the extraction worker and the webhook sender.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with worker_process(settings), sender_process(settings):
        if workers == 1:
            from persona_api.app import create_app

            uvicorn.run(create_app(settings), lifespan="on", **options)  # type: ignore[arg-type]
        else:
            # Each worker process builds its own app from the same environment (app.serve_app).
            uvicorn.run("persona_api.app:serve_app", factory=True, workers=workers, lifespan="on", **options)  # type: ignore[arg-type]
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from persona_api.worker import main as worker_main

    try:
        return worker_main(settings, exit_with=args.exit_with)
    except ConfigurationError as exc:
        print(f"persona-api worker: {exc.detail}", file=sys.stderr)
        return 2


def _webhooks(settings: Settings, args: argparse.Namespace) -> int:
    from persona_api.webhooks.sender import run_sender
    from persona_api.worker import run_until_stopped

    return run_until_stopped(lambda: run_sender(settings), exit_with=args.exit_with, name="webhook_sender")


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from persona_api.store import migrate

    if args.downgrade:
        migrate.downgrade(settings.database_url, args.downgrade)
    else:
        migrate.upgrade(settings.database_url, args.revision)
    print(f"database at revision {args.downgrade or args.revision}")
    return 0


def _reindex(settings: Settings, args: argparse.Namespace) -> int:
    from persona_api.capabilities import steps
    from persona_api.jobs.reindex import main as reindex_main

    return reindex_main(settings, steps())


def _erase(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    from persona_api.capabilities import steps
    from persona_api.store.erasure import erase_now

    status = asyncio.run(erase_now(settings, steps(), report_only=args.status))
    oldest = f" (oldest requested {status.oldest_pending.isoformat()})" if status.oldest_pending else ""
    print(f"erasure requests: {status.pending} pending{oldest}, {status.done} done")
    return 0 if status.pending == 0 else 1


def _mcp(settings: Settings, args: argparse.Namespace) -> int:
    from persona_api.config import service_target
    from persona_api.mcp_server import stdio

    base_url, api_key = service_target()
    if not api_key:
        print("persona-api mcp: set PERSONA_API_KEY to a tenant API key", file=sys.stderr)
        return 2
    stdio.run(args.base_url or base_url, api_key)
    return 0


def _demo_load_recipes(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from persona_api.errors import NotFound
    from persona_api.pairing.demo import run_load_recipes
    from persona_api.store import migrate

    if settings.auto_migrate:
        migrate.upgrade(settings.database_url)
    try:
        summary = asyncio.run(run_load_recipes(settings, Path(args.folder), args.tenant))
    except (FileNotFoundError, NotFound) as exc:
        print(f"persona-api demo load-recipes: {exc}", file=sys.stderr)
        return 2
    print(f"tenant {summary.tenant_id}: {summary.ingredients} ingredients, {summary.recipes} recipes")
    if summary.api_key:
        print(f"API key (shown once): {summary.api_key}")
    print("next: persona-api reindex  (trains the pairing model the API then serves)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="persona-api", description="Open personalization service for LLM apps."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP API (applies migrations first unless disabled)")
    serve.add_argument("--host", help="bind address (default PERSONA_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default PERSONA_PORT or 8000)")
    serve.add_argument(
        "--workers",
        type=int,
        help="processes behind the port (default PERSONA_WORKERS; else 1 on SQLite, 1 per core on PG)",
    )
    serve.set_defaults(handler=_serve)
    worker = sub.add_parser(
        "worker", help="extract memories from queued turns with the LLM (serve starts one by default)"
    )
    worker.add_argument("--exit-with", type=int, metavar="PID", help=argparse.SUPPRESS)
    worker.set_defaults(handler=_worker)
    webhooks = sub.add_parser("webhooks", help="deliver webhook events (serve starts one by default)")
    webhooks.add_argument("--exit-with", type=int, metavar="PID", help=argparse.SUPPRESS)
    webhooks.set_defaults(handler=_webhooks)
    mig = sub.add_parser("migrate", help="apply database migrations")
    mig.add_argument("--revision", default="head", help="target revision (default head)")
    mig.add_argument("--downgrade", metavar="REVISION", help="revert to REVISION instead (e.g. base)")
    mig.set_defaults(handler=_migrate)
    reindex = sub.add_parser("reindex", help="retrain models and publish a new artifact version")
    reindex.set_defaults(handler=_reindex)
    erase = sub.add_parser(
        "erase", help="remove deleted users from the kept artifact versions now; exit 1 if some remain"
    )
    erase.add_argument("--status", action="store_true", help="only report the pending and done requests")
    erase.set_defaults(handler=_erase)
    mcp = sub.add_parser(
        "mcp", help="serve the MCP tools over stdio to a running service (PERSONA_BASE_URL, PERSONA_API_KEY)"
    )
    mcp.add_argument("--base-url", help="the service (default PERSONA_BASE_URL or http://127.0.0.1:8000)")
    mcp.set_defaults(handler=_mcp)
    demo = sub.add_parser("demo", help="load public demo data").add_subparsers(dest="demo", required=True)
    recipes = demo.add_parser(
        "load-recipes", help="load the Ahn et al. flavor-network files (recipes, ingredients, compounds)"
    )
    recipes.add_argument(
        "folder", metavar="DIR", help="folder with recipes_by_region_s3equiv.csv and the tsv files"
    )
    recipes.add_argument(
        "--tenant", help="load into this tenant id (default: create a tenant and print its key)"
    )
    recipes.set_defaults(handler=_demo_load_recipes)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    apply_process_defaults()
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        print(f"persona-api: configuration error: {exc.detail}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, json_lines=settings.log_json)
    handler = args.handler
    return int(handler(settings, args))


if __name__ == "__main__":
    raise SystemExit(main())
