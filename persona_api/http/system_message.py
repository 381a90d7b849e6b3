"""``POST /v1/users/{user_id}/system-message``: the rendered system message and its parts."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from persona_api.chat.render import Part
from persona_api.chat.system import SystemMessage, SystemMessages
from persona_api.http.openapi import reads_only
from persona_api.http.paths import IdPath
from persona_api.http.values_schemas import PartOut, SystemMessageOut, SystemMessageRequest


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

    @post(
        "/system-message",
        operation_id="renderSystemMessage",
        summary="Render the user's system message for a message (no LLM is called)",
        status_code=200,
        opt=reads_only(),
    )
    async def render(
        self,
        user_id: IdPath,
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
