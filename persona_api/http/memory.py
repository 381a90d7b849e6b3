"""Conversation-memory routes: partners, sessions, turns, memories and search, under a user."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.pagination import OffsetPagination
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.errors import PayloadTooLarge
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
from persona_api.http.pagination import PageRequest
from persona_api.memory.context import MemoryContext
from persona_api.memory.conversations import Conversations, TurnIn
from persona_api.memory.rendering import Rendered
from persona_api.memory.service import Memories, Query
from persona_api.memory.tables import ConversationSession, Partner, Turn
from persona_api.store.users import UserService


class MemoryApi:
    """The per-request bundle the handlers use."""

    def __init__(self, ctx: MemoryContext, users: UserService) -> None:
        self.users = users
        self.conversations = Conversations(ctx)
        self.memories = Memories(ctx)


async def provide_memory_api(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    auth_tenant: NamedDependency[str],
) -> MemoryApi:
    ctx = MemoryContext(runtime=request.app.state.memory, session=db_session, tenant_id=auth_tenant)
    return MemoryApi(ctx, UserService(db_session, auth_tenant, request.app.state.user_data))


def memory_out(r: Rendered) -> MemoryOut:
    m = r.memory
    return MemoryOut(
        id=m.id,
        text=m.text,
        about=r.about,
        partner=r.partner_id,
        session=r.session_id,
        session_ordinal=r.session_ordinal,
        tag=r.tag,
        source_turn_ids=list(m.source_turn_ids),
        origin=m.origin,
        key=m.fact_key,
        observed_at=m.observed_at,
        valid_from=m.valid_from,
        valid_to=m.valid_to,
        superseded_by=m.superseded_by,
        mentions=len(m.provenance),
    )


def partner_out(p: Partner) -> PartnerOut:
    return PartnerOut(id=p.external_id, name=p.name, kind=p.kind, created_at=p.created_at)


def session_out(s: ConversationSession, partner_names: dict[int, str]) -> SessionOut:
    return SessionOut(
        id=s.external_id,
        ordinal=s.ordinal,
        started_at=s.started_at,
        partners=[partner_names.get(p, str(p)) for p in s.partner_ids],
    )


async def _partner_ids(api: MemoryApi, user_pk: int) -> dict[int, str]:
    return await api.conversations.partner_external_ids(user_pk)


class MemoryController(Controller):
    path = "/v1/users/{user_id:str}"
    tags = ["memory"]
    dependencies = {"memory": Provide(provide_memory_api)}

    # --- partners -------------------------------------------------------------------------
    @post("/partners", operation_id="createPartner", summary="Add a conversation partner of the user")
    async def create_partner(
        self, user_id: FromPath[str], data: JSONBody[PartnerCreate], memory: NamedDependency[MemoryApi]
    ) -> PartnerOut:
        user = await memory.users.get_or_create(user_id)
        return partner_out(await memory.conversations.create_partner(user, data.id, data.name, data.kind))

    @get("/partners", operation_id="listPartners", summary="List the user's conversation partners")
    async def list_partners(
        self, user_id: FromPath[str], memory: NamedDependency[MemoryApi], page: NamedDependency[PageRequest]
    ) -> OffsetPagination[PartnerOut]:
        user = await memory.users.get(user_id)
        rows, total = await memory.conversations.partners(user, limit=page.limit, offset=page.offset)
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
        self, user_id: FromPath[str], partner_id: FromPath[str], memory: NamedDependency[MemoryApi]
    ) -> DeletedCount:
        user = await memory.users.get(user_id)
        return DeletedCount(deleted=await memory.memories.delete_about(user, partner_id))

    # --- sessions and turns ---------------------------------------------------------------
    @post("/sessions", operation_id="createSession", summary="Start a conversation session")
    async def create_session(
        self, user_id: FromPath[str], data: JSONBody[SessionCreate], memory: NamedDependency[MemoryApi]
    ) -> SessionOut:
        user = await memory.users.get_or_create(user_id)
        row = await memory.conversations.create_session(
            user, external_id=data.id, partner_ids=data.partners, started_at=data.started_at
        )
        return session_out(row, await _partner_ids(memory, user.id))

    @get("/sessions", operation_id="listSessions", summary="List the user's sessions in order")
    async def list_sessions(
        self, user_id: FromPath[str], memory: NamedDependency[MemoryApi], page: NamedDependency[PageRequest]
    ) -> OffsetPagination[SessionOut]:
        user = await memory.users.get(user_id)
        rows, total = await memory.conversations.sessions(user, limit=page.limit, offset=page.offset)
        names = await _partner_ids(memory, user.id)
        return OffsetPagination(
            items=[session_out(s, names) for s in rows], limit=page.limit, offset=page.offset, total=total
        )

    @get("/sessions/{session_id:str}", operation_id="getSession", summary="Get a session")
    async def get_session(
        self, user_id: FromPath[str], session_id: FromPath[str], memory: NamedDependency[MemoryApi]
    ) -> SessionOut:
        user = await memory.users.get(user_id)
        row = await memory.conversations.get_session(user, session_id)
        return session_out(row, await _partner_ids(memory, user.id))

    @post(
        "/sessions/{session_id:str}/turns",
        operation_id="appendTurns",
        summary="Append turns to a session; memories are extracted from them",
    )
    async def append_turns(
        self,
        user_id: FromPath[str],
        session_id: FromPath[str],
        data: JSONBody[TurnBatch],
        memory: NamedDependency[MemoryApi],
    ) -> IngestOut:
        if len(data.turns) > MAX_TURNS_PER_BATCH:
            raise PayloadTooLarge(f"at most {MAX_TURNS_PER_BATCH} turns per request; split the batch")
        user = await memory.users.get(user_id)
        conv = await memory.conversations.get_session(user, session_id)
        result = await memory.conversations.add_turns(
            user, conv, [TurnIn(speaker=t.speaker, text=t.text, id=t.id, at=t.at) for t in data.turns]
        )
        return IngestOut(
            accepted=[t.external_id for t in result.accepted],
            skipped=result.skipped,
            memories=[
                MemoryWrite(id=r.memory.id, status=r.outcome, superseded=r.superseded)
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
        user_id: FromPath[str],
        session_id: FromPath[str],
        memory: NamedDependency[MemoryApi],
        page: NamedDependency[PageRequest],
    ) -> OffsetPagination[TurnOut]:
        user = await memory.users.get(user_id)
        conv = await memory.conversations.get_session(user, session_id)
        rows, total = await memory.conversations.turns(conv, limit=page.limit, offset=page.offset)
        names = await _partner_ids(memory, user.id)
        return OffsetPagination(
            items=[_turn_out(t, names) for t in rows], limit=page.limit, offset=page.offset, total=total
        )

    # --- memories -------------------------------------------------------------------------
    @post("/memories", operation_id="createMemory", summary="Store a memory (deduplicated, may supersede)")
    async def create_memory(
        self, user_id: FromPath[str], data: JSONBody[MemoryCreate], memory: NamedDependency[MemoryApi]
    ) -> Response[MemoryCreated]:
        user = await memory.users.get_or_create(user_id)
        result = await memory.memories.add(
            user,
            text=data.text,
            partner=data.partner,
            session=data.session,
            turn_ids=data.turn_ids,
            observed_at=data.observed_at,
            valid_from=data.valid_from,
            key=data.key,
        )
        [rendered] = await memory.memories.render(user, [result.memory])
        body = MemoryCreated(status=result.outcome, superseded=result.superseded, memory=memory_out(rendered))
        return Response(body, status_code=201 if result.outcome == "created" else 200)

    @get("/memories", operation_id="listMemories", summary="List the user's memories")
    async def list_memories(
        self,
        user_id: FromPath[str],
        memory: NamedDependency[MemoryApi],
        page: NamedDependency[PageRequest],
        partner: FromQuery[str | None] = None,
        include_superseded: FromQuery[bool] = False,
    ) -> OffsetPagination[MemoryOut]:
        user = await memory.users.get(user_id)
        rows, total = await memory.memories.listing(
            user, partner=partner, include_superseded=include_superseded, limit=page.limit, offset=page.offset
        )
        items = [memory_out(r) for r in await memory.memories.render(user, rows)]
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)

    @get("/memories/{memory_id:int}", operation_id="getMemory", summary="Get a memory")
    async def get_memory(
        self, user_id: FromPath[str], memory_id: FromPath[int], memory: NamedDependency[MemoryApi]
    ) -> MemoryOut:
        user = await memory.users.get(user_id)
        [rendered] = await memory.memories.render(user, [await memory.memories.get(user, memory_id)])
        return memory_out(rendered)

    @get(
        "/memories/{memory_id:int}/history",
        operation_id="getMemoryHistory",
        summary="Every version of a memory, oldest first",
    )
    async def memory_history(
        self, user_id: FromPath[str], memory_id: FromPath[int], memory: NamedDependency[MemoryApi]
    ) -> MemoryHistory:
        user = await memory.users.get(user_id)
        chain = await memory.memories.history(user, memory_id)
        return MemoryHistory(items=[memory_out(r) for r in await memory.memories.render(user, chain)])

    @delete("/memories/{memory_id:int}", operation_id="deleteMemory", summary="Delete one memory")
    async def delete_memory(
        self, user_id: FromPath[str], memory_id: FromPath[int], memory: NamedDependency[MemoryApi]
    ) -> None:
        user = await memory.users.get(user_id)
        await memory.memories.delete(user, memory_id)

    @post(
        "/memories/search",
        operation_id="searchMemories",
        summary="Hybrid search over the user's memories",
        status_code=200,
    )
    async def search(
        self, user_id: FromPath[str], data: JSONBody[SearchRequest], memory: NamedDependency[MemoryApi]
    ) -> SearchResponse:
        user = await memory.users.get(user_id)
        found = await memory.memories.search(
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


def _turn_out(t: Turn, names: dict[int, str]) -> TurnOut:
    speaker = (
        "user" if t.speaker_partner_id is None else names.get(t.speaker_partner_id, str(t.speaker_partner_id))
    )
    return TurnOut(
        id=t.external_id, speaker=speaker, text=t.text, at=t.at, position=t.position, status=t.status
    )
