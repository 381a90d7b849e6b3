"""Preference latents through the HTTP API: comparisons, online refits, scoring, active queries,
objective directions, re-ranked recommendations, isolation, export and deletion."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.config import Settings
from persona_api.errors import Conflict
from persona_api.jobs.reindex import run_reindex
from persona_api.kernel.embed import MiniLMEmbedder
from persona_api.kernel.steps import StepRegistry
from persona_api.preferences import service
from persona_api.preferences.bundle import PreferenceModels
from persona_api.preferences.model import PreferenceModel
from persona_api.preferences.options import OptionIn, OptionStore
from persona_api.preferences.step import MIN_USER_COMPARISONS, MIN_USERS, PreferenceStep
from persona_api.preferences.tables import PreferenceComparison, PreferenceLatentRow, PreferenceOption
from persona_api.preferences.training_inputs import TrainConfig
from persona_api.store.db import create_engine, session_factory
from persona_api.store.step import TenantDirectoryStep
from persona_api.store.tables import User
from tests.conftest import TenantKey, admin_headers, fetch_all, new_tenant

Client = AsyncTestClient[Litestar]

OUTDOOR = [
    "Hiking up a steep mountain trail at sunrise",
    "Trail running through the forest in the rain",
    "Kayaking down a wild river with friends",
    "Rock climbing on a granite cliff",
    "Cycling across the countryside on a mountain bike",
    "Camping in a tent beside an alpine lake",
]
SHOPPING = [
    "Shopping for designer handbags at a luxury boutique",
    "Buying expensive jewellery in a high-end department store",
    "Trying on couture dresses in a fashion house showroom",
    "Browsing luxury watches in an upscale mall",
    "Ordering perfume from an exclusive Parisian brand",
    "Picking out silk scarves at a designer store",
]


@pytest.fixture
async def tenant(client: Client) -> AsyncIterator[TenantKey]:
    key = await new_tenant(client)
    yield key
    await client.delete(f"/v1/admin/tenants/{key.tenant_id}", headers=admin_headers())


def _pairs(n: int, prefix: str = "c") -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}{i}",
            "chosen": {"text": OUTDOOR[i % 6]},
            "rejected": {"text": SHOPPING[(i + 1) % 6]},
        }
        for i in range(n)
    ]


async def _compare(
    client: Client, h: dict[str, str], user: str, items: list[dict[str, Any]]
) -> dict[str, Any]:
    response = await client.post(f"/v1/users/{user}/comparisons", json={"comparisons": items}, headers=h)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _score(
    client: Client, h: dict[str, str], user: str, candidates: list[dict[str, str]]
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/users/{user}/preferences/score", json={"candidates": candidates}, headers=h
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _count(database_url: str, table: Any) -> int:
    [(count,)] = await fetch_all(database_url, select(func.count()).select_from(table))
    return int(count)


TEST_PAIR = [{"text": "Paddling a canoe on a quiet lake"}, {"text": "Buying a designer leather bag"}]


async def test_a_user_the_tenant_lacks_is_a_404_and_the_prior_has_its_own_routes(
    client: Client, tenant: TenantKey
) -> None:
    h = tenant.headers
    for method, path, body in [
        ("GET", "preferences", None),
        ("POST", "preferences/score", {"candidates": TEST_PAIR}),
        ("POST", "preferences/next-query", {"candidates": TEST_PAIR}),
        ("GET", "preferences/objective", None),
        ("DELETE", "preferences/objective", None),
        ("GET", "preferences/history", None),
        ("GET", "comparisons", None),
    ]:
        missing = await client.request(method, f"/v1/users/newbie/{path}", json=body, headers=h)
        assert missing.status_code == 404, (path, missing.text)
    response = await client.get("/v1/preferences/prior", headers=h)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"] is None
    assert body["prior"] is True and body["n_comparisons"] == 0 and body["version"] == 0
    assert body["model_version"] == "bootstrap"
    assert body["prototype_weights"] == [0.0] * len(body["prototype_weights"])
    assert body["uncertainty"] > 0
    population = await client.post("/v1/preferences/score", json={"candidates": TEST_PAIR}, headers=h)
    assert population.status_code == 200, population.text
    scores = population.json()
    assert scores["prior"] is True and scores["user"] is None
    # A standard-normal prior with zero mean: no candidate is preferred yet.
    assert [c["win_probability"] for c in scores["candidates"]] == [0.5, 0.5]
    assert (await client.get("/v1/users/newbie", headers=h)).status_code == 404


async def test_comparisons_move_scores_and_shrink_uncertainty(client: Client, tenant: TenantKey) -> None:
    h = tenant.headers
    prior = (await client.get("/v1/preferences/prior", headers=h)).json()
    first = await _compare(client, h, "ann", _pairs(3))
    assert first["created"] == 3 and first["duplicates"] == 0
    latent = first["preferences"]
    assert latent["n_comparisons"] == 3 and latent["prior"] is False and latent["version"] == 1
    assert latent["uncertainty"] < prior["uncertainty"]
    few = await _score(client, h, "ann", TEST_PAIR)
    canoe, bag = few["candidates"]
    assert canoe["utility"] > bag["utility"] and canoe["rank"] == 1 and bag["rank"] == 2
    assert canoe["win_probability"] > 0.5 > bag["win_probability"]

    more = await _compare(client, h, "ann", _pairs(12, prefix="d"))
    assert more["preferences"]["uncertainty"] < latent["uncertainty"]
    assert more["preferences"]["version"] == 2
    many = await _score(client, h, "ann", TEST_PAIR)
    assert many["candidates"][0]["win_probability"] > canoe["win_probability"]
    assert many["candidates"][0]["std"] < canoe["std"] or many["candidates"][1]["std"] < bag["std"]

    history = (await client.get("/v1/users/ann/preferences/history", headers=h)).json()
    assert [v["version"] for v in history["items"]] == [2, 1]
    assert [v["n_comparisons"] for v in history["items"]] == [15, 3]
    assert {v["reason"] for v in history["items"]} == {"comparisons"}


async def test_batches_are_idempotent_and_conflicts_are_409(
    client: Client, tenant: TenantKey, database_url: str
) -> None:
    h = tenant.headers
    await _compare(client, h, "bob", _pairs(4))
    again = await _compare(client, h, "bob", _pairs(4))
    assert again["created"] == 0 and again["duplicates"] == 4
    assert again["preferences"]["version"] == 1
    changed = _pairs(1)
    changed[0]["strength"] = 0.3
    response = await client.post(
        "/v1/users/bob/comparisons", json={"comparisons": changed + _pairs(5, "z")}, headers=h
    )
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith(":conflict")
    listed = (await client.get("/v1/users/bob/comparisons", headers=h)).json()
    assert listed["total"] == 4  # nothing of the rejected batch was written
    assert listed["items"][0]["id"] == "c3" and listed["items"][0]["chosen"] == {"text": OUTDOOR[3]}


class _NoItems:
    async def find(
        self, session: AsyncSession, tenant_id: str, external_ids: Sequence[str]
    ) -> dict[str, Any]:
        return {}


async def test_a_text_another_request_stored_first_is_shared_not_a_500(
    tenant: TenantKey, database_url: str, embedder: MiniLMEmbedder
) -> None:
    """Two requests first use the same text: both read "not stored", the first commits its row, and
    the second's insert then meets the unique key. It shares the stored row (it used to be a 500)."""
    texts = ["Sailing a small dinghy on a windy lake", "Queueing for a limited-edition sneaker drop"]
    options = [OptionIn(text=t) for t in texts]
    engine = create_engine(Settings(database_url=database_url), pooled=False)
    try:
        sessions = session_factory(engine)
        async with sessions() as first, sessions() as second:
            late = OptionStore(second, tenant.tenant_id, embedder, _NoItems())
            unseen = await late.resolve(options, ["a", "b"], store=False)  # it reads before the first writes
            stored = await OptionStore(first, tenant.tenant_id, embedder, _NoItems()).resolve(
                options, ["a", "b"], store=True
            )
            await first.commit()
            shared = await late._write({r.key: r for r in unseen}, {})
            await second.commit()
    finally:
        await engine.dispose()
    assert [shared[r.key].id for r in stored] == [r.id for r in stored]
    rows = await fetch_all(
        database_url, select(PreferenceOption.text).where(PreferenceOption.text.in_(texts))
    )
    assert sorted(r.text for r in rows) == sorted(texts)


