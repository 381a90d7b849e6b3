"""Memory ids are numbers within their user (1, 2, 3...), never the row ids that every tenant shares:
in what the API answers, in what it accepts, in the export, and for rows written before schema 0009."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import Executable, insert, select, update

from persona_api.app import create_app
from persona_api.config import Settings
from persona_api.kernel.embed import MiniLMEmbedder, to_bytes
from persona_api.memory.tables import Memory, MemoryLink
from persona_api.store import migrate
from persona_api.store.db import create_engine
from persona_api.store.tables import User
from tests.conftest import TenantKey, fetch_all, new_tenant

Client = AsyncTestClient[Litestar]


async def add_user(client: Client, tenant: TenantKey, user: str) -> None:
    created = await client.post("/v1/users", json={"id": user}, headers=tenant.headers)
    assert created.status_code == 201, created.text


async def remember(client: Client, tenant: TenantKey, user: str, text: str, **extra: Any) -> dict[str, Any]:
    response = await client.post(
        f"/v1/users/{user}/memories", json={"text": text, **extra}, headers=tenant.headers
    )
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def listed(client: Client, tenant: TenantKey, user: str) -> list[dict[str, Any]]:
    response = await client.get(
        f"/v1/users/{user}/memories?include_superseded=true&limit=100", headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def row_ids(database_url: str, tenant: TenantKey, user: str) -> dict[int, int]:
    """The user's memories as number -> row id, read from the database."""
    rows = await fetch_all(
        database_url,
        select(Memory.number, Memory.id)
        .join(User, User.id == Memory.user_id)
        .where(User.tenant_id == tenant.tenant_id, User.external_id == user),
    )
    return {number: row_id for number, row_id in rows}


async def test_every_user_numbers_their_memories_from_one(
    client: Client, tenant: TenantKey, database_url: str
) -> None:
    other = await new_tenant(client, "other")
    for t in (tenant, other):
        await add_user(client, t, "caroline")
    # Interleaved writes: the two users' rows alternate in the shared table.
    cello = await remember(client, tenant, "caroline", "Caroline plays the cello in an orchestra.")
    bees = await remember(client, other, "caroline", "Caroline keeps bees on her roof.")
    oslo = await remember(client, tenant, "caroline", "Caroline grew up in Oslo.")
    stamps = await remember(client, other, "caroline", "Caroline collects old stamps.")
    assert [cello["memory"]["id"], oslo["memory"]["id"]] == [1, 2]
    assert [bees["memory"]["id"], stamps["memory"]["id"]] == [1, 2]
    assert [m["id"] for m in await listed(client, tenant, "caroline")] == [1, 2]
    assert [m["id"] for m in await listed(client, other, "caroline")] == [1, 2]

    mine, theirs = (
        await row_ids(database_url, tenant, "caroline"),
        await row_ids(database_url, other, "caroline"),
    )
    assert theirs[1] > mine[1] and theirs[1] != 1  # the second tenant's memory 1 is not row 1
    got = await client.get("/v1/users/caroline/memories/1", headers=other.headers)
    assert got.status_code == 200 and got.json()["text"] == "Caroline keeps bees on her roof."
    got = await client.get("/v1/users/caroline/memories/1", headers=tenant.headers)
    assert got.json()["text"] == "Caroline plays the cello in an orchestra."
    # A row id is not a number the user has (rows 3+ here: the other tenant's rows come first).
    assert theirs[2] > 2
    assert (
        await client.get(f"/v1/users/caroline/memories/{theirs[2]}", headers=other.headers)
    ).status_code == 404


