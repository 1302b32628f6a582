"""Server-rendered pages (Jinja and htmx) in Simplified Chinese and English.

:func:`configure_web` is the one wiring step: it registers the Jinja template engine, the
page routers and ``/static/web`` (htmx, ECharts, the style sheet) on an ``AppConfig``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Router
from litestar.config.app import AppConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from confsvc.errors import ConfsvcError
from confsvc.i18n import gettext
from confsvc.preparation.materials import MaterialTooLarge
from confsvc.web.account import AccountPages
from confsvc.web.admin import AdminPages
from confsvc.web.checks import CheckPages
from confsvc.web.identity import check_csrf
from confsvc.web.meetings import MeetingPages
from confsvc.web.pages import LoginRequired, build_environment, error_page, login_redirect
from confsvc.web.preparation_pages import PreparationPages, upload_too_large
from confsvc.web.rooms import RoomPages

__all__ = ["STATIC_DIR", "configure_web", "web_router"]

STATIC_DIR = Path(__file__).parent / "static"


async def _csrf_before_request(request: Request[Any, Any, Any]) -> None:
    if upload_too_large(request):
        limit = request.app.state.settings.preparation.material_max_bytes
        raise MaterialTooLarge.field("file", gettext("the file is larger than {limit} bytes", limit=limit))
    await check_csrf(request)


def web_router() -> Router:
    """Build the page routes, with CSRF checks on unsafe methods and HTML error pages."""
    return Router(
        path="/",
        route_handlers=[AccountPages, MeetingPages, PreparationPages, CheckPages, AdminPages, RoomPages, *_optional_pages()],
        before_request=_csrf_before_request,
        exception_handlers={LoginRequired: login_redirect, ConfsvcError: error_page},  # type: ignore[dict-item]
        include_in_schema=False,
    )


def _optional_pages() -> list[Any]:
    """Pages whose domain services may not be installed yet (minutes, follow-up)."""
    pages: list[Any] = []
    try:
        from confsvc.web.minutes import minutes_pages
    except ImportError:
        pass
    else:
        pages += minutes_pages()
    try:
        from confsvc.web.actions import action_pages
    except ImportError:
        pass
    else:
        pages += action_pages()
    return pages


def configure_web(app_config: AppConfig) -> AppConfig:
    """Add the page routes, the template engine and the static files to ``app_config``."""
    environment = build_environment()
    app_config.template_config = TemplateConfig(engine=JinjaTemplateEngine.from_environment(environment))
    app_config.route_handlers.append(web_router())
    app_config.route_handlers.append(
        create_static_files_router(path="/static/web", directories=[STATIC_DIR], name="web_static", include_in_schema=False)
    )
    app_config.state["web_environment"] = environment
    return app_config
