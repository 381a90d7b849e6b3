"""The MCP tool set: memory, recommendations, pairings, preferences and the system message.

One set serves both transports (:mod:`.mount` for streamable HTTP at ``/mcp``, :mod:`.stdio`):
each tool is an ordinary call of the HTTP API through :class:`~.api.PersonaApi`. The argument
schemas state the API's limits, but the API checks them, so a bad argument's tool error carries the
same message as the API's 422. Results are compact JSON text with the fields a model acts on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from persona_api import __version__
from persona_api.mcp_server.api import PersonaApi, segment

ApiFor = Callable[[Context], AbstractAsyncContextManager[PersonaApi]]
"""How a tool call gets its API client: from the MCP request's credentials, or the stdio process's."""

ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._:@+-]*$"


def _id(description: str) -> Any:
    return Field(
        description=description,
        json_schema_extra={"minLength": 1, "maxLength": 128, "pattern": ID_PATTERN},
    )


def _bounded(description: str, **limits: Any) -> Any:
    """A field whose limits are published in the schema and enforced by the API (its message)."""
    return Field(description=description, json_schema_extra=limits)


UserId = Annotated[str, _id("The app's id of the user the call is about (letters, digits and . _ : @ + -).")]
Partner = Annotated[
    str | None, _id("Who the user was talking to, when the memory is about a conversation partner.")
]
K = Annotated[int, _bounded("How many results (1-100).", minimum=1, maximum=100)]
Ingredients = Annotated[list[str], _bounded("Ingredient names, e.g. ['tomato', 'basil'].", maxItems=100)]

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)

INSTRUCTIONS = (
    "persona-api remembers what users told you, knows their preferences and values, and recommends. "
    "Call search_memories before answering a question that may depend on the user's past; call "
    "remember when the user states a lasting fact or preference; get_system_message gives a "
    "ready-made system prompt for the user."
)


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _memory(m: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "text", "about", "partner", "session", "observed_at", "valid_to", "key")
    return {k: m[k] for k in keep if m.get(k) is not None}


def build_server(api_for: ApiFor) -> MCPServer:
    """An :class:`MCPServer` holding the eleven tools; ``api_for`` gives each call its client."""
    server: MCPServer = MCPServer(
        "persona-api", title="persona-api", version=__version__, instructions=INSTRUCTIONS
    )

    async def user_scoped(ctx: Context, user_id: str, method: str, path: str, **kw: Any) -> Any:
        """A write for ``user_id``; an unknown user is created first when the tenant allows it."""
        async with api_for(ctx) as api:
            if not await api.ensure_user(user_id):
                raise ToolError(f"404 Not Found: user '{user_id}' not found")
            return await api.call(method, path, **kw)

    async def read(ctx: Context, method: str, path: str, **kw: Any) -> Any:
        async with api_for(ctx) as api:
            return await api.call(method, path, **kw)

    def base(user_id: str) -> str:
        return f"/v1/users/{segment(user_id)}"

    @server.tool(annotations=WRITES, structured_output=False)
    async def remember(
        ctx: Context,
        user_id: UserId,
        text: Annotated[str, _bounded("The fact to keep, in one sentence.", minLength=1, maxLength=4000)],
        partner: Partner = None,
        key: Annotated[
            str | None,
            _bounded(
                "A slot such as 'home_city': a new memory with the same key supersedes the old one.",
                minLength=1,
                maxLength=200,
            ),
        ] = None,
    ) -> str:
        """Store a memory for a user. A near-duplicate is merged; a memory that contradicts an older one
        (same key) supersedes it, which stays in the history. Unknown users are created on first use
        unless the tenant turned that off."""
        body = {"text": text, "partner": partner, "key": key}
        answer = await user_scoped(ctx, user_id, "POST", f"{base(user_id)}/memories", json=body)
        return _text({**answer, "memory": _memory(answer["memory"])})

    @server.tool(annotations=READ_ONLY, structured_output=False)
    async def search_memories(
        ctx: Context,
        user_id: UserId,
        query: Annotated[str, _bounded("What to look for.", minLength=1, maxLength=2000)],
        k: K = 10,
        partner: Partner = None,
        include_superseded: bool = False,
    ) -> str:
        """The user's memories most relevant to a query (meaning and words), best first, with scores."""
        body = {"query": query, "k": k, "partner": partner, "include_superseded": include_superseded}
        answer = await read(ctx, "POST", f"{base(user_id)}/memories/search", json=body)
        hits = [{**_memory(h["memory"]), "score": round(h["score"], 4)} for h in answer["results"]]
        return _text({"results": hits})

    @server.tool(annotations=READ_ONLY, structured_output=False)
    async def list_memories(
        ctx: Context,
        user_id: UserId,
        limit: Annotated[int, _bounded("Page size (1-100).", minimum=1, maximum=100)] = 20,
        offset: Annotated[int, _bounded("Memories to skip.", minimum=0)] = 0,
        partner: Partner = None,
        include_superseded: bool = False,
    ) -> str:
        """The user's current memories, newest first, a page at a time; ``total`` counts them all."""
        params = {"limit": limit, "offset": offset, "partner": partner}
        if include_superseded:
            params["include_superseded"] = "true"
        page = await read(ctx, "GET", f"{base(user_id)}/memories", params=params)
        return _text({"items": [_memory(m) for m in page["items"]], "total": page["total"]})

    @server.tool(
        annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=True, open_world_hint=False),
        structured_output=False,
    )
    async def forget(
        ctx: Context,
        user_id: UserId,
        memory_id: Annotated[int, _bounded("The memory's id (from search or list).", minimum=1)],
    ) -> str:
        """Delete one of the user's memories for good."""
        await read(ctx, "DELETE", f"{base(user_id)}/memories/{memory_id}")
        return _text({"deleted": memory_id})

    @server.tool(annotations=READ_ONLY, structured_output=False)
    async def recommend(
        ctx: Context,
        user_id: UserId,
        k: K = 10,
        exclude_seen: Annotated[bool, Field(description="Leave out items the user interacted with.")] = True,
    ) -> str:
        """Catalog items to suggest to the user, best first, each with the reason for it."""
        params = {"k": k, "exclude_seen": "true" if exclude_seen else "false"}
        answer = await read(ctx, "GET", f"{base(user_id)}/recommendations", params=params)
        items = [
            {"id": i["id"], "title": i["title"], "reason": i["reason"], "because": i["because"]}
            for i in answer["items"]
        ]
        return _text({"items": items, "strategy": answer["strategy"]})

    @server.tool(annotations=WRITES, structured_output=False)
    async def record_interactions(
        ctx: Context,
        user_id: UserId,
        interactions: Annotated[
            list[dict[str, Any]],
            _bounded(
                "Events: {'item': id, 'type': view|click|add_to_cart|purchase|rating|like|dislike, "
                "'value': rating 0-5 (ratings only), 'at': ISO time, 'id': your event id}.",
                minItems=1,
                maxItems=1000,
            ),
        ],
    ) -> str:
        """Record what the user did with catalog items; recommendations follow them."""
        events = [{**event, "user": user_id} for event in interactions]
        return _text(await read(ctx, "POST", "/v1/interactions", json=events))  # creates the user

    @server.tool(annotations=READ_ONLY, structured_output=False)
    async def complete_ingredients(
        ctx: Context,
        ingredients: Ingredients,
        k: K = 10,
        mode: Annotated[
            Literal["recipe", "flavor", "blend"] | None,
            Field(description="recipe: co-occurrence in recipes; flavor: shared compounds; blend: both."),
        ] = None,
        cuisine: Annotated[str | None, _bounded("Keep to a cuisine.", minLength=1, maxLength=100)] = None,
        user_id: Annotated[str | None, _id("Respect this user's food preferences.")] = None,
    ) -> str:
        """Ingredients that go with the given ones, best first."""
        body = {"ingredients": ingredients, "k": k, "mode": mode, "cuisine": cuisine, "user": user_id}
        return _text(await read(ctx, "POST", "/v1/pairings/complete", json=body))

    @server.tool(annotations=READ_ONLY, structured_output=False)
    async def check_ingredients(
        ctx: Context,
        ingredients: Annotated[list[str], _bounded("2-50 ingredient names.", minItems=2, maxItems=50)],
        user_id: Annotated[str | None, _id("Respect this user's food preferences.")] = None,
    ) -> str:
        """How well a set of ingredients goes together, pair by pair."""
        body = {"ingredients": ingredients, "user": user_id}
        return _text(await read(ctx, "POST", "/v1/pairings/check", json=body))

    @server.tool(annotations=WRITES, structured_output=False)
    async def add_comparison(
        ctx: Context,
        user_id: UserId,
        chosen: Annotated[str, _bounded("The option the user preferred.", minLength=1, maxLength=4000)],
        rejected: Annotated[str, _bounded("The option passed over.", minLength=1, maxLength=4000)],
        context: Annotated[str | None, _bounded("What was asked, if anything.", maxLength=4000)] = None,
        options_are_items: Annotated[
            bool, Field(description="chosen and rejected are catalog item ids, not texts.")
        ] = False,
        tie: bool = False,
    ) -> str:
        """Record that the user preferred one option over another; their preference latent is refit."""
        side = "item" if options_are_items else "text"
        digest = hashlib.sha256(_text([side, chosen, rejected, context, tie]).encode()).hexdigest()[:32]
        comparison = {
            "id": f"mcp-{digest}",  # the same comparison sent twice is stored once
            "chosen": {side: chosen},
            "rejected": {side: rejected},
            "context": context,
            "tie": tie,
        }
        path = f"{base(user_id)}/comparisons"
        return _text(await user_scoped(ctx, user_id, "POST", path, json={"comparisons": [comparison]}))

    @server.tool(annotations=READ_ONLY, structured_output=False)
    async def get_preferences(ctx: Context, user_id: UserId) -> str:
        """The user's preference latent: weights over the population's prototypes, its uncertainty and
        how many comparisons it rests on."""
        latent = await read(ctx, "GET", f"{base(user_id)}/preferences")
        keep = ("n_comparisons", "prototype_weights", "uncertainty", "objective", "prior", "model_version")
        return _text({k: latent.get(k) for k in keep})

    @server.tool(annotations=READ_ONLY, structured_output=False)
    async def get_system_message(
        ctx: Context,
        user_id: UserId,
        query: Annotated[str, _bounded("The user's current message.", minLength=1, maxLength=4000)],
        partner: Partner = None,
    ) -> str:
        """A system message for answering the user: their values, relevant memories and preferences."""
        body = {"query": query, "partner": partner}
        answer = await read(ctx, "POST", f"{base(user_id)}/system-message", json=body)
        return str(answer["message"])

    return server
