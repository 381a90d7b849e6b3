"""What handlers receive by name, resolved once per request by Litestar's dependency injection.

``db_session`` is the request's one transaction: it commits when the handler returns and rolls
back when it raises, before any response is sent, so a handler either wrote everything or nothing
and a failed commit is an error response, never a 2xx. ``user`` is the path's user of the key's
tenant (404 otherwise); routes that accept data about users the client has not created declare
``dependencies=CREATES_USER``, whose ``user`` is created on first use (in the same transaction).
The services are built over that one session and tenant.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.chat.service import ChatService
from persona_api.chat.system import SystemMessages
from persona_api.http.pagination import provide_page
from persona_api.http.paths import IdPath
from persona_api.memory.context import MemoryContext
from persona_api.memory.conversations import Conversations
from persona_api.memory.service import Memories
from persona_api.pairing.pantry import Pantry
from persona_api.pairing.service import Pairer
from persona_api.preferences.service import Preferences
from persona_api.preferences.summary import summarize
from persona_api.recsys.catalog import Catalog
from persona_api.recsys.events import Events
from persona_api.recsys.service import Recommender
from persona_api.store.tables import User
from persona_api.store.users import UserService
from persona_api.values.service import ValueProfiles

SESSION_KEY = "plugin_session"
"""Where advanced-alchemy's plugin puts the request's session; handlers use ``db_session``."""


async def provide_transaction(
    plugin_session: NamedDependency[AsyncSession],
) -> AsyncGenerator[AsyncSession, None]:
    try:
        yield plugin_session
    except BaseException:
        await plugin_session.rollback()
        raise
    # A handler that committed on purpose (chat records the user's turn before the upstream call)
    # may leave nothing pending; committing an idle session is a no-op.
    await plugin_session.commit()


def provide_users(
    state: State, db_session: NamedDependency[AsyncSession], auth_tenant: NamedDependency[str]
) -> UserService:
    return UserService(db_session, auth_tenant, state.user_data)


async def provide_user(user_id: IdPath, users: NamedDependency[UserService]) -> User:
    return await users.get(user_id)


async def provide_user_or_new(user_id: IdPath, users: NamedDependency[UserService]) -> User:
    return await users.get_or_create(user_id)


def provide_memory_context(
    state: State, db_session: NamedDependency[AsyncSession], auth_tenant: NamedDependency[str]
) -> MemoryContext:
    # One context per request: the system message and a chat's turns read the partners once.
    return MemoryContext(runtime=state.memory, session=db_session, tenant_id=auth_tenant)


def provide_conversations(memory_context: NamedDependency[MemoryContext]) -> Conversations:
    return Conversations(memory_context)


def provide_memories(memory_context: NamedDependency[MemoryContext]) -> Memories:
    return Memories(memory_context)


def provide_catalog(
    state: State, db_session: NamedDependency[AsyncSession], auth_tenant: NamedDependency[str]
) -> Catalog:
    return Catalog(db_session, auth_tenant, state.recsys.embedder)


def provide_events(
    state: State, db_session: NamedDependency[AsyncSession], auth_tenant: NamedDependency[str]
) -> Events:
    return Events(db_session, auth_tenant, state.recsys.embedder)


def provide_recommender(
    state: State, db_session: NamedDependency[AsyncSession], auth_tenant: NamedDependency[str]
) -> Recommender:
    return Recommender(state.recsys, db_session, auth_tenant)


def provide_preferences(
    state: State, db_session: NamedDependency[AsyncSession], auth_tenant: NamedDependency[str]
) -> Preferences:
    return Preferences(state.preferences, db_session, auth_tenant)


def provide_pantry(db_session: NamedDependency[AsyncSession], auth_tenant: NamedDependency[str]) -> Pantry:
    return Pantry(db_session, auth_tenant)


def provide_pairer(state: State, pantry: NamedDependency[Pantry]) -> Pairer:
    return Pairer(state.pairing, pantry)


def provide_value_profiles(
    db_session: NamedDependency[AsyncSession],
    auth_tenant: NamedDependency[str],
    users: NamedDependency[UserService],
) -> ValueProfiles:
    return ValueProfiles(db_session, auth_tenant, users)


def provide_system_messages(
    value_profiles: NamedDependency[ValueProfiles],
    memories: NamedDependency[Memories],
    conversations: NamedDependency[Conversations],
    preferences: NamedDependency[Preferences],
) -> SystemMessages:
    async def preference_summary(user: User) -> list[str]:
        return await summarize(preferences, user)

    return SystemMessages(value_profiles, memories, conversations, summarize=preference_summary)


def provide_chat(
    state: State,
    system_messages: NamedDependency[SystemMessages],
    conversations: NamedDependency[Conversations],
) -> ChatService:
    return ChatService(state.get("llm"), system_messages, conversations)


DEPENDENCIES: dict[str, Provide] = {
    "db_session": Provide(provide_transaction),
    "page": Provide(provide_page, sync_to_thread=False),
    "users": Provide(provide_users, sync_to_thread=False),
    "user": Provide(provide_user),
    "memory_context": Provide(provide_memory_context, sync_to_thread=False),
    "conversations": Provide(provide_conversations, sync_to_thread=False),
    "memories": Provide(provide_memories, sync_to_thread=False),
    "catalog": Provide(provide_catalog, sync_to_thread=False),
    "events": Provide(provide_events, sync_to_thread=False),
    "recommender": Provide(provide_recommender, sync_to_thread=False),
    "preferences": Provide(provide_preferences, sync_to_thread=False),
    "pantry": Provide(provide_pantry, sync_to_thread=False),
    "pairer": Provide(provide_pairer, sync_to_thread=False),
    "value_profiles": Provide(provide_value_profiles, sync_to_thread=False),
    "system_messages": Provide(provide_system_messages, sync_to_thread=False),
    "chat": Provide(provide_chat, sync_to_thread=False),
}
"""Every handler dependency but the key's tenant (``auth_tenant``, see :mod:`.auth`)."""

CREATES_USER: dict[str, Provide] = {"user": Provide(provide_user_or_new)}
"""A handler's ``dependencies=``: its ``user`` is created on first use instead of being a 404."""
