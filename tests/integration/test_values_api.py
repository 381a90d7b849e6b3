"""Value profiles: validation, versions, partner overrides, isolation, export and deletion."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from persona_api.values.tables import ValueProfile
from tests.conftest import TenantKey, fetch_all, new_tenant

Client = AsyncTestClient[Litestar]

PROFILE: dict[str, Any] = {
    "preferences": [
        {
            "dimension": "style",
            "subdimension": "tone",
            "preference": "warm and playful",
            "description": "Answers read like a friend who enjoys the topic.",
        },
        {"dimension": "Background knowledge", "subdimension": "cooking", "preference": "home cook"},
        {"dimension": "informativeness", "subdimension": "depth", "preference": "practical, short"},
    ],
    "note": "Vegetarian; prefers metric units.",
}


async def count_rows(database_url: str, tenant_id: str) -> int:
    [row] = await fetch_all(
        database_url,
        select(func.count()).select_from(ValueProfile).where(ValueProfile.tenant_id == tenant_id),
    )
    return int(row[0])


async def test_put_get_and_history_keep_every_version(client: Client, tenant: TenantKey) -> None:
    h = tenant.headers
    assert (await client.get("/v1/users/ada/values", headers=h)).status_code == 404
    first = await client.put("/v1/users/ada/values", json=PROFILE, headers=h)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["version"] == 1 and body["partner"] is None
    assert body["preferences"][1] == {
        "dimension": "background_knowledge",
        "subdimension": "cooking",
        "preference": "home cook",
        "description": "",
    }
    assert body["note"] == PROFILE["note"]

    second = {**PROFILE, "note": "Now pescatarian."}
    assert (await client.put("/v1/users/ada/values", json=second, headers=h)).json()["version"] == 2
    latest = (await client.get("/v1/users/ada/values", headers=h)).json()
    assert latest["version"] == 2 and latest["note"] == "Now pescatarian."

    history = (await client.get("/v1/users/ada/values/history", headers=h)).json()
    assert [v["version"] for v in history["items"]] == [2, 1]
    assert history["total"] == 2
    assert history["items"][1]["note"] == PROFILE["note"]


async def test_invalid_profiles_are_422_and_write_nothing(
    client: Client, tenant: TenantKey, database_url: str
) -> None:
    h = tenant.headers
    bad_cases = [
        ({"preferences": []}, "preferences"),
        ({"preferences": [{"dimension": "humor", "subdimension": "x", "preference": "y"}]}, "dimension"),
        ({"preferences": [{"dimension": "style", "subdimension": " ", "preference": "y"}]}, "subdimension"),
        ({"preferences": [{"dimension": "style", "subdimension": "x"}]}, "preference"),
        ({"preferences": PROFILE["preferences"], "note": "n" * 2001}, "note"),
        ({"preferences": [PROFILE["preferences"][0]] * 41}, "preferences"),
        ({"preferences": [{**PROFILE["preferences"][0], "preference": "p" * 301}]}, "preference"),
        ({"preferences": PROFILE["preferences"], "extra": 1}, "extra"),
    ]
    for payload, field in bad_cases:
        response = await client.put("/v1/users/bob/values", json=payload, headers=h)
        assert response.status_code == 422, (payload, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert any(field in e["field"] for e in problem["errors"]), problem
    assert await count_rows(database_url, tenant.tenant_id) == 0
    # The user was not created by a rejected write either.
    assert (await client.get("/v1/users/bob", headers=h)).status_code == 404


async def test_partner_overrides_are_versioned_and_deletable(client: Client, tenant: TenantKey) -> None:
    h = tenant.headers
    await client.put("/v1/users/ada/values", json=PROFILE, headers=h)
    override = {
        "preferences": [{"dimension": "style", "subdimension": "tone", "preference": "formal and concise"}],
        "note": "",
    }
    url = "/v1/users/ada/values/partners/grandma"
    assert (await client.get(url, headers=h)).status_code == 404
    put = await client.put(url, json=override, headers=h)
    assert put.status_code == 200 and put.json()["partner"] == "grandma" and put.json()["version"] == 1
    assert (await client.put(url, json=override, headers=h)).json()["version"] == 2
    assert [v["version"] for v in (await client.get(url + "/history", headers=h)).json()["items"]] == [2, 1]
    # The user's own profile is untouched by the override.
    own = (await client.get("/v1/users/ada/values", headers=h)).json()
    assert own["version"] == 1 and own["preferences"][0]["preference"] == "warm and playful"

    assert (await client.delete(url, headers=h)).status_code == 204
    assert (await client.get(url, headers=h)).status_code == 404
    assert (await client.delete(url, headers=h)).status_code == 404


async def test_profiles_are_isolated_between_tenants(client: Client, tenant: TenantKey) -> None:
    other = await new_tenant(client, "globex")
    await client.put("/v1/users/ada/values", json=PROFILE, headers=tenant.headers)
    assert (await client.get("/v1/users/ada/values", headers=other.headers)).status_code == 404
    assert (await client.put("/v1/users/ada/values", json=PROFILE, headers=other.headers)).json()[
        "version"
    ] == 1
    assert (await client.get("/v1/users/ada/values/history", headers=tenant.headers)).json()["total"] == 1


async def test_export_and_delete_with_the_user(client: Client, tenant: TenantKey, database_url: str) -> None:
    h = tenant.headers
    await client.put("/v1/users/ada/values", json=PROFILE, headers=h)
    await client.put(
        "/v1/users/ada/values/partners/grandma",
        json={
            "preferences": [{"dimension": "harmlessness", "subdimension": "topics", "preference": "no gore"}]
        },
        headers=h,
    )
    exported = (await client.get("/v1/users/ada/export", headers=h)).json()
    versions = exported["data"]["values"]
    assert [(v["partner"], v["version"]) for v in versions] == [(None, 1), ("grandma", 1)]
    assert versions[0]["note"] == PROFILE["note"]

    assert await count_rows(database_url, tenant.tenant_id) == 2
    assert (await client.delete("/v1/users/ada", headers=h)).status_code == 204
    assert await count_rows(database_url, tenant.tenant_id) == 0
