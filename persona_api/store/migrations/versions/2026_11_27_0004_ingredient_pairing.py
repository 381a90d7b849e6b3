"""Ingredient pairing: ingredients, flavor compounds, recipes and users' food avoidances.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from persona_api.store.tables import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flavor_compounds",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_flavor_compounds_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flavor_compounds")),
        sa.UniqueConstraint("tenant_id", "key", name="uq_flavor_compounds_tenant_key"),
    )
    with op.batch_alter_table("flavor_compounds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flavor_compounds_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "ingredients",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_ingredients_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingredients")),
        sa.UniqueConstraint("tenant_id", "key", name="uq_ingredients_tenant_key"),
    )
    with op.batch_alter_table("ingredients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingredients_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "food_avoidances",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ingredient_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ingredient_id"],
            ["ingredients.id"],
            name=op.f("fk_food_avoidances_ingredient_id_ingredients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_food_avoidances_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "ingredient_id", name=op.f("pk_food_avoidances")),
    )
    op.create_table(
        "ingredient_compounds",
        sa.Column("ingredient_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("compound_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["compound_id"],
            ["flavor_compounds.id"],
            name=op.f("fk_ingredient_compounds_compound_id_flavor_compounds"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ingredient_id"],
            ["ingredients.id"],
            name=op.f("fk_ingredient_compounds_ingredient_id_ingredients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ingredient_id", "compound_id", name=op.f("pk_ingredient_compounds")),
    )
    with op.batch_alter_table("ingredient_compounds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ingredient_compounds_compound_id"), ["compound_id"], unique=False
        )

    op.create_table(
        "recipes",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("cuisine", sa.String(length=100), nullable=True),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_recipes_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_recipes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipes")),
        sa.UniqueConstraint("tenant_id", "external_id", name="uq_recipes_tenant_external"),
    )
    with op.batch_alter_table("recipes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recipes_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index("ix_recipes_user", ["user_id"], unique=False)

    op.create_table(
        "recipe_ingredients",
        sa.Column("recipe_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ingredient_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["ingredient_id"],
            ["ingredients.id"],
            name=op.f("fk_recipe_ingredients_ingredient_id_ingredients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipe_id"],
            ["recipes.id"],
            name=op.f("fk_recipe_ingredients_recipe_id_recipes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("recipe_id", "ingredient_id", name=op.f("pk_recipe_ingredients")),
    )
    with op.batch_alter_table("recipe_ingredients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recipe_ingredients_ingredient_id"), ["ingredient_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("recipe_ingredients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recipe_ingredients_ingredient_id"))

    op.drop_table("recipe_ingredients")
    with op.batch_alter_table("recipes", schema=None) as batch_op:
        batch_op.drop_index("ix_recipes_user")
        batch_op.drop_index(batch_op.f("ix_recipes_tenant_id"))

    op.drop_table("recipes")
    with op.batch_alter_table("ingredient_compounds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingredient_compounds_compound_id"))

    op.drop_table("ingredient_compounds")
    op.drop_table("food_avoidances")
    with op.batch_alter_table("ingredients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingredients_tenant_id"))

    op.drop_table("ingredients")
    with op.batch_alter_table("flavor_compounds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flavor_compounds_tenant_id"))

    op.drop_table("flavor_compounds")
