"""Who is using the web pages, and the CSRF token their forms must repeat.

Pages read the signed-in person through :func:`page_person` only. The session itself is
the security layer's (``confsvc.security.sessions``): an HttpOnly cookie whose CSRF token is
derived from it. Every page form carries that token in the ``csrf_token`` field and every
htmx request sends it in ``X-CSRF-Token``; the security layer checks it when it resolves
the session of an unsafe request.

Before sign-in there is no session, so the login form is protected by a double-submit
token instead: a random value in an HttpOnly cookie that the form repeats.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie

from confsvc.db.models import Person
from confsvc.errors import PermissionDenied
from confsvc.i18n import gettext as _
from confsvc.security import sessions

logger = logging.getLogger(__name__)

CSRF_FIELD = sessions.CSRF_FORM_FIELD
CSRF_HEADER = sessions.CSRF_HEADER
ANON_CSRF_COOKIE = "confsvc_login_csrf"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRejected(PermissionDenied):
    """A state-changing page request came without the browser's CSRF token."""


def _state(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return request.scope.setdefault("state", {})


async def page_person(request: Request[Any, Any, Any]) -> Person | None:
    """Return the person of the live web session, or None.

    For an unsafe method the session's CSRF token is checked on the way (one short read
    transaction through the app's session factory).

    Raises:
        CsrfRejected: a live session's unsafe request lacks its CSRF token.
    """
    state = _state(request)
    if "web_person" in state:
        return state["web_person"]
    try:
        person = await sessions.person_from_session_cookie(request)
    except sessions.CsrfRejected:
        logger.info("web csrf rejected path=%s", request.url.path)
        raise CsrfRejected(_("The form has expired. Reload the page and try again.")) from None
    state["web_person"] = person
    return person


def session_token(request: Request[Any, Any, Any]) -> str | None:
    settings = request.app.state.settings
    return request.cookies.get(settings.security.session_cookie) or None


def csrf_token(request: Request[Any, Any, Any], person: Person | None) -> tuple[str, bool]:
    """Return the token that this page's forms must carry, and whether a cookie must be set.

    Signed in: the session's derived token (no cookie to set). Signed out: the login
    double-submit token, new when the browser has none yet.
    """
    state = _state(request)
    if "web_csrf" in state:
        return state["web_csrf"]
    token = session_token(request)
    if person is not None and token:
        state["web_csrf"] = (sessions.csrf_token_for(request.app.state.settings.secret_key, token), False)
        return state["web_csrf"]
    existing = request.cookies.get(ANON_CSRF_COOKIE, "")
    state["web_csrf"] = (existing, False) if 20 <= len(existing) <= 100 else (secrets.token_urlsafe(32), True)
    return state["web_csrf"]


def set_anon_csrf_cookie(response: Response[Any], token: str, *, secure: bool) -> None:
    response.set_cookie(Cookie(key=ANON_CSRF_COOKIE, value=token, httponly=True, samesite="strict", secure=secure, path="/"))


async def check_csrf(request: Request[Any, Any, Any]) -> None:
    """Check the CSRF token of an unsafe page request.

    With a live session the security layer checks its token (in :func:`page_person`);
    without one the form must repeat the login double-submit cookie.

    Raises:
        CsrfRejected: the token is missing or wrong.
    """
    if request.method in _SAFE_METHODS:
        return
    if await page_person(request) is not None:
        return
    cookie = request.cookies.get(ANON_CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else ""
    if not cookie or not sent or not hmac.compare_digest(cookie, sent):
        logger.info("web csrf rejected path=%s signed_in=false", request.url.path)
        raise CsrfRejected(_("The form has expired. Reload the page and try again."))