async def test_a_latent_version_stored_first_by_another_request_is_a_409_not_a_500(
    client: Client, app: Litestar, tenant: TenantKey, database_url: str
) -> None:
    """Two requests refit the same user at once (as after a new model is served): the second's
    version number is taken, which is a conflict the client can retry, never an internal error."""
    await _compare(client, tenant.headers, "dora", _pairs(2))
    (user_id,) = (await fetch_all(database_url, select(User.id).where(User.external_id == "dora")))[0]
    engine = create_engine(Settings(database_url=database_url), pooled=False)
    try:
        sessions = session_factory(engine)
        async with sessions() as first, sessions() as second:
            one = service.Preferences(app.state.preferences, first, tenant.tenant_id)
            two = service.Preferences(app.state.preferences, second, tenant.tenant_id)
            seen_by_two = await two._latest(user_id)
            await one._append(user_id, await one._latest(user_id), "model", None)
            await first.commit()
            with pytest.raises(Conflict):
                await two._append(user_id, seen_by_two, "model", None)
            await second.rollback()
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("comparison", "field"),
    [
        ({"id": "x", "chosen": {"text": "a"}, "rejected": {"text": "a"}}, "comparisons[0].rejected"),
        (
            {"id": "x", "chosen": {"text": "a", "item": "i"}, "rejected": {"text": "b"}},
            "comparisons[0].chosen",
        ),
        ({"id": "x", "chosen": {}, "rejected": {"text": "b"}}, "comparisons[0].chosen"),
        (
            {"id": "x", "chosen": {"text": "a"}, "rejected": {"text": "b"}, "strength": 0},
            "comparisons[0].strength",
        ),
        ({"id": "x", "chosen": {"item": "nope"}, "rejected": {"text": "b"}}, "comparisons[0].chosen.item"),
    ],
)
async def test_bad_comparisons_are_422_and_write_nothing(
    client: Client, tenant: TenantKey, database_url: str, comparison: dict[str, Any], field: str
) -> None:
    h = tenant.headers
    before = await _count(database_url, PreferenceOption)
    batch = [{"id": "ok", "chosen": {"text": "fine"}, "rejected": {"text": "other"}}, comparison]
    response = await client.post("/v1/users/carl/comparisons", json={"comparisons": batch}, headers=h)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = [e["field"] for e in response.json()["errors"]]
    assert any(f.replace("comparisons[1]", "comparisons[0]").startswith(field) for f in fields), fields
    assert (await client.get("/v1/users/carl", headers=h)).status_code == 404
    assert await _count(database_url, PreferenceOption) == before


