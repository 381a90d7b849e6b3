"""Conversation-memory routes: partners, sessions, turns, memories and search, under a user."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.pagination import OffsetPagination
from litestar.params import FromQuery, JSONBody, PathParameter

from persona_api.errors import PayloadTooLarge
from persona_api.http.deps import CREATES_USER
from persona_api.http.memory_schemas import (
    MAX_TURNS_PER_BATCH,
    DeletedCount,
    IngestOut,
    MemoryCreate,
    MemoryCreated,
    MemoryHistory,
    MemoryOut,
    MemoryWrite,
    PartnerCreate,
    PartnerOut,
    SearchHit,
    SearchRequest,
    SearchResponse,
    SessionCreate,
    SessionOut,
    TurnBatch,
    TurnOut,
)
from persona_api.http.memory_views import memory_out, partner_out, session_out, turn_out
from persona_api.http.openapi import answers, reads_only
from persona_api.http.pagination import PageRequest
from persona_api.http.paths import IdPath
from persona_api.memory.conversations import Conversations, TurnIn
from persona_api.memory.service import Memories, Query
from persona_api.store.tables import User

MemoryId = Annotated[
    int, PathParameter(ge=1, le=2**63 - 1, description="The memory's id: its number within the user.")
]
"""Bounded like the database's ids: a larger number is a 400, not an overflow."""


