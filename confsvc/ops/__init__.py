"""Operations: metrics, request ids in logs, readiness, graceful shutdown and pruning.

:func:`configure_ops` is the one wiring step (``on_app_init``); the lifespan in
``confsvc.app`` uses :class:`SweepTracker` to let running sweeps finish at shutdown.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.config.app import AppConfig

from confsvc.ops.logcontext import install_log_context, meeting_id_var, request_id_var
from confsvc.ops.metrics import CONTENT_TYPE, OpsMetrics
from confsvc.ops.middleware import RequestContextMiddleware
from confsvc.ops.pruning import OutboxPruner, ops_sweeps
from confsvc.ops.readiness import MigrationCache, readiness
from confsvc.ops.shutdown import SweepTracker, track_sweeps
from confsvc.settings import Settings

__all__ = [
    "OpsMetrics",
    "OutboxPruner",
    "SweepTracker",
    "configure_ops",
    "install_log_context",
    "meeting_id_var",
    "metrics_endpoint",
    "ops_sweeps",
    "request_id_var",
    "track_sweeps",
]


@get("/metrics", operation_id="metrics", tags=["operations"], include_in_schema=False)
async def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Return the Prometheus text format; the database gauges are refreshed first."""
    state = request.app.state
    metrics: OpsMetrics = state.ops_metrics
    await metrics.refresh_from_database(state.session_maker)
    return Response(metrics.render(), media_type=CONTENT_TYPE)


def configure_ops(settings: Settings) -> Any:
    """Return the ``on_app_init`` step that adds the readiness and metrics routes, the
    request-context middleware (first, so it wraps everything), the log context and the
    per-app state (``ops_metrics``, ``ops_migrations``, ``sweep_tracker``)."""

    def configure(app_config: AppConfig) -> AppConfig:
        metrics = OpsMetrics() if settings.ops.metrics_enabled else None
        install_log_context(log_format=settings.ops.log_format)
        app_config.route_handlers.append(readiness)
        if metrics is not None:
            app_config.route_handlers.append(metrics_endpoint)
        app_config.middleware.insert(0, RequestContextMiddleware(metrics))
        app_config.state["ops_metrics"] = metrics
        app_config.state["ops_migrations"] = MigrationCache(ttl_s=settings.ops.readiness_cache_seconds)
        app_config.state["sweep_tracker"] = SweepTracker(metrics)
        app_config.state["scheduler_expected"] = False
        app_config.state["scheduler_running"] = False
        return app_config

    return configure
