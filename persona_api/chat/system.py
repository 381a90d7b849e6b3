"""The system-message service: a user's values, memories relevant to the current message, and a
preference summary, rendered within a token budget. No LLM is involved.

The preference summary is a hook: ``create_app`` may pass a :data:`PreferenceSummary` that turns
the user's preference latent and objective direction into a few short lines; without one the
section is empty.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from persona_api.chat.render import MemoryItem, Rendered, render_system_message
from persona_api.memory.conversations import Conversations
from persona_api.memory.service import Memories, Query
from persona_api.store.tables import User
from persona_api.values.service import ValueProfiles, Values

PreferenceSummary = Callable[[User], Awaitable[Sequence[str]]]
"""Short lines about a user's preference latent and objective direction (most important first)."""


@dataclass(frozen=True, kw_only=True)
class SystemMessage:
    rendered: Rendered
    values: Values | None
    memories: tuple[MemoryItem, ...]
    """Every memory retrieved, most relevant first (``rendered`` says which were kept)."""
    preference_summary: tuple[str, ...]


class SystemMessages:
    def __init__(
        self,
        values: ValueProfiles,
        memories: Memories,
        conversations: Conversations,
        summarize: PreferenceSummary | None = None,
    ) -> None:
        self.values = values
        self.memories = memories
        self.conversations = conversations
        self.summarize = summarize

    async def recall(
        self,
        user: User,
        query: str,
        *,
        partner: str | None,
        k: int,
        embedding: asyncio.Future[NDArray[np.float32]] | None = None,
    ) -> list[MemoryItem]:
        """Memories for ``query``: about the user or ``partner`` when a partner is named.
        ``embedding``: the query's, if the caller started it (:meth:`Memories.embed_query`)."""
        if k == 0:
            return []
        if partner is None:
            q = Query(text=query, k=k)
        elif partner in (await self.conversations.partner_external_ids(user.id)).values():
            q = Query(text=query, k=k, partner=partner, subject="user")
        else:
            # A partner memory has never heard of: nothing is about them yet.
            q = Query(text=query, k=k, subject="user")
        found = await self.memories.search(user, q, embedding)
        return [MemoryItem(id=f.item.memory.number, tag=f.item.tag, text=f.item.memory.text) for f in found]

    async def build(
        self,
        user_id: str | User,
        *,
        query: str,
        partner: str | None,
        budget_tokens: int,
        memories_k: int,
        embedding: asyncio.Future[NDArray[np.float32]] | None = None,
    ) -> SystemMessage:
        user = user_id if isinstance(user_id, User) else await self.values.users.get(user_id)
        values = await self.values.effective(user, partner=partner)
        # The summary's lookups go before the recall, which waits for the query's embedding.
        summary = tuple(await self.summarize(user)) if self.summarize else ()
        memories = await self.recall(user, query, partner=partner, k=memories_k, embedding=embedding)
        return SystemMessage(
            rendered=render_system_message(values, memories, summary, budget_tokens),
            values=values,
            memories=tuple(memories),
            preference_summary=summary,
        )
