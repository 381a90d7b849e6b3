"""The complete schema: importing this module registers every capability's tables on
``Base.metadata`` (used by Alembic's autogenerate and by the schema tests)."""

from __future__ import annotations

from persona_api.llm import tables as value_tables
from persona_api.memory import tables as memory_tables
from persona_api.preferences import tables as preference_tables
from persona_api.recsys import tables as recsys_tables
from persona_api.recsys.pairing import tables as pairing_tables
from persona_api.store.tables import Base

metadata = Base.metadata

__all__ = [
    "memory_tables",
    "metadata",
    "pairing_tables",
    "preference_tables",
    "recsys_tables",
    "value_tables",
]
