"""Authentication for /api/v1 (Bearer token or web-session cookie) and the request's language.

``current_person`` resolves ``Authorization: Bearer TOKEN`` (through the app's
``TokenAuthenticator``, which caches verified tokens for a few seconds), or else the
session cookie set by ``POST /auth/login`` (see ``confsvc.security``), to a ``Person`` and
keeps it in ``request.scope["state"]``; routes that need a caller depend on it.
Role guards are small functions that the handlers list in ``guards=``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from confsvc.db.models import Person
from confsvc.i18n import negotiate, normalise_locale, set_locale
from confsvc.i18n import gettext as _
from confsvc.security.sessions import CsrfRejected, person_from_session_cookie
from confsvc.security.token_auth import TokenAuthenticator


class LocaleMiddleware(ASGIMiddleware):
    """Set the request's language from Accept-Language before anything else runs."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        header = dict(scope.get("headers") or []).get(b"accept-language", b"").decode("latin-1")
        default = scope["app"].state.settings.default_locale
        set_locale(negotiate(header, default=default))
        await next_app(scope, receive, send)


async def current_person(request: Request[Any, Any, Any]) -> Person:
    """Return the authenticated caller from a Bearer token or the web-session cookie.

    An Authorization header wins over the cookie. Raises 401 when neither is valid, and
    403 when a cookie-authenticated unsafe request lacks its CSRF token.
    """
    person = request.scope.get("state", {}).get("person")
    if person is not None:
        return person
    header = request.headers.get("authorization", "")
    if header:
        person = await _person_from_bearer(request, header)
    else:
        try:
            person = await person_from_session_cookie(request)
        except CsrfRejected:
            raise PermissionDeniedException(_("missing or invalid CSRF token; send the X-CSRF-Token header")) from None
    if person is None:
        raise NotAuthorizedException()
    preferred = normalise_locale(person.locale)
    if preferred and not request.headers.get("accept-language"):
        set_locale(preferred)
    request.scope.setdefault("state", {})["person"] = person
    return person


async def _person_from_bearer(request: Request[Any, Any, Any], header: str) -> Person | None:
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    authenticator: TokenAuthenticator = request.app.state.token_authenticator
    return await authenticator.authenticate(token.strip())


def require_roles(*roles: str) -> Any:
    """Build a guard that lets a caller with any of ``roles`` (or admin) through."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
        person = await current_person(connection)  # type: ignore[arg-type]
        held = set(person.roles or [])
        if "admin" not in held and not held.intersection(roles):
            raise PermissionDeniedException(_("this needs the role: {roles}", roles=" or ".join(roles)))

    return guard


admin_only = require_roles("admin")


async def authenticated(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    """Guard for a whole router: reject a request without valid credentials (401) before
    its body or parameters are validated, so anonymous callers learn nothing from errors."""
    await current_person(connection)  # type: ignore[arg-type]
