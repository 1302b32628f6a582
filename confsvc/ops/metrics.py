"""Prometheus metrics of one service process, served at ``GET /metrics``.

Two kinds of figures:

- counters and histograms kept in this process (HTTP requests by route template,
  bookings created and booking conflicts, sweep runs); each process has its own, so the
  scraper sums them over processes;
- gauges read from the database at scrape time with one cheap ``GROUP BY`` each
  (outbox messages by channel and status, check results by status, reminder lag); every
  process reports the same database-wide values, so take ``max`` over processes rather
  than ``sum``.

Each application gets its own :class:`prometheus_client.CollectorRegistry`, so several
apps in one interpreter (tests) do not collide.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

__all__ = ["CONTENT_TYPE", "OpsMetrics"]

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class OpsMetrics:
    """The metric families of one application and the scrape-time database queries."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "confsvc_http_requests",
            "HTTP requests by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "confsvc_http_request_duration_seconds",
            "Time from request start to the last response byte, in seconds.",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.bookings_created = Counter(
            "confsvc_bookings_created", "Meetings booked through the API (201 from createMeeting).", registry=self.registry
        )
        self.booking_conflicts = Counter(
            "confsvc_booking_conflicts",
            "Booking requests rejected with 409 because the slot or bridge was taken.",
            ["operation"],
            registry=self.registry,
        )
        self.sweep_runs = Counter(
            "confsvc_sweep_runs", "Finished scheduler sweep runs by outcome (ok, failed).", ["sweep", "outcome"],
            registry=self.registry,
        )
        self.sweeps_running = Gauge(
            "confsvc_sweeps_running", "Sweeps running in this process right now.", registry=self.registry
        )
        self.outbox_messages = Gauge(
            "confsvc_outbox_messages",
            "Outbox rows in the database by channel and status (sent, dead and dropped until pruned).",
            ["channel", "status"],
            registry=self.registry,
        )
        self.check_results = Gauge(
            "confsvc_check_results",
            "Stored pre-meeting check results by check name and status.",
            ["check", "status"],
            registry=self.registry,
        )
        self.reminder_lag = Gauge(
            "confsvc_reminder_lag_seconds",
            "Now minus the oldest due next_reminder_at of an action item; 0 when none is due.",
            registry=self.registry,
        )
        self.scrape_errors = Counter(
            "confsvc_metrics_scrape_errors", "Scrapes whose database queries failed.", registry=self.registry
        )

    def observe_request(self, *, route: str, method: str, status: int, seconds: float, operation_id: str | None) -> None:
        """Count one finished HTTP request (and a booking outcome for the booking routes)."""
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)
        if operation_id == "createMeeting" and status == 201:
            self.bookings_created.inc()
        elif status == 409 and operation_id in ("createMeeting", "updateMeeting", "updateOccurrence"):
            self.booking_conflicts.labels(operation_id).inc()

    async def refresh_from_database(self, session_maker: async_sessionmaker[AsyncSession], *, now: datetime | None = None) -> None:
        """Set the database gauges; on a database error keep the old values and count the error."""
        from confsvc.db.models import OutboxMessage

        now = now or datetime.now(UTC)
        try:
            async with session_maker() as session:
                outbox = (
                    await session.execute(
                        select(OutboxMessage.channel, OutboxMessage.status, func.count()).group_by(
                            OutboxMessage.channel, OutboxMessage.status
                        )
                    )
                ).all()
                checks = await _check_counts(session)
                oldest_due = await _oldest_due_reminder(session, now)
        except Exception as exc:  # a scrape must still answer with the in-process figures
            self.scrape_errors.inc()
            logger.warning("metrics database query failed error=%s", type(exc).__name__)
            return

        self.outbox_messages.clear()
        for channel, status, count in outbox:
            self.outbox_messages.labels(channel, status).set(count)
        self.check_results.clear()
        for name, status, count in checks:
            self.check_results.labels(name, status).set(count)
        self.reminder_lag.set(max((now - oldest_due).total_seconds(), 0.0) if oldest_due else 0.0)

    def render(self) -> bytes:
        """Return the text exposition format of every family in this registry."""
        return generate_latest(self.registry)


async def _check_counts(session: AsyncSession) -> list[tuple[str, str, int]]:
    try:
        from confsvc.db.models.preparation import CheckResult
    except ImportError:
        return []
    rows = await session.execute(
        select(CheckResult.name, CheckResult.status, func.count()).group_by(CheckResult.name, CheckResult.status)
    )
    return [(name, status, int(count)) for name, status, count in rows.all()]


async def _oldest_due_reminder(session: AsyncSession, now: datetime) -> datetime | None:
    from confsvc.db.models import ActionItem

    column = ActionItem.__table__.c.get("next_reminder_at")
    if column is None:
        return None
    # ix_action_item_next_reminder_at serves this MIN over the due range.
    oldest = await session.scalar(select(func.min(column)).where(column <= now))
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return oldest
