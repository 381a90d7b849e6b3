"""LLM memory extraction: the queue of turns awaiting off-path extraction, and their outcome.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from persona_api.store.tables import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "memory_extractions",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("turn_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_memory_extractions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["turn_id"], ["turns.id"], name=op.f("fk_memory_extractions_turn_id_turns"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_memory_extractions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memory_extractions")),
        sa.UniqueConstraint("turn_id", name=op.f("uq_memory_extractions_turn_id")),
    )
    with op.batch_alter_table("memory_extractions", schema=None) as batch_op:
        batch_op.create_index("ix_memory_extractions_status_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_memory_extractions_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_memory_extractions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("memory_extractions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memory_extractions_user_id"))
        batch_op.drop_index(batch_op.f("ix_memory_extractions_tenant_id"))
        batch_op.drop_index("ix_memory_extractions_status_due")

    op.drop_table("memory_extractions")
