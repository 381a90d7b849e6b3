"""persona_client against the real app: in process (sync through Litestar's test client, async
through its async one), and once over a real loopback port with a streaming chat."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import persona_client
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient, TestClient
from persona_client import (
    AsyncPersonaClient,
    AuthenticationError,
    ChatSummary,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PersonaClient,
    UnprocessableEntityError,
    models,
)

from persona_api.app import create_app
from persona_api.config import Settings
from persona_api.kernel.embed import MiniLMEmbedder
from tests.conftest import ADMIN_TOKEN
from tests.faults.support import Serve, clean_env
from tests.llm_server import FakeLLM, Reply

BASE = "http://testserver.local"


@pytest.fixture
def http(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app=app, base_url=BASE) as test_client:
        yield test_client


def _tenant(admin: PersonaClient, name: str) -> str:
    tenant = admin.admin.tenants.create(name=name)
    return admin.admin.keys.create(tenant.id, name="client-tests").key


def test_the_sync_client_covers_users_memories_paging_and_isolation(http: TestClient[Litestar]) -> None:
    admin = PersonaClient(BASE, ADMIN_TOKEN, http_client=http)
    with PersonaClient(BASE, _tenant(admin, "acme"), http_client=http) as client:
        created = client.users.create(id="alice", metadata={"plan": "pro"})
        assert isinstance(created, models.UserOut) and created.metadata == {"plan": "pro"}
        assert created.created_at.tzinfo is not None  # datetimes are datetime
        for n in range(6):
            client.users.create(id=f"user-{n}")
        page = client.users.list(limit=3)
        assert len(page.items) == 3 and page.total == 7
        assert [u.id for u in page] == ["alice", *(f"user-{n}" for n in range(6))]  # three requests
        assert page.next_page() is not None

        memory = client.memories.create("alice", text="Alice moved to Lisbon in May.")
        assert memory.status == "created" and memory.memory.id == 1
        hits = client.memories.search("alice", query="where does alice live?", k=5)
        assert [h.memory.text for h in hits.results] == ["Alice moved to Lisbon in May."]
        assert client.users.update("alice", metadata={"plan": None}).metadata == {}

        with PersonaClient(BASE, _tenant(admin, "other"), http_client=http) as stranger:
            with pytest.raises(NotFoundError) as missing:
                stranger.users.get("alice")
            assert missing.value.status == 404 and missing.value.code == "not-found"
            assert stranger.users.list().total == 0
        client.users.delete("alice")
        with pytest.raises(NotFoundError):
            client.memories.list("alice")


def test_webhook_endpoints_and_the_own_tenant_through_the_client(
    settings: Settings, embedder: MiniLMEmbedder
) -> None:
    app = create_app(settings.with_overrides(webhook_allow_private_urls=True), embedder=embedder)
    with TestClient(app=app, base_url=BASE) as http:
        admin = PersonaClient(BASE, ADMIN_TOKEN, http_client=http)
        with PersonaClient(BASE, _tenant(admin, "hooks"), http_client=http) as client:
            assert client.tenant.get().name == "hooks" and client.tenant.get().create_unknown_users
            made = client.webhooks.create(url="http://127.0.0.1:9/hooks", events=["memory.created"])
            assert made.secret.startswith("whsec_")
            assert [w.id for w in client.webhooks.list()] == [made.id]
            assert client.webhooks.rotate_secret(made.id).secret != made.secret
            client.memories.create("zed", text="Zed paints murals.")  # one delivery, pending
            [delivery] = list(client.webhooks.deliveries(made.id))
            assert delivery.type == "memory.created" and delivery.state == "pending"
            with pytest.raises(UnprocessableEntityError):
                client.webhooks.create(url="ftp://example.com/hooks", events=["memory.created"])
            client.webhooks.delete(made.id)
            with pytest.raises(NotFoundError):
                client.webhooks.get(made.id)


def test_status_errors_are_their_classes_with_the_problem(http: TestClient[Litestar]) -> None:
    admin = PersonaClient(BASE, ADMIN_TOKEN, http_client=http)
    client = PersonaClient(BASE, _tenant(admin, "errors"), http_client=http)
    client.users.create(id="bob")
    with pytest.raises(ConflictError) as conflict:
        client.users.create(id="bob")
    assert conflict.value.status == 409 and "bob" in conflict.value.detail
    assert (
        conflict.value.request_id
        and conflict.value.response.headers["x-request-id"] == conflict.value.request_id
    )
    with pytest.raises(UnprocessableEntityError) as invalid:
        client.users.create(id="not valid!")
    assert invalid.value.errors and invalid.value.errors[0].field == "id"
    with pytest.raises(AuthenticationError):
        PersonaClient(BASE, "pk_wrong", http_client=http).users.list()


def test_a_read_key_reads_and_its_writes_are_permission_denied(http: TestClient[Litestar]) -> None:
    admin = PersonaClient(BASE, ADMIN_TOKEN, http_client=http)
    tenant = admin.admin.tenants.create(name="readers")
    writer = PersonaClient(BASE, admin.admin.keys.create(tenant.id).key, http_client=http)
    issued = admin.admin.keys.create(tenant.id, name="dashboard", scope="read")
    assert issued.scope == "read"
    assert [k.scope for k in admin.admin.keys.list(tenant.id)] == ["write", "read"]
    writer.memories.create("alice", text="Alice moved to Lisbon in May.")
    with PersonaClient(BASE, issued.key, http_client=http) as reader:
        assert [u.id for u in reader.users.list()] == ["alice"]
        hits = reader.memories.search("alice", query="where does alice live?")
        assert [h.memory.text for h in hits.results] == ["Alice moved to Lisbon in May."]
        with pytest.raises(PermissionDeniedError) as refused:
            reader.memories.create("alice", text="Alice moved to Porto.")
    assert refused.value.status == 403 and "read-only" in refused.value.detail
    assert writer.memories.list("alice").total == 1


def test_a_body_over_the_servers_limit_is_payload_too_large(
    settings: Settings, embedder: MiniLMEmbedder
) -> None:
    small = create_app(settings.with_overrides(max_body_bytes=1024), embedder=embedder)
    with TestClient(app=small, base_url=BASE) as http:
        client = PersonaClient(
            BASE, _tenant(PersonaClient(BASE, ADMIN_TOKEN, http_client=http), "big"), http_client=http
        )
        client.users.create(id="carol")
        with pytest.raises(PayloadTooLargeError) as too_large:
            client.memories.create("carol", text="x" * 1500)
        assert too_large.value.status == 413


def test_uploads_go_in_chunks_that_fit_the_limits_and_their_results_merge(http: TestClient[Litestar]) -> None:
    sent: list[int] = []
    http.event_hooks["request"].append(
        lambda request: sent.append(len(request.content)) if request.url.path == "/v1/items" else None
    )
    client = PersonaClient(
        BASE, _tenant(PersonaClient(BASE, ADMIN_TOKEN, http_client=http), "bulk"), http_client=http
    )
    items = (
        {"id": f"i{n}", "title": f"Item {n}", "description": "d" * 600} for n in range(2500)
    )  # any iterable
    result = client.items.upsert(items=items)
    assert result == models.UpsertOut(created=2500, updated=0, unchanged=0)
    assert len(sent) >= 3 and max(sent) <= 1_000_000  # ~1.6 MB: split by size as well as by count
    assert client.items.list(limit=1).total == 2500
    again = client.items.upsert(items=[models.ItemBody(id="i0", title="Item 0", description="d" * 600)])
    assert again.unchanged == 1


async def test_the_async_client_in_process(client: AsyncTestClient[Litestar]) -> None:
    admin = AsyncPersonaClient(str(client.base_url), ADMIN_TOKEN, http_client=client)
    tenant = await admin.admin.tenants.create(name="async")
    key = (await admin.admin.keys.create(tenant.id, name="k")).key
    async with AsyncPersonaClient(str(client.base_url), key, http_client=client) as api:
        for n in range(5):
            await api.users.create(id=f"u{n}")
        page = await api.users.list(limit=2)
        assert page.total == 5 and len(page.items) == 2
        assert [u.id async for u in page] == [f"u{n}" for n in range(5)]
        await api.partners.create("u0", id="coach", name="Coach")
        await api.sessions.create("u0", id="s1", partners=["coach"])
        turns = await api.turns.append(
            "u0",
            "s1",
            turns=[
                {"id": f"t{n}", "speaker": "user", "text": f"I like hiking number {n}."} for n in range(3)
            ],
        )
        assert turns.accepted == ["t0", "t1", "t2"]
        with pytest.raises(NotFoundError):
            await api.users.get("nobody")


def test_the_package_has_one_exception_tree() -> None:
    assert issubclass(persona_client.APITimeoutError, persona_client.APIConnectionError)
    for name in (
        "BadRequestError",
        "AuthenticationError",
        "PermissionDeniedError",
        "NotFoundError",
        "ConflictError",
        "PayloadTooLargeError",
        "UnprocessableEntityError",
        "RateLimitError",
        "InternalServerError",
        "ServiceUnavailableError",
    ):
        assert issubclass(getattr(persona_client, name), persona_client.APIStatusError)
    assert issubclass(persona_client.APIStatusError, persona_client.PersonaError)
    assert issubclass(persona_client.ServiceUnavailableError, persona_client.InternalServerError)


def _problem(status: int, code: str, **headers: str) -> httpx.Response:
    body = {"type": f"urn:persona-api:problem:{code}", "title": code, "status": status, "detail": code}
    return httpx.Response(status, json=body | {"instance": "/", "request_id": "r"}, headers=headers)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, persona_client.BadRequestError),
        (403, persona_client.PermissionDeniedError),
        (500, persona_client.InternalServerError),
        (502, persona_client.InternalServerError),
        (503, persona_client.ServiceUnavailableError),
        (429, persona_client.RateLimitError),
    ],
)
def test_each_status_maps_to_its_class(status: int, kind: type[Exception]) -> None:
    transport = httpx.MockTransport(lambda request: _problem(status, "x", **{"Retry-After": "0"}))
    http = httpx.Client(transport=transport)
    with PersonaClient(BASE, "k", max_retries=0, http_client=http) as client, pytest.raises(kind) as raised:
        client.users.get("a")
    assert type(raised.value) is kind


class _Script:
    """A mock upstream answering from a list (each entry: a response, or an exception to raise)."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _user() -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "a",
            "metadata": {},
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        },
    )


