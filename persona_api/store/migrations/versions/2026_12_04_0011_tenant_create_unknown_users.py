"""A tenant's ``create_unknown_users``: whether the OpenAI-compatible endpoint creates a user it
does not know yet (true, the default) or answers 404.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE, not Alembic's batch mode: on SQLite batch mode copies and drops ``tenants``,
# and dropping it cascades (foreign keys are on) to every user of every tenant.


def upgrade() -> None:
    op.add_column(
        "tenants", sa.Column("create_unknown_users", sa.Boolean(), nullable=False, server_default=sa.true())
    )


def downgrade() -> None:
    op.drop_column("tenants", "create_unknown_users")
