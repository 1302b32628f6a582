"""Readiness, metrics, request ids, pruning and sweep draining inside one process."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta

from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from confsvc.app import create_app
from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import OutboxMessage
from confsvc.notify.outbox import enqueue
from confsvc.ops import OutboxPruner, SweepTracker
from confsvc.ops.logcontext import ContextFilter, JsonFormatter
from confsvc.scheduler import Sweep
from confsvc.settings import Settings
from tests.conftest import Account


async def test_scale_readyz_metrics_and_request_id(settings: Settings, organiser: Account) -> None:
    app = create_app(settings, start_scheduler=False)
    async with AsyncTestClient(app=app) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"status": "ready", "database": "ok", "migrations": "ok", "scheduler": "disabled"}

        listed = await client.get("/api/v1/meetings", headers={**organiser.headers, "X-Request-ID": "abc-123"})
        assert listed.status_code == 200
        assert listed.headers["x-request-id"] == "abc-123"
        forged = await client.get("/healthz", headers={"X-Request-ID": "bad id\nINFO fake"})
        assert forged.headers["x-request-id"] != "bad id\nINFO fake" and len(forged.headers["x-request-id"]) == 32

        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        text = metrics.text
        assert 'confsvc_http_requests_total{method="GET",route="/api/v1/meetings",status="200"} 1.0' in text
        assert 'confsvc_http_request_duration_seconds_bucket{le="0.1",method="GET",route="/api/v1/meetings"}' in text
        assert "confsvc_reminder_lag_seconds 0.0" in text

        # A scheduler that should run but does not makes the process unready.
        app.state.scheduler_expected = True
        unready = await client.get("/readyz")
        assert unready.status_code == 503
        assert unready.json()["scheduler"] == "stopped"


async def test_scale_metrics_count_outbox_rows(settings: Settings) -> None:
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            for index in range(3):
                await enqueue(session, key=f"m:{index}", channel="email", recipient="a@example.com", payload={})
            await session.commit()
    finally:
        await engine.dispose()
    async with AsyncTestClient(app=create_app(settings, start_scheduler=False)) as client:
        text = (await client.get("/metrics")).text
    assert 'confsvc_outbox_messages{channel="email",status="pending"} 3.0' in text


def test_scale_json_log_carries_ids() -> None:
    from confsvc.ops.logcontext import meeting_id_var, request_id_var

    record = logging.LogRecord("confsvc.test", logging.INFO, __file__, 1, "meeting saved delivery_id=%s", ("d1",), None)
    request_token, meeting_token = request_id_var.set("req-1"), meeting_id_var.set("m-1")
    try:
        ContextFilter().filter(record)
    finally:
        request_id_var.reset(request_token)
        meeting_id_var.reset(meeting_token)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "meeting saved delivery_id=d1"
    assert entry["request_id"] == "req-1" and entry["meeting_id"] == "m-1"
    assert entry["level"] == "INFO" and entry["time"].endswith("+00:00")


async def test_scale_pruning_keeps_unfinished_and_recent_rows(settings: Settings) -> None:
    engine = create_engine(settings.database)
    sessions = create_session_factory(engine)
    old = datetime.now(UTC) - timedelta(days=40)
    try:
        async with sessions() as session:
            for key in ("old-sent", "old-dead", "old-pending", "new-sent"):
                await enqueue(session, key=key, channel="email", recipient="a@example.com", payload={})
            await session.commit()
            for key, status, when in (
                ("old-sent", "sent", old), ("old-dead", "dead", old), ("old-pending", "pending", old),
                ("new-sent", "sent", datetime.now(UTC)),
            ):
                await session.execute(
                    update(OutboxMessage).where(OutboxMessage.idempotency_key == key).values(status=status, updated_at=when)
                )
            await session.commit()
        deleted = await OutboxPruner(sessions, retention_days=30, batch_size=1).run_once()
        async with sessions() as session:
            left = set(await session.scalars(select(OutboxMessage.idempotency_key)))
    finally:
        await engine.dispose()
    assert deleted == 2
    assert left == {"old-pending", "new-sent"}


async def test_scale_drain_waits_for_running_sweep() -> None:
    finished: list[str] = []

    async def slow() -> None:
        await asyncio.sleep(0.3)
        finished.append("slow")

    tracker = SweepTracker()
    wrapped = tracker.wrap(Sweep(name="slow", interval_seconds=1, run=slow))
    job = asyncio.ensure_future(wrapped.run())
    await asyncio.sleep(0.05)
    job.cancel()  # what APScheduler does to a running coroutine job at shutdown
    assert await tracker.drain(timeout_s=5) is True
    assert finished == ["slow"]
    assert await wrapped.run() is None and finished == ["slow"]  # no new run after drain