@pytest.mark.parametrize(
    "first",
    [
        _problem(429, "rate-limited", **{"Retry-After": "0"}),
        _problem(503, "database-unavailable", **{"Retry-After": "0"}),
        httpx.ConnectError("connection refused"),
    ],
    ids=["429", "503", "dropped"],
)
def test_safe_requests_are_retried_with_one_request_id(first: httpx.Response | Exception) -> None:
    script = _Script(first, _user())
    with PersonaClient(BASE, "k", http_client=httpx.Client(transport=httpx.MockTransport(script))) as client:
        assert client.users.get("a").id == "a"
    assert len(script.requests) == 2
    ids = {r.headers["x-request-id"] for r in script.requests}
    assert len(ids) == 1
    assert script.requests[0].headers["user-agent"] == f"persona-client/{persona_client.__version__}"


def test_retries_stop_at_max_retries_and_a_post_without_ids_is_sent_once() -> None:
    script = _Script(*[_problem(429, "rate-limited", **{"Retry-After": "0"})] * 3)
    with PersonaClient(
        BASE, "k", max_retries=2, http_client=httpx.Client(transport=httpx.MockTransport(script))
    ) as client:
        with pytest.raises(persona_client.RateLimitError) as limited:
            client.users.get("a")
        assert limited.value.retry_after == 0.0 and len(script.requests) == 3
    once = _Script(_problem(503, "database-unavailable", **{"Retry-After": "0"}))
    http = httpx.Client(transport=httpx.MockTransport(once))
    with (
        PersonaClient(BASE, "k", http_client=http) as client,
        pytest.raises(persona_client.ServiceUnavailableError),
    ):
        client.users.create(id="a")  # a repeat could find the user created: not retried
    assert len(once.requests) == 1


