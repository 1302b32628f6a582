"""Shared parts of every page handler: the signed-in person, language, formatting and rendering.

A handler takes ``page: Page`` (built per request by :func:`provide_page`), checks access with
:meth:`Page.require`, calls a domain service and returns :meth:`Page.render`. Access errors
become a redirect to the login page (not signed in) or a 403 page (wrong role) through the
web router's exception handlers.
"""

from __future__ import annotations

import html
import importlib.resources
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response
from litestar.response import Redirect, Template

from confsvc.db.models import Person
from confsvc.errors import ConfsvcError, NotFound, PermissionDenied
from confsvc.i18n import gettext, set_locale
from confsvc.settings import Settings
from confsvc.web.i18n import Formatter, choose_locale, choose_zone
from confsvc.web.identity import CSRF_FIELD, csrf_token, page_person, set_anon_csrf_cookie

logger = logging.getLogger(__name__)


class LoginRequired(ConfsvcError):
    """The page needs a signed-in person; so the web router redirects to /login."""

    status_code = 401
    title = "Sign in required"

    def __init__(self, next_path: str) -> None:
        super().__init__("sign in required")
        self.next_path = next_path


def web_template_dirs() -> list[Path]:
    """Return the folders holding the page templates, installed package first.

    A wheel ships the repository's templates/ folder as confsvc/_templates; an editable
    install or a checkout reads templates/ next to the confsvc package.
    """
    candidates = [
        Path(str(importlib.resources.files("confsvc").joinpath("_templates", "web"))),
        Path(__file__).resolve().parents[2] / "templates" / "web",
    ]
    return [folder for folder in candidates if folder.is_dir()]


def build_environment() -> Environment:
    """Return the Jinja environment of the pages, with ``_`` translating through the catalogs."""
    environment = Environment(
        loader=FileSystemLoader([str(folder) for folder in web_template_dirs()]),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["_"] = gettext
    return environment


ROLE_LABELS = {
    "admin": "Administrator",
    "organiser": "Organiser",
    "secretary": "Secretary",
    "member": "Member",
}


@dataclass
class Page:
    request: Request[Any, Any, Any]
    settings: Settings
    person: Person | None
    locale: str
    fmt: Formatter
    csrf: str
    new_csrf: bool
    flash: list[str] = field(default_factory=list)

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(self.person.roles or []) if self.person else frozenset()

    def has(self, *roles: str) -> bool:
        """True for a signed-in person holding any of ``roles``, or an administrator."""
        return self.person is not None and ("admin" in self.roles or bool(self.roles.intersection(roles)))

    def require(self, *roles: str) -> Person:
        """Return the signed-in person; raise when nobody is signed in or a role is missing.

        With no ``roles`` any signed-in person passes.

        Raises:
            LoginRequired: nobody is signed in.
            PermissionDenied: the person holds none of ``roles`` (and is not an administrator).
        """
        if self.person is None:
            raise LoginRequired(self.request.url.path + (f"?{self.request.url.query}" if self.request.url.query else ""))
        if roles and not self.has(*roles):
            raise PermissionDenied(gettext("This page is for: {roles}", roles=", ".join(gettext(ROLE_LABELS[r]) for r in roles)))
        return self.person

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    def render(self, template: str, *, status_code: int = 200, **context: Any) -> Template:
        """Render ``template`` with the page context; sets the CSRF cookie on first use."""
        cookies = []
        if self.new_csrf:
            response: Response[Any] = Response(b"")
            set_anon_csrf_cookie(response, self.csrf, secure=self.secure)
            cookies = list(response.cookies)
        return Template(
            template_name=template,
            context={"page": self, "csrf_field": CSRF_FIELD, **context},
            status_code=status_code,
            cookies=cookies,
            media_type="text/html; charset=utf-8",
        )

    @property
    def secure(self) -> bool:
        return self.settings.base_url.startswith("https://")

    def redirect(self, path: str) -> Redirect:
        """303 See Other to ``path``; for htmx requests the browser follows ``HX-Redirect``."""
        if self.is_htmx:
            return Redirect(path, status_code=303, headers={"HX-Redirect": path})
        return Redirect(path, status_code=303)


async def provide_page(request: Request[Any, Any, Any], settings: Settings) -> Page:
    """Build the :class:`Page` of this request and set its language for gettext."""
    person = await page_person(request)
    locale = choose_locale(request, person, default=settings.default_locale)
    set_locale(locale)
    token, is_new = csrf_token(request, person)
    return Page(
        request=request,
        settings=settings,
        person=person,
        locale=locale,
        fmt=Formatter(locale, choose_zone(person, default=settings.time_zone)),
        csrf=token,
        new_csrf=is_new,
    )


def login_redirect(request: Request[Any, Any, Any], exc: LoginRequired) -> Response[Any]:
    target = f"/login?next={quote(exc.next_path, safe='/')}"
    if request.headers.get("hx-request") == "true":
        return Response(b"", status_code=200, headers={"HX-Redirect": target})
    return Redirect(target, status_code=302)


def error_page(request: Request[Any, Any, Any], exc: ConfsvcError) -> Response[Any]:
    """Render a domain error as an HTML page (or a bare fragment for htmx) with its status."""
    status = exc.status_code if isinstance(exc, (PermissionDenied, NotFound)) or exc.status_code < 500 else 500
    if status >= 500:
        logger.exception("web page failed path=%s error=%s", request.url.path, type(exc).__name__)
    environment: Environment = request.app.state.web_environment
    person = request.scope.get("state", {}).get("web_person")
    locale = choose_locale(request, person, default=request.app.state.settings.default_locale)
    set_locale(locale)
    message = str(exc) if not isinstance(exc, NotFound) else gettext("This page does not exist or is not visible to you.")
    title = {403: gettext("Not allowed"), 404: gettext("Not found")}.get(status, gettext("Error"))
    if request.headers.get("hx-request") == "true":
        body = f'<div class="alert error" role="alert">{html.escape(message)}</div>'
        # htmx swaps only 2xx responses by default, so the fragment comes with 200 and replaces the target.
        return Response(body, status_code=200, media_type="text/html; charset=utf-8", headers={"HX-Reswap": "innerHTML"})
    body = environment.get_template("error.html").render(title=title, message=message, page=None, locale=locale, person=person)
    return Response(body, status_code=status, media_type="text/html; charset=utf-8")
