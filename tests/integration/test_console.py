"""The console over plain HTTP: sign-in and its cookie, sessions that end (sign-out, expiry, a
revoked key, a tampered cookie), CSRF, security headers, escaping, read-only keys, isolation.
The browser walk of every page is in tests/browser/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import update

from persona_api.app import create_app
from persona_api.config import Settings
from persona_api.kernel.embed import MiniLMEmbedder
from persona_api.store.console_sessions import ConsoleSession
from persona_api.store.tables import utcnow
from tests.conftest import ADMIN_TOKEN, admin_headers

XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> likes tea.'


@pytest.fixture
def http(settings: Settings, embedder: MiniLMEmbedder) -> Iterator[TestClient[Litestar]]:
    with TestClient(app=create_app(settings, embedder=embedder)) as client:
        yield client


def issue(http: TestClient[Litestar], name: str = "acme", scope: str = "write") -> tuple[str, str]:
    tenant = http.post("/v1/admin/tenants", json={"name": name}, headers=admin_headers()).json()["id"]
    body = {"name": "console", "scope": scope}
    key = http.post(f"/v1/admin/tenants/{tenant}/keys", json=body, headers=admin_headers()).json()["key"]
    return tenant, str(key)


def csrf(page: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def sign_in(http: TestClient[Litestar], secret: str) -> None:
    token = csrf(http.get("/console/login").text)
    answer = http.post(
        "/console/login", data={"api_key": secret, "_csrf_token": token}, follow_redirects=False
    )
    assert answer.status_code in (302, 303), answer.text


def test_signing_in_sets_a_strict_httponly_cookie_without_the_key(http: TestClient[Litestar]) -> None:
    assert http.get("/console", follow_redirects=False).headers["location"] == "/console/login"
    _, key = issue(http)
    token = csrf(http.get("/console/login").text)
    answer = http.post("/console/login", data={"api_key": key, "_csrf_token": token}, follow_redirects=False)
    assert answer.headers["location"] == "/console/users"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("persona_console="))
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert key not in cookie and key.split("_")[-1] not in cookie
    assert http.get("/console", follow_redirects=False).headers["location"] == "/console/users"


def test_a_wrong_key_is_refused_and_signs_nobody_in(http: TestClient[Litestar]) -> None:
    token = csrf(http.get("/console/login").text)
    answer = http.post("/console/login", data={"api_key": "pk_nope", "_csrf_token": token})
    assert answer.status_code == 401 and "not a valid API key" in answer.text
    assert http.get("/console/users", follow_redirects=False).headers["location"] == "/console/login"


def test_sessions_end_on_sign_out_expiry_revocation_and_tampering(
    http: TestClient[Litestar], database_url: str
) -> None:
    tenant, key = issue(http)
    sign_in(http, key)
    page = http.get("/console/users")
    assert page.status_code == 200
    http.post("/console/logout", data={"_csrf_token": csrf(page.text)})
    assert http.get("/console/users", follow_redirects=False).status_code == 302

    sign_in(http, key)
    good = http.cookies["persona_console"]
    http.cookies.set("persona_console", good[:-1] + ("0" if good[-1] != "0" else "1"), path="/console")
    assert http.get("/console/users", follow_redirects=False).status_code == 302  # a forged signature
    http.cookies.set("persona_console", good, path="/console")
    assert http.get("/console/users").status_code == 200

    keys = http.get(f"/v1/admin/tenants/{tenant}/keys", headers=admin_headers()).json()["items"]
    http.delete(f"/v1/admin/keys/{keys[0]['id']}", headers=admin_headers())
    assert http.get("/console/users", follow_redirects=False).status_code == 302  # the key was revoked

    _, other = issue(http, "other")
    sign_in(http, other)
    engine = http.app.state.engine

    async def expire() -> None:
        async with engine.begin() as conn:
            await conn.execute(update(ConsoleSession).values(expires_at=utcnow() - timedelta(seconds=1)))

    with http.portal() as portal:
        portal.call(expire)
    assert http.get("/console/users", follow_redirects=False).status_code == 302


def test_forms_need_the_csrf_token(http: TestClient[Litestar]) -> None:
    _, key = issue(http)
    headers = {"Authorization": f"Bearer {key}"}
    assert (
        http.post("/v1/users/alice/memories", json={"text": "Alice sings."}, headers=headers).status_code
        == 201
    )
    sign_in(http, key)
    refused = http.post("/console/users/alice/memory/1/delete", data={})
    assert refused.status_code == 403
    assert http.get("/v1/users/alice/memories/1", headers=headers).status_code == 200  # still there
    assert http.post("/console/login", data={"api_key": key}).status_code == 403


def test_pages_are_uncached_framed_by_a_strict_csp_and_escape_what_users_wrote(
    http: TestClient[Litestar],
) -> None:
    _, key = issue(http)
    headers = {"Authorization": f"Bearer {key}"}
    assert http.post("/v1/users/alice/memories", json={"text": XSS}, headers=headers).status_code == 201
    sign_in(http, key)
    page = http.get("/console/users/alice/memory")
    assert page.status_code == 200
    assert "<script>window.__xss" not in page.text and 'onerror="window' not in page.text
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in page.text
    policy = page.headers["content-security-policy"]
    assert (
        "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    )
    assert page.headers["cache-control"] == "no-store"
    # Every script the pages load is a vendored file served by the app, none inline, none remote.
    scripts = re.findall(r"<script([^>]*)>", page.text)
    assert scripts and all('src="/console/static/' in s for s in scripts)
    assert http.get("/console/static/htmx-2.0.11.min.js").status_code == 200


def test_a_read_key_sees_everything_and_changes_nothing(http: TestClient[Litestar]) -> None:
    tenant, writer = issue(http)
    headers = {"Authorization": f"Bearer {writer}"}
    assert (
        http.post("/v1/users/alice/memories", json={"text": "Alice sings."}, headers=headers).status_code
        == 201
    )
    body = {"name": "viewer", "scope": "read"}
    reader = http.post(f"/v1/admin/tenants/{tenant}/keys", json=body, headers=admin_headers()).json()["key"]
    sign_in(http, reader)
    page = http.get("/console/users/alice/memory")
    assert "Alice sings." in page.text and 'id="read-only"' in page.text
    assert 'data-action="delete-memory"' not in page.text
    refused = http.post("/console/users/alice/memory/1/delete", data={"_csrf_token": csrf(page.text)})
    assert refused.status_code == 403
    assert http.get("/v1/users/alice/memories/1", headers=headers).status_code == 200


def test_a_tenant_key_sees_only_its_tenant_and_the_admin_picks_one(http: TestClient[Litestar]) -> None:
    first, key = issue(http, "first")
    _, other = issue(http, "second")
    headers = {"Authorization": f"Bearer {key}"}
    http.post("/v1/users/alice/memories", json={"text": "Alice's locker code is 4471."}, headers=headers)
    sign_in(http, other)
    assert http.get("/console/users/alice/memory").status_code == 404
    assert "alice" not in http.get("/console/users").text
    assert http.get("/console/tenants").status_code == 403  # the admin's page
    sign_in(http, ADMIN_TOKEN)
    tenants = http.get("/console/tenants")
    assert "first" in tenants.text and "second" in tenants.text
    picked = http.post("/console/tenants/pick", data={"tenant_id": first, "_csrf_token": csrf(tenants.text)})
    assert picked.status_code == 200 and "alice" in picked.text
    assert "locker code" in http.get("/console/users/alice/memory").text
