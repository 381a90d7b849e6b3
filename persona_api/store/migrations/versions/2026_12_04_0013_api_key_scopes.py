"""An API key's ``scope``: ``write`` (every route; what each existing key becomes) or ``read``
(only routes that change nothing).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE, not Alembic's batch mode: on SQLite batch mode copies and drops ``api_keys``,
# which would rewrite the table of every tenant's keys for one new column.


def upgrade() -> None:
    op.add_column(
        "api_keys", sa.Column("scope", sa.String(length=16), nullable=False, server_default="write")
    )


def downgrade() -> None:
    op.drop_column("api_keys", "scope")