async def test_items_as_options_and_tenant_isolation(client: Client, tenant: TenantKey) -> None:
    h = tenant.headers
    items = [
        {"id": "boots", "title": "Waterproof hiking boots", "description": "For mountain trails"},
        {"id": "tent", "title": "Lightweight camping tent", "description": "Two-person, for backpacking"},
        {"id": "handbag", "title": "Designer leather handbag", "description": "Luxury Italian fashion"},
        {"id": "watch", "title": "Gold luxury wristwatch", "description": "Swiss-made jewellery piece"},
    ]
    assert (await client.post("/v1/items", json=items, headers=h)).status_code == 200
    await _compare(
        client,
        h,
        "dan",
        [{"id": "i1", "chosen": {"item": "boots"}, "rejected": {"item": "handbag"}}, *_pairs(6)],
    )
    scores = await _score(client, h, "dan", [{"item": "watch"}, {"item": "tent"}])
    assert [c["rank"] for c in scores["candidates"]] == [2, 1]
    assert scores["candidates"][1]["option"] == {"item": "tent"}
    listed = (
        await client.get("/v1/users/dan/comparisons", params={"limit": 1, "offset": 6}, headers=h)
    ).json()
    assert listed["items"][0]["chosen"] == {"item": "boots"} and listed["total"] == 7

    other = await new_tenant(client, "other")
    try:
        assert (await client.get("/v1/users/dan/preferences", headers=other.headers)).status_code == 404
        assert (await client.get("/v1/users/dan/comparisons", headers=other.headers)).status_code == 404
        response = await client.post(
            "/v1/preferences/score",
            json={"candidates": [{"item": "tent"}, {"text": "x"}]},
            headers=other.headers,
        )
        assert response.status_code == 422 and "tent" in response.json()["detail"]
    finally:
        await client.delete(f"/v1/admin/tenants/{other.tenant_id}", headers=admin_headers())


