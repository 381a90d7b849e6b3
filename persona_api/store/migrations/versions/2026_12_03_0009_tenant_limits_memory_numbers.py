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
    with op.batch_alter_table("memories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE memories SET number = (SELECT COUNT(*) FROM memories AS m2"
        " WHERE m2.user_id = memories.user_id AND m2.id <= memories.id)"
    )
    op.execute(
        "UPDATE users SET memory_count = (SELECT COALESCE(MAX(m.number), 0) FROM memories AS m"
        " WHERE m.user_id = users.id)"
    )
    with op.batch_alter_table("memories", schema=None) as batch_op:
        batch_op.alter_column("number", existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_index("ux_memories_user_number", ["user_id", "number"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("memories", schema=None) as batch_op:
        batch_op.drop_index("ux_memories_user_number")
        batch_op.drop_column("number")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("memory_count")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("rate_limit_per_minute")
