"""Three ``confsvc serve`` processes on one PostgreSQL share bookings and outbox work; one
is killed with SIGKILL mid-way and nothing is lost or sent twice."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from confsvc.notify.outbox import enqueue, message_id_for
from confsvc.db.engine import create_engine, create_session_factory
from scale_support import ServiceProcess, SmtpSink, asyncpg_dsn, fresh_postgres, service_env
from tests.conftest import create_account, make_settings

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PLAIN_MESSAGES = 150
CONTESTED_SLOTS = 8
LEASE_SECONDS = 5


async def _queue_plain(db_url: str, tmp_path: Path) -> list[str]:
    engine = create_engine(make_settings(db_url, tmp_path).database)
    keys = [f"scale:{index}" for index in range(PLAIN_MESSAGES)]
    try:
        async with create_session_factory(engine)() as session:
            for index, key in enumerate(keys):
                await enqueue(
                    session, key=key, channel="email", recipient=f"user{index}@example.com",
                    payload={"subject": f"通知 {index}", "text": f"正文 {index}\n", "language": "zh-CN"},
                )
            await session.commit()
    finally:
        await engine.dispose()
    return keys


async def _book_contested(services: list[ServiceProcess], headers: dict[str, str], bridge_id: str, slot: int) -> list[int]:
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3, hours=2 * slot)
    body = {
        "title": f"并发预约 {slot}",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=1)).isoformat(),
        "bridge_id": bridge_id,
        "attendees": [{"email": f"a{slot}@example.com", "name": "甲"}, {"email": f"b{slot}@example.com", "name": "乙"}],
    }
    async with httpx.AsyncClient(timeout=30) as client:
        responses = await asyncio.gather(
            *(client.post(f"{service.url}/api/v1/meetings", json=body, headers=headers) for service in services)
        )
    return [response.status_code for response in responses]


async def _database_facts(db_url: str) -> tuple[list[tuple[str, str, int]], int]:
    connection = await asyncpg.connect(asyncpg_dsn(db_url))
    try:
        rows = await connection.fetch("SELECT idempotency_key, status, attempts FROM outbox_message WHERE channel = 'email'")
        overlaps = await connection.fetchval(
            """
            SELECT count(*) FROM booking a JOIN booking b
              ON a.bridge_id = b.bridge_id AND a.id < b.id AND a.active AND b.active
             AND a.starts_at < b.blocked_until AND b.starts_at < a.blocked_until
            """
        )
    finally:
        await connection.close()
    return [(row["idempotency_key"], row["status"], row["attempts"]) for row in rows], int(overlaps)


def _wait(condition, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


async def test_scale_three_processes_share_work_and_survive_sigkill(pg_base_url: str, tmp_path: Path) -> None:
    sink = SmtpSink(delay_s=0.02)
    sink.start()
    async with fresh_postgres(pg_base_url) as db_url:
        settings = make_settings(db_url, tmp_path)
        admin = await create_account(settings, "admin@example.com", "管理员", ["admin"])
        organiser = await create_account(settings, "org@example.com", "组织者", ["organiser"])
        env = service_env(
            db_url, tmp_path, CONFSVC_SMTP_URL=sink.url,
            CONFSVC_OUTBOX_LEASE_SECONDS=str(LEASE_SECONDS), CONFSVC_OUTBOX_BATCH_SIZE="5",
        )
        services = [ServiceProcess(env, log_path=tmp_path / f"serve{index}.log") for index in range(3)]
        try:
            for service in services:
                await asyncio.to_thread(service.wait_ready)
            async with httpx.AsyncClient(timeout=30) as client:
                response = await client.post(
                    f"{services[0].url}/api/v1/bridges", headers=admin.headers,
                    json={"name": "主会议桥", "capacity": 50, "dial_in": [{"number": "+861012345678", "label": "北京"}]},
                )
                assert response.status_code == 201, response.text
                bridge_id = response.json()["id"]

            # Phase 1: contested bookings through all three while the outbox drains.
            plain_keys = await _queue_plain(db_url, tmp_path)
            outcomes = [
                await _book_contested(services, organiser.headers, bridge_id, slot) for slot in range(CONTESTED_SLOTS // 2)
            ]
            assert await asyncio.to_thread(_wait, lambda: len(sink.message_ids()) >= 30, 30), "too little delivered"

            # Phase 2: kill one process mid-delivery; the other two carry on.
            services[1].kill()
            killed_at = len(sink.message_ids())
            survivors = [services[0], services[2]]
            for slot in range(CONTESTED_SLOTS // 2, CONTESTED_SLOTS):
                outcomes.append(await _book_contested(survivors, organiser.headers, bridge_id, slot))

            for statuses in outcomes:
                assert sorted(statuses)[0] == 201 and statuses.count(201) == 1, statuses
                assert all(status == 409 for status in statuses if status != 201), statuses

            deadline = time.monotonic() + 40 + LEASE_SECONDS
            while time.monotonic() < deadline:
                rows, _overlaps = await _database_facts(db_url)
                if rows and all(status == "sent" for _key, status, _attempts in rows):
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError(f"outbox not drained: {Counter(status for _k, status, _a in rows)}")
            rows, overlaps = await _database_facts(db_url)
        finally:
            codes = [service.terminate() for service in services]
            sink.stop()

    assert overlaps == 0
    # The survivors stopped on SIGTERM within the timeout: uvicorn re-raises the signal after
    # its graceful shutdown, hence -15; a forced kill would show -9 as for the killed one.
    assert codes == [-15, -9, -15], codes

    keys = {key for key, _status, _attempts in rows}
    assert set(plain_keys) <= keys
    # Invitations: two attendees for each of the eight winning bookings.
    assert len(keys - set(plain_keys)) >= 2 * CONTESTED_SLOTS
    expected = {message_id_for(key, domain="example.com"): key for key in keys}
    received = Counter(sink.message_ids())
    assert set(received) == set(expected), "lost or unknown messages"
    assert killed_at < len(expected), "the kill came after all deliveries"

    # The one documented repeat: a row in flight in the killed process, delivered again
    # after its lease ended, so it has a second attempt and the same Message-ID.
    repeated = {message_id for message_id, count in received.items() if count > 1}
    retried = {message_id_for(key, domain="example.com") for key, _s, attempts in rows if attempts > 1}
    assert repeated <= retried, repeated - retried
    assert len(repeated) <= 1, repeated
    assert all(count <= 2 for count in received.values())
