"""``GET /readyz``: may this process take traffic?

Ready means: the database responds to ``SELECT 1`` within the timeout, its schema is at the
newest migration, and the scheduler runs when this process is meant to run it. The
migration answer is cached for ``CONFSVC_READINESS_CACHE_SECONDS`` because it opens an
extra connection. A process that is not ready answers 503 with the failing parts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from litestar import Request, Response, get
from sqlalchemy import text

from confsvc.db.migrate import current_revision_is_head
from confsvc.settings import Settings

__all__ = ["MigrationCache", "readiness"]

logger = logging.getLogger(__name__)

DATABASE_TIMEOUT_S = 2.0


class MigrationCache:
    """The last result of ``current_revision_is_head`` and when it was taken (monotonic s)."""

    def __init__(self, *, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._value: bool | None = None
        self._taken_at = 0.0

    async def is_current(self, settings: Settings) -> bool:
        """Return the cached result while fresh; otherwise ask the database (raises its errors)."""
        now = time.monotonic()
        if self._value is not None and now - self._taken_at < self.ttl_s:
            return self._value
        value = await asyncio.wait_for(current_revision_is_head(settings.database), DATABASE_TIMEOUT_S * 2)
        self._value, self._taken_at = value, time.monotonic()
        return value


@get("/readyz", operation_id="readiness", tags=["operations"])
async def readiness(request: Request[Any, Any, Any], settings: Settings) -> Response[dict[str, Any]]:
    """Return 200 with ``status: ready`` or 503 with ``status: unavailable``; each part is
    ``ok`` or the reason it failed (``scheduler`` is ``disabled`` in a process without sweeps)."""
    state = request.app.state
    checks: dict[str, str] = {}

    try:
        async with state.engine.connect() as connection:
            await asyncio.wait_for(connection.execute(text("SELECT 1")), DATABASE_TIMEOUT_S)
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready; the reason goes to the log and the body
        logger.warning("readiness database check failed error=%s", type(exc).__name__)
        checks["database"] = "unreachable"

    if checks["database"] != "ok":
        checks["migrations"] = "unknown"
    else:
        try:
            current = await state.ops_migrations.is_current(settings)
            checks["migrations"] = "ok" if current else "pending"
        except Exception as exc:  # same as above
            logger.warning("readiness migration check failed error=%s", type(exc).__name__)
            checks["migrations"] = "unknown"

    if not state.get("scheduler_expected", False):
        checks["scheduler"] = "disabled"
    else:
        checks["scheduler"] = "ok" if state.get("scheduler_running", False) else "stopped"

    ready = all(value in ("ok", "disabled") for value in checks.values())
    body: dict[str, Any] = {"status": "ready" if ready else "unavailable", **checks}
    return Response(body, status_code=200 if ready else 503)
