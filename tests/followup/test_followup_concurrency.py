"""Two sweeps on one database share the work and never send one reminder twice."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from followup_support import add_item, build_world
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import OutboxMessage, ReminderLog
from confsvc.followup.reminders import ReminderSweep
from confsvc.settings import Settings

ITEMS = 120
NOW = datetime.combine(date(2026, 10, 9), time(9, 30), tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


async def _seed(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        world = await build_world(session)
        for index in range(ITEMS):
            await add_item(session, world, due=date(2026, 10, 8), title=f"事项 {index}", next_reminder_at=NOW)
        await session.commit()


async def _check_once_each(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        logs = (await session.execute(select(ReminderLog.action_item_id, ReminderLog.kind).where(ReminderLog.kind != "digest"))).all()
        keys = (await session.execute(select(OutboxMessage.idempotency_key, OutboxMessage.recipient))).all()
    per_item = Counter(item_id for item_id, _kind in logs)
    assert len(per_item) == ITEMS
    assert set(per_item.values()) == {1}
    assert {kind for _id, kind in logs} == {"notice"}
    owner_rows = [key for key, recipient in keys if recipient == "owner@example.com"]
    assert len(owner_rows) == ITEMS
    assert len({key for key, _r in keys}) == len(keys)


async def test_followup_two_sweeps_concurrently(fu_settings: Settings, fu_sessions: async_sessionmaker[AsyncSession]) -> None:
    await _seed(fu_sessions)
    settings = replace(fu_settings, followup=replace(fu_settings.followup, batch_size=15))
    second_engine = create_engine(settings.database)
    try:
        first = ReminderSweep(settings, fu_sessions, clock=lambda: NOW)
        second = ReminderSweep(settings, create_session_factory(second_engine), clock=lambda: NOW)
        reports = await asyncio.gather(first.run_until_idle(), second.run_until_idle())
    finally:
        await second_engine.dispose()

    assert sum(r.reminded for r in reports) == ITEMS
    assert sum(r.digests for r in reports) == 1
    if settings.database.is_postgres:
        # SKIP LOCKED lets both work at once, so each claims part of the batch.
        assert all(r.reminded > 0 for r in reports), [r.reminded for r in reports]
    await _check_once_each(fu_sessions)


_WORKER = textwrap.dedent(
    """
    import asyncio, json, sys
    from datetime import datetime
    from dataclasses import replace
    from confsvc.db.engine import create_engine, create_session_factory
    from confsvc.followup.reminders import ReminderSweep
    from confsvc.settings import Settings

    async def main() -> None:
        settings = Settings.from_env({"CONFSVC_DATABASE_URL": sys.argv[1], "CONFSVC_SECRET_KEY": "k"})
        settings = replace(settings, followup=replace(settings.followup, batch_size=10))
        now = datetime.fromisoformat(sys.argv[2])
        engine = create_engine(settings.database)
        try:
            report = await ReminderSweep(settings, create_session_factory(engine), clock=lambda: now).run_until_idle()
        finally:
            await engine.dispose()
        print(json.dumps({"reminded": report.reminded, "digests": report.digests}))

    asyncio.run(main())
    """
)


async def test_followup_two_processes(fu_settings: Settings, fu_sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    await _seed(fu_sessions)
    script = tmp_path / "sweep_worker.py"
    script.write_text(_WORKER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, str(script), fu_settings.database.url, NOW.isoformat(),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
        )
        for _ in range(2)
    ]
    outputs = []
    for process in processes:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 0, stderr.decode()[-2000:]
        outputs.append(stdout.decode().strip().splitlines()[-1])

    import json

    results = [json.loads(line) for line in outputs]
    assert sum(r["reminded"] for r in results) == ITEMS
    assert sum(r["digests"] for r in results) == 1
    await _check_once_each(fu_sessions)
