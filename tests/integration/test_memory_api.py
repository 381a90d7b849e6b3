"""Egocentric conversation memory through the HTTP API, with the real MiniLM embeddings."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from persona_api.app import create_app
from persona_api.config import Settings
from persona_api.kernel.embed import MiniLMEmbedder
from persona_api.memory.tables import ConversationSession, Memory, MemoryChange, Partner, Turn
from persona_api.store.tables import User
from tests.conftest import TenantKey, fetch_all, new_tenant

Client = AsyncTestClient[Litestar]

TURNS = [
    {"id": "D1:1", "speaker": "user", "text": "Hey Mel! Good to see you! How have you been?"},
    {
        "id": "D1:2",
        "speaker": "mel",
        "text": "Hey Caroline! I'm swamped with the kids and work. Anything new?",
    },
    {
        "id": "D1:3",
        "speaker": "user",
        "text": "I went to a LGBTQ support group yesterday and it was so powerful.",
    },
    {"id": "D1:4", "speaker": "mel", "text": "Wow, that's cool! What happened that was so awesome?"},
    {"id": "D1:5", "speaker": "user", "text": "The transgender stories were so inspiring! I felt accepted."},
    {"id": "D1:6", "speaker": "mel", "text": "I painted a sunrise over the lake last week with my kids."},
]


async def conversation(client: Client, tenant: TenantKey, user: str = "caroline") -> None:
    h = tenant.headers
    created = await client.post("/v1/users", json={"id": user, "metadata": {"name": "Caroline"}}, headers=h)
    assert created.status_code == 201
    partner = await client.post(
        f"/v1/users/{user}/partners", json={"id": "mel", "name": "Melanie"}, headers=h
    )
    assert partner.status_code == 201
    session = await client.post(
        f"/v1/users/{user}/sessions",
        json={"id": "s1", "partners": ["mel"], "started_at": "2023-05-08T13:56:00Z"},
        headers=h,
    )
    assert session.status_code == 201 and session.json()["ordinal"] == 1
    ingest = await client.post(f"/v1/users/{user}/sessions/s1/turns", json={"turns": TURNS}, headers=h)
    assert ingest.status_code == 201, ingest.text


async def search(client: Client, tenant: TenantKey, query: str, **extra: Any) -> list[dict[str, Any]]:
    response = await client.post(
        "/v1/users/caroline/memories/search", json={"query": query, **extra}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


async def remember(client: Client, tenant: TenantKey, text: str, **extra: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/users/caroline/memories", json={"text": text, **extra}, headers=tenant.headers
    )
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def test_turns_become_tagged_searchable_memories(client: Client, tenant: TenantKey) -> None:
    await conversation(client, tenant)
    results = await search(client, tenant, "When did Caroline go to the LGBTQ support group?", k=3)
    top = results[0]["memory"]
    assert "D1:3" in top["source_turn_ids"]
    assert top["about"] == "Caroline" and top["partner"] is None
    assert top["tag"] == "about Caroline, from session 1 (2023-05-08)"
    assert "7 May 2023" in top["text"]  # "yesterday" resolved against the session date

    about_mel = await search(client, tenant, "What did Melanie paint?", k=3)
    assert about_mel[0]["memory"]["about"] == "Melanie" and about_mel[0]["memory"]["partner"] == "mel"
    assert "D1:6" in about_mel[0]["memory"]["source_turn_ids"]
    # Greetings and questions carry nothing worth remembering.
    listed = (await client.get("/v1/users/caroline/memories?limit=100", headers=tenant.headers)).json()
    assert not any(m["source_turn_ids"] == ["D1:1"] for m in listed["items"])


async def test_ingest_is_idempotent_with_client_turn_ids(client: Client, tenant: TenantKey) -> None:
    await conversation(client, tenant)
    before = (await client.get("/v1/users/caroline/memories", headers=tenant.headers)).json()["total"]
    again = await client.post(
        "/v1/users/caroline/sessions/s1/turns", json={"turns": TURNS}, headers=tenant.headers
    )
    assert again.status_code == 201
    assert again.json()["accepted"] == [] and again.json()["skipped"] == [t["id"] for t in TURNS]
    assert (await client.get("/v1/users/caroline/memories", headers=tenant.headers)).json()["total"] == before
    turns = (await client.get("/v1/users/caroline/sessions/s1/turns", headers=tenant.headers)).json()
    assert turns["total"] == len(TURNS) and [t["id"] for t in turns["items"]] == [t["id"] for t in TURNS]
    second = await client.post(
        "/v1/users/caroline/sessions", json={"partners": ["mel"]}, headers=tenant.headers
    )
    assert second.json()["ordinal"] == 2


async def test_duplicates_merge_and_keep_provenance(client: Client, tenant: TenantKey) -> None:
    await client.post(
        "/v1/users/caroline/partners", json={"id": "mel", "name": "Melanie"}, headers=tenant.headers
    )
    first = await remember(client, tenant, "Caroline loves hiking in the mountains.", turn_ids=["a"])
    exact = await remember(client, tenant, "caroline loves hiking in the mountains", turn_ids=["b"])
    near = await remember(client, tenant, "Caroline loves hiking in the mountains!!!", turn_ids=["c"])
    assert first["status"] == "created"
    assert exact["status"] == near["status"] == "merged"
    assert exact["memory"]["id"] == near["memory"]["id"] == first["memory"]["id"]
    assert near["memory"]["mentions"] == 3 and near["memory"]["source_turn_ids"] == ["a", "b", "c"]
    # The same words about another subject are another memory.
    other = await remember(client, tenant, "Caroline loves hiking in the mountains.", partner="mel")
    assert other["status"] == "created" and other["memory"]["about"] == "Melanie"
    assert len(await search(client, tenant, "hiking in the mountains", k=10)) == 2


async def test_a_new_value_supersedes_with_history(client: Client, tenant: TenantKey) -> None:
    old = await remember(client, tenant, "Caroline lives in Boston.", key="home_city")
    new = await remember(client, tenant, "Caroline lives in Denver now.", key="home_city")
    assert new["status"] == "created" and new["superseded"] == [old["memory"]["id"]]
    current = await search(client, tenant, "Where does Caroline live?")
    assert [r["memory"]["id"] for r in current] == [new["memory"]["id"]]
    everything = await search(client, tenant, "Where does Caroline live?", include_superseded=True)
    assert {r["memory"]["id"] for r in everything} == {old["memory"]["id"], new["memory"]["id"]}
    history = await client.get(
        f"/v1/users/caroline/memories/{old['memory']['id']}/history", headers=tenant.headers
    )
    items = history.json()["items"]
    assert [m["id"] for m in items] == [old["memory"]["id"], new["memory"]["id"]]
    assert items[0]["valid_to"] is not None and items[0]["superseded_by"] == new["memory"]["id"]
    assert items[1]["valid_to"] is None
    listed = (await client.get("/v1/users/caroline/memories", headers=tenant.headers)).json()
    assert [m["id"] for m in listed["items"]] == [new["memory"]["id"]]


async def test_search_filters_by_partner_and_returns_links(client: Client, tenant: TenantKey) -> None:
    await conversation(client, tenant)
    mine = await remember(client, tenant, "Caroline adopted a puppy named Max.")
    await remember(client, tenant, "Caroline takes her puppy Max to the park every morning.")
    only_mel = await search(client, tenant, "kids", partner="mel")
    assert only_mel and all(r["memory"]["partner"] == "mel" for r in only_mel)
    only_me = await search(client, tenant, "puppy", subject="user")
    assert only_me and all(r["memory"]["partner"] is None for r in only_me)
    linked = await search(client, tenant, "Caroline adopted a puppy", k=1, include_linked=True)
    assert linked[0]["memory"]["id"] == mine["memory"]["id"]
    assert any("park" in m["text"] for m in linked[0]["linked"])


async def test_read_your_writes_across_replicas(settings: Settings, embedder: MiniLMEmbedder) -> None:
    writer, reader = create_app(settings, embedder=embedder), create_app(settings, embedder=embedder)
    async with AsyncTestClient(app=writer) as a, AsyncTestClient(app=reader) as b:
        tenant = await new_tenant(a)
        await a.post("/v1/users", json={"id": "caroline"}, headers=tenant.headers)
        assert await search(b, tenant, "violin") == []  # the reader's index exists before the write
        made = await remember(a, tenant, "Caroline started learning the violin.")
        hits = await search(b, tenant, "violin")
        assert [h["memory"]["id"] for h in hits] == [made["memory"]["id"]]
        deleted = await a.delete(
            f"/v1/users/caroline/memories/{made['memory']['id']}", headers=tenant.headers
        )
        assert deleted.status_code == 204
        assert await search(b, tenant, "violin") == []


async def test_deleting_leaves_nothing_behind(
    client: Client, tenant: TenantKey, app: Litestar, database_url: str
) -> None:
    await conversation(client, tenant)
    h = tenant.headers
    gone = await client.delete("/v1/users/caroline/partners/mel/memories", headers=h)
    assert gone.status_code == 200 and gone.json()["deleted"] >= 1
    assert await search(client, tenant, "What did Melanie paint?", partner="mel") == []
    export = (await client.get("/v1/users/caroline/export", headers=h)).json()["data"]["memory"]
    assert export["sessions"][0]["turns"][2]["id"] == "D1:3"
    assert export["memories"] and all(m["about"] == "user" for m in export["memories"])
    [(user_pk,)] = await fetch_all(
        database_url,
        select(User.id).where(User.tenant_id == tenant.tenant_id, User.external_id == "caroline"),
    )

    assert (await client.delete("/v1/users/caroline", headers=h)).status_code == 204
    for table in (Memory, Turn, ConversationSession, Partner):
        [(count,)] = await fetch_all(
            database_url, select(func.count()).select_from(table).where(table.user_id == user_pk)
        )
        assert count == 0, table.__tablename__
    index = app.state.memory.indexes.loaded(tenant.tenant_id)
    assert index is not None and index.ids_for_user(user_pk) == []
    deletes = await fetch_all(
        database_url,
        select(MemoryChange.op).where(
            MemoryChange.tenant_id == tenant.tenant_id, MemoryChange.op == "delete"
        ),
    )
    assert deletes  # other replicas learn of the deletion through the feed
    assert (
        await client.post("/v1/users/caroline/memories/search", json={"query": "x"}, headers=h)
    ).status_code == 404


async def test_memories_are_tenant_isolated(client: Client, tenant: TenantKey) -> None:
    await conversation(client, tenant)
    other = await new_tenant(client, "other")
    for method, path, body in [
        ("POST", "/v1/users/caroline/memories/search", {"query": "support group"}),
        ("GET", "/v1/users/caroline/memories", None),
        ("GET", "/v1/users/caroline/sessions/s1/turns", None),
        ("GET", "/v1/users/caroline/partners", None),
    ]:
        response = await client.request(method, path, json=body, headers=other.headers)
        assert response.status_code == 404 and "LGBTQ" not in response.text
    await client.post("/v1/users", json={"id": "caroline"}, headers=other.headers)
    assert await search(client, other, "support group") == []


async def test_bad_input_is_rejected_and_writes_nothing(client: Client, tenant: TenantKey) -> None:
    await conversation(client, tenant)
    h = tenant.headers
    turns_url = "/v1/users/caroline/sessions/s1/turns"
    too_many = {"turns": [{"speaker": "user", "text": f"line {i}"} for i in range(257)]}
    assert (await client.post(turns_url, json=too_many, headers=h)).status_code == 413
    stranger = await client.post(
        turns_url, json={"turns": [{"speaker": "bob", "text": "hi there"}]}, headers=h
    )
    assert stranger.status_code == 422 and stranger.json()["errors"][0]["field"] == "turns[0].speaker"
    empty = await client.post(turns_url, json={"turns": [{"speaker": "user", "text": ""}]}, headers=h)
    assert empty.status_code == 422
    kind = await client.post(
        "/v1/users/caroline/partners", json={"id": "x", "name": "X", "kind": "alien"}, headers=h
    )
    assert kind.status_code == 422 and kind.json()["errors"][0]["field"] == "kind"
    session = await client.post("/v1/users/caroline/sessions", json={"partners": ["nobody"]}, headers=h)
    assert session.status_code == 422 and session.json()["errors"][0]["field"] == "partners[0]"
    bad_k = await client.post("/v1/users/caroline/memories/search", json={"query": "x", "k": 0}, headers=h)
    assert bad_k.status_code == 422 and bad_k.json()["errors"][0]["field"] == "k"
    unknown = await client.post(
        "/v1/users/caroline/memories/search", json={"query": "x", "partner": "zed"}, headers=h
    )
    assert unknown.status_code == 422
    assert (await client.get(turns_url, headers=h)).json()["total"] == len(TURNS)
    assert (await client.get("/v1/users/caroline/sessions", headers=h)).json()["total"] == 1
    missing = await client.get("/v1/users/caroline/memories/999999", headers=h)
    assert missing.status_code == 404


async def test_search_filters_by_session_and_time(client: Client, tenant: TenantKey) -> None:
    await conversation(client, tenant)
    h = tenant.headers
    later = await client.post(
        "/v1/users/caroline/sessions",
        json={"id": "s2", "partners": ["mel"], "started_at": "2023-06-20T10:00:00Z"},
        headers=h,
    )
    assert later.json()["ordinal"] == 2
    turns = [{"id": "D2:1", "speaker": "user", "text": "I went to another support group meeting on Friday."}]
    assert (
        await client.post("/v1/users/caroline/sessions/s2/turns", json={"turns": turns}, headers=h)
    ).status_code == 201

    everywhere = await search(client, tenant, "support group")
    assert {r["memory"]["session"] for r in everywhere} >= {"s1", "s2"}
    in_s2 = await search(client, tenant, "support group", session="s2")
    assert in_s2 and all(r["memory"]["session"] == "s2" for r in in_s2)
    assert in_s2[0]["memory"]["tag"] == "about Caroline, from session 2 (2023-06-20)"
    june = await search(client, tenant, "support group", observed_from="2023-06-01T00:00:00Z")
    assert june and all(r["memory"]["session"] == "s2" for r in june)
    may = await search(client, tenant, "support group", observed_to="2023-06-01T00:00:00Z")
    assert may and all(r["memory"]["session"] == "s1" for r in may)


async def test_one_batch_dedupes_and_supersedes_within_itself(client: Client, tenant: TenantKey) -> None:
    await conversation(client, tenant)
    h = tenant.headers
    turns = [
        {"id": "D1:20", "speaker": "mel", "text": "I live in Boston with my husband and the kids."},
        {"id": "D1:21", "speaker": "mel", "text": "I live in Boston with my husband and the kids."},
        {"id": "D1:22", "speaker": "mel", "text": "Big news: we moved to Denver in March, I love it here."},
    ]
    ingest = await client.post("/v1/users/caroline/sessions/s1/turns", json={"turns": turns}, headers=h)
    first, again, moved = ingest.json()["memories"]
    assert first["status"] == "created" and again == {"id": first["id"], "status": "merged", "superseded": []}
    assert moved["status"] == "created" and moved["superseded"] == [first["id"]]
    history = (await client.get(f"/v1/users/caroline/memories/{first['id']}/history", headers=h)).json()
    assert [m["id"] for m in history["items"]] == [first["id"], moved["id"]]
    assert (
        history["items"][0]["source_turn_ids"] == ["D1:20", "D1:21"] and history["items"][0]["mentions"] == 2
    )
    assert history["items"][0]["key"] == history["items"][1]["key"] == "melanie|lives_in"