async def test_another_users_number_does_not_reach_this_users_memory(
    client: Client, tenant: TenantKey
) -> None:
    h = tenant.headers
    for user in ("caroline", "dan"):
        await add_user(client, tenant, user)
    for text in ("Caroline plays the cello.", "Caroline grew up in Oslo.", "Caroline keeps bees."):
        await remember(client, tenant, "caroline", text)
    dan = await remember(client, tenant, "dan", "Dan runs a bakery in Leeds.")
    assert dan["memory"]["id"] == 1
    for method, path in (
        ("GET", "/v1/users/dan/memories/2"),
        ("GET", "/v1/users/dan/memories/3/history"),
        ("DELETE", "/v1/users/dan/memories/3"),
    ):
        response = await client.request(method, path, headers=h)
        assert response.status_code == 404, (method, path)
        assert "Caroline" not in response.text
    assert [m["id"] for m in await listed(client, tenant, "caroline")] == [1, 2, 3]
    assert (await client.get("/v1/users/dan/memories/1", headers=h)).json()[
        "text"
    ] == "Dan runs a bakery in Leeds."


async def test_replacements_history_links_search_and_export_speak_numbers(
    client: Client, tenant: TenantKey, database_url: str
) -> None:
    other = await new_tenant(client, "other")
    await add_user(client, tenant, "ann")
    await remember(client, tenant, "ann", "Ann sings in a choir.")  # the first tenant writes first
    h = other.headers
    await add_user(client, other, "caroline")
    boston = await remember(client, other, "caroline", "Caroline lives in Boston.", key="home_city")
    puppy = await remember(client, other, "caroline", "Caroline adopted a puppy named Max.")
    park = await remember(
        client, other, "caroline", "Caroline takes her puppy Max to the park every morning."
    )
    denver = await remember(client, other, "caroline", "Caroline lives in Denver now.", key="home_city")
    assert [m["memory"]["id"] for m in (boston, puppy, park, denver)] == [1, 2, 3, 4]
    assert denver["status"] == "created" and denver["superseded"] == [1]
    rows = await row_ids(database_url, other, "caroline")
    assert sorted(rows) == [1, 2, 3, 4] and all(rows[n] != n for n in rows)

    one = (await client.get("/v1/users/caroline/memories/1", headers=h)).json()
    assert one["superseded_by"] == 4 and one["valid_to"] is not None
    for n in (1, 4):
        history = (await client.get(f"/v1/users/caroline/memories/{n}/history", headers=h)).json()
        assert [m["id"] for m in history["items"]] == [1, 4]
        assert [m["superseded_by"] for m in history["items"]] == [4, None]
    assert {m["id"]: m["superseded_by"] for m in await listed(client, other, "caroline")} == {
        1: 4,
        2: None,
        3: None,
        4: None,
    }

    search = "/v1/users/caroline/memories/search"
    found = (
        await client.post(
            search, json={"query": "Caroline adopted a puppy", "include_linked": True}, headers=h
        )
    ).json()["results"]
    by_id = {r["memory"]["id"]: r for r in found}
    assert 3 in [m["id"] for m in by_id[2]["linked"]]
    lived = (
        await client.post(
            search, json={"query": "Where does Caroline live?", "include_superseded": True}, headers=h
        )
    ).json()["results"]
    assert {r["memory"]["id"]: r["memory"]["superseded_by"] for r in lived}.items() >= {1: 4, 4: None}.items()

    # Turns' memories continue the user's numbers; a replacement names the replaced memory's.
    assert (
        await client.post("/v1/users/caroline/partners", json={"id": "mel", "name": "Melanie"}, headers=h)
    ).status_code == 201
    assert (
        await client.post("/v1/users/caroline/sessions", json={"id": "s1", "partners": ["mel"]}, headers=h)
    ).status_code == 201
    turns = [
        {"id": "t1", "speaker": "mel", "text": "I live in Boston with my husband and the kids."},
        {"id": "t2", "speaker": "mel", "text": "Big news: we moved to Denver in March, I love it here."},
    ]
    ingest = await client.post("/v1/users/caroline/sessions/s1/turns", json={"turns": turns}, headers=h)
    assert ingest.json()["memories"] == [
        {"id": 5, "status": "created", "superseded": []},
        {"id": 6, "status": "created", "superseded": [5]},
    ]

    told = await client.post(
        "/v1/users/caroline/system-message", json={"query": "Tell me about Max, my puppy"}, headers=h
    )
    assert told.status_code == 200, told.text
    refs = [p["ref"] for p in told.json()["included"] if p["kind"] == "memory"]
    assert "2" in refs and set(refs) <= {"2", "3", "4", "6"}  # current memories, by number

    export = (await client.get("/v1/users/caroline/export", headers=h)).json()["data"]["memory"]
    assert [m["id"] for m in export["memories"]] == [1, 2, 3, 4, 5, 6]
    assert [m["superseded_by"] for m in export["memories"]] == [4, None, None, None, 6, None]
    links = {(link["memory_id"], link["linked_id"], link["kind"]) for link in export["links"]}
    assert {(1, 4, "supersedes"), (2, 3, "related"), (5, 6, "supersedes")} <= links
    assert all(a in range(1, 7) and b in range(1, 7) for a, b, _ in links)


