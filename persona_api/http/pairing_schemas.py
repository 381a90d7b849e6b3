"""msgspec Structs of the ingredient, recipe, food-preference and pairing routes."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from persona_api.http.schemas import ExternalId

MAX_INGREDIENTS_PER_BATCH = 1000
MAX_RECIPES_PER_BATCH = 1000

IngredientName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["garlic"])]
Names = Annotated[list[IngredientName], msgspec.Meta(max_length=100)]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Mode = Literal["recipe", "flavor", "blend"]


class IngredientBody(msgspec.Struct, forbid_unknown_fields=True):
    name: IngredientName
    category: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    compounds: (
        Annotated[
            list[Annotated[str, msgspec.Meta(min_length=1, max_length=300)]], msgspec.Meta(max_length=2000)
        ]
        | None
    ) = None
    """Flavor compounds by name; replaces the ingredient's list when given."""


class IngredientOut(msgspec.Struct):
    name: str
    key: str
    """The normalized name every lookup uses (lower case, singular, single spaces)."""
    category: str


class IngredientDetail(msgspec.Struct):
    name: str
    key: str
    category: str
    compounds: list[str]
    recipes: int


class WriteOut(msgspec.Struct):
    created: int
    updated: int
    unchanged: int
    ids: list[str] = msgspec.field(default_factory=list)


class RecipeBody(msgspec.Struct, forbid_unknown_fields=True):
    ingredients: Annotated[list[IngredientName], msgspec.Meta(min_length=1, max_length=100)]
    id: ExternalId | None = None
    """The client's recipe id; generated when absent (the response lists the ids in order)."""
    cuisine: Label | None = None
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] | None = None
    user: ExternalId | None = None
    """The owner: their recipes weight their suggestions (created on first sight)."""


class RecipeOut(msgspec.Struct):
    id: str
    ingredients: list[str]
    cuisine: str | None
    title: str | None
    user: str | None


class FoodPreferences(msgspec.Struct, forbid_unknown_fields=True):
    dislikes: Names = msgspec.field(default_factory=list)
    allergies: Names = msgspec.field(default_factory=list)


class CompleteRequest(msgspec.Struct, forbid_unknown_fields=True):
    ingredients: Annotated[list[IngredientName], msgspec.Meta(min_length=1, max_length=100)]
    k: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10
    mode: Mode | None = None
    """``recipe`` (what recipes combine), ``flavor`` (shared compounds: novel pairings) or
    ``blend``; default: the mode that won on validation."""
    cuisine: Label | None = None
    exclude: Names = msgspec.field(default_factory=list)
    categories: Annotated[list[Label], msgspec.Meta(max_length=20)] = msgspec.field(default_factory=list)
    """Only suggest ingredients of these categories (e.g. ``herb``)."""
    user: ExternalId | None = None
    """Never suggest what this user dislikes or is allergic to; weight by their own recipes."""


class MissingRequest(msgspec.Struct, forbid_unknown_fields=True):
    ingredients: Annotated[list[IngredientName], msgspec.Meta(min_length=1, max_length=100)]
    k: Annotated[int, msgspec.Meta(ge=1, le=20)] = 3
    cuisine: Label | None = None
    user: ExternalId | None = None


class CheckRequest(msgspec.Struct, forbid_unknown_fields=True):
    ingredients: Annotated[list[IngredientName], msgspec.Meta(min_length=2, max_length=50)]
    user: ExternalId | None = None


class Evidence(msgspec.Struct):
    ingredient: str
    count: int


class SuggestionOut(msgspec.Struct):
    ingredient: str
    category: str
    score: float
    reason: str
    cooked_with: list[Evidence]
    """Given ingredients it appears with most, and in how many recipes."""
    shared_compounds: list[Evidence]
    """Given ingredients it shares most flavor compounds with, and how many."""
    probability: float | None = None
    """``missing`` only: how likely this is the one missing ingredient."""


class SuggestionsOut(msgspec.Struct):
    suggestions: list[SuggestionOut]
    mode: Mode
    model_version: str
    unscored: list[str]
    """Given ingredients added after the last re-index: accepted, not used yet."""
    avoided: list[str]
    """The user's disliked and allergenic ingredients, never suggested."""


class PairOut(msgspec.Struct):
    a: str
    b: str
    score: float
    """Compatibility: > 0 together more often than their popularity predicts, < 0 less often."""
    together: int
    expected: float
    shared_compounds: int
    advise_against: bool
    why: list[str]


class AvoidOut(msgspec.Struct):
    ingredient: str
    reason: Literal["dislike", "allergy"]


class CheckOut(msgspec.Struct):
    score: float | None
    """Mean compatibility over the scored pairs."""
    pairs: list[PairOut]
    """Every pair, least compatible first."""
    advise_against: list[PairOut]
    avoid: list[AvoidOut]
    model_version: str
    unscored: list[str]
