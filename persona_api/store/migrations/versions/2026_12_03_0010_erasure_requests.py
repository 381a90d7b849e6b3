"""Erasure requests: deleted users whose traces in the artifact versions are still to be removed.

A user's deletion adds one row in its own transaction; the scrubber (API, worker, re-index job or
``persona-api erase``) rewrites every kept version without the user and sets ``done_at``. The row
names the user only by its former ``users.id``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from persona_api.store.tables import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erasure_requests",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("user_pk", sa.BigInteger(), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_requests")),
    )
    op.create_index("ix_erasure_requests_done_at", "erasure_requests", ["done_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_erasure_requests_done_at", table_name="erasure_requests")
    op.drop_table("erasure_requests")
