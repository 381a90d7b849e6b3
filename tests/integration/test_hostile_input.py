"""Input meant to break the service gets a 4xx problem, never a 5xx (issue 19's findings)."""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import TenantKey

HUGE = 2**63


async def _paginated_paths(client: AsyncTestClient[Litestar]) -> list[str]:
    schema: dict[str, Any] = (await client.get("/schema/openapi.json")).json()
    found = []
    for path, operations in schema["paths"].items():
        parameters = operations.get("get", {}).get("parameters", [])
        if any(p["name"] == "offset" and p["in"] == "query" for p in parameters):
            found.append(re.sub(r"\{[^}]+\}", "someone", path))
    return found


async def test_an_offset_past_any_integer_is_a_422_on_every_paginated_route(
    client: AsyncTestClient[Litestar], tenant: TenantKey
) -> None:
    paths = await _paginated_paths(client)
    assert len(paths) >= 13
    for path in paths:
        headers = (
            {"Authorization": "Bearer test-admin-token-0123456789"} if "/admin/" in path else tenant.headers
        )
        for offset in (HUGE, 2**64 + 5, 2**31):
            response = await client.get(path, params={"offset": str(offset)}, headers=headers)
            assert response.status_code == 422, (path, offset, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_memory_id_past_any_integer_is_a_4xx(
    client: AsyncTestClient[Litestar], tenant: TenantKey
) -> None:
    assert (await client.post("/v1/users", json={"id": "ann"}, headers=tenant.headers)).status_code == 201
    for method in ("GET", "DELETE"):
        response = await client.request(method, f"/v1/users/ann/memories/{HUGE}", headers=tenant.headers)
        assert response.status_code == 422, response.text
        response = await client.request(method, f"/v1/users/ann/memories/{HUGE - 1}", headers=tenant.headers)
        assert response.status_code == 404, response.text


async def test_nul_characters_are_refused_in_bodies_paths_and_queries(
    client: AsyncTestClient[Litestar], tenant: TenantKey
) -> None:
    h = tenant.headers
    assert (await client.post("/v1/users", json={"id": "ann"}, headers=h)).status_code == 201
    bodies: list[tuple[str, Any]] = [
        ("/v1/users/ann/memories", {"text": "likes\u0000tea"}),
        ("/v1/items", [{"id": "i1", "title": "tea\u0000pot"}]),
        ("/v1/ingredients", [{"name": "basil\u0000"}]),
        ("/v1/users", {"id": "bob", "metadata": {"note": "a\u0000b"}}),
    ]
    for path, body in bodies:
        response = await client.post(path, json=body, headers=h)
        assert response.status_code == 400, (path, response.text)
        assert "NUL" in response.json()["detail"]
    assert (await client.get("/v1/users/al%00ice", headers=h)).status_code == 400
    assert (await client.get("/v1/users", params={"x": "a\u0000"}, headers=h)).status_code == 400
    # An escaped backslash before "u0000" is the text \u0000, not a NUL: it is accepted.
    text = await client.post("/v1/users/ann/memories", content=b'{"text": "a \\\\u0000 b"}', headers=h)
    assert text.status_code in (200, 201), text.text
    assert (await client.get("/v1/users/bob", headers=h)).status_code == 404  # nothing was written


async def test_deeply_nested_json_is_a_400(client: AsyncTestClient[Litestar], tenant: TenantKey) -> None:
    deep = b"[" * 1000 + b"]" * 1000
    for path in ("/v1/users", "/v1/items", "/v1/users/ann/memories/search"):
        response = await client.post(
            path, content=deep, headers={**tenant.headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 400, (path, response.text)
    nested: Any = "x"
    for _ in range(200):
        nested = {"a": nested}
    response = await client.post("/v1/users", json={"id": "deep", "metadata": nested}, headers=tenant.headers)
    assert response.status_code == 400, response.text


async def test_infinite_and_huge_numbers_are_refused_or_handled(
    client: AsyncTestClient[Litestar], tenant: TenantKey
) -> None:
    h = tenant.headers
    assert (await client.post("/v1/users", json={"id": "ann"}, headers=h)).status_code == 201
    # 1e308 is finite: the direction is the same as for 1 (it is normalised), not zeros.
    huge = await client.put(
        "/v1/users/ann/preferences/objective", json={"weights": {"helpfulness": 1e308}}, headers=h
    )
    assert huge.status_code == 200, huge.text
    assert huge.json()["weights"] == {"helpfulness": 1.0}
    inf = await client.put(
        "/v1/users/ann/preferences/objective",
        content=b'{"weights": {"helpfulness": 1e999}}',
        headers={**h, "Content-Type": "application/json"},
    )
    assert 400 <= inf.status_code < 500, inf.text
    zero = await client.put(
        "/v1/users/ann/preferences/objective", json={"weights": {"helpfulness": 0.0}}, headers=h
    )
    assert zero.status_code == 422, zero.text


async def test_a_body_field_named_like_a_dependency_is_a_422_not_a_500(
    client: AsyncTestClient[Litestar], tenant: TenantKey
) -> None:
    # Litestar took errors in body fields called like a handler's dependency (``preferences``,
    # ``user``) for a dependency's, and answered 500.
    tone = {"dimension": "style", "subdimension": "tone", "preference": "warm"}
    too_many = await client.put(
        "/v1/users/ann/values", json={"preferences": [tone] * 201}, headers=tenant.headers
    )
    assert too_many.status_code == 422, too_many.text
    assert too_many.json()["errors"][0]["field"] == "preferences"
    wrong_type = await client.post(
        "/v1/pairings/check", json={"ingredients": ["basil", "tomato"], "user": 7}, headers=tenant.headers
    )
    assert wrong_type.status_code == 422, wrong_type.text
    assert wrong_type.json()["errors"][0]["field"] == "user"


async def test_without_an_llm_a_chats_own_mistakes_are_its_4xx_before_the_503(
    client: AsyncTestClient[Litestar], tenant: TenantKey
) -> None:
    h = tenant.headers
    message = {"messages": [{"role": "user", "content": "Hello"}]}
    unknown_session = await client.post("/v1/users/ann/chat", json={**message, "session": "nope"}, headers=h)
    assert unknown_session.status_code == 404, unknown_session.text
    not_the_users_turn = await client.post(
        "/v1/users/ann/chat", json={"messages": [{"role": "assistant", "content": "Hi"}]}, headers=h
    )
    assert not_the_users_turn.status_code == 422, not_the_users_turn.text
    valid = await client.post("/v1/users/ann/chat", json=message, headers=h)
    assert valid.status_code == 503, valid.text
    # The refused chat stored nothing: no session, and no user was created by it.
    assert (await client.get("/v1/users/ann", headers=h)).status_code == 404


async def test_an_unknown_query_parameter_is_a_422_naming_it(
    client: AsyncTestClient[Litestar], tenant: TenantKey
) -> None:
    assert (await client.post("/v1/users", json={"id": "ann"}, headers=tenant.headers)).status_code == 201
    typo = await client.get("/v1/users/ann/memories?limt=5", headers=tenant.headers)
    assert typo.status_code == 422, typo.text
    assert [e["field"] for e in typo.json()["errors"]] == ["limt"]
    # The route's own parameters, and those of its dependencies (the page), are taken.
    ok = await client.get(
        "/v1/users/ann/memories?limit=5&offset=0&include_superseded=true", headers=tenant.headers
    )
    assert ok.status_code == 200, ok.text
