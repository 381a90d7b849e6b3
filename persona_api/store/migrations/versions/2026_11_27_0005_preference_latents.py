"""Preference latents: the options users compared, their comparisons and fitted latents.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from persona_api.store.tables import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "preference_options",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("item_id", sa.String(length=128), nullable=True),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_preference_options_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preference_options")),
        sa.UniqueConstraint("tenant_id", "key", name="uq_preference_options_tenant_key"),
    )
    with op.batch_alter_table("preference_options", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_preference_options_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "preference_comparisons",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("context", sa.Text(), nullable=True),
        sa.Column("chosen_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rejected_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("strength", sa.Float(), nullable=False),
        sa.Column("tie", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chosen_id"],
            ["preference_options.id"],
            name=op.f("fk_preference_comparisons_chosen_id_preference_options"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rejected_id"],
            ["preference_options.id"],
            name=op.f("fk_preference_comparisons_rejected_id_preference_options"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_preference_comparisons_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_preference_comparisons_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preference_comparisons")),
        sa.UniqueConstraint("user_id", "client_id", name="uq_preference_comparisons_user_client"),
    )
    with op.batch_alter_table("preference_comparisons", schema=None) as batch_op:
        batch_op.create_index("ix_preference_comparisons_tenant", ["tenant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_preference_comparisons_user_id"), ["user_id"], unique=False)

    op.create_table(
        "preference_latents",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("n_comparisons", sa.Integer(), nullable=False),
        sa.Column("latent", sa.JSON(), nullable=False),
        sa.Column("objective", sa.JSON(), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_preference_latents_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_preference_latents_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preference_latents")),
        sa.UniqueConstraint("user_id", "version", name="uq_preference_latents_user_version"),
    )
    with op.batch_alter_table("preference_latents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_preference_latents_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("preference_latents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_preference_latents_tenant_id"))

    op.drop_table("preference_latents")
    with op.batch_alter_table("preference_comparisons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_preference_comparisons_user_id"))
        batch_op.drop_index("ix_preference_comparisons_tenant")

    op.drop_table("preference_comparisons")
    with op.batch_alter_table("preference_options", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_preference_options_tenant_id"))

    op.drop_table("preference_options")
