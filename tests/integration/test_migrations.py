"""The schema comes only from Alembic, and migrations round-trip on the configured backend."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from persona_api.capabilities import metadata as capability_metadata
from persona_api.config import Settings
from persona_api.store import migrate
from persona_api.store.db import create_engine


def _tables_and_revision(url: str) -> tuple[set[str], str | None]:
    async def read() -> tuple[set[str], str | None]:
        engine = create_engine(Settings(database_url=url), pooled=False)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(_inspect)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _inspect(conn: Connection) -> tuple[set[str], str | None]:  # called through run_sync
    names = set(inspect(conn).get_table_names())
    return names, migrate.current_revision(conn)


def test_upgrade_downgrade_upgrade_round_trip(database_url: str) -> None:
    expected = set(capability_metadata().tables)
    tables, revision = _tables_and_revision(database_url)
    assert expected <= tables and revision == migrate.head_revision()

    migrate.downgrade(database_url, "base")
    tables, revision = _tables_and_revision(database_url)
    assert not (expected & tables)
    assert revision is None

    migrate.upgrade(database_url, "head")
    tables, revision = _tables_and_revision(database_url)
    assert expected <= tables and revision == migrate.head_revision()


def test_models_match_the_migrations(database_url: str) -> None:
    """Autogenerate finds nothing to add: the ORM tables and the migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    async def diff() -> list[object]:
        engine = create_engine(Settings(database_url=database_url), pooled=False)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: compare_metadata(MigrationContext.configure(sync), capability_metadata())
                )
        finally:
            await engine.dispose()

    assert asyncio.run(diff()) == []