async def test_next_query_picks_the_informative_pair(client: Client, tenant: TenantKey) -> None:
    h = tenant.headers
    same = "Hiking up a steep mountain trail at sunrise"
    candidates = [{"text": same}, {"text": same}, {"text": "Buying expensive jewellery in a luxury store"}]
    # A new user's first question comes from the population's route (eve does not exist yet).
    response = await client.post("/v1/preferences/next-query", json={"candidates": candidates}, headers=h)
    assert response.status_code == 200, response.text
    body = response.json()
    # Comparing an option with itself tells nothing: the pair must include the different one.
    assert (body["first"], body["second"]) == (0, 2)
    assert body["expected_information_bits"] > 0 and 0 < body["probability_first"] < 1
    assert body["second_option"] == candidates[2]
    # Once the user's taste between the two kinds is settled, a question about an unrelated,
    # still uncertain pair is worth more than asking it again.
    await _compare(client, h, "eve", _pairs(15))
    settled = [
        {"text": OUTDOOR[0]},
        {"text": SHOPPING[1]},
        {"text": "Writing Python code to parse JSON files"},
        {"text": "Baking sourdough bread at home"},
    ]
    response = await client.post(
        "/v1/users/eve/preferences/next-query", json={"candidates": settled}, headers=h
    )
    body = response.json()
    assert {body["first"], body["second"]} != {0, 1}, body
    bad = await client.post(
        "/v1/users/eve/preferences/next-query", json={"candidates": [{"text": "x"}]}, headers=h
    )
    assert bad.status_code == 422


async def test_objective_direction(client: Client, tenant: TenantKey) -> None:
    h = tenant.headers
    listed = (await client.get("/v1/preferences/objectives", headers=h)).json()["objectives"]
    assert {"helpfulness", "harmlessness", "verbosity", "formality", "humor", "creativity"} <= {
        o["name"] for o in listed
    }
    response = await client.put(
        "/v1/users/fay/preferences/objective", json={"weights": {"formality": 3, "humor": -4}}, headers=h
    )
    assert response.status_code == 200, response.text
    assert response.json()["weights"] == pytest.approx({"formality": 0.6, "humor": -0.8})
    got = (await client.get("/v1/users/fay/preferences/objective", headers=h)).json()
    assert got["weights"] == pytest.approx({"formality": 0.6, "humor": -0.8})
    scores = await _score(
        client,
        h,
        "fay",
        [
            {"text": "Dear Sir, we hereby formally acknowledge receipt of your letter."},
            {"text": "lol that joke was hilarious, you're so funny haha"},
        ],
    )
    formal, funny = scores["candidates"]
    assert formal["objective_score"] > funny["objective_score"]
    for weights in ({"sarcasm": 1.0}, {"humor": 0.0}):
        bad = await client.put("/v1/users/fay/preferences/objective", json={"weights": weights}, headers=h)
        assert bad.status_code == 422, bad.text
    bad = await client.put("/v1/users/zed/preferences/objective", json={"weights": {"sarcasm": 1}}, headers=h)
    assert [e["field"] for e in bad.json()["errors"]] == ["weights.sarcasm"]
    assert (await client.get("/v1/users/zed", headers=h)).status_code == 404  # nothing written
    assert (await client.delete("/v1/users/fay/preferences/objective", headers=h)).status_code == 204
    assert (await client.get("/v1/users/fay/preferences/objective", headers=h)).json()["weights"] is None
    history = (await client.get("/v1/users/fay/preferences/history", headers=h)).json()["items"]
    assert [v["reason"] for v in history] == ["objective", "objective"]


