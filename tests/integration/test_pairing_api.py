"""Ingredients, recipes and pairings through the HTTP API, trained by the re-index job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from persona_api.config import Settings
from persona_api.pairing.tables import Recipe
from tests.conftest import TenantKey, admin_headers, fetch_all, new_tenant
from tests.integration.pairing_fixtures import CUISINES, load, train


@pytest.fixture
async def tenant(client: AsyncTestClient[Litestar]) -> AsyncIterator[TenantKey]:
    """A tenant deleted after the test, so later re-index runs do not train it again."""
    key = await new_tenant(client)
    yield key
    await client.delete(f"/v1/admin/tenants/{key.tenant_id}", headers=admin_headers())


async def _trained(
    app: Litestar, client: AsyncTestClient[Litestar], tenant: TenantKey, settings: Settings
) -> str:
    await load(client, tenant.headers)
    version = await train(settings)
    assert await asyncio.to_thread(app.state.artifacts.refresh)
    return version


async def _post(client: AsyncTestClient[Litestar], path: str, body: Any, h: dict[str, str]) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=h)
    assert response.status_code == 200, response.text
    out: dict[str, Any] = response.json()
    return out


def _names(body: dict[str, Any]) -> list[str]:
    return [s["ingredient"] for s in body["suggestions"]]


async def _recipe_count(database_url: str) -> int:
    [(count,)] = await fetch_all(database_url, select(func.count()).select_from(Recipe))
    return int(count)


async def test_ingredients_are_found_however_they_are_typed(
    client: AsyncTestClient[Litestar], tenant: TenantKey
) -> None:
    h = tenant.headers
    await load(client, h)
    response = await client.get("/v1/ingredients/Olive_Oils", headers=h)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["key"], body["category"]) == ("olive oil", "olive oil", "vegetable")
    assert "italian note 0" in body["compounds"] and body["recipes"] > 0
    listed = (await client.get("/v1/ingredients", params={"q": "oil"}, headers=h)).json()
    assert {i["name"] for i in listed["items"]} == {"olive oil", "sesame oil"}
    missing = await client.get("/v1/ingredients/tomatto", headers=h)
    assert missing.status_code == 404 and "did you mean 'tomato'" in missing.json()["detail"]
    # Re-sending the same ingredients changes nothing.
    again = await _post(client, "/v1/ingredients", [{"name": "Tomatoes", "category": "vegetable"}], h)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 1)


async def test_a_recipe_batch_with_unknown_ingredients_is_rejected_whole(
    client: AsyncTestClient[Litestar], tenant: TenantKey, database_url: str
) -> None:
    h = tenant.headers
    await load(client, h)
    before = await _recipe_count(database_url)
    batch = [
        {"id": "ok-1", "ingredients": ["tomato", "basil"]},
        {"id": "bad-1", "ingredients": ["tomatoe", "basill", "unobtainium"]},
    ]
    response = await client.post("/v1/recipes", json=batch, headers=h)
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "'basill' (did you mean 'basil'?)" in problem["detail"] and "'unobtainium'" in problem["detail"]
    assert {e["field"] for e in problem["errors"]} == {f"[1].ingredients[{i}]" for i in range(3)}
    assert await _recipe_count(database_url) == before
    assert (await client.get("/v1/recipes/ok-1", headers=h)).status_code == 404


async def test_recipes_round_trip_and_accept_ndjson(
    client: AsyncTestClient[Litestar], tenant: TenantKey
) -> None:
    h = tenant.headers
    await load(client, h)
    body = (
        b'{"id": "mine-1", "ingredients": ["Tomatoes", "basil", "tomato"], "user": "ann",'
        b' "cuisine": "Italian"}\n'
    )
    response = await client.post(
        "/v1/recipes", content=body, headers={**h, "Content-Type": "application/x-ndjson"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["ids"] == ["mine-1"]
    recipe = (await client.get("/v1/recipes/mine-1", headers=h)).json()
    assert recipe == {
        "id": "mine-1",
        "ingredients": ["basil", "tomato"],
        "cuisine": "Italian",
        "title": None,
        "user": "ann",
    }
    mine = (await client.get("/v1/recipes", params={"user": "ann"}, headers=h)).json()
    assert [r["id"] for r in mine["items"]] == ["mine-1"]
    generated = await _post(client, "/v1/recipes", [{"ingredients": ["rice", "nori"]}], h)
    assert generated["created"] == 1 and generated["ids"][0].startswith("rcp_")
    assert (await client.delete("/v1/recipes/mine-1", headers=h)).status_code == 204
    assert (await client.get("/v1/recipes/mine-1", headers=h)).status_code == 404


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/pairings/complete", {"ingredients": []}),
        ("/v1/pairings/complete", {"ingredients": ["tomato"], "k": 0}),
        ("/v1/pairings/complete", {"ingredients": ["tomato"], "mode": "telepathy"}),
        ("/v1/pairings/complete", {"ingredients": ["tomato"], "surprise": True}),
        ("/v1/pairings/missing", {"ingredients": "tomato"}),
        ("/v1/pairings/check", {"ingredients": ["tomato"]}),
    ],
)
async def test_malformed_pairing_requests_are_client_errors(
    client: AsyncTestClient[Litestar], tenant: TenantKey, path: str, body: dict[str, Any]
) -> None:
    response = await client.post(path, json=body, headers=tenant.headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["source"] == "body"
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_pairings_before_training_say_not_ready(
    client: AsyncTestClient[Litestar], tenant: TenantKey
) -> None:
    await load(client, tenant.headers)
    response = await client.post(
        "/v1/pairings/complete", json={"ingredients": ["tomato"]}, headers=tenant.headers
    )
    assert response.status_code == 503
    assert "reindex" in response.json()["detail"] and response.headers["retry-after"]


async def test_complete_missing_and_check_recover_the_known_answers(
    app: Litestar, client: AsyncTestClient[Litestar], tenant: TenantKey, settings: Settings
) -> None:
    h = tenant.headers
    version = await _trained(app, client, tenant, settings)
    italian, baking, japanese = (CUISINES[c] for c in ("Italian", "Baking", "Japanese"))

    done = await _post(
        client, "/v1/pairings/complete", {"ingredients": ["Tomatoes", "basil", "garlic"], "k": 3}, h
    )
    assert set(_names(done)) == set(italian[3:])
    assert done["model_version"] == version and done["mode"] in ("recipe", "blend")
    first = done["suggestions"][0]
    assert first["reason"].startswith("cooked with") and first["cooked_with"][0]["count"] > 0
    assert [s["score"] for s in done["suggestions"]] == sorted(
        (s["score"] for s in done["suggestions"]), reverse=True
    )

    missing = await _post(client, "/v1/pairings/missing", {"ingredients": baking[:4], "k": 2}, h)
    assert set(_names(missing)) == set(baking[4:])
    assert sum(s["probability"] for s in missing["suggestions"]) > 0.8

    flavor = await _post(
        client, "/v1/pairings/complete", {"ingredients": ["butter", "sugar"], "mode": "flavor", "k": 5}, h
    )
    assert "strawberry" in _names(flavor)
    assert any("shares flavor compounds" in s["reason"] for s in flavor["suggestions"])
    recipe = await _post(
        client, "/v1/pairings/complete", {"ingredients": ["butter", "sugar"], "mode": "recipe", "k": 4}, h
    )
    assert "strawberry" not in _names(recipe) and set(_names(recipe)) <= set(baking)

    herbs = await _post(
        client,
        "/v1/pairings/complete",
        {
            "ingredients": ["rice"],
            "categories": ["asian"],
            "exclude": ["nori", "ginger"],
            "cuisine": "japanese",
        },
        h,
    )
    assert set(_names(herbs)) == {"soy sauce", "scallion", "sesame oil"}

    check = await _post(client, "/v1/pairings/check", {"ingredients": ["soy sauce", "vanilla", "flour"]}, h)
    against = {frozenset((p["a"], p["b"])) for p in check["advise_against"]}
    assert against == {frozenset(("soy sauce", "vanilla")), frozenset(("soy sauce", "flour"))}
    bad = next(p for p in check["advise_against"] if {p["a"], p["b"]} == {"soy sauce", "vanilla"})
    assert bad["together"] == 0 and any("no shared flavor compounds" in w for w in bad["why"])
    good = next(p for p in check["pairs"] if {p["a"], p["b"]} == {"vanilla", "flour"})
    assert good["score"] > 0 and not good["advise_against"]
    assert check["pairs"][0]["score"] <= check["pairs"][-1]["score"]
    assert japanese[0] == "soy sauce"


async def test_unknown_names_and_cuisines_get_suggestions(
    app: Litestar, client: AsyncTestClient[Litestar], tenant: TenantKey, settings: Settings
) -> None:
    h = tenant.headers
    await _trained(app, client, tenant, settings)
    response = await client.post(
        "/v1/pairings/complete", json={"ingredients": ["tomatto", "basil"]}, headers=h
    )
    assert response.status_code == 422
    assert "did you mean 'tomato'" in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == "ingredients[0]"
    response = await client.post(
        "/v1/pairings/complete", json={"ingredients": ["tomato"], "cuisine": "Martian"}, headers=h
    )
    assert response.status_code == 422 and "Italian" in response.json()["detail"]
    # An ingredient added after training is accepted and reported, not an error.
    await _post(client, "/v1/ingredients", [{"name": "truffle", "category": "fungus"}], h)
    done = await _post(client, "/v1/pairings/complete", {"ingredients": ["truffle", "tomato"], "k": 3}, h)
    assert done["unscored"] == ["truffle"] and "truffle" not in _names(done)


async def test_a_users_dislikes_and_allergies_are_never_suggested(
    app: Litestar, client: AsyncTestClient[Litestar], tenant: TenantKey, settings: Settings
) -> None:
    h = tenant.headers
    await _trained(app, client, tenant, settings)
    response = await client.put(
        "/v1/users/ann/food-preferences",
        json={"dislikes": ["Olive Oils"], "allergies": ["mozzarella"]},
        headers=h,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"dislikes": ["olive oil"], "allergies": ["mozzarella"]}
    body = {"ingredients": ["tomato", "basil", "garlic"], "k": 10}
    anyone = await _post(client, "/v1/pairings/complete", body, h)
    assert {"olive oil", "mozzarella"} <= set(_names(anyone))
    ann = await _post(client, "/v1/pairings/complete", {**body, "user": "ann"}, h)
    assert not {"olive oil", "mozzarella"} & set(_names(ann))
    assert ann["avoided"] == ["mozzarella", "olive oil"]
    missing = await _post(
        client,
        "/v1/pairings/missing",
        {"ingredients": ["tomato", "basil", "garlic", "oregano"], "user": "ann"},
        h,
    )
    assert not {"olive oil", "mozzarella"} & set(_names(missing))
    check = await _post(
        client, "/v1/pairings/check", {"ingredients": ["tomato", "mozzarella"], "user": "ann"}, h
    )
    assert check["avoid"] == [{"ingredient": "mozzarella", "reason": "allergy"}]
    bad = await client.put("/v1/users/ann/food-preferences", json={"dislikes": ["brocoli"]}, headers=h)
    assert bad.status_code == 422
    kept = (await client.get("/v1/users/ann/food-preferences", headers=h)).json()
    assert kept == {"dislikes": ["olive oil"], "allergies": ["mozzarella"]}
    unknown = await client.post("/v1/pairings/complete", json={**body, "user": "nobody"}, headers=h)
    assert unknown.status_code == 404


async def test_a_users_own_recipes_weight_their_suggestions(
    app: Litestar, client: AsyncTestClient[Litestar], tenant: TenantKey, settings: Settings
) -> None:
    h = tenant.headers
    await _trained(app, client, tenant, settings)
    own = [
        {"id": f"ann-{i}", "ingredients": ["garlic", "ginger", "soy sauce"], "user": "ann"} for i in range(3)
    ]
    await _post(client, "/v1/recipes", own, h)
    body = {"ingredients": ["garlic"], "k": 3, "mode": "recipe"}
    anyone = await _post(client, "/v1/pairings/complete", body, h)
    assert set(_names(anyone)) <= set(CUISINES["Italian"])
    ann = await _post(client, "/v1/pairings/complete", {**body, "user": "ann"}, h)
    assert {"ginger", "soy sauce"} & set(_names(ann))
    assert any("in your own recipes" in s["reason"] for s in ann["suggestions"])
    export = (await client.get("/v1/users/ann/export", headers=h)).json()
    assert len(export["data"]["pairings"]["recipes"]) == 3
    assert (await client.delete("/v1/users/ann", headers=h)).status_code == 204
    assert (await client.get("/v1/recipes/ann-0", headers=h)).status_code == 404


async def test_tenants_see_only_their_own_pantry(
    app: Litestar, client: AsyncTestClient[Litestar], tenant: TenantKey, settings: Settings
) -> None:
    await _trained(app, client, tenant, settings)
    other = await new_tenant(client, "other")
    try:
        h = other.headers
        assert (await client.get("/v1/ingredients/tomato", headers=h)).status_code == 404
        assert (await client.get("/v1/recipes/italian-0", headers=h)).status_code == 404
        assert (await client.get("/v1/ingredients", headers=h)).json()["total"] == 0
        response = await client.post("/v1/pairings/complete", json={"ingredients": ["tomato"]}, headers=h)
        assert response.status_code == 422  # the other tenant has no tomato
        await _post(client, "/v1/ingredients", [{"name": "tomato"}], h)
        response = await client.post("/v1/pairings/complete", json={"ingredients": ["tomato"]}, headers=h)
        assert response.status_code == 503  # and no model: tenant A's is never used
    finally:
        await client.delete(f"/v1/admin/tenants/{other.tenant_id}", headers=admin_headers())
