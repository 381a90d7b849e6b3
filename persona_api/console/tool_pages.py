"""Pairings (complete, missing, check, with a user's dislikes) and the models page (artifact
versions, which one serves, a running job, and a re-index button where the deployment allows it)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from persona_api.config import Settings
from persona_api.console.auth import ConsoleUser
from persona_api.errors import Forbidden, PersonaError
from persona_api.http.pairings import pair_out, suggestions_out
from persona_api.kernel.hotswap import ArtifactHolder
from persona_api.pairing.service import Pairer, PairingQuery
from persona_api.store.users import UserService

LOG_NAME = "console-reindex.log"


@get("/pairings", name="console.pairings")
async def pairings_page(console: NamedDependency[ConsoleUser]) -> Template:
    return Template(template_name="pairings.html.j2", context={"console": console, "result": None})


@post("/pairings", status_code=200)
async def run_pairings(
    request: Request[Any, Any, Any],
    console: NamedDependency[ConsoleUser],
    pairer: NamedDependency[Pairer],
    users: NamedDependency[UserService],
) -> Template:
    form = await request.form()
    names = [n.strip() for n in str(form.get("ingredients", "")).replace("\n", ",").split(",") if n.strip()]
    user = str(form.get("user", "")).strip() or None
    context: dict[str, Any] = {"names": names, "user": user, "error": None}
    try:
        user_pk = await users.pk_of(user)
        if not names:
            raise PersonaError("type at least one ingredient")
        context["complete"] = suggestions_out(
            await pairer.suggest(PairingQuery(ingredients=names[:100], k=8, user_id=user_pk))
        )
        if len(names) >= 3:
            missing = PairingQuery(ingredients=names[:100], k=5, user_id=user_pk)
            context["missing"] = suggestions_out(await pairer.suggest(missing, probabilities=True))
        if len(names) >= 2:
            checked = await pairer.check(names[:50], user_pk)
            pairs = [pair_out(p) for p in checked.pairs]
            context["check"] = {
                "score": checked.score,
                "pairs": pairs,
                "advise_against": [p for p in pairs if p.advise_against],
                "avoid": checked.avoid,
            }
    except PersonaError as exc:
        context["error"] = exc.detail
    return Template(template_name="pairings_results.html.j2", context=context)


def _log_tail(folder: Path) -> str:
    """The last progress line of a re-index the console started (tqdm rewrites with ``\\r``)."""
    path = folder / LOG_NAME
    if not path.exists():
        return ""
    text = path.read_text(errors="replace")[-4000:]
    lines = [line.strip() for chunk in text.splitlines() for line in chunk.split("\r") if line.strip()]
    return lines[-1] if lines else ""


def _spawn_reindex(folder: Path) -> subprocess.Popen[bytes]:
    """``persona-api reindex`` in a process of its own (the job never runs inside the API)."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / LOG_NAME).open("w") as log:
        return subprocess.Popen(  # our own interpreter and fixed arguments
            [sys.executable, "-m", "persona_api", "reindex"], stdout=log, stderr=log, start_new_session=True
        )


@get("/models", name="console.models")
async def models_page(request: Request[Any, Any, Any], console: NamedDependency[ConsoleUser]) -> Template:
    settings: Settings = request.app.state.settings
    holder: ArtifactHolder = request.app.state.artifacts
    store = holder.store
    versions = []
    for version in reversed(await asyncio.to_thread(store.versions)):
        try:
            manifest: Any = await asyncio.to_thread(store.manifest, version)
        except Exception:  # a version folder without a readable manifest: listed, not described
            manifest = None
        versions.append({"version": version, "manifest": manifest})
    return Template(
        template_name="models.html.j2",
        context={
            "console": console,
            "versions": versions,
            "serving": holder.current.version if holder.current else None,
            "published": await asyncio.to_thread(store.current_version),
            "running": await asyncio.to_thread(store.job_running),
            "progress": await asyncio.to_thread(_log_tail, settings.var_dir),
            "can_reindex": settings.console_reindex and console.admin,
        },
    )


@post("/models/reindex", status_code=200)
async def start_reindex(request: Request[Any, Any, Any], console: NamedDependency[ConsoleUser]) -> Redirect:
    settings: Settings = request.app.state.settings
    if not (settings.console_reindex and console.admin):
        raise Forbidden("re-indexing from the console is off here (PERSONA_CONSOLE_REINDEX) or not yours")
    holder: ArtifactHolder = request.app.state.artifacts
    running = request.app.state.get("console_reindex")
    if (running is None or running.poll() is not None) and not await asyncio.to_thread(
        holder.store.job_running
    ):
        # Kept on the app (and polled here) so that the finished process is reaped, not leaked.
        request.app.state.console_reindex = await asyncio.to_thread(_spawn_reindex, settings.var_dir)
    return Redirect("/console/models")


HANDLERS = [pairings_page, run_pairings, models_page, start_reindex]
