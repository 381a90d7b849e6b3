"""The console's router: its pages under ``/console``, the vendored static files, the templates,
and what every page gets (sign-in, CSRF protection, security headers, no caching).

The pages are a thin adapter: each one asks the same services the API's controllers ask, with
the ``auth_tenant`` dependency overridden by the session's tenant, so a page shows exactly what
that tenant's keys see through the API.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router
from litestar.config.csrf import CSRFConfig
from litestar.di import Provide
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from persona_api.console import login, memory_pages, tool_pages, user_pages
from persona_api.console.auth import Signer, SignInRequired, TenantRequired, console_tenant, console_user
from persona_api.errors import PersonaError
from persona_api.http.problems import status_of

HERE = Path(__file__).parent
PREFIX = "/console"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def signer_for(secret: str | None, admin_token: str) -> Signer:
    """The cookie signer: ``PERSONA_CONSOLE_SECRET``, else a key derived from the admin token (so a
    deployment needs no extra secret, and rotating the admin token signs everyone out)."""
    if secret:
        return Signer(secret)
    return Signer(hmac.new(admin_token.encode(), b"persona-console", hashlib.sha256).hexdigest())


def _headers(response: Response[Any]) -> Response[Any]:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _to_login(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if request.headers.get("hx-request"):
        return Response(content="", status_code=200, headers={"HX-Redirect": f"{PREFIX}/login"})
    return _headers(Redirect(f"{PREFIX}/login"))


def _to_tenants(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return _headers(Redirect(f"{PREFIX}/tenants"))


def _error_page(request: Request[Any, Any, Any], exc: PersonaError) -> Response[Any]:
    status = status_of(exc)
    page = Template(
        template_name="error.html.j2", context={"status": status, "detail": exc.detail}, status_code=status
    )
    return _headers(page)


def console_router(signer: Signer, *, secure_cookies: bool = False) -> Router:
    """The ``/console`` router (pages and static files). ``secure_cookies``: force the CSRF cookie's
    Secure flag (default off: the service often runs behind a TLS-terminating proxy on plain HTTP;
    the session cookie follows the request's scheme)."""
    csrf = CSRFConfig(
        secret=signer.derived("csrf"),
        cookie_name="persona_csrf",
        cookie_path=PREFIX,
        cookie_secure=bool(secure_cookies),
        cookie_samesite="strict",
        cookie_httponly=True,
        header_name="x-csrftoken",
    )
    static = create_static_files_router(
        path=f"{PREFIX}/static",
        directories=[HERE / "static"],
        include_in_schema=False,
        cache_control=None,
    )
    pages = Router(
        path=PREFIX,
        route_handlers=[*login.HANDLERS, *memory_pages.HANDLERS, *user_pages.HANDLERS, *tool_pages.HANDLERS],
        dependencies={
            "console": Provide(console_user),
            "auth_tenant": Provide(console_tenant),
        },
        middleware=[DefineMiddleware(CSRFMiddleware, config=csrf)],
        exception_handlers={
            SignInRequired: _to_login,
            TenantRequired: _to_tenants,
            PersonaError: _error_page,
        },
        after_request=_headers,
        include_in_schema=False,
    )
    return Router(path="/", route_handlers=[pages, static], include_in_schema=False)


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja with autoescaping on (every string a user stored renders as text)."""
    return TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine)