class MemoryController(Controller):
    path = "/v1/users/{user_id:str}"
    tags = ["memory"]

    # --- partners -------------------------------------------------------------------------
    @post(
        "/partners",
        operation_id="createPartner",
        summary="Add a conversation partner of the user",
        dependencies=CREATES_USER,
    )
    async def create_partner(
        self,
        data: JSONBody[PartnerCreate],
        user: NamedDependency[User],
        conversations: NamedDependency[Conversations],
    ) -> PartnerOut:
        return partner_out(await conversations.create_partner(user, data.id, data.name, data.kind))

    @get("/partners", operation_id="listPartners", summary="List the user's conversation partners")
    async def list_partners(
        self,
        user: NamedDependency[User],
        conversations: NamedDependency[Conversations],
        page: NamedDependency[PageRequest],
    ) -> OffsetPagination[PartnerOut]:
        rows, total = await conversations.partners(user, limit=page.limit, offset=page.offset)
        return OffsetPagination(
            items=[partner_out(p) for p in rows], limit=page.limit, offset=page.offset, total=total
        )

    @delete(
        "/partners/{partner_id:str}/memories",
        operation_id="deletePartnerMemories",
        summary="Delete every memory about a partner",
        status_code=200,
    )
    async def delete_partner_memories(
        self, partner_id: IdPath, user: NamedDependency[User], memories: NamedDependency[Memories]
    ) -> DeletedCount:
        return DeletedCount(deleted=await memories.delete_about(user, partner_id))

    # --- sessions and turns ---------------------------------------------------------------
    @post(
        "/sessions",
        operation_id="createSession",
        summary="Start a conversation session",
        dependencies=CREATES_USER,
    )
    async def create_session(
        self,
        data: JSONBody[SessionCreate],
        user: NamedDependency[User],
        conversations: NamedDependency[Conversations],
    ) -> SessionOut:
        row = await conversations.create_session(
            user, external_id=data.id, partner_ids=data.partners, started_at=data.started_at
        )
        return session_out(row, await conversations.partner_external_ids(user.id))

    @get("/sessions", operation_id="listSessions", summary="List the user's sessions in order")
    async def list_sessions(
        self,
        user: NamedDependency[User],
        conversations: NamedDependency[Conversations],
        page: NamedDependency[PageRequest],
    ) -> OffsetPagination[SessionOut]:
        rows, total = await conversations.sessions(user, limit=page.limit, offset=page.offset)
        names = await conversations.partner_external_ids(user.id)
        return OffsetPagination(
            items=[session_out(s, names) for s in rows], limit=page.limit, offset=page.offset, total=total
        )

    @get("/sessions/{session_id:str}", operation_id="getSession", summary="Get a session")
    async def get_session(
        self,
        session_id: IdPath,
        user: NamedDependency[User],
        conversations: NamedDependency[Conversations],
    ) -> SessionOut:
        row = await conversations.get_session(user, session_id)
        return session_out(row, await conversations.partner_external_ids(user.id))

    @post(
        "/sessions/{session_id:str}/turns",
        operation_id="appendTurns",
        summary="Append turns to a session; memories are extracted from them",
    )
    async def append_turns(
        self,
        session_id: IdPath,
        data: JSONBody[TurnBatch],
        user: NamedDependency[User],
        conversations: NamedDependency[Conversations],
    ) -> IngestOut:
        if len(data.turns) > MAX_TURNS_PER_BATCH:
            raise PayloadTooLarge(f"at most {MAX_TURNS_PER_BATCH} turns per request; split the batch")
        conv = await conversations.get_session(user, session_id)
        result = await conversations.add_turns(
            user, conv, [TurnIn(speaker=t.speaker, text=t.text, id=t.id, at=t.at) for t in data.turns]
        )
        return IngestOut(
            accepted=[t.external_id for t in result.accepted],
            skipped=result.skipped,
            memories=[
                MemoryWrite(id=r.memory.number, status=r.outcome, superseded=[m.number for m in r.superseded])
                for r in result.memories
            ],
        )

    @get(
        "/sessions/{session_id:str}/turns",
        operation_id="listTurns",
        summary="List a session's turns in order",
    )
    async def list_turns(
        self,
        session_id: IdPath,
        user: NamedDependency[User],
        conversations: NamedDependency[Conversations],
        page: NamedDependency[PageRequest],
    ) -> OffsetPagination[TurnOut]:
        conv = await conversations.get_session(user, session_id)
        rows, total = await conversations.turns(conv, limit=page.limit, offset=page.offset)
        names = await conversations.partner_external_ids(user.id)
        return OffsetPagination(
            items=[turn_out(t, names) for t in rows], limit=page.limit, offset=page.offset, total=total
        )

    # --- memories -------------------------------------------------------------------------
    @post(
        "/memories",
        operation_id="createMemory",
        summary="Store a memory (deduplicated, may supersede)",
        dependencies=CREATES_USER,
        opt=answers(200),
    )
    async def create_memory(
        self, data: JSONBody[MemoryCreate], user: NamedDependency[User], memories: NamedDependency[Memories]
    ) -> Response[MemoryCreated]:
        result = await memories.add(
            user,
            text=data.text,
            partner=data.partner,
            session=data.session,
            turn_ids=data.turn_ids,
            observed_at=data.observed_at,
            valid_from=data.valid_from,
            key=data.key,
        )
        [rendered] = await memories.render(user, [result.memory])
        superseded = [m.number for m in result.superseded]
        body = MemoryCreated(status=result.outcome, superseded=superseded, memory=memory_out(rendered))
        return Response(body, status_code=201 if result.outcome == "created" else 200)

    @get("/memories", operation_id="listMemories", summary="List the user's memories")
    async def list_memories(
        self,
        user: NamedDependency[User],
        memories: NamedDependency[Memories],
        page: NamedDependency[PageRequest],
        partner: FromQuery[str | None] = None,
        include_superseded: FromQuery[bool] = False,
    ) -> OffsetPagination[MemoryOut]:
        rows, total = await memories.listing(
            user, partner=partner, include_superseded=include_superseded, limit=page.limit, offset=page.offset
        )
        items = [memory_out(r) for r in await memories.render(user, rows)]
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)

    @get("/memories/{memory_id:int}", operation_id="getMemory", summary="Get a memory")
    async def get_memory(
        self, memory_id: MemoryId, user: NamedDependency[User], memories: NamedDependency[Memories]
    ) -> MemoryOut:
        [rendered] = await memories.render(user, [await memories.get(user, memory_id)])
        return memory_out(rendered)

    @get(
        "/memories/{memory_id:int}/history",
        operation_id="getMemoryHistory",
        summary="Every version of a memory, oldest first",
    )
    async def memory_history(
        self, memory_id: MemoryId, user: NamedDependency[User], memories: NamedDependency[Memories]
    ) -> MemoryHistory:
        chain = await memories.history(user, memory_id)
        return MemoryHistory(items=[memory_out(r) for r in await memories.render(user, chain)])

    @delete("/memories/{memory_id:int}", operation_id="deleteMemory", summary="Delete one memory")
    async def delete_memory(
        self, memory_id: MemoryId, user: NamedDependency[User], memories: NamedDependency[Memories]
    ) -> None:
        await memories.delete(user, memory_id)

    @post(
        "/memories/search",
        operation_id="searchMemories",
        summary="Hybrid search over the user's memories",
        status_code=200,
        opt=reads_only(),
    )
    async def search(
        self, data: JSONBody[SearchRequest], user: NamedDependency[User], memories: NamedDependency[Memories]
    ) -> SearchResponse:
        found = await memories.search(
            user,
            Query(
                text=data.query,
                k=data.k,
                partner=data.partner,
                subject=data.subject,
                session=data.session,
                observed_from=data.observed_from,
                observed_to=data.observed_to,
                include_superseded=data.include_superseded,
                include_linked=data.include_linked,
            ),
        )
        return SearchResponse(
            results=[
                SearchHit(
                    memory=memory_out(f.item),
                    score=f.hit.score,
                    dense=f.hit.dense,
                    lexical=f.hit.lexical,
                    linked=[memory_out(r) for r in f.linked],
                )
                for f in found
            ]
        )
