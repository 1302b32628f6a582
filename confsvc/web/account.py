"""Sign in, sign out and the language switch."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.di import Provide
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.security import accounts, sessions
from confsvc.security.controllers import client_address
from confsvc.i18n import SUPPORTED_LOCALES, normalise_locale
from confsvc.i18n import gettext as _
from confsvc.web.i18n import LANG_COOKIE
from confsvc.web.identity import session_token
from confsvc.web.pages import Page, provide_page

logger = logging.getLogger(__name__)


def safe_next(value: str | None) -> str:
    """Return ``value`` when it is a path on this site, else ``/meetings``."""
    if not value:
        return "/meetings"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/meetings"
    return value


class AccountPages(Controller):
    path = "/"
    include_in_schema = False
    dependencies = {"page": Provide(provide_page)}

    @get("/favicon.ico", operation_id="webFavicon")
    async def favicon(self) -> Redirect:
        """Point browsers that ask for the classic icon path at the SVG icon."""
        return Redirect("/static/web/favicon.svg", status_code=301)

    @get("/login", operation_id="webLoginForm")
    async def login_form(self, page: Page, next: str | None = None) -> Template | Redirect:  # noqa: A002
        if page.person is not None:
            return Redirect(safe_next(next), status_code=303)  # type: ignore[return-value]
        return page.render("login.html", next=safe_next(next), error=None, email="")

    @post("/login", operation_id="webLogin")
    async def login(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession) -> Template | Redirect:
        """Check e-mail and password with the security layer; on success start a session and go to ``next``."""
        form = await request.form()
        email = str(form.get("email") or "").strip()
        password = str(form.get("password") or "")
        target = safe_next(str(form.get("next") or ""))
        try:
            result = await accounts.login(
                db_session, page.settings, login_name=email, password=password, client_address=client_address(request)
            )
        except (accounts.LoginFailed, accounts.LoginLocked) as exc:
            await db_session.commit()  # keeps the audit record of the failure
            status = 429 if isinstance(exc, accounts.LoginLocked) else 400
            message = _("E-mail or password is wrong.") if isinstance(exc, accounts.LoginFailed) else str(exc)
            return page.render("login.html", next=target, error=message, email=email, status_code=status)
        token, row = await sessions.create_session(
            db_session, result.person, settings=page.settings, method=result.method, client_address=client_address(request)
        )
        await db_session.commit()
        redirect = Redirect(target, status_code=303)
        sessions.set_session_cookies(redirect, token, settings=page.settings, expires_at=row.expires_at)
        redirect.headers["Cache-Control"] = "no-store"
        logger.info("web login person_id=%s", result.person.id)
        return redirect

    @post("/logout", operation_id="webLogout")
    async def logout(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession) -> Redirect:
        """End the session (its CSRF token was checked before the handler) and go to the login page."""
        token = session_token(request)
        if token and page.person is not None:
            await sessions.revoke_session(db_session, token)
            await db_session.commit()
            logger.info("web logout person_id=%s", page.person.id)
        redirect = Redirect("/login", status_code=303)
        sessions.clear_session_cookies(redirect, settings=page.settings)
        return redirect

    @get("/lang/{code:str}", operation_id="webLanguage")
    async def language(self, page: Page, code: str, next: str | None = None) -> Redirect:  # noqa: A002
        """Remember the language in a cookie (a year); it wins over the profile and the browser."""
        locale = normalise_locale(code)
        target = safe_next(next)
        if locale not in SUPPORTED_LOCALES:
            return Redirect(target, status_code=302)
        redirect = Redirect(target, status_code=302)
        redirect.set_cookie(Cookie(key=LANG_COOKIE, value=locale, path="/", max_age=365 * 24 * 3600, samesite="lax", secure=page.secure))
        return redirect
