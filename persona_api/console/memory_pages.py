"""Users, a user's memory timeline (with supersession and history), and the search playground."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from litestar import get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from persona_api.console.auth import ConsoleUser
from persona_api.errors import InvalidInput, PersonaError
from persona_api.http.memory_views import memory_out
from persona_api.memory.service import Memories, Query
from persona_api.preferences.service import Preferences
from persona_api.recsys.events import Events
from persona_api.store.tables import User
from persona_api.store.users import UserService

Form = Body(media_type=RequestEncodingType.URL_ENCODED)
PAGE = 25


@dataclass
class SearchForm:
    query: str = ""
    k: int = 10
    partner: str = ""
    session: str = ""
    observed_from: str = ""
    observed_to: str = ""
    include_superseded: bool = False
    include_linked: bool = True


def _day(value: str, *, end: bool = False) -> datetime | None:
    """A date input's ``YYYY-MM-DD`` as the start (or the end) of that day in UTC."""
    if not value.strip():
        return None
    try:
        day = datetime.fromisoformat(value.strip()).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput("dates are YYYY-MM-DD") from None
    return day + timedelta(days=1, microseconds=-1) if end else day


@get("/users", name="console.users")
async def users_page(
    console: NamedDependency[ConsoleUser],
    users: NamedDependency[UserService],
    memories: NamedDependency[Memories],
    events: NamedDependency[Events],
    preferences: NamedDependency[Preferences],
    q: FromQuery[str] = "",
    offset: FromQuery[int] = 0,
) -> Template:
    offset = max(0, offset)
    rows, total = await users.list(limit=PAGE, offset=offset, prefix=q.strip())
    counts = []
    for user in rows:
        _, n_memories = await memories.listing(
            user, partner=None, include_superseded=False, limit=1, offset=0
        )
        _, n_events = await events.interactions_of(user, limit=1, offset=0)
        _, n_comparisons = await preferences.comparisons.list_comparisons(user.id, limit=1, offset=0)
        counts.append((user, n_memories, n_events, n_comparisons))
    return Template(
        template_name="users.html.j2",
        context={"console": console, "rows": counts, "total": total, "offset": offset, "page": PAGE, "q": q},
    )


@get("/users/{user_id:str}/memory", name="console.memory")
async def memory_page(
    user_id: FromPath[str],
    console: NamedDependency[ConsoleUser],
    user: NamedDependency[User],
    memories: NamedDependency[Memories],
) -> Template:
    rows, total = await memories.listing(user, partner=None, include_superseded=True, limit=500, offset=0)
    rendered = [memory_out(r) for r in await memories.render(user, rows)]
    # The timeline: grouped by session (newest first), then by whom each memory is about.
    groups: OrderedDict[str, list[object]] = OrderedDict()
    for m in sorted(rendered, key=lambda m: (m.observed_at, m.id), reverse=True):
        label = f"session {m.session}" if m.session else "outside any session"
        groups.setdefault(label, []).append(m)
    return Template(
        template_name="memory.html.j2",
        context={
            "console": console,
            "user_id": user_id,
            "tab": "memory",
            "groups": groups,
            "total": total,
            "current": sum(1 for m in rendered if m.valid_to is None and m.superseded_by is None),
        },
    )


@get("/users/{user_id:str}/memory/{memory_id:int}/history", name="console.memory_history")
async def memory_history(
    user_id: FromPath[str],
    memory_id: FromPath[int],
    user: NamedDependency[User],
    memories: NamedDependency[Memories],
) -> Template:
    chain = await memories.history(user, memory_id)
    versions = [memory_out(r) for r in await memories.render(user, chain)]
    return Template(
        template_name="memory_history.html.j2", context={"versions": versions, "memory_id": memory_id}
    )


@post("/users/{user_id:str}/memory/{memory_id:int}/delete", status_code=200)
async def delete_memory(
    user_id: FromPath[str],
    memory_id: FromPath[int],
    console: NamedDependency[ConsoleUser],
    user: NamedDependency[User],
    memories: NamedDependency[Memories],
) -> Redirect:
    console.require_write()
    await memories.delete(user, memory_id)
    return Redirect(f"/console/users/{user_id}/memory")


@get("/users/{user_id:str}/search", name="console.search")
async def search_page(
    user_id: FromPath[str], console: NamedDependency[ConsoleUser], user: NamedDependency[User]
) -> Template:
    return Template(
        template_name="search.html.j2",
        context={"console": console, "user_id": user_id, "tab": "search", "form": SearchForm(), "hits": None},
    )


@post("/users/{user_id:str}/search", status_code=200)
async def run_search(
    user_id: FromPath[str],
    data: Annotated[SearchForm, Form],
    console: NamedDependency[ConsoleUser],
    user: NamedDependency[User],
    memories: NamedDependency[Memories],
) -> Template:
    try:
        query = Query(
            text=data.query.strip() or " ",
            k=min(max(data.k, 1), 100),
            partner=data.partner.strip() or None,
            session=data.session.strip() or None,
            observed_from=_day(data.observed_from),
            observed_to=_day(data.observed_to, end=True),
            include_superseded=data.include_superseded,
            include_linked=data.include_linked,
        )
        found = await memories.search(user, query) if data.query.strip() else []
    except PersonaError as exc:  # shown in the results area, as the API would answer it
        return Template(template_name="search_results.html.j2", context={"error": exc.detail, "hits": []})
    hits = [
        {
            "memory": memory_out(f.item),
            "score": f.hit.score,
            "dense": f.hit.dense,
            "lexical": f.hit.lexical,
            "linked": [memory_out(r) for r in f.linked],
        }
        for f in found
    ]
    return Template(
        template_name="search_results.html.j2",
        context={"hits": hits, "query": data.query, "user_id": user_id},
    )


HANDLERS = [users_page, memory_page, memory_history, delete_memory, search_page, run_search]
