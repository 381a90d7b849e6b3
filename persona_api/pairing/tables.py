"""Tables of ingredient pairing: a tenant's ingredients, flavor compounds and recipes, and what each
user will not eat.

Ingredients and compounds are looked up by ``key`` (see :mod:`.names`); ``name`` keeps the
spelling first given. A recipe may belong to a user (their own recipes weight their suggestions);
deleting the user deletes them (``ON DELETE CASCADE``), as it does their avoidances.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from persona_api.store.tables import Base, BigIntId, utcnow


class Ingredient(Base):
    __tablename__ = "ingredients"
    __table_args__ = (UniqueConstraint("tenant_id", "key", name="uq_ingredients_tenant_key"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FlavorCompound(Base):
    __tablename__ = "flavor_compounds"
    __table_args__ = (UniqueConstraint("tenant_id", "key", name="uq_flavor_compounds_tenant_key"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(300))
    name: Mapped[str] = mapped_column(String(300))


class IngredientCompound(Base):
    __tablename__ = "ingredient_compounds"

    ingredient_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("ingredients.id", ondelete="CASCADE"), primary_key=True
    )
    compound_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("flavor_compounds.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Recipe(Base):
    """A set of ingredients, with an optional cuisine and owner; ``external_id`` is the client's."""

    __tablename__ = "recipes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id", name="uq_recipes_tenant_external"),
        Index("ix_recipes_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str | None] = mapped_column(String(500), default=None)
    cuisine: Mapped[str | None] = mapped_column(String(100), default=None)
    user_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecipeIngredient(Base):
    __tablename__ = "recipe_ingredients"

    recipe_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("recipes.id", ondelete="CASCADE"), primary_key=True
    )
    ingredient_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("ingredients.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class FoodAvoidance(Base):
    """An ingredient a user must never be offered: a ``dislike`` or an ``allergy``."""

    __tablename__ = "food_avoidances"

    user_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    ingredient_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("ingredients.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
