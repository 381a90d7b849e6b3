"""Sign-in, sign-out, and the admin's tenant and key pages."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.config import Settings
from persona_api.console.auth import COOKIE, ConsoleUser, Signer, SignInRequired, console_user, is_secure
from persona_api.errors import Forbidden, Unauthorized
from persona_api.store.console_sessions import ConsoleSession, close_session, find_session, open_session
from persona_api.store.tenants import TenantService, hash_key

Form = Body(media_type=RequestEncodingType.URL_ENCODED)


@dataclass
class SignIn:
    api_key: str = ""


@dataclass
class TenantPick:
    tenant_id: str = ""


@dataclass
class KeyIssue:
    name: str = ""
    scope: str = "write"


@get("/", name="console.index")
async def index(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Redirect:
    try:
        await console_user(request, db_session)
    except SignInRequired:
        return Redirect("/console/login")
    return Redirect("/console/users")


@get("/login", name="console.login")
async def login_page() -> Template:
    return Template(template_name="login.html.j2", context={"error": None})


@post("/login", status_code=200)
async def sign_in(
    request: Request[Any, Any, Any],
    data: Annotated[SignIn, Form],
    db_session: NamedDependency[AsyncSession],
) -> Response[Any]:
    settings: Settings = request.app.state.settings
    secret = data.api_key.strip()
    admin_token: str = request.app.state.admin_token
    if secret and hmac.compare_digest(secret.encode(), admin_token.encode()):
        token = await open_session(db_session, hours=settings.console_session_hours, admin=True)
        target = "/console/tenants"
    else:
        try:
            owner = await TenantService(db_session).authenticate(secret)
        except Unauthorized:
            page = Template(
                template_name="login.html.j2",
                context={"error": "That is not a valid API key (or admin token)."},
                status_code=401,
            )
            return page
        token = await open_session(
            db_session,
            hours=settings.console_session_hours,
            key_hash=hash_key(secret),
            tenant_id=owner.tenant_id,
            scope=owner.scope,
        )
        target = "/console/users"
    signer: Signer = request.app.state.console_signer
    response = Redirect(target)
    response.set_cookie(
        COOKIE,
        signer.sign(token),
        path="/console",
        max_age=int(settings.console_session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=is_secure(request),
    )
    return response


@post("/logout", status_code=200)
async def sign_out(
    console: NamedDependency[ConsoleUser], db_session: NamedDependency[AsyncSession]
) -> Redirect:
    await close_session(db_session, console.token)
    response = Redirect("/console/login")
    response.delete_cookie(COOKIE, path="/console")
    return response


def _admin(console: ConsoleUser) -> None:
    if not console.admin:
        raise Forbidden("this page is the admin's (sign in with the admin token)")


@get("/tenants", name="console.tenants")
async def tenants_page(
    console: NamedDependency[ConsoleUser], db_session: NamedDependency[AsyncSession]
) -> Template:
    _admin(console)
    rows, total = await TenantService(db_session).list_tenants(limit=500, offset=0)
    return Template(
        template_name="tenants.html.j2", context={"console": console, "tenants": rows, "total": total}
    )


@post("/tenants/pick", status_code=200)
async def pick_tenant(
    console: NamedDependency[ConsoleUser],
    data: Annotated[TenantPick, Form],
    db_session: NamedDependency[AsyncSession],
) -> Redirect:
    _admin(console)
    tenant = await TenantService(db_session).get_tenant(data.tenant_id)
    row: ConsoleSession | None = await find_session(db_session, console.token)
    if row is not None:
        row.tenant_id = tenant.id
    return Redirect("/console/users")


@get("/tenants/{tenant_id:str}/keys", name="console.keys")
async def keys_page(
    tenant_id: FromPath[str], console: NamedDependency[ConsoleUser], db_session: NamedDependency[AsyncSession]
) -> Template:
    _admin(console)
    tenants = TenantService(db_session)
    tenant = await tenants.get_tenant(tenant_id)
    keys, _ = await tenants.list_keys(tenant_id, limit=500, offset=0)
    return Template(
        template_name="keys.html.j2",
        context={"console": console, "tenant": tenant, "keys": keys, "issued": None},
    )


@post("/tenants/{tenant_id:str}/keys", status_code=200)
async def issue_key(
    tenant_id: FromPath[str],
    data: Annotated[KeyIssue, Form],
    console: NamedDependency[ConsoleUser],
    db_session: NamedDependency[AsyncSession],
) -> Template:
    _admin(console)
    tenants = TenantService(db_session)
    scope = "read" if data.scope == "read" else "write"
    issued = await tenants.issue_key(tenant_id, data.name[:200], scope=scope)
    keys, _ = await tenants.list_keys(tenant_id, limit=500, offset=0)
    return Template(
        template_name="keys.html.j2",
        context={
            "console": console,
            "tenant": await tenants.get_tenant(tenant_id),
            "keys": keys,
            "issued": issued.secret,
        },
    )


@post("/tenants/{tenant_id:str}/keys/{key_id:str}/revoke", status_code=200)
async def revoke_key(
    tenant_id: FromPath[str],
    key_id: FromPath[str],
    console: NamedDependency[ConsoleUser],
    db_session: NamedDependency[AsyncSession],
    request: Request[Any, Any, Any],
) -> Redirect:
    _admin(console)
    row = await TenantService(db_session).revoke_key(key_id)
    await db_session.commit()  # before the cache forgets the key, so no request re-caches it meanwhile
    request.app.state.authenticator.forget_key(row.secret_hash)
    return Redirect(f"/console/tenants/{tenant_id}/keys")


HANDLERS = [index, login_page, sign_in, sign_out, tenants_page, pick_tenant, keys_page, issue_key, revoke_key]