async def test_numbers_are_not_reused(client: Client, tenant: TenantKey) -> None:
    h = tenant.headers
    await add_user(client, tenant, "caroline")
    assert (
        await client.post("/v1/users/caroline/partners", json={"id": "mel", "name": "Melanie"}, headers=h)
    ).status_code == 201
    for text in ("Caroline plays the cello.", "Caroline grew up in Oslo.", "Caroline keeps bees."):
        await remember(client, tenant, "caroline", text)
    assert (await client.delete("/v1/users/caroline/memories/3", headers=h)).status_code == 204
    assert (await client.get("/v1/users/caroline/memories/3", headers=h)).status_code == 404
    after = await remember(client, tenant, "caroline", "Caroline is learning Portuguese.")
    assert after["memory"]["id"] == 4
    about_mel = await remember(client, tenant, "caroline", "Melanie paints sunrises.", partner="mel")
    assert about_mel["memory"]["id"] == 5
    gone = await client.delete("/v1/users/caroline/partners/mel/memories", headers=h)
    assert gone.json() == {"deleted": 1}
    # A merge gives no number; the next new memory takes the next one.
    merged = await remember(client, tenant, "caroline", "caroline plays the cello")
    assert merged["status"] == "merged" and merged["memory"]["id"] == 1
    last = await remember(client, tenant, "caroline", "Caroline bakes bread on Sundays.")
    assert last["memory"]["id"] == 6
    assert [m["id"] for m in await listed(client, tenant, "caroline")] == [1, 2, 4, 6]


async def _execute(database_url: str, *statements: Executable) -> list[Any]:
    """Run ``statements`` in one transaction; what each returns (one value, or None)."""
    engine = create_engine(Settings(database_url=database_url), pooled=False)
    try:
        async with engine.begin() as conn:
            results = [await conn.execute(s) for s in statements]
            return [r.scalar_one() if r.returns_rows else None for r in results]
    finally:
        await engine.dispose()


