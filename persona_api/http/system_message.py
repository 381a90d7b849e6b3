"""``POST /v1/users/{user_id}/system-message``: the rendered system message and its parts."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.chat.render import Part
from persona_api.chat.system import SystemMessage, SystemMessages
from persona_api.http.values_schemas import PartOut, SystemMessageOut, SystemMessageRequest
from persona_api.memory.context import MemoryContext
from persona_api.memory.conversations import Conversations
from persona_api.memory.service import Memories
from persona_api.preferences.service import Preferences
from persona_api.preferences.summary import summarize
from persona_api.store.tables import User
from persona_api.store.users import UserService
from persona_api.values.service import ValueProfiles


async def provide_system_messages(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    auth_tenant: NamedDependency[str],
) -> SystemMessages:
    ctx = MemoryContext(runtime=request.app.state.memory, session=db_session, tenant_id=auth_tenant)
    return system_messages(request, ctx)


def system_messages(request: Request[Any, Any, Any], ctx: MemoryContext) -> SystemMessages:
    """The request's system-message service over ``ctx`` (which a chat shares with its turns)."""
    users = UserService(ctx.session, ctx.tenant_id, request.app.state.user_data)
    preferences = Preferences(request.app.state.preferences, ctx.session, ctx.tenant_id)

    async def preference_summary(user: User) -> list[str]:
        return await summarize(preferences, user)

    return SystemMessages(
        ValueProfiles(ctx.session, ctx.tenant_id, users),
        Memories(ctx),
        Conversations(ctx),
        summarize=preference_summary,
    )


def system_message_out(built: SystemMessage, partner: str | None, budget: int) -> SystemMessageOut:
    tags = {str(m.id): m.tag for m in built.memories}

    def part(p: Part) -> PartOut:
        return PartOut(
            kind=p.kind, ref=p.ref, tokens=p.tokens, tag=tags.get(p.ref) if p.kind == "memory" else None
        )

    return SystemMessageOut(
        message=built.rendered.text,
        tokens=built.rendered.tokens,
        budget_tokens=budget,
        partner=partner,
        values_version=built.values.version if built.values else None,
        included=[part(p) for p in built.rendered.parts_included],
        cut=[part(p) for p in built.rendered.parts_cut],
    )


class SystemMessageController(Controller):
    path = "/v1/users/{user_id:str}"
    tags = ["values"]
    dependencies = {"system_messages": Provide(provide_system_messages)}

    @post(
        "/system-message",
        operation_id="renderSystemMessage",
        summary="Render the user's system message for a message (no LLM is called)",
        status_code=200,
    )
    async def render(
        self,
        user_id: FromPath[str],
        data: JSONBody[SystemMessageRequest],
        system_messages: NamedDependency[SystemMessages],
    ) -> SystemMessageOut:
        built = await system_messages.build(
            user_id,
            query=data.query,
            partner=data.partner,
            budget_tokens=data.budget_tokens,
            memories_k=data.memories_k,
        )
        return system_message_out(built, data.partner, data.budget_tokens)