async def test_a_timeout_is_an_api_timeout_error() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    async with AsyncPersonaClient(
        BASE, "k", max_retries=1, http_client=httpx.AsyncClient(transport=httpx.MockTransport(slow))
    ) as client:
        with pytest.raises(persona_client.APITimeoutError):
            await client.users.get("a")


async def test_against_persona_api_serve_sync_async_and_streaming_chat(
    database_url: str, tmp_path: Path, llm_server: FakeLLM
) -> None:
    """``persona-api serve`` on a loopback port, with the loopback LLM."""
    env = clean_env(
        PERSONA_DATABASE_URL=database_url,
        PERSONA_MODELS_DIR=str(tmp_path / "models"),
        PERSONA_ADMIN_TOKEN=ADMIN_TOKEN,
        PERSONA_LLM_BASE_URL=llm_server.base_url,
        PERSONA_LLM_MODEL="fake-model",
        PERSONA_LLM_EXTRACT_MEMORIES="false",
        PERSONA_RATE_LIMIT_PER_MINUTE="0",
    )
    server = Serve(env, tmp_path)
    try:
        server.wait_ready()
        base = server.base
        admin = PersonaClient(base, ADMIN_TOKEN)
        key = _tenant(admin, "served")
        admin.close()
        with PersonaClient(base, key) as client:
            client.users.create(id="ada")
            client.memories.create("ada", text="Ada prefers short answers.")
            llm_server.queue(Reply(content="Hello Ada"))
            plain = client.chat("ada", messages=[{"role": "user", "content": "Hi"}])
            assert isinstance(plain, models.ChatOut) and plain.message.content == "Hello Ada"
            llm_server.queue(Reply(content="one two three"))
            parts = list(client.chat("ada", messages=[{"role": "user", "content": "Count"}], stream=True))
            *deltas, summary = parts
            assert "".join(str(d) for d in deltas) == "one two three"
            assert isinstance(summary, ChatSummary) and summary.content == "one two three"
            assert summary.usage is not None and summary.usage.total_tokens > 0
            turns = client.turns.list("ada", summary.session)
            assert [t.text for t in turns] == ["Count", "one two three"]
        async with AsyncPersonaClient(base, key) as api:
            llm_server.queue(Reply(content="async reply"))
            stream = await api.chat("ada", messages=[{"role": "user", "content": "Again"}], stream=True)
            texts = [p async for p in stream if isinstance(p, str)]
            assert "".join(texts) == "async reply" and stream.summary is not None
            assert (await api.users.get("ada")).id == "ada"
    finally:
        server.stop()
    sent = llm_server.requests[-1].body
    assert sent["messages"][0]["role"] == "system"


