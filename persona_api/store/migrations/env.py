"""Alembic environment: async engines for SQLite and PostgreSQL.

The database URL comes from the Alembic config (set by ``persona_api.store.migrate``), which in
turn takes it from the service settings; nothing here reads the environment. This folder ships
inside the package, so an installed (not editable) persona-api migrates its own database.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from persona_api.config import Settings
from persona_api.store.db import create_engine

config = context.config
# Only autogenerate compares against the models; the caller passes them (see store.migrate).
target_metadata = config.attributes.get("target_metadata")


def _do_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(url: str) -> None:
    engine = create_engine(Settings(database_url=url), pooled=False)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_do_run)
            await connection.commit()
    finally:
        await engine.dispose()


def _run_offline(url: str) -> None:
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


_url = config.get_main_option("sqlalchemy.url")
if not _url:
    raise RuntimeError("persona_api.store.migrate must set sqlalchemy.url")
if context.is_offline_mode():
    _run_offline(_url)
else:
    asyncio.run(_run_online(_url))
