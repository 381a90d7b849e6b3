"""Run the Alembic migrations that ship in this package (``persona_api/store/migrations``).

Alembic's async environment calls ``asyncio.run``; from inside a running event loop, call these
functions in a worker thread.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from persona_api.store.db import ensure_sqlite_dir

MIGRATIONS_DIR = Path(str(resources.files("persona_api.store") / "migrations"))
"""A real folder in any install: setuptools installs package data as files, and Alembic needs paths."""


def alembic_config(database_url: str, *, metadata: MetaData | None = None) -> Config:
    """Alembic's config for ``database_url``; ``metadata`` (the models) only for autogenerate."""
    if not (MIGRATIONS_DIR / "env.py").is_file():
        raise FileNotFoundError(f"migrations not found at {MIGRATIONS_DIR}; the install is incomplete")
    cfg = Config()
    cfg.attributes["target_metadata"] = metadata
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (default: the newest)."""
    ensure_sqlite_dir(database_url)
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    """Revert migrations down to ``revision`` (default: an empty schema)."""
    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision a database is at (use with ``AsyncConnection.run_sync``)."""
    return MigrationContext.configure(connection).get_current_revision()
