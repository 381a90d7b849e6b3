"""A user's recommendations, preference latent (with the next question, answerable here), and value
profile with a preview of the system message it renders into."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from persona_api.chat.system import SystemMessages
from persona_api.console.auth import ConsoleUser
from persona_api.console.svg import latent_plot
from persona_api.errors import InvalidInput, NotFound, PersonaError
from persona_api.http.preference_views import latent_out, option_out
from persona_api.http.recs import recommendations
from persona_api.http.system_message import system_message_out
from persona_api.preferences.comparisons import ComparisonIn
from persona_api.preferences.options import OptionIn
from persona_api.preferences.service import Preferences
from persona_api.recsys.events import Events
from persona_api.recsys.service import Query, Recommender
from persona_api.store.tables import User
from persona_api.values.service import DIMENSIONS, Preference, ValueProfiles

EMPTY_ROWS = 3


@get("/users/{user_id:str}/recommendations", name="console.recommendations")
async def recommendations_page(
    user_id: FromPath[str],
    console: NamedDependency[ConsoleUser],
    user: NamedDependency[User],
    recommender: NamedDependency[Recommender],
    events: NamedDependency[Events],
    k: FromQuery[int] = 10,
) -> Template:
    recs = recommendations(await recommender.for_user(user_id, Query(k=min(max(k, 1), 100))), user=user_id)
    recent, n_events = await events.interactions_of(user, limit=20, offset=0)
    try:
        code: Any = await recommender.user_code(user)
    except PersonaError as exc:  # no trained model yet
        code = exc.detail
    return Template(
        template_name="recommendations.html.j2",
        context={
            "console": console,
            "user_id": user_id,
            "tab": "recommendations",
            "recs": recs,
            "recent": recent,
            "n_events": n_events,
            "code": code,
        },
    )


async def _candidates(preferences: Preferences, user: User) -> list[str]:
    """The texts of the options this user has compared, newest first (the page's default pool)."""
    rows, _ = await preferences.comparisons.list_comparisons(user.id, limit=50, offset=0)
    seen: dict[str, None] = {}
    for _, a, b in rows:
        for option in (a, b):
            if option.kind == "text" and option.text:
                seen.setdefault(option.text, None)
    return list(seen)


@get("/users/{user_id:str}/preferences", name="console.preferences")
async def preferences_page(
    user_id: FromPath[str],
    console: NamedDependency[ConsoleUser],
    user: NamedDependency[User],
    preferences: NamedDependency[Preferences],
    candidates: FromQuery[str] = "",
) -> Template:
    view = await preferences.current(user)
    latent = latent_out(user_id, view)
    plot = latent_plot(
        np.asarray(view.model.prototypes), np.asarray(view.latent.mean), np.asarray(view.latent.covariance)
    )
    rows, total = await preferences.comparisons.list_comparisons(user.id, limit=50, offset=0)
    compared = [(c, option_out(a), option_out(b)) for c, a, b in rows]
    pool = [line.strip() for line in candidates.splitlines() if line.strip()] or await _candidates(
        preferences, user
    )
    question, problem = None, None
    if len(pool) >= 2:
        try:
            options, query = await preferences.next_query(user, [OptionIn(text=t) for t in pool[:100]])
            question = {
                "first": options[query.first].text,
                "second": options[query.second].text,
                "bits": round(query.gain, 3),
                "p_first": round(query.probability, 3),
            }
        except PersonaError as exc:
            problem = exc.detail
    return Template(
        template_name="preferences.html.j2",
        context={
            "console": console,
            "user_id": user_id,
            "tab": "preferences",
            "latent": latent,
            "plot": plot,
            "comparisons": compared,
            "total": total,
            "pool": "\n".join(pool),
            "question": question,
            "problem": problem,
        },
    )


@post("/users/{user_id:str}/preferences/answer", status_code=200)
async def answer_question(
    user_id: FromPath[str],
    request: Request[Any, Any, Any],
    console: NamedDependency[ConsoleUser],
    user: NamedDependency[User],
    preferences: NamedDependency[Preferences],
) -> Redirect:
    console.require_write()
    form = await request.form()
    chosen, rejected = str(form.get("chosen", "")), str(form.get("rejected", ""))
    if not chosen or not rejected or chosen == rejected:
        raise InvalidInput("an answer names two different options")
    client_id = "console-" + hashlib.sha256(f"{chosen}\0{rejected}".encode()).hexdigest()[:24]
    await preferences.add(
        user,
        [ComparisonIn(client_id=client_id, chosen=OptionIn(text=chosen), rejected=OptionIn(text=rejected))],
    )
    return Redirect(f"/console/users/{user_id}/preferences")


def _rows(values: list[Preference], extra: int = EMPTY_ROWS) -> list[Preference]:
    return [*values, *(Preference(dimension="", subdimension="", preference="") for _ in range(extra))]


def _errors(exc: InvalidInput) -> dict[str, str]:
    """``preferences[2].subdimension`` -> ``subdimension_2``: where the form shows each message."""
    out: dict[str, str] = {}
    for p in exc.problems:
        name = p.field
        if name.startswith("preferences[") and "]." in name:
            index, _, field = name.removeprefix("preferences[").partition("].")
            out[f"{field}_{index}"] = p.message
        else:
            out[name] = p.message
    return out


async def _values_context(
    user_id: FromPath[str], console: ConsoleUser, value_profiles: ValueProfiles
) -> dict[str, Any]:
    try:
        current = await value_profiles.latest(user_id)
        rows, note, version = list(current.preferences), current.note, current.version
    except NotFound:
        rows, note, version = [], "", None
    return {
        "console": console,
        "user_id": user_id,
        "tab": "values",
        "rows": _rows(rows),
        "note": note,
        "version": version,
        "dimensions": DIMENSIONS,
        "errors": {},
        "saved": False,
    }


@get("/users/{user_id:str}/values", name="console.values")
async def values_page(
    user_id: FromPath[str],
    console: NamedDependency[ConsoleUser],
    user: NamedDependency[User],
    value_profiles: NamedDependency[ValueProfiles],
) -> Template:
    return Template(
        template_name="values.html.j2", context=await _values_context(user_id, console, value_profiles)
    )


@post("/users/{user_id:str}/values", status_code=200)
async def save_values(
    user_id: FromPath[str],
    request: Request[Any, Any, Any],
    console: NamedDependency[ConsoleUser],
    user: NamedDependency[User],
    value_profiles: NamedDependency[ValueProfiles],
) -> Template:
    console.require_write()
    form = await request.form()
    submitted: list[Preference] = []
    for i in range(64):
        if f"dimension_{i}" not in form:
            break
        fields = [str(form.get(f"{name}_{i}", "")) for name in ("dimension", "subdimension", "preference")]
        if any(f.strip() for f in fields):
            submitted.append(
                Preference(
                    dimension=fields[0],
                    subdimension=fields[1],
                    preference=fields[2],
                    description=str(form.get(f"description_{i}", "")),
                )
            )
    note = str(form.get("note", ""))
    context = await _values_context(user_id, console, value_profiles)
    try:
        saved = await value_profiles.put(user_id, submitted, note)
    except InvalidInput as exc:
        context |= {"rows": _rows(submitted), "note": note, "errors": _errors(exc)}
        return Template(template_name="values.html.j2", context=context, status_code=422)
    context |= {"rows": _rows(list(saved.preferences)), "note": saved.note, "version": saved.version}
    return Template(template_name="values.html.j2", context=context | {"saved": True})


@post("/users/{user_id:str}/values/preview", status_code=200)
async def preview_system_message(
    user_id: FromPath[str],
    request: Request[Any, Any, Any],
    user: NamedDependency[User],
    system_messages: NamedDependency[SystemMessages],
) -> Template:
    form = await request.form()
    query = str(form.get("query", "")).strip()[:4000] or "Hello"
    partner = str(form.get("partner", "")).strip() or None
    try:
        budget = min(max(int(str(form.get("budget_tokens", "800"))), 1), 32_000)
    except ValueError:
        budget = 800
    built = await system_messages.build(
        user_id, query=query, partner=partner, budget_tokens=budget, memories_k=8
    )
    return Template(
        template_name="system_message.html.j2", context={"out": system_message_out(built, partner, budget)}
    )


HANDLERS = [
    recommendations_page,
    preferences_page,
    answer_question,
    values_page,
    save_values,
    preview_system_message,
]
