"""Catalog, interaction and recommendation routes.

Bulk routes take a JSON array or NDJSON (``Content-Type: application/x-ndjson``), one record per
line, bounded per batch; a batch is written completely or not at all.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.pagination import OffsetPagination
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.errors import FieldProblem, InvalidInput
from persona_api.http.openapi import batch_of, reads_only
from persona_api.http.pagination import PageRequest
from persona_api.http.paths import IdPath
from persona_api.http.recs_schemas import (
    MAX_EVENTS_PER_BATCH,
    MAX_ITEMS_PER_BATCH,
    MAX_REVIEWS_PER_BATCH,
    Ingested,
    InteractionBody,
    InteractionOut,
    ItemBody,
    ItemOut,
    NextRequest,
    Recommendations,
    RecommendedItem,
    ReviewBody,
    UpsertOut,
    UserCodeOut,
    decode_batch,
)
from persona_api.preferences.service import Preferences
from persona_api.recsys.catalog import Catalog, ItemIn
from persona_api.recsys.events import Events, IngestResult, InteractionIn, ReviewIn
from persona_api.recsys.rerank import pool_size
from persona_api.recsys.rerank import rerank as rerank_by_preferences
from persona_api.recsys.service import Query, Recommender, Result
from persona_api.recsys.tables import CatalogItem
from persona_api.store.tables import User

K = Annotated[int, QueryParameter(ge=1, le=100, description="How many items (1-100).")]
Filters = Annotated[
    list[str] | None,
    QueryParameter(
        description="Repeatable `key:value`: only items whose attribute `key` is (or contains) `value`."
    ),
]
Exclude = Annotated[list[str] | None, QueryParameter(description="Repeatable item id never to return.")]
Rerank = Annotated[
    Literal["preferences"] | None,
    QueryParameter(description="`preferences`: re-order by the user's preference latent and objective."),
]


def parse_filters(raw: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, f in enumerate(raw or []):
        key, sep, value = f.partition(":")
        if not sep or not key:
            raise InvalidInput(
                "filters are key:value", [FieldProblem(f"filter[{i}]", f"{f!r} is not key:value")]
            )
        out[key] = value
    return out


def item_out(r: CatalogItem) -> ItemOut:
    return ItemOut(
        id=r.external_id,
        title=r.title,
        description=r.description,
        attributes=r.attributes,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def recommendations(result: Result, user: str | None = None) -> Recommendations:
    return Recommendations(
        items=[
            RecommendedItem(
                id=p.item.external_id,
                title=p.item.title,
                score=round(p.score, 6),
                reason=p.reason,
                because=p.because,
                attributes=p.item.attributes,
            )
            for p in result.items
        ],
        strategy=result.strategy,  # type: ignore[arg-type]
        model_version=result.model_version,
        user=user,
    )


def ingested(r: IngestResult) -> Ingested:
    return Ingested(accepted=r.accepted, duplicates=r.duplicates, users_created=r.users_created)


async def read_batch(request: Request[Any, Any, Any], kind: type[Any], limit: int) -> list[Any]:
    """The request body as a bounded batch of ``kind``: a JSON array, or NDJSON by content type."""
    return decode_batch(await request.body(), request.headers.get("content-type", ""), kind, limit)


class ItemController(Controller):
    path = "/v1/items"
    tags = ["recommendations"]

    @post(
        operation_id="upsertItems",
        summary="Create or replace catalog items (JSON array or NDJSON, up to 1000)",
        status_code=200,
        opt=batch_of(ItemBody, MAX_ITEMS_PER_BATCH),
    )
    async def upsert_items(
        self, request: Request[Any, Any, Any], catalog: NamedDependency[Catalog]
    ) -> UpsertOut:
        batch: list[ItemBody] = await read_batch(request, ItemBody, MAX_ITEMS_PER_BATCH)
        result = await catalog.upsert(
            [
                ItemIn(external_id=b.id, title=b.title, description=b.description, attributes=b.attributes)
                for b in batch
            ]
        )
        return UpsertOut(created=result.created, updated=result.updated, unchanged=result.unchanged)

    @get(operation_id="listItems", summary="List catalog items")
    async def list_items(
        self, catalog: NamedDependency[Catalog], page: NamedDependency[PageRequest]
    ) -> OffsetPagination[ItemOut]:
        rows, total = await catalog.list(limit=page.limit, offset=page.offset)
        return OffsetPagination(
            items=[item_out(r) for r in rows], limit=page.limit, offset=page.offset, total=total
        )

    @get("/{item_id:str}", operation_id="getItem", summary="Get a catalog item")
    async def get_item(self, item_id: IdPath, catalog: NamedDependency[Catalog]) -> ItemOut:
        return item_out(await catalog.get(item_id))

    @delete(
        "/{item_id:str}",
        operation_id="deleteItem",
        summary="Delete an item with its interactions and reviews",
    )
    async def delete_item(self, item_id: IdPath, catalog: NamedDependency[Catalog]) -> None:
        await catalog.delete(item_id)

    @get("/{item_id:str}/similar", operation_id="similarItems", summary="Items similar to an item")
    async def similar(
        self,
        item_id: IdPath,
        recommender: NamedDependency[Recommender],
        k: K = 10,
        filter: Filters = None,
    ) -> Recommendations:
        return recommendations(await recommender.similar(item_id, k, parse_filters(filter)))


class RecommendationController(Controller):
    path = "/v1"
    tags = ["recommendations"]

    @post(
        "/interactions",
        operation_id="addInteractions",
        summary="Record interactions (JSON array or NDJSON, up to 5000)",
        status_code=200,
        opt=batch_of(InteractionBody, MAX_EVENTS_PER_BATCH),
    )
    async def add_interactions(
        self, request: Request[Any, Any, Any], events: NamedDependency[Events]
    ) -> Ingested:
        batch: list[InteractionBody] = await read_batch(request, InteractionBody, MAX_EVENTS_PER_BATCH)
        interactions = [
            InteractionIn(
                user=b.user, item=b.item, kind=b.type, value=b.value, weight=b.weight, at=b.at, event_id=b.id
            )
            for b in batch
        ]
        return ingested(await events.add_interactions(interactions))

    @post(
        "/reviews",
        operation_id="addReviews",
        summary="Record reviews (JSON array or NDJSON, up to 500)",
        status_code=200,
        opt=batch_of(ReviewBody, MAX_REVIEWS_PER_BATCH),
    )
    async def add_reviews(self, request: Request[Any, Any, Any], events: NamedDependency[Events]) -> Ingested:
        batch: list[ReviewBody] = await read_batch(request, ReviewBody, MAX_REVIEWS_PER_BATCH)
        reviews = [ReviewIn(user=b.user, item=b.item, text=b.text, rating=b.rating, at=b.at) for b in batch]
        return ingested(await events.add_reviews(reviews))

    @get(
        "/users/{user_id:str}/interactions",
        operation_id="listInteractions",
        summary="A user's interactions, newest first",
    )
    async def list_interactions(
        self,
        user_id: IdPath,
        user: NamedDependency[User],
        events: NamedDependency[Events],
        page: NamedDependency[PageRequest],
    ) -> OffsetPagination[InteractionOut]:
        rows, total = await events.interactions_of(user, limit=page.limit, offset=page.offset)
        items = [
            InteractionOut(item=ext, type=i.kind, value=i.value, weight=i.weight, at=i.at, id=i.event_id)
            for i, ext in rows
        ]
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)

    @get(
        "/users/{user_id:str}/recommendations",
        operation_id="recommendForUser",
        summary="Next items for a user",
    )
    async def for_user(
        self,
        user_id: IdPath,
        user: NamedDependency[User],
        preferences: NamedDependency[Preferences],
        recommender: NamedDependency[Recommender],
        db_session: NamedDependency[AsyncSession],
        k: K = 10,
        exclude_seen: Annotated[
            bool, QueryParameter(description="Leave out items the user has interacted with.")
        ] = True,
        exclude: Exclude = None,
        filter: Filters = None,
        rerank: Rerank = None,
    ) -> Recommendations:
        """With ``rerank=preferences`` the recommender proposes 3k items (at most 300) and each gets
        ``0.5 * position + 0.5 * liking``: its place in the recommender's order scaled 1..0 and the
        user's preference-latent utility of its catalog embedding (plus the objective direction's
        utility, when set) scaled 1..0; the best k are returned with that score."""
        query = Query(
            k=k, exclude_seen=exclude_seen, exclude=tuple(exclude or ()), where=parse_filters(filter)
        )
        if rerank is None:
            return recommendations(await recommender.for_user(user_id, query), user=user_id)
        result = await recommender.for_user(user_id, replace(query, k=pool_size(k)))
        reranked = await rerank_by_preferences(db_session, preferences, user, result, k)
        return recommendations(reranked, user=user_id)

    @post(
        "/recommendations/next",
        operation_id="recommendForSession",
        summary="Next items for an anonymous session",
        status_code=200,
        opt=reads_only(),
    )
    async def for_session(
        self, data: JSONBody[NextRequest], recommender: NamedDependency[Recommender]
    ) -> Recommendations:
        query = Query(
            k=data.k, exclude_seen=data.exclude_seen, exclude=tuple(data.exclude), where=data.filters
        )
        return recommendations(await recommender.for_session(data.items, query))

    @get("/users/{user_id:str}/code", operation_id="userCode", summary="The user's quantized taste code")
    async def user_code(
        self, user_id: IdPath, user: NamedDependency[User], recommender: NamedDependency[Recommender]
    ) -> UserCodeOut:
        code = await recommender.user_code(user)
        return UserCodeOut(
            user=user_id,
            code=list(code.code),
            code_str="-".join(str(c) for c in code.code),
            model_version=code.model_version,
            similar_users=code.neighbours,
        )