async def test_migration_numbers_memories_written_before_it(
    settings: Settings, embedder: MiniLMEmbedder, database_url: str
) -> None:
    async with AsyncTestClient(app=create_app(settings, embedder=embedder)) as client:
        first, second = await new_tenant(client, "first"), await new_tenant(client, "second")
        for t in (first, second):
            await add_user(client, t, "ann")
    [(a_pk,), (b_pk,)] = await fetch_all(
        database_url,
        select(User.id)
        .where(User.tenant_id.in_([first.tenant_id, second.tenant_id]), User.external_id == "ann")
        .order_by(User.id),
    )
    writes = [  # in row order, the users' memories interleaved
        (first, a_pk, "Ann lives in Boston."),
        (second, b_pk, "Ann keeps bees on her roof."),
        (first, a_pk, "Ann adopted a puppy named Max."),
        (second, b_pk, "Ann collects old stamps."),
        (first, a_pk, "Ann lives in Denver now."),
    ]
    vectors = embedder.encode([text for _, _, text in writes])

    await asyncio.to_thread(migrate.downgrade, database_url, "0008")
    try:
        ids = await _execute(
            database_url,
            *(
                insert(Memory)
                .values(
                    tenant_id=t.tenant_id,
                    user_id=user_pk,
                    text=text,
                    text_hash=f"hash-{i}",
                    origin="client",
                    observed_at=datetime(2024, 1, 1 + i, tzinfo=UTC),
                    valid_from=datetime(2024, 1, 1 + i, tzinfo=UTC),
                    embedding=to_bytes(vector),
                )
                .returning(Memory.id)
                for i, ((t, user_pk, text), vector) in enumerate(zip(writes, vectors, strict=True))
            ),
        )
        boston, _, puppy, _, denver = ids
        await _execute(
            database_url,
            update(Memory)
            .where(Memory.id == boston)
            .values(superseded_by=denver, valid_to=datetime(2024, 1, 5, tzinfo=UTC)),
            insert(MemoryLink).values(memory_id=boston, linked_id=denver, kind="supersedes", score=1.0),
            insert(MemoryLink).values(memory_id=puppy, linked_id=denver, kind="related", score=0.7),
        )
    finally:
        await asyncio.to_thread(migrate.upgrade, database_url, "head")

    rows = await fetch_all(
        database_url,
        select(Memory.id, Memory.number, Memory.superseded_by).where(Memory.id.in_(ids)).order_by(Memory.id),
    )
    assert [(number, superseded_by) for _, number, superseded_by in rows] == [
        (1, denver),
        (1, None),
        (2, None),
        (2, None),
        (3, None),
    ]
    links = await fetch_all(
        database_url, select(MemoryLink.memory_id, MemoryLink.linked_id).where(MemoryLink.linked_id == denver)
    )
    assert sorted(links) == [(boston, denver), (puppy, denver)]  # the rows' links survive the migration
    counts = await fetch_all(database_url, select(User.memory_count).where(User.id.in_([a_pk, b_pk])))
    assert sorted(count for (count,) in counts) == [2, 3]

    async with AsyncTestClient(app=create_app(settings, embedder=embedder)) as client:
        items = await listed(client, first, "ann")
        assert [(m["id"], m["superseded_by"]) for m in items] == [(1, 3), (2, None), (3, None)]
        assert [m["id"] for m in await listed(client, second, "ann")] == [1, 2]
        history = (await client.get("/v1/users/ann/memories/3/history", headers=first.headers)).json()
        assert [m["id"] for m in history["items"]] == [1, 3]
        export = (await client.get("/v1/users/ann/export", headers=first.headers)).json()["data"]["memory"]
        assert [(x["memory_id"], x["linked_id"]) for x in export["links"]] == [(1, 3), (2, 3)]
        made = await remember(client, first, "ann", "Ann sings in a choir.")
        assert made["status"] == "created" and made["memory"]["id"] == 4


async def test_the_export_names_observations_sessions_by_the_clients_ids(
    client: Client, tenant: TenantKey
) -> None:
    h = tenant.headers
    await add_user(client, tenant, "eve")
    partner = await client.post("/v1/users/eve/partners", json={"id": "ann", "name": "Ann"}, headers=h)
    assert partner.status_code == 201, partner.text
    made = await client.post("/v1/users/eve/sessions", json={"id": "trip", "partners": ["ann"]}, headers=h)
    assert made.status_code == 201, made.text
    turns = {"turns": [{"speaker": "user", "text": "I am allergic to peanuts.", "id": "t1"}]}
    assert (await client.post("/v1/users/eve/sessions/trip/turns", json=turns, headers=h)).status_code == 201
    export = (await client.get("/v1/users/eve/export", headers=h)).json()["data"]["memory"]
    observations = [o for m in export["memories"] for o in m["provenance"]]
    assert observations, export["memories"]
    assert all(o["session"] == "trip" and "session_id" not in o for o in observations), observations
