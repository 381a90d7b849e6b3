"""Catalog, interactions and recommendations through the HTTP API, trained by the re-index job."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from persona_api.config import Settings
from persona_api.recsys.tables import Interaction
from tests.conftest import TenantKey, admin_headers, fetch_all, new_tenant
from tests.integration.recs_fixtures import START, catalog, item_id, load, train


@pytest.fixture
async def tenant(client: AsyncTestClient[Litestar]) -> AsyncIterator[TenantKey]:
    """A tenant deleted after the test, so later tests' training runs do not retrain it."""
    key = await new_tenant(client)
    yield key
    await client.delete(f"/v1/admin/tenants/{key.tenant_id}", headers=admin_headers())


async def _recs(
    client: AsyncTestClient[Litestar], h: dict[str, str], user: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(f"/v1/users/{user}/recommendations", params=params, headers=h)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _ids(body: dict[str, Any]) -> list[str]:
    return [i["id"] for i in body["items"]]


async def _interaction_count(database_url: str) -> int:
    [(count,)] = await fetch_all(database_url, select(func.count()).select_from(Interaction))
    return int(count)


async def _refresh(app: Litestar) -> None:
    assert await asyncio.to_thread(app.state.artifacts.refresh)


async def _trained(
    app: Litestar, client: AsyncTestClient[Litestar], tenant: TenantKey, settings: Settings
) -> str:
    """The synthetic walks loaded, trained by the re-index job and hot-loaded; returns the version."""
    await load(client, tenant.headers)
    version = await train(settings)
    await _refresh(app)
    return version


# --- ingestion ---------------------------------------------------------------------------------


async def test_items_upsert_json_and_ndjson(client: AsyncTestClient[Litestar], tenant: TenantKey) -> None:
    h = tenant.headers
    first = await client.post("/v1/items", json=catalog()[:3], headers=h)
    assert first.json() == {"created": 3, "updated": 0, "unchanged": 0}
    lines = "\n".join(
        json.dumps(x)
        for x in [{"id": "tea-0", "title": "Sencha green tea"}, {"id": "new-1", "title": "Kettle"}]
    )
    second = await client.post(
        "/v1/items", content=lines + "\n", headers={**h, "Content-Type": "application/x-ndjson"}
    )
    assert second.status_code == 200, second.text
    assert second.json() == {"created": 1, "updated": 1, "unchanged": 0}
    item = (await client.get("/v1/items/tea-0", headers=h)).json()
    assert item["title"] == "Sencha green tea" and item["attributes"] == {}
    listing = (await client.get("/v1/items", params={"limit": 2}, headers=h)).json()
    assert listing["total"] == 4 and len(listing["items"]) == 2


async def test_bad_batches_are_rejected_whole(
    client: AsyncTestClient[Litestar], tenant: TenantKey, database_url: str
) -> None:
    h = tenant.headers
    missing_title = await client.post("/v1/items", json=[{"id": "a", "title": "A"}, {"id": "b"}], headers=h)
    assert missing_title.status_code == 422
    assert missing_title.headers["content-type"].startswith("application/problem+json")
    assert "$[1]" in missing_title.text
    assert (await client.get("/v1/items/a", headers=h)).status_code == 404

    bad_line = await client.post(
        "/v1/items",
        content='{"id": "a", "title": "A"}\n{"id": "b", "title": 5}\n',
        headers={**h, "Content-Type": "application/x-ndjson"},
    )
    assert bad_line.status_code == 422 and "line 2" in bad_line.json()["detail"]
    twice = await client.post(
        "/v1/items", json=[{"id": "a", "title": "A"}, {"id": "a", "title": "B"}], headers=h
    )
    assert twice.status_code == 422
    too_many = await client.post(
        "/v1/items", json=[{"id": f"i{n}", "title": "x"} for n in range(1001)], headers=h
    )
    assert too_many.status_code == 413
    empty = await client.post("/v1/items", json=[], headers=h)
    assert empty.status_code == 422

    await client.post("/v1/items", json=catalog(), headers=h)
    before = await _interaction_count(database_url)
    unknown = await client.post(
        "/v1/interactions",
        json=[
            {"user": "u1", "item": "tea-0", "type": "view"},
            {"user": "u1", "item": "ghost-1", "type": "view"},
            {"user": "u1", "item": "ghost-2", "type": "like"},
        ],
        headers=h,
    )
    assert unknown.status_code == 422
    assert "ghost-1" in unknown.json()["detail"] and "ghost-2" in unknown.json()["detail"]
    assert await _interaction_count(database_url) == before
    assert (await client.get("/v1/users/u1", headers=h)).status_code == 404  # nothing partial

    for bad in (
        {"user": "u1", "item": "tea-0", "type": "rating"},  # a rating needs a value
        {"user": "u1", "item": "tea-0", "type": "rating", "value": 9},
        {"user": "u1", "item": "tea-0", "type": "view", "value": 3},
        {"user": "u1", "item": "tea-0", "type": "teleport"},
        {"user": "u1", "item": "tea-0", "type": "view", "at": "2026-01-01T10:00:00"},  # naive
        {"user": "u1", "item": "tea-0", "type": "view", "weight": -1},
    ):
        response = await client.post("/v1/interactions", json=[bad], headers=h)
        assert response.status_code == 422, (bad, response.text)
    assert await _interaction_count(database_url) == before


async def test_interactions_are_idempotent_with_event_ids(
    client: AsyncTestClient[Litestar], tenant: TenantKey
) -> None:
    h = tenant.headers
    await client.post("/v1/items", json=catalog(), headers=h)
    batch = [
        {"user": "ann", "item": "tea-0", "type": "view", "id": "e1"},
        {"user": "ann", "item": "tea-1", "type": "purchase", "id": "e2"},
        {"user": "ann", "item": "tea-1", "type": "rating", "value": 5},
    ]
    first = (await client.post("/v1/interactions", json=batch, headers=h)).json()
    assert first == {"accepted": 3, "duplicates": 0, "users_created": 1}
    replay = (await client.post("/v1/interactions", json=batch[:2], headers=h)).json()
    assert replay == {"accepted": 0, "duplicates": 2, "users_created": 0}
    listed = (await client.get("/v1/users/ann/interactions", headers=h)).json()
    assert listed["total"] == 3
    assert {i["id"] for i in listed["items"]} == {"e1", "e2", None}


async def test_reviews_replace_per_user_and_item(
    client: AsyncTestClient[Litestar], tenant: TenantKey
) -> None:
    h = tenant.headers
    await client.post("/v1/items", json=catalog(), headers=h)
    review = {"user": "bo", "item": "camp-0", "text": "Roomy tent, kept us dry.", "rating": 5}
    assert (await client.post("/v1/reviews", json=[review], headers=h)).json()["accepted"] == 1
    again = await client.post("/v1/reviews", json=[{**review, "text": "It leaked."}], headers=h)
    assert again.json() == {"accepted": 0, "duplicates": 1, "users_created": 0}
    export = (await client.get("/v1/users/bo/export", headers=h)).json()
    assert [r["text"] for r in export["data"]["recommendations"]["reviews"]] == ["It leaked."]


# --- serving -----------------------------------------------------------------------------------


async def test_cold_start_serves_popular_items_before_any_training(
    client: AsyncTestClient[Litestar], tenant: TenantKey
) -> None:
    h = tenant.headers
    await client.post("/v1/items", json=catalog(), headers=h)
    now_events = [{"user": f"p{n}", "item": "paint-2", "type": "view"} for n in range(3)]
    now_events += [
        {"user": "p9", "item": "camp-5", "type": "view"},
        {"user": "fan", "item": "tea-3", "type": "like"},
    ]
    await client.post("/v1/interactions", json=now_events, headers=h)
    body = await _recs(client, h, "fan", k=2)
    assert body["strategy"] == "popular" and body["model_version"] is None
    assert _ids(body) == ["paint-2", "camp-5"]  # most popular first; the user's own item left out
    assert (await client.get("/v1/users/nobody/recommendations", headers=h)).status_code == 404


async def test_trained_model_serves_fresh_history(
    app: Litestar,
    client: AsyncTestClient[Litestar],
    tenant: TenantKey,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = tenant.headers
    caplog.set_level(logging.INFO, logger="persona_api.recsys")
    version = await _trained(app, client, tenant, settings)
    trained = [r for r in caplog.records if r.getMessage() == "seqrec.trained"]
    assert trained and getattr(trained[0], "tenant_id", None) == tenant.tenant_id
    assert any(r.getMessage() == "seqrec.progress" for r in caplog.records)

    await client.post(
        "/v1/interactions",
        json=[
            {"user": "new", "item": item_id("camp", i), "type": "view", "at": START.isoformat()}
            for i in (0, 1)
        ],
        headers=h,
    )
    camp = await _recs(client, h, "new", k=3)
    assert camp["strategy"] == "sequential" and camp["model_version"] == version
    assert _ids(camp)[0] == "camp-2", camp  # the walk goes on
    assert not {"camp-0", "camp-1"} & set(_ids(camp))  # seen items excluded by default
    assert all(i["because"] and i["reason"] for i in camp["items"])

    # A moment later the user turns to painting: the very next request follows, without training.
    await client.post(
        "/v1/interactions",
        json=[{"user": "new", "item": item_id("paint", i), "type": "purchase"} for i in (0, 1, 2)],
        headers=h,
    )
    paint = await _recs(client, h, "new", k=3)
    assert paint["model_version"] == version
    assert _ids(paint)[0].startswith("paint-"), paint

    with_seen = await _recs(client, h, "new", k=30, exclude_seen="false")
    assert "paint-2" in _ids(with_seen)
    excluded = await _recs(client, h, "new", k=3, exclude=_ids(paint)[:2])
    assert not set(_ids(paint)[:2]) & set(_ids(excluded))
    only_tea = await _recs(client, h, "new", k=3, filter="theme:tea")
    assert _ids(only_tea) and all(i.startswith("tea-") for i in _ids(only_tea))
    bad_filter = await client.get("/v1/users/new/recommendations", params={"filter": "theme"}, headers=h)
    assert bad_filter.status_code == 422


async def test_dislikes_are_never_recommended(
    app: Litestar, client: AsyncTestClient[Litestar], tenant: TenantKey, settings: Settings
) -> None:
    h = tenant.headers
    await _trained(app, client, tenant, settings)
    await client.post("/v1/interactions", json=[{"user": "d", "item": "tea-0", "type": "view"}], headers=h)
    top = _ids(await _recs(client, h, "d", k=3))[0]
    await client.post(
        "/v1/interactions",
        json=[
            {"user": "d", "item": top, "type": "dislike"},
            {"user": "d", "item": "tea-5", "type": "rating", "value": 1},
        ],
        headers=h,
    )
    everything = _ids(await _recs(client, h, "d", k=100, exclude_seen="false"))
    assert top not in everything and "tea-5" not in everything
    assert len(everything) == 22  # 24 items less the two rejected ones (tea-0 is allowed back)
    # Viewing it again does not lift a dislike; only explicit approval does.
    await client.post("/v1/interactions", json=[{"user": "d", "item": top, "type": "view"}], headers=h)
    assert top not in _ids(await _recs(client, h, "d", k=100, exclude_seen="false"))
    await client.post("/v1/interactions", json=[{"user": "d", "item": top, "type": "like"}], headers=h)
    assert top in _ids(await _recs(client, h, "d", k=100, exclude_seen="false"))


async def test_new_items_and_sessions_and_similar(
    app: Litestar, client: AsyncTestClient[Litestar], tenant: TenantKey, settings: Settings
) -> None:
    h = tenant.headers
    await _trained(app, client, tenant, settings)
    # Added after training: recommendable at once, from its title alone.
    await client.post(
        "/v1/items",
        json=[{"id": "tea-new", "title": "Jasmine green tea", "attributes": {"fresh": True}}],
        headers=h,
    )
    await client.post("/v1/interactions", json=[{"user": "t", "item": "tea-1", "type": "view"}], headers=h)
    fresh = await _recs(client, h, "t", k=1, filter="fresh:true")
    assert _ids(fresh) == ["tea-new"] and fresh["items"][0]["because"] == ["tea-1"]

    session = await client.post(
        "/v1/recommendations/next", json={"items": ["paint-0", "paint-1"], "k": 3}, headers=h
    )
    assert session.status_code == 200, session.text
    ids = _ids(session.json())
    assert ids[0].startswith("paint-") and not {"paint-0", "paint-1"} & set(ids)
    unknown = await client.post("/v1/recommendations/next", json={"items": ["paint-0", "nope"]}, headers=h)
    assert unknown.status_code == 422 and "nope" in unknown.text

    similar = await client.get("/v1/items/camp-3/similar", params={"k": 4}, headers=h)
    assert similar.status_code == 200
    neighbours = _ids(similar.json())
    assert "camp-3" not in neighbours and all(i.startswith("camp-") for i in neighbours[:2]), neighbours
    new_similar = (await client.get("/v1/items/tea-new/similar", params={"k": 3}, headers=h)).json()
    assert any(i.startswith("tea-") for i in _ids(new_similar))
    assert (await client.get("/v1/items/ghost/similar", headers=h)).status_code == 404


async def test_user_codes_group_similar_users(
    app: Litestar, client: AsyncTestClient[Litestar], tenant: TenantKey, settings: Settings
) -> None:
    h = tenant.headers
    await _trained(app, client, tenant, settings)
    codes = {}
    for user in ("u0", "u3", "u1"):  # u0 and u3 walk the tea theme, u1 the camping one
        response = await client.get(f"/v1/users/{user}/code", headers=h)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["code"]) == 2 and body["code_str"] == "-".join(map(str, body["code"]))
        codes[user] = body["code"]
    assert codes["u0"][0] == codes["u3"][0] != codes["u1"][0]
    await client.post("/v1/users", json={"id": "blank"}, headers=h)
    assert (await client.get("/v1/users/blank/code", headers=h)).status_code == 404


async def test_hot_swap_to_a_newer_model(
    app: Litestar, client: AsyncTestClient[Litestar], tenant: TenantKey, settings: Settings
) -> None:
    h = tenant.headers
    first = await _trained(app, client, tenant, settings)
    assert (await _recs(client, h, "u0"))["model_version"] == first
    # A new item with a clear audience, then a new model that knows it.
    await client.post("/v1/items", json=[{"id": "tea-8", "title": "Tea cosy"}], headers=h)
    await client.post(
        "/v1/interactions",
        json=[
            {"user": f"late{n}", "item": i, "type": "purchase", "at": f"2026-03-01T10:0{k}:00Z"}
            for n in range(25)
            for k, i in enumerate(["tea-6", "tea-7", "tea-8"])
        ],
        headers=h,
    )
    second = await train(settings)
    assert second != first
    await _refresh(app)
    assert (await client.get("/readyz")).json()["artifact_version"] == second
    body = await _recs(client, h, "u0")
    assert body["model_version"] == second


async def test_tenants_are_isolated(
    app: Litestar, client: AsyncTestClient[Litestar], tenant: TenantKey, settings: Settings
) -> None:
    await load(client, tenant.headers)
    other = await new_tenant(client, "globex")
    o = other.headers
    assert (await client.get("/v1/items/tea-0", headers=o)).status_code == 404
    stolen = await client.post(
        "/v1/interactions", json=[{"user": "x", "item": "tea-0", "type": "view"}], headers=o
    )
    assert stolen.status_code == 422
    assert (await client.get("/v1/users/u0/recommendations", headers=o)).status_code == 404
    await client.post("/v1/items", json=[{"id": "tea-0", "title": "Their own tea"}], headers=o)
    await client.post("/v1/interactions", json=[{"user": "x", "item": "tea-0", "type": "view"}], headers=o)
    await train(settings)
    await _refresh(app)
    theirs = await _recs(client, o, "x", exclude_seen="false")
    assert theirs["strategy"] == "popular" and _ids(theirs) == ["tea-0"]
    assert theirs["items"][0]["title"] == "Their own tea"
    ours = (await client.get("/v1/items/tea-0", headers=tenant.headers)).json()
    assert ours["title"] == "Green Tea"
    assert (await client.get("/v1/items/tea-0/similar", headers=o)).status_code == 404  # no model there
    await client.delete(f"/v1/admin/tenants/{other.tenant_id}", headers=admin_headers())


async def test_deleting_a_user_removes_their_events(
    app: Litestar, client: AsyncTestClient[Litestar], tenant: TenantKey, settings: Settings, database_url: str
) -> None:
    h = tenant.headers
    await load(client, h)
    await client.post("/v1/reviews", json=[{"user": "u0", "item": "tea-1", "text": "Lovely."}], headers=h)
    await train(settings)
    await _refresh(app)
    export = (await client.get("/v1/users/u0/export", headers=h)).json()["data"]["recommendations"]
    assert export["interactions"] and export["reviews"][0]["text"] == "Lovely."
    sharing = (await client.get("/v1/users/u3/code", headers=h)).json()["similar_users"]
    assert (await client.delete("/v1/users/u0", headers=h)).status_code == 204
    rows = await fetch_all(
        database_url,
        select(Interaction.id).where(
            Interaction.tenant_id == tenant.tenant_id, Interaction.event_id.like("u0-%")
        ),
    )
    assert rows == []
    assert (await client.get("/v1/users/u0/interactions", headers=h)).status_code == 404
    after = (await client.get("/v1/users/u3/code", headers=h)).json()["similar_users"]
    assert "u0" not in after and set(after) <= set(sharing)
    # The trained model still knows u0's items, not u0: another user still gets recommendations.
    assert (await _recs(client, h, "u3"))["strategy"] == "sequential"
