"""Ingredient, recipe, food-preference and pairing routes.

Bulk routes take a JSON array or NDJSON, bounded per batch, written completely or not at all.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.pagination import OffsetPagination
from litestar.params import JSONBody, QueryParameter

from persona_api.http.deps import CREATES_USER
from persona_api.http.openapi import answers, batch_of, reads_only
from persona_api.http.pagination import PageRequest
from persona_api.http.pairing_schemas import (
    MAX_INGREDIENTS_PER_BATCH,
    MAX_RECIPES_PER_BATCH,
    AvoidOut,
    CheckOut,
    CheckRequest,
    CompleteRequest,
    Evidence,
    FoodPreferences,
    IngredientBody,
    IngredientDetail,
    IngredientOut,
    MissingRequest,
    PairOut,
    RecipeBody,
    RecipeOut,
    SuggestionOut,
    SuggestionsOut,
    WriteOut,
)
from persona_api.http.paths import IdPath
from persona_api.http.recs import read_batch
from persona_api.pairing.ingredients import IngredientIn, WriteResult
from persona_api.pairing.pantry import Pantry
from persona_api.pairing.recipes import RecipeIn, RecipeView
from persona_api.pairing.service import PairCheck, Pairer, PairingQuery, Suggestions
from persona_api.store.tables import User
from persona_api.store.users import UserService


def write_out(r: WriteResult) -> WriteOut:
    return WriteOut(created=r.created, updated=r.updated, unchanged=r.unchanged, ids=r.ids)


def recipe_out(v: RecipeView) -> RecipeOut:
    return RecipeOut(
        id=v.external_id, ingredients=v.ingredients, cuisine=v.cuisine, title=v.title, user=v.user
    )


def suggestions_out(s: Suggestions) -> SuggestionsOut:
    return SuggestionsOut(
        suggestions=[
            SuggestionOut(
                ingredient=i.name,
                category=i.category,
                score=i.score,
                reason=i.reason,
                cooked_with=[Evidence(n, c) for n, c in i.with_],
                shared_compounds=[Evidence(n, c) for n, c in i.shared_compounds],
                probability=i.probability,
            )
            for i in s.items
        ],
        mode=s.mode,  # type: ignore[arg-type]
        model_version=s.model_version,
        unscored=s.unscored,
        avoided=s.avoided,
    )


def pair_out(p: PairCheck) -> PairOut:
    return PairOut(
        a=p.a,
        b=p.b,
        score=p.score,
        together=p.together,
        expected=p.expected,
        shared_compounds=p.shared_compounds,
        advise_against=p.advise_against,
        why=p.why,
    )


class IngredientController(Controller):
    path = "/v1/ingredients"
    tags = ["pairings"]

    @post(
        operation_id="upsertIngredients",
        summary="Create or update ingredients (JSON array or NDJSON, up to 1000)",
        status_code=200,
        opt=batch_of(IngredientBody, MAX_INGREDIENTS_PER_BATCH),
    )
    async def upsert(self, request: Request[Any, Any, Any], pantry: NamedDependency[Pantry]) -> WriteOut:
        batch: list[IngredientBody] = await read_batch(request, IngredientBody, MAX_INGREDIENTS_PER_BATCH)
        items = [
            IngredientIn(
                name=b.name,
                category=b.category,
                compounds=tuple(b.compounds) if b.compounds is not None else None,
            )
            for b in batch
        ]
        return write_out(await pantry.upsert_ingredients(items))

    @get(operation_id="listIngredients", summary="List ingredients")
    async def list_ingredients(
        self,
        pantry: NamedDependency[Pantry],
        page: NamedDependency[PageRequest],
        q: Annotated[str | None, QueryParameter(description="Only names containing this.")] = None,
        category: Annotated[str | None, QueryParameter(description="Only this category.")] = None,
    ) -> OffsetPagination[IngredientOut]:
        rows, total = await pantry.list_ingredients(
            limit=page.limit, offset=page.offset, search=q, category=category
        )
        return OffsetPagination(
            items=[IngredientOut(name=r.name, key=r.key, category=r.category) for r in rows],
            limit=page.limit,
            offset=page.offset,
            total=total,
        )

    @get("/{name:str}", operation_id="getIngredient", summary="An ingredient with its flavor compounds")
    async def get_ingredient(self, name: IdPath, pantry: NamedDependency[Pantry]) -> IngredientDetail:
        row = await pantry.get_ingredient(name)
        return IngredientDetail(
            name=row.name,
            key=row.key,
            category=row.category,
            compounds=await pantry.compounds_of(row.id),
            recipes=await pantry.recipe_count(row.id),
        )


class RecipeController(Controller):
    path = "/v1/recipes"
    tags = ["pairings"]

    @post(
        operation_id="upsertRecipes",
        summary="Create or replace recipes (JSON array or NDJSON, up to 1000)",
        status_code=200,
        opt=batch_of(RecipeBody, MAX_RECIPES_PER_BATCH),
    )
    async def upsert(
        self,
        request: Request[Any, Any, Any],
        pantry: NamedDependency[Pantry],
        users: NamedDependency[UserService],
    ) -> WriteOut:
        batch: list[RecipeBody] = await read_batch(request, RecipeBody, MAX_RECIPES_PER_BATCH)
        owners = {u: (await users.get_or_create(u)).id for u in {b.user for b in batch if b.user}}
        recipes = [
            RecipeIn(
                external_id=b.id,
                ingredients=tuple(b.ingredients),
                cuisine=b.cuisine,
                title=b.title,
                user_id=owners[b.user] if b.user else None,
            )
            for b in batch
        ]
        return write_out(await pantry.upsert_recipes(recipes))

    @get(operation_id="listRecipes", summary="List recipes, optionally one user's", opt=answers(404))
    async def list_recipes(
        self,
        pantry: NamedDependency[Pantry],
        users: NamedDependency[UserService],
        page: NamedDependency[PageRequest],
        # ``?user=`` in the URL; another name here, as ``user`` is the dependency of user routes.
        owner: Annotated[
            str | None, QueryParameter(name="user", description="Only this user's recipes.")
        ] = None,
    ) -> OffsetPagination[RecipeOut]:
        rows, total = await pantry.list_recipes(
            limit=page.limit, offset=page.offset, user_id=await users.pk_of(owner)
        )
        views = await pantry.views(rows)
        return OffsetPagination(
            items=[recipe_out(v) for v in views], limit=page.limit, offset=page.offset, total=total
        )

    @get("/{recipe_id:str}", operation_id="getRecipe", summary="A recipe")
    async def get_recipe(self, recipe_id: IdPath, pantry: NamedDependency[Pantry]) -> RecipeOut:
        row = await pantry.get_recipe(recipe_id)
        return recipe_out((await pantry.views([row]))[0])

    @delete("/{recipe_id:str}", operation_id="deleteRecipe", summary="Delete a recipe")
    async def delete_recipe(self, recipe_id: IdPath, pantry: NamedDependency[Pantry]) -> None:
        await pantry.delete_recipe(recipe_id)


class FoodPreferenceController(Controller):
    path = "/v1/users/{user_id:str}/food-preferences"
    tags = ["pairings"]

    @get(operation_id="getFoodPreferences", summary="What a user dislikes or is allergic to")
    async def get_preferences(
        self, user: NamedDependency[User], pantry: NamedDependency[Pantry]
    ) -> FoodPreferences:
        dislikes, allergies = await pantry.food_lists(user.id)
        return FoodPreferences(dislikes=dislikes, allergies=allergies)

    @put(
        operation_id="setFoodPreferences",
        summary="Replace a user's dislikes and allergies (never suggested to them)",
        dependencies=CREATES_USER,
    )
    async def set_preferences(
        self, data: JSONBody[FoodPreferences], user: NamedDependency[User], pantry: NamedDependency[Pantry]
    ) -> FoodPreferences:
        await pantry.set_avoidances(user.id, data.dislikes, data.allergies)
        dislikes, allergies = await pantry.food_lists(user.id)
        return FoodPreferences(dislikes=dislikes, allergies=allergies)


class PairingController(Controller):
    path = "/v1/pairings"
    tags = ["pairings"]

    @post(
        "/complete",
        operation_id="completeIngredients",
        summary="Ingredients to add",
        status_code=200,
        opt=reads_only() | answers(404),
    )
    async def complete(
        self,
        data: JSONBody[CompleteRequest],
        pairer: NamedDependency[Pairer],
        users: NamedDependency[UserService],
    ) -> SuggestionsOut:
        query = PairingQuery(
            ingredients=data.ingredients,
            k=data.k,
            mode=data.mode,
            cuisine=data.cuisine,
            exclude=data.exclude,
            categories=data.categories,
            user_id=await users.pk_of(data.user),
        )
        return suggestions_out(await pairer.suggest(query))

    @post(
        "/missing",
        operation_id="missingIngredient",
        summary="The most likely missing ingredient of a recipe",
        status_code=200,
        opt=reads_only() | answers(404),
    )
    async def missing(
        self,
        data: JSONBody[MissingRequest],
        pairer: NamedDependency[Pairer],
        users: NamedDependency[UserService],
    ) -> SuggestionsOut:
        query = PairingQuery(
            ingredients=data.ingredients, k=data.k, cuisine=data.cuisine, user_id=await users.pk_of(data.user)
        )
        return suggestions_out(await pairer.suggest(query, probabilities=True))

    @post(
        "/check",
        operation_id="checkIngredients",
        summary="Pairwise compatibility, and pairs to advise against",
        status_code=200,
        opt=reads_only() | answers(404),
    )
    async def check(
        self,
        data: JSONBody[CheckRequest],
        pairer: NamedDependency[Pairer],
        users: NamedDependency[UserService],
    ) -> CheckOut:
        result = await pairer.check(data.ingredients, await users.pk_of(data.user))
        pairs = [pair_out(p) for p in result.pairs]
        return CheckOut(
            score=result.score,
            pairs=pairs,
            advise_against=[p for p in pairs if p.advise_against],
            avoid=[AvoidOut(ingredient=n, reason=k) for n, k in result.avoid],  # type: ignore[arg-type]
            model_version=result.model_version,
            unscored=result.unscored,
        )