class _Events(httpx.SyncByteStream):
    """A server-sent event body that records whether the client hung up."""

    def __init__(self, *events: str) -> None:
        self.events = events
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for event in self.events:
            yield (event + "\n\n").encode()

    def close(self) -> None:
        self.closed = True


CONTEXT = 'event: persona.context\ndata: {"session": "s9", "memories_used": [{"id": 1, "tag": "m1"}]}'


def _delta(text: str) -> str:
    chunk = {"object": "chat.completion.chunk", "choices": [{"delta": {"content": text}}]}
    return "data: " + json.dumps(chunk)


def _streaming(body: _Events) -> PersonaClient:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=body)
    )
    return PersonaClient(BASE, "k", http_client=httpx.Client(transport=transport))


def test_an_error_event_mid_stream_raises_after_the_deltas_before_it() -> None:
    body = _Events(CONTEXT, _delta("Hel"), 'event: error\ndata: {"type": "upstream-error", "detail": "cut"}')
    stream = _streaming(body).chat("a", messages=[{"role": "user", "content": "hi"}], stream=True)
    received: list[object] = []
    with pytest.raises(persona_client.StreamError) as failed:
        for part in stream:
            received.append(part)
    assert received == ["Hel"] and failed.value.code == "upstream-error" and body.closed


def test_closing_a_stream_early_hangs_up() -> None:
    body = _Events(CONTEXT, _delta("one"), _delta(" two"), "data: [DONE]")
    stream = _streaming(body).chat("a", messages=[{"role": "user", "content": "hi"}], stream=True)
    parts = iter(stream)
    assert next(parts) == "one"
    parts.close()  # what leaving a for loop early does to it
    assert body.closed and stream.summary is None
    whole = _Events(CONTEXT, _delta("one"), _delta(" two"), "data: [DONE]")
    finished = list(_streaming(whole).chat("a", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert finished[:2] == ["one", " two"] and isinstance(finished[2], ChatSummary)
    assert finished[2].session == "s9" and finished[2].memories_used[0].tag == "m1"
