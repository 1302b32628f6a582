"""Faults: PostgreSQL lost behind a TCP proxy, slow SMTP next to CalDAV, disk full."""

from __future__ import annotations

import asyncio
import errno
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from scale_support import ServiceProcess, TcpProxy, asyncpg_dsn, fresh_postgres, service_env
from tests.conftest import create_account, make_settings


def _meeting(slot: int, bridge_id: str) -> dict[str, object]:
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2, hours=2 * slot)
    return {
        "title": f"故障演练 {slot}",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=1)).isoformat(),
        "bridge_id": bridge_id,
        "attendees": [{"email": f"x{slot}@example.com", "name": "某人"}],
    }


@pytest.mark.postgres
@pytest.mark.slow
async def test_scale_database_cut_gives_503_then_recovers(pg_base_url: str, tmp_path: Path) -> None:
    async with fresh_postgres(pg_base_url) as db_url:
        settings = make_settings(db_url, tmp_path)
        admin = await create_account(settings, "admin@example.com", "管理员", ["admin"])
        organiser = await create_account(settings, "org@example.com", "组织者", ["organiser"])
        target = make_url(db_url)
        proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
        proxy.start()
        proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        service = ServiceProcess(service_env(proxied, tmp_path), log_path=tmp_path / "serve.log", scheduler=False)
        statuses: list[int] = []
        try:
            await asyncio.to_thread(service.wait_ready)
            async with httpx.AsyncClient(base_url=service.url, timeout=20) as client:
                response = await client.post(
                    "/api/v1/bridges", headers=admin.headers,
                    json={"name": "桥", "capacity": 50, "dial_in": [{"number": "+861012345678", "label": "北京"}]},
                )
                bridge_id = response.json()["id"]

                # Bookings in flight while the database goes away.
                async def book(slot: int) -> int:
                    await asyncio.sleep(0.01 * slot)
                    reply = await client.post("/api/v1/meetings", json=_meeting(slot, bridge_id), headers=organiser.headers)
                    if reply.status_code == 503:
                        assert reply.headers["content-type"].startswith("application/problem+json")
                        assert reply.json()["status"] == 503 and reply.headers["retry-after"] == "5"
                    return reply.status_code

                in_flight = [asyncio.ensure_future(book(slot)) for slot in range(30)]
                await asyncio.sleep(0.1)
                proxy.cut()
                statuses += await asyncio.gather(*in_flight)

                # While cut: every request fails fast with 503, readiness says why.
                started = time.monotonic()
                down = await client.get("/api/v1/meetings", headers=organiser.headers)
                assert down.status_code == 503, down.text
                assert time.monotonic() - started < 5
                ready = await client.get("/readyz")
                assert ready.status_code == 503 and ready.json()["database"] == "unreachable"

                # Restored: the pool reconnects (pre-ping drops the dead connections).
                proxy.restore()
                deadline = time.monotonic() + 15
                while (await client.get("/readyz")).status_code != 200:
                    assert time.monotonic() < deadline, "no reconnect after restore"
                    await asyncio.sleep(0.2)
                after = await client.post("/api/v1/meetings", json=_meeting(40, bridge_id), headers=organiser.headers)
                assert after.status_code == 201, after.text
                statuses.append(after.status_code)
        finally:
            service.terminate()
            proxy.stop()

        assert set(statuses) <= {201, 503}, statuses
        assert 503 in statuses
        connection = await asyncpg.connect(asyncpg_dsn(db_url))
        try:
            meetings = await connection.fetchval("SELECT count(*) FROM meeting")
            orphans = await connection.fetchval(
                """SELECT count(*) FROM meeting m WHERE NOT EXISTS (SELECT 1 FROM booking b WHERE b.meeting_id = m.id)
                      OR NOT EXISTS (SELECT 1 FROM outbox_message o WHERE o.meeting_id = m.id)"""
            )
            stray_bookings = await connection.fetchval(
                "SELECT count(*) FROM booking b WHERE NOT EXISTS (SELECT 1 FROM meeting m WHERE m.id = b.meeting_id)"
            )
        finally:
            await connection.close()
    # Nothing half-written: every stored meeting has its booking and its invitation row.
    assert orphans == 0 and stray_bookings == 0
    # Every 201 is stored; a 503 may hide a commit that reached the server just before the cut.
    assert statuses.count(201) <= meetings <= statuses.count(201) + 1


async def test_scale_slow_smtp_does_not_hold_up_caldav(db_url: str, tmp_path: Path) -> None:
    import dataclasses

    from confsvc.db.engine import create_engine, create_session_factory
    from confsvc.notify.delivery import EmailHandler
    from confsvc.notify.outbox import OutboxDispatcher, enqueue
    from confsvc.settings import MailSettings, OutboxSettings
    from scale_support import SmtpSink

    sink = SmtpSink(delay_s=1.5)
    sink.start()
    settings = dataclasses.replace(
        make_settings(db_url, tmp_path), mail=MailSettings(smtp_url=sink.url, mail_from="meetings@example.com")
    )
    caldav_done: list[float] = []

    class RecordingCalDAV:
        async def deliver(self, message: object) -> None:
            caldav_done.append(time.monotonic())

    engine = create_engine(settings.database)
    sessions = create_session_factory(engine)
    try:
        async with sessions() as session:
            for index in range(2):
                await enqueue(session, key=f"mail:{index}", channel="email", recipient="a@example.com",
                              payload={"subject": "s", "text": "t", "language": "en"})
            await enqueue(session, key="cal:0", channel="caldav", recipient="a@example.com", payload={})
            await session.commit()
        dispatcher = OutboxDispatcher(
            sessions, OutboxSettings(base_delay_seconds=0),
            {"email": EmailHandler(settings), "caldav": RecordingCalDAV()},
        )
        started = time.monotonic()
        report = await dispatcher.run_once()
        elapsed = time.monotonic() - started
    finally:
        await engine.dispose()
        sink.stop()
    assert report.sent == 3
    assert elapsed >= 3.0  # two e-mails, 1.5 s each, one after the other
    assert caldav_done and caldav_done[0] - started < 1.0, "the CalDAV write waited for SMTP"


async def test_scale_material_disk_full_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from confsvc.preparation.storage import LocalStore

    store = LocalStore(tmp_path / "materials")
    source = tmp_path / "upload.bin"
    source.write_bytes(b"x" * 4096)

    def full(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("shutil.move", full)
    monkeypatch.setattr("os.replace", full)
    with pytest.raises(OSError) as raised:
        await store.put("m1/a.bin", source)
    assert raised.value.errno == errno.ENOSPC
    assert not (tmp_path / "materials" / "m1" / "a.bin").exists()

    from confsvc.api.problems import is_unavailable_error

    assert is_unavailable_error(raised.value)