async def test_delete_comparison_and_new_model_refit(
    client: Client, app: Litestar, tenant: TenantKey, database_url: str
) -> None:
    h = tenant.headers
    await _compare(client, h, "gus", _pairs(2))
    assert (await client.delete("/v1/users/gus/comparisons/c0", headers=h)).status_code == 204
    # c0's two options are referred to by no other comparison: they go with it.
    options = await fetch_all(
        database_url, select(PreferenceOption.text).where(PreferenceOption.tenant_id == tenant.tenant_id)
    )
    assert sorted(t for (t,) in options) == sorted([OUTDOOR[1], SHOPPING[2]])
    assert (await client.delete("/v1/users/gus/comparisons/c0", headers=h)).status_code == 404
    latent = (await client.get("/v1/users/gus/preferences", headers=h)).json()
    assert latent["n_comparisons"] == 1 and latent["version"] == 2

    trained = PreferenceModel.bootstrap(384, seed=7)
    trained.version = "v-test"
    runtime = app.state.preferences
    runtime.models = lambda: PreferenceModels("v-test", {tenant.tenant_id: trained}, {})
    latent = (await client.get("/v1/users/gus/preferences", headers=h)).json()
    assert latent["model_version"] == "v-test" and latent["version"] == 3 and latent["n_comparisons"] == 1
    history = (await client.get("/v1/users/gus/preferences/history", headers=h)).json()["items"]
    assert [v["reason"] for v in history] == ["model", "deleted", "comparisons"]


async def test_rerank_recommendations_by_preferences(client: Client, tenant: TenantKey) -> None:
    h = tenant.headers
    items = [
        {"id": "handbag", "title": "Designer leather handbag", "description": "Luxury Italian fashion"},
        {"id": "watch", "title": "Gold luxury wristwatch", "description": "Swiss-made jewellery"},
        {"id": "perfume", "title": "Exclusive French perfume", "description": "Luxury fragrance"},
        {"id": "boots", "title": "Waterproof hiking boots", "description": "For mountain trails"},
    ]
    assert (await client.post("/v1/items", json=items, headers=h)).status_code == 200
    # Popularity puts the luxury items first for everyone.
    events = [
        {"user": f"u{u}", "item": i["id"], "type": "view", "at": f"2026-01-0{u + 1}T00:00:00Z"}
        for u, i in enumerate(items)
        for _ in range(4 - u)
    ]
    events = [dict(e, user=f"{e['user']}-{n}") for n, e in enumerate(events)]
    assert (await client.post("/v1/interactions", json=events, headers=h)).status_code == 200
    await _compare(client, h, "hal", _pairs(15))
    plain = (await client.get("/v1/users/hal/recommendations", params={"k": 4}, headers=h)).json()
    assert [i["id"] for i in plain["items"]] == ["handbag", "watch", "perfume", "boots"]
    reranked = (
        await client.get("/v1/users/hal/recommendations", params={"k": 4, "rerank": "preferences"}, headers=h)
    ).json()
    order = [i["id"] for i in reranked["items"]]
    assert sorted(order) == sorted(plain_id["id"] for plain_id in plain["items"])
    assert order.index("boots") < 3
    bad = await client.get("/v1/users/hal/recommendations", params={"rerank": "mood"}, headers=h)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")


