"""Per-tenant rate limits, and memory ids numbered per user.

A tenant's ``rate_limit_per_minute`` overrides the service-wide limit (null: the default). A
memory's ``number`` is the id clients see: 1, 2, 3... within its user (the row's primary key,
shared by all tenants, revealed the service's total memory count). ``users.memory_count`` is the
last number given, so numbers are never reused after a deletion.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("memory_count", sa.BigInteger(), server_default="0", nullable=False))
    # NOT NULL from the start (with a placeholder default) and filled in place: on SQLite, making
    # the column NOT NULL afterwards rebuilds ``memories``, and dropping the old table (foreign keys
    # on) deletes every memory link and clears every ``superseded_by``.
    with op.batch_alter_table("memories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number", sa.BigInteger(), server_default="0", nullable=False))
    # One pass over the table (a count of earlier rows per row would be quadratic in a user's memories).
    op.execute(
        "UPDATE memories SET number = ranked.n FROM (SELECT id,"
        " ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY id) AS n FROM memories) AS ranked"
        " WHERE memories.id = ranked.id"
    )
    with op.batch_alter_table("memories", schema=None) as batch_op:
        batch_op.create_index("ux_memories_user_number", ["user_id", "number"], unique=True)
    op.execute(
        "UPDATE users SET memory_count = (SELECT COALESCE(MAX(m.number), 0) FROM memories AS m"
        " WHERE m.user_id = users.id)"
    )
    if op.get_bind().dialect.name != "sqlite":  # SQLite keeps the placeholder: dropping it rebuilds
        op.alter_column("memories", "number", existing_type=sa.BigInteger(), server_default=None)


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN in place (SQLite 3.35+): a batch rebuild of these parent tables
    # would, on SQLite, cascade-delete the rows that reference them.
    op.drop_index("ux_memories_user_number", table_name="memories")
    op.drop_column("memories", "number")
    op.drop_column("users", "memory_count")
    op.drop_column("tenants", "rate_limit_per_minute")
