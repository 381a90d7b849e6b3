"""Schemathesis over the served OpenAPI document: the document is the contract.

Every operation runs with generated valid and invalid requests against a real server seeded with a
tenant and data, so path parameters also name existing objects (a user, a session, a memory, an
item...). Each response must be: not a 5xx, a status the operation declares, of the declared
media type, matching the declared schema; invalid data must be rejected; and an operation that
declares security must refuse a request without it.

Runs once per CI run (not per database): the app under test uses its own SQLite file.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from persona_api.app import create_app
from persona_api.config import Settings
from persona_api.jobs.reindex import run_reindex
from persona_api.kernel.embed import MiniLMEmbedder
from persona_api.store import migrate
from tests.conftest import ADMIN_TOKEN, admin_headers
from tests.fuzz.tally import CASES
from tests.llm_server import FakeLLM
from tests.serving import served

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
NOT_READY = "urn:persona-api:problem:not-ready"
EXAMPLES_PER_OPERATION = int(os.environ.get("PERSONA_FUZZ_EXAMPLES", "5"))
"""Hypothesis examples per operation (CI's default; set ``PERSONA_FUZZ_EXAMPLES`` for a deeper run)."""


@dataclass
class Seeded:
    base: str
    key: str
    tenant: str
    key_id: str
    victim_tenant: str
    victim_key: str
    known: dict[str, list[Any]]
    """Path parameter name -> values naming existing objects."""


def _ok(response: httpx.Response) -> httpx.Response:
    assert response.status_code < 300, f"{response.request.method} {response.request.url}: {response.text}"
    return response


def seed(base: str, key: str) -> dict[str, list[Any]]:
    """Idempotent: writes the objects path parameters may name (again after a fuzzed delete)."""
    h = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=h, timeout=120) as http:
        if http.get("/v1/users/alice").status_code == 404:
            _ok(http.post("/v1/users", json={"id": "alice", "metadata": {"city": "Lisbon"}}))
        if http.get("/v1/users/alice/partners").json()["total"] == 0:
            _ok(http.post("/v1/users/alice/partners", json={"id": "bob", "name": "Bob"}))
        if http.get("/v1/users/alice/sessions/s1").status_code == 404:
            _ok(http.post("/v1/users/alice/sessions", json={"id": "s1", "partners": ["bob"]}))
        turns = {"turns": [{"speaker": "user", "text": "I love kayaking on the Tagus.", "id": "t1"}]}
        _ok(http.post("/v1/users/alice/sessions/s1/turns", json=turns))
        memories = http.get("/v1/users/alice/memories").json()["items"]
        if not memories:
            _ok(http.post("/v1/users/alice/memories", json={"text": "Alice is vegetarian."}))
            memories = http.get("/v1/users/alice/memories").json()["items"]
        items = [{"id": f"i{n}", "title": f"Trail guide {n}"} for n in range(1, 6)]
        _ok(http.post("/v1/items", json=items))
        events = [
            {"user": user, "item": f"i{n}", "type": "click"}
            for user, items in (("alice", (1, 2, 3)), ("carol", (2, 3, 4)), ("dave", (1, 4, 5)))
            for n in items
        ]
        _ok(http.post("/v1/interactions", json=events))
        pantry = ["basil", "tomato", "garlic", "olive oil", "mozzarella", "onion"]
        recipes = [
            {"id": f"r{n}", "ingredients": [pantry[n % 6], pantry[(n + 1) % 6], pantry[(n + 3) % 6]]}
            for n in range(1, 9)
        ]
        _ok(http.post("/v1/ingredients", json=[{"name": name} for name in pantry]))
        _ok(http.post("/v1/recipes", json=recipes))
        comparison = {"id": "c1", "chosen": {"text": "Hiking"}, "rejected": {"text": "Shopping"}}
        _ok(http.post("/v1/users/alice/comparisons", json={"comparisons": [comparison]}))
        tone = {"dimension": "style", "subdimension": "tone", "preference": "warm"}
        _ok(http.put("/v1/users/alice/values", json={"preferences": [tone]}))
        _ok(http.put("/v1/users/alice/values/partners/bob", json={"preferences": [tone]}))
    return {
        "user_id": ["alice"],
        "session_id": ["s1"],
        "partner_id": ["bob"],
        "memory_id": [m["id"] for m in memories],
        "item_id": ["i1", "i2"],
        "recipe_id": ["r1"],
        "comparison_id": ["c1"],
        "name": ["basil"],
    }


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    root = tmp_path_factory.mktemp("contract")
    llm = FakeLLM().start()
    settings_ = Settings(
        database_url=f"sqlite+aiosqlite:///{root / 'persona.db'}",
        models_dir=root / "models",
        var_dir=root / "var",
        admin_token=ADMIN_TOKEN,
        rate_limit_per_minute=0,
        rate_limit_failed_auth_per_minute=0,  # the auth check sends refused keys on purpose
        artifact_poll_seconds=0,
        preload_models=False,
        llm_base_url=llm.base_url,
        llm_model="fake-model",
        llm_extract_memories=False,
        llm_extract_worker="inline",
    )
    migrate.upgrade(settings_.database_url)
    embedder = MiniLMEmbedder()
    try:
        with served(create_app(settings_, embedder=embedder)) as base:
            with httpx.Client(base_url=base, headers=admin_headers(), timeout=120) as admin:
                tenant = _ok(admin.post("/v1/admin/tenants", json={"name": "acme"})).json()["id"]
                issued = _ok(admin.post(f"/v1/admin/tenants/{tenant}/keys", json={})).json()
                victim = _ok(admin.post("/v1/admin/tenants", json={"name": "victim"})).json()["id"]
                victim_key = _ok(admin.post(f"/v1/admin/tenants/{victim}/keys", json={})).json()["id"]
            seed(base, issued["key"])
        # Trained models, so that recommendations and pairings answer rather than 503.
        asyncio.run(run_reindex(settings_))
        with served(create_app(settings_, embedder=embedder)) as base:
            key = issued["key"]
            yield Seeded(base, key, tenant, issued["id"], victim, victim_key, seed(base, key))
    finally:
        llm.stop()