async def test_export_and_delete_user(client: Client, tenant: TenantKey, database_url: str) -> None:
    h = tenant.headers
    await _compare(client, h, "ivy", _pairs(3))
    await client.put("/v1/users/ivy/preferences/objective", json={"weights": {"helpfulness": 1}}, headers=h)
    export = (await client.get("/v1/users/ivy/export", headers=h)).json()["data"]["preferences"]
    assert [c["id"] for c in export["comparisons"]] == ["c0", "c1", "c2"]
    assert export["comparisons"][0]["chosen"] == {"text": OUTDOOR[0]}
    assert [v["reason"] for v in export["latents"]] == ["comparisons", "objective"]
    assert export["objective"] == {"helpfulness": 1.0}
    assert (await client.delete("/v1/users/ivy", headers=h)).status_code == 204
    tenant_rows = PreferenceOption.tenant_id == tenant.tenant_id
    assert await fetch_all(database_url, select(PreferenceOption.id).where(tenant_rows)) == []
    for table in (PreferenceComparison, PreferenceLatentRow):
        assert (
            await fetch_all(database_url, select(table.id).where(table.tenant_id == tenant.tenant_id)) == []
        )
    assert (await client.get("/v1/users/ivy/preferences", headers=h)).status_code == 404


async def test_only_the_newest_versions_are_kept(
    client: Client, tenant: TenantKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "KEEP_VERSIONS", 3)
    h = tenant.headers
    for i in range(5):
        await _compare(client, h, "kim", _pairs(1, prefix=f"k{i}-"))
    history = (await client.get("/v1/users/kim/preferences/history", headers=h)).json()
    assert [v["version"] for v in history["items"]] == [5, 4, 3] and history["total"] == 3


async def test_the_system_message_summarises_the_latent_and_objective(
    client: Client, tenant: TenantKey
) -> None:
    h = tenant.headers
    await _compare(client, h, "sam", _pairs(10))
    put = await client.put(
        "/v1/users/sam/preferences/objective",
        json={"weights": {"verbosity": -1.0, "helpfulness": 2.0}},
        headers=h,
    )
    assert put.status_code == 200, put.text
    response = await client.post("/v1/users/sam/system-message", json={"query": "weekend plans"}, headers=h)
    assert response.status_code == 200, response.text
    message = response.json()["message"]
    block = message[message.index("<preference_summary>") :]
    assert "more helpfulness" in block and "less verbosity" in block
    assert "From 10 comparisons" in block
    prefer = block[block.index("Tends to prefer:") : block.index("Tends to prefer less:")]
    rest = block[block.index("Tends to prefer less:") :]
    # The latent ranks the outdoor options it was shown above the shopping ones.
    assert any(text in prefer for text in OUTDOOR) and not any(text in prefer for text in SHOPPING)
    assert any(text in rest for text in SHOPPING)


async def test_the_reindex_job_trains_the_population_and_latents_follow_it(
    client: Client, app: Litestar, tenant: TenantKey, settings: Settings
) -> None:
    h = tenant.headers
    for u in range(MIN_USERS + 2):
        likes, dislikes = (OUTDOOR, SHOPPING) if u % 2 == 0 else (SHOPPING, OUTDOOR)
        pairs = [
            {"id": f"p{i}", "chosen": {"text": likes[(u + i) % 6]}, "rejected": {"text": dislikes[i % 6]}}
            for i in range(MIN_USER_COMPARISONS + 1)
        ]
        await _compare(client, h, f"member-{u}", pairs)
    steps = StepRegistry()
    steps.register(TenantDirectoryStep())
    steps.register(PreferenceStep(TrainConfig(ks=(2, 4), dim=8, epochs=120, prior_scales=(1.0,))))
    version = await run_reindex(settings, registry=steps)
    assert await asyncio.to_thread(app.state.artifacts.refresh)

    latent = (await client.get("/v1/users/member-0/preferences", headers=h)).json()
    assert latent["model_version"] == version and latent["n_comparisons"] == MIN_USER_COMPARISONS + 1
    assert len(latent["prototype_weights"]) in (2, 4)
    # Under the trained model, a new user's two comparisons already say which group they are in.
    await _compare(
        client,
        h,
        "newcomer",
        [
            {"id": f"n{i}", "chosen": {"text": SHOPPING[i]}, "rejected": {"text": OUTDOOR[i]}}
            for i in range(2)
        ],
    )
    scores = (await _score(client, h, "newcomer", [{"text": OUTDOOR[5]}, {"text": SHOPPING[5]}]))[
        "candidates"
    ]
    shopping, outdoor = scores[1], scores[0]
    assert shopping["utility"] > outdoor["utility"]
