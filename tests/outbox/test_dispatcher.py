from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from litestar.testing import AsyncTestClient
from sqlalchemy import update

from confsvc.app import create_app
from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import OutboxMessage
from confsvc.notify.outbox import backoff_delay, enqueue, message_id_for
from confsvc.notify.sweeps import build_dispatcher
from confsvc.settings import OutboxSettings
from tests.conftest import create_account
from tests.outbox.helpers import dispatcher_for, enqueue_plain, outbox_settings, rows
from tests.outbox.sink import SmtpSink


async def test_enqueue_same_key_stores_one_row(db_url: str, tmp_path: Path) -> None:
    settings = outbox_settings(db_url, tmp_path, None)
    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            first = await enqueue(session, key="k1", channel="email", recipient="a@example.com", payload={"subject": "1", "text": "1"})
            second = await enqueue(session, key="k1", channel="email", recipient="b@example.com", payload={"subject": "2", "text": "2"})
            await session.commit()
    finally:
        await engine.dispose()
    stored = await rows(settings)
    assert first is True
    assert second is False
    assert len(stored) == 1
    assert stored[0].recipient == "a@example.com"


async def test_delivers_each_message_once(db_url: str, tmp_path: Path, smtp_sink: SmtpSink) -> None:
    settings = outbox_settings(db_url, tmp_path, smtp_sink.url)
    keys = await enqueue_plain(settings, 5)
    app = create_app(settings, start_scheduler=False)
    dispatcher = build_dispatcher(settings, app.state.session_maker)

    report = await dispatcher.run_until_idle()
    again = await dispatcher.run_once()
    await app.state.engine.dispose()

    assert report.sent == 5
    assert again.claimed == 0
    ids = sorted(str(m["Message-ID"]) for m in smtp_sink.messages)
    assert ids == sorted(message_id_for(key, domain="example.com") for key in keys)
    assert {row.status for row in await rows(settings)} == {"sent"}


async def test_concurrent_dispatchers_never_duplicate(db_url: str, tmp_path: Path, smtp_sink: SmtpSink) -> None:
    settings = outbox_settings(db_url, tmp_path, smtp_sink.url, batch_size=3)
    await enqueue_plain(settings, 24)
    apps = [create_app(settings, start_scheduler=False) for _ in range(3)]
    dispatchers = [build_dispatcher(settings, app.state.session_maker) for app in apps]

    reports = await asyncio.gather(*(d.run_until_idle() for d in dispatchers))
    for app in apps:
        await app.state.engine.dispose()

    assert sum(r.sent for r in reports) == 24
    ids = [str(m["Message-ID"]) for m in smtp_sink.messages]
    assert len(ids) == 24
    assert len(set(ids)) == 24


async def test_smtp_down_retries_then_delivers(db_url: str, tmp_path: Path) -> None:
    sink = SmtpSink()  # not started: connections are refused
    settings = outbox_settings(db_url, tmp_path, sink.url)
    keys = await enqueue_plain(settings, 3)
    app = create_app(settings, start_scheduler=False)
    dispatcher = build_dispatcher(settings, app.state.session_maker)
    try:
        down = await dispatcher.run_once()
        waiting = await rows(settings)
        sink.start()
        up = await dispatcher.run_until_idle()
    finally:
        sink.stop()
        await app.state.engine.dispose()

    assert down.retried == 3
    assert {row.status for row in waiting} == {"pending"}
    assert all(row.attempts == 1 for row in waiting)
    assert all("DeliveryError" in (row.last_error or "") for row in waiting)
    assert up.sent == 3
    ids = sorted(str(m["Message-ID"]) for m in sink.messages)
    assert ids == sorted(message_id_for(key, domain="example.com") for key in keys)


async def test_dead_letter_and_admin_retry(db_url: str, tmp_path: Path) -> None:
    sink = SmtpSink()
    settings = outbox_settings(db_url, tmp_path, sink.url, max_attempts=2)
    await enqueue_plain(settings, 1)
    admin = await create_account(settings, "admin@example.com", "管理员", ["admin"])
    member = await create_account(settings, "li.na@example.com", "李娜", ["member"])
    app = create_app(settings, start_scheduler=False)
    async with AsyncTestClient(app=app) as client, dispatcher_for(settings) as dispatcher:
        first = await dispatcher.run_once()
        second = await dispatcher.run_once()
        dead = await client.get("/api/v1/deliveries", params={"status": "dead"}, headers=admin.headers)
        forbidden = await client.get("/api/v1/deliveries", headers=member.headers)
        bad_status = await client.get("/api/v1/deliveries", params={"status": "lost"}, headers=admin.headers)

        delivery_id = dead.json()[0]["id"]
        retried = await client.post(f"/api/v1/deliveries/{delivery_id}/retry", headers=admin.headers)
        sink.start()
        try:
            third = await dispatcher.run_once()
        finally:
            sink.stop()
        sent = await client.get("/api/v1/deliveries", params={"status": "sent"}, headers=admin.headers)
        retry_sent = await client.post(f"/api/v1/deliveries/{delivery_id}/retry", headers=admin.headers)

    assert first.retried == 1
    assert second.dead == 1
    assert dead.status_code == 200
    assert len(dead.json()) == 1
    assert dead.json()[0]["attempts"] == 2
    assert "127.0.0.1" in dead.json()[0]["last_error"]
    assert forbidden.status_code == 403
    assert bad_status.status_code == 400
    assert retried.status_code == 200
    assert retried.json()["status"] == "pending"
    assert retried.json()["attempts"] == 0
    assert third.sent == 1
    assert [d["id"] for d in sent.json()] == [delivery_id]
    assert len(sink.messages) == 1
    assert retry_sent.status_code == 409


async def test_expired_lease_is_claimed_again(db_url: str, tmp_path: Path, smtp_sink: SmtpSink) -> None:
    settings = outbox_settings(db_url, tmp_path, smtp_sink.url)
    keys = await enqueue_plain(settings, 2)
    engine = create_engine(settings.database)
    now = datetime.now(UTC)
    try:
        async with create_session_factory(engine)() as session:
            # One row held by a dispatcher that died, one still within its lease.
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.idempotency_key == keys[0])
                .values(status="sending", attempts=1, locked_until=now - timedelta(seconds=1), claim_token="dead")
            )
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.idempotency_key == keys[1])
                .values(status="sending", attempts=1, locked_until=now + timedelta(minutes=5), claim_token="alive")
            )
            await session.commit()
    finally:
        await engine.dispose()
    app = create_app(settings, start_scheduler=False)
    report = await build_dispatcher(settings, app.state.session_maker).run_until_idle()
    await app.state.engine.dispose()

    stored = {row.idempotency_key: row for row in await rows(settings)}
    assert report.sent == 1
    assert stored[keys[0]].status == "sent"
    assert stored[keys[0]].attempts == 2
    assert stored[keys[1]].status == "sending"
    assert [str(m["Message-ID"]) for m in smtp_sink.messages] == [message_id_for(keys[0], domain="example.com")]


def test_backoff_doubles_and_caps() -> None:
    settings = OutboxSettings(base_delay_seconds=30, max_delay_seconds=600)
    delays = [backoff_delay(n, settings).total_seconds() for n in (1, 2, 3, 4, 5, 6)]
    assert delays == [30, 60, 120, 240, 480, 600]