@pytest.fixture(scope="module")
def contract(seeded: Seeded) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(f"{seeded.base}/schema/openapi.json")
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    # A batch over its record limit is a 413, as a body over the byte limit is.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]

    return schema


schema = schemathesis.pytest.from_fixture("contract")


def _ndjson(ctx: Any, value: Any) -> bytes:
    records = value if isinstance(value, list) else [value]
    return b"\n".join(json.dumps(r).encode() for r in records)


schemathesis.serializer("application/x-ndjson")(_ndjson)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_keeps_the_contract(case: Any, seeded: Seeded) -> None:
    security = case.operation.definition.raw.get("security") or []
    names = {name for requirement in security for name in requirement}
    token = ADMIN_TOKEN if "adminToken" in names else seeded.key
    CASES[case.operation.label] += 1
    if case.path_parameters:
        # Schemathesis reuses ids it saw in responses: the admin routes must not revoke, delete or
        # limit the tenant the rest of the run works as.
        if case.path_parameters.get("tenant_id") == seeded.tenant:
            case.path_parameters["tenant_id"] = seeded.victim_tenant
        if case.path_parameters.get("key_id") == seeded.key_id:
            case.path_parameters["key_id"] = seeded.victim_key
    positive = case.meta is None or case.meta.generation.mode == GenerationMode.POSITIVE
    if positive and case.path_parameters and random.Random(repr(case.path_parameters)).random() < 0.5:
        # Half the valid cases name existing objects; the rest keep the generated (mostly unknown) ids.
        known = dict(seeded.known, tenant_id=[seeded.victim_tenant], key_id=[seeded.victim_key])
        pick = random.Random(repr(case.path_parameters))
        for name in case.path_parameters:
            if known.get(name):
                case.path_parameters[name] = pick.choice(known[name])
    headers = {"Authorization": f"Bearer {token}"}
    response = case.call(base_url=seeded.base, headers=headers)
    checks = CHECKS
    if response.status_code == 503 and response.json().get("type") == NOT_READY:
        # A model not trained yet for what the case asks (declared, with Retry-After): not a fault.
        checks = [c for c in CHECKS if c is not not_a_server_error]
    case.validate_response(
        response,
        checks=checks,
        headers=headers,
        transport_kwargs={"base_url": seeded.base, "headers": headers},
    )
    if case.method.upper() == "DELETE" and response.status_code < 300:
        seeded.known = seed(seeded.base, seeded.key)
        if "/admin/" in case.path:
            with httpx.Client(base_url=seeded.base, headers=admin_headers(), timeout=120) as admin:
                if admin.get(f"/v1/admin/tenants/{seeded.victim_tenant}").status_code == 404:
                    seeded.victim_tenant = admin.post("/v1/admin/tenants", json={"name": "victim"}).json()[
                        "id"
                    ]
                made = admin.post(f"/v1/admin/tenants/{seeded.victim_tenant}/keys", json={})
                seeded.victim_key = made.json()["id"]


def test_another_tenants_key_reaches_none_of_the_seeded_objects(seeded: Seeded) -> None:
    """Every operation whose path names objects, called with the seeded ids under another
    tenant's key, is a 404 (reads) or a 404 that changes nothing (deletes)."""
    with httpx.Client(base_url=seeded.base, headers=admin_headers(), timeout=120) as admin:
        other = _ok(admin.post("/v1/admin/tenants", json={"name": "other"})).json()["id"]
        key = _ok(admin.post(f"/v1/admin/tenants/{other}/keys", json={})).json()["key"]
    doc = httpx.get(f"{seeded.base}/schema/openapi.json").json()
    tried = 0
    with httpx.Client(base_url=seeded.base, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
        for path, operations in doc["paths"].items():
            names = re.findall(r"\{([^}]+)\}", path)
            if not names or path.startswith("/v1/admin") or not all(n in seeded.known for n in names):
                continue
            url = path.format(**{n: seeded.known[n][0] for n in names})
            for method in operations:
                if method not in {"get", "delete"}:
                    continue
                response = http.request(method.upper(), url)
                tried += 1
                assert response.status_code == 404, f"{method.upper()} {url}: {response.status_code}"
    assert tried >= 20
    owner = {"Authorization": f"Bearer {seeded.key}"}
    assert httpx.get(f"{seeded.base}/v1/users/alice/memories", headers=owner).json()["total"] >= 1


def test_the_seeded_objects_exist(seeded: Seeded) -> None:
    with httpx.Client(base_url=seeded.base, headers={"Authorization": f"Bearer {seeded.key}"}) as http:
        assert http.get("/v1/users/alice").status_code == 200
        assert seeded.known["memory_id"], "the fuzzed memory routes need an existing memory"


def test_public_and_secured_operations_are_declared_as_enforced(seeded: Seeded) -> None:
    doc = httpx.get(f"{seeded.base}/schema/openapi.json").json()
    public = {
        (method, path)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if not op.get("security")
    }
    assert ("get", "/v1/preferences/objectives") in public
    assert ("get", "/healthz") in public
    assert not any(path.startswith("/v1/users") for _, path in public)
    admin = doc["paths"]["/v1/admin/tenants"]["get"]["security"]
    assert admin == [{"adminToken": []}]
