"""The Litestar application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from advanced_alchemy.extensions.litestar import AsyncSessionConfig, SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar import Litestar, Router, get
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from sqlalchemy import text

from confsvc import __version__
from confsvc.api.auth import LocaleMiddleware
from confsvc.api.problems import exception_handlers
from confsvc.booking.controllers import MeetingController
from confsvc.bridges.controllers import BridgeController
from confsvc.db.engine import create_engine, create_session_factory
from confsvc.directory.controllers import PeopleController
from confsvc.scheduler import Sweep, build_scheduler
from confsvc.settings import Settings

logger = logging.getLogger(__name__)


@get("/healthz", operation_id="health", tags=["operations"], include_in_schema=True)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", operation_id="readiness", tags=["operations"])
async def readyz(settings: Settings, db_engine: Any) -> Any:
    from litestar import Response

    try:
        async with db_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        logger.warning("readiness check failed error=%s", type(exc).__name__)
        return Response({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return {"status": "ready", "database": "ok"}


def _sweeps(settings: Settings, app_state: Any) -> list[Sweep]:
    return []


def create_app(settings: Settings | None = None, *, start_scheduler: bool | None = None) -> Litestar:
    """Build the application; nothing connects until the app starts."""
    settings = settings or Settings.from_env()
    engine = create_engine(settings.database)
    session_maker = create_session_factory(engine)
    run_scheduler = settings.scheduler_enabled if start_scheduler is None else start_scheduler

    alchemy = SQLAlchemyAsyncConfig(
        engine_instance=engine,
        session_dependency_key="db_session",
        engine_dependency_key="db_engine",
        session_config=AsyncSessionConfig(expire_on_commit=False),
        create_all=False,
    )

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        scheduler = None
        if run_scheduler:
            scheduler = build_scheduler(_sweeps(settings, app.state))
            scheduler.start()
            logger.info("scheduler started jobs=%d", len(scheduler.get_jobs()))
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
                logger.info("scheduler stopped")
            await engine.dispose()

    api = Router(
        path="/api/v1",
        route_handlers=[PeopleController, BridgeController, MeetingController],
    )
    app = Litestar(
        route_handlers=[healthz, readyz, api],
        plugins=[SQLAlchemyPlugin(config=alchemy)],
        dependencies={"settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False)},
        exception_handlers=exception_handlers,
        middleware=[LocaleMiddleware()],
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="confsvc",
            version=__version__,
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
        ),
        request_max_body_size=settings.max_request_bytes,
        debug=False,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_maker = session_maker
    return app
