"""Benchmark: one reminder sweep over a large action_item table, against its due query alone.

Usage::

    python bench/followup_sweep.py                       # 1,000,000 items, 10,000 due, PostgreSQL
    python bench/followup_sweep.py --items 20000 --due 500 --database-url sqlite+aiosqlite:///var/bench.sqlite3

With no ``--database-url`` a scratch database ``confsvc_bench_<random>`` is created on
``--postgres`` (default postgresql+asyncpg://postgres@127.0.0.1/postgres) and dropped at
the end. Rows are bulk-loaded with COPY on PostgreSQL and executemany on SQLite. The
clock is fixed at Wednesday 2026-10-14 10:00 in Asia/Shanghai (a working day), the due
items are three working days overdue, so each gets one owner reminder and escalations.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.migrate import upgrade
from confsvc.db.models import ActionItem, OutboxMessage, ReminderLog
from confsvc.db.models.followup import ACTIVE_STATUSES
from confsvc.followup.reminders import ReminderSweep
from confsvc.settings import Settings

NOW = datetime(2026, 10, 14, 2, 0, tzinfo=UTC)
OWNERS = 1000
MEETINGS = 200


@dataclass
class Result:
    items: int
    due: int
    load_seconds: float
    due_query_seconds: float
    due_query_batches_seconds: float
    sweep_seconds: float
    reminded: int
    escalations: int
    outbox_rows: int
    plan: str


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _seed_reference_rows(settings: Settings) -> tuple[list[uuid.UUID], list[uuid.UUID], list[tuple[uuid.UUID, str]]]:
    """People, one department, meetings and approved minutes through the ORM (small numbers)."""
    from confsvc.db.models import Department, Meeting, Minutes, Person

    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            department = Department(name="Bench", head_email="head@bench.example")
            session.add(department)
            await session.flush()
            owners = [
                Person(email=f"owner{i}@bench.example", name=f"Owner {i}", roles=["member"], department_id=department.id)
                for i in range(OWNERS)
            ]
            organiser = Person(email="organiser@bench.example", name="Organiser", roles=["organiser"])
            session.add_all([*owners, organiser])
            await session.flush()
            start = NOW - timedelta(days=30)
            meetings = [
                Meeting(uid=f"bench-{i}@bench", title=f"Bench meeting {i}", starts_at=start, ends_at=start + timedelta(hours=1),
                        series_ends_at=start + timedelta(hours=1), time_zone="Asia/Shanghai", organiser_id=organiser.id)
                for i in range(MEETINGS)
            ]
            session.add_all(meetings)
            await session.flush()
            minutes = [Minutes(meeting_id=m.id, status="approved", version=1) for m in meetings]
            session.add_all(minutes)
            await session.commit()
            return [m.id for m in meetings], [m.id for m in minutes], [(p.id, p.email) for p in owners]
    finally:
        await engine.dispose()


def _rows(count: int, due: int, meetings: list[uuid.UUID], minutes: list[uuid.UUID], owners: list[tuple[uuid.UUID, str]]):  # type: ignore[no-untyped-def]
    overdue_date = date(2026, 10, 9)
    future = NOW + timedelta(days=3)
    for index in range(count):
        meeting = index % len(meetings)
        owner_id, owner_email = owners[index % len(owners)]
        if index < due:
            status, next_at, due_date = "open", NOW - timedelta(hours=1), overdue_date
        elif index % 2:
            status, next_at, due_date = "closed", None, overdue_date
        else:
            status, next_at, due_date = "open", future + timedelta(minutes=index % 10_000), date(2026, 11, 20)
        yield (
            uuid.uuid4(), meetings[meeting], minutes[meeting], "1", f"Bench item {index}", owner_email, owner_id,
            "[]", due_date, status, None, next_at, 0, 0, False, NOW, NOW,
        )


_COLUMNS = (
    "id", "meeting_id", "minutes_id", "resolution_number", "title", "owner_email", "owner_id", "co_owner_emails",
    "due_date", "status", "result", "next_reminder_at", "escalation_level", "progress", "reminders_muted",
    "created_at", "updated_at",
)


async def _load(settings: Settings, count: int, due: int) -> float:
    meetings, minutes, owners = await _seed_reference_rows(settings)
    started = time.perf_counter()
    if settings.database.is_postgres:
        connection = await asyncpg.connect(_asyncpg_dsn(settings.database.url))
        try:
            await connection.copy_records_to_table(
                "action_item", records=_rows(count, due, meetings, minutes, owners), columns=list(_COLUMNS)
            )
            await connection.execute("ANALYZE action_item")
        finally:
            await connection.close()
    else:
        engine = create_engine(settings.database)
        try:
            async with engine.begin() as connection:
                statement = text(
                    f"INSERT INTO action_item ({', '.join(_COLUMNS)}) VALUES ({', '.join(':' + c for c in _COLUMNS)})"
                )
                batch: list[dict[str, object]] = []
                for row in _rows(count, due, meetings, minutes, owners):
                    values = dict(zip(_COLUMNS, row, strict=True))
                    for key in ("id", "meeting_id", "minutes_id", "owner_id"):
                        values[key] = values[key].bytes  # type: ignore[union-attr]
                    for key in ("next_reminder_at", "created_at", "updated_at"):
                        if values[key] is not None:
                            values[key] = values[key].replace(tzinfo=None)  # type: ignore[union-attr]
                    batch.append(values)
                    if len(batch) == 10_000:
                        await connection.execute(statement, batch)
                        batch = []
                if batch:
                    await connection.execute(statement, batch)
                await connection.exec_driver_sql("ANALYZE")
        finally:
            await engine.dispose()
    return time.perf_counter() - started


async def _due_query(settings: Settings, batch_size: int) -> tuple[float, float, str]:
    """Time the indexed due query: all due ids at once, then in batches of the sweep size."""
    engine = create_engine(settings.database)
    query = (
        select(ActionItem.id, ActionItem.next_reminder_at)
        .where(ActionItem.next_reminder_at <= NOW, ActionItem.status.in_(ACTIVE_STATUSES))
        .order_by(ActionItem.next_reminder_at, ActionItem.id)
    )
    try:
        async with engine.connect() as connection:
            explain = "EXPLAIN " if settings.database.is_postgres else "EXPLAIN QUERY PLAN "
            plan_rows = (await connection.execute(text(
                explain + "SELECT id, next_reminder_at FROM action_item WHERE next_reminder_at <= :now "
                "AND status IN ('open', 'in_progress') ORDER BY next_reminder_at, id"
            ), {"now": NOW if settings.database.is_postgres else NOW.replace(tzinfo=None)})).all()
            plan = "\n".join(" ".join(str(v) for v in row) for row in plan_rows)

            started = time.perf_counter()
            rows = (await connection.execute(query)).all()
            single = time.perf_counter() - started

            started = time.perf_counter()
            seen = 0
            for offset in range(0, len(rows) + batch_size, batch_size):
                part = (await connection.execute(query.limit(batch_size).offset(offset))).all()
                seen += len(part)
                if len(part) < batch_size:
                    break
            batches = time.perf_counter() - started
            assert seen == len(rows)
    finally:
        await engine.dispose()
    return single, batches, plan


async def run(database_url: str, *, items: int, due: int, batch_size: int) -> Result:
    settings = Settings.from_env({
        "CONFSVC_DATABASE_URL": database_url, "CONFSVC_SECRET_KEY": "bench", "CONFSVC_FOLLOWUP_BATCH_SIZE": str(batch_size),
        "CONFSVC_FOLLOWUP_DIGEST_WEEKDAY": "0",
    })
    await asyncio.to_thread(upgrade, settings.database)
    load_seconds = await _load(settings, items, due)
    single, batches, plan = await _due_query(settings, batch_size)

    engine = create_engine(settings.database)
    try:
        sessions = create_session_factory(engine)
        sweep = ReminderSweep(settings, sessions, clock=lambda: NOW)
        started = time.perf_counter()
        report = await sweep.run_until_idle(max_rounds=items // batch_size + 10)
        sweep_seconds = time.perf_counter() - started
        async with sessions() as session:
            outbox = (await session.execute(select(func.count()).select_from(OutboxMessage))).scalar_one()
            logged = (await session.execute(select(func.count()).select_from(ReminderLog))).scalar_one()
    finally:
        await engine.dispose()
    if report.reminded != due or logged < due:
        raise SystemExit(f"sweep reminded {report.reminded} items, expected {due}")
    return Result(items, due, load_seconds, single, batches, sweep_seconds, report.reminded, report.escalations, outbox, plan)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        total_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {total_kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs{memory}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def report_markdown(result: Result, *, command: str, database: str) -> str:
    per_item_ms = result.sweep_seconds / max(result.reminded, 1) * 1000
    return f"""# Follow-up reminder sweep benchmark

Command: `{command}`

Machine: {machine()}; database: {database}.

| measure | value |
|---|---|
| action items | {result.items:,} |
| due items (one owner reminder each) | {result.due:,} |
| bulk load (COPY on PostgreSQL, executemany on SQLite) | {result.load_seconds:.1f} s |
| indexed due query alone, all due ids in one query | {result.due_query_seconds * 1000:.1f} ms |
| indexed due query alone, in batches of the sweep size (LIMIT/OFFSET) | {result.due_query_batches_seconds * 1000:.1f} ms |
| one full reminder sweep (claim, plan, log, outbox) | {result.sweep_seconds:.2f} s ({per_item_ms:.2f} ms per due item) |
| reminders / escalations / outbox rows written | {result.reminded:,} / {result.escalations:,} / {result.outbox_rows:,} |

The due items are three working days overdue on the fixed clock, so each gets its owner
reminder plus the notice and department-head escalation steps. Most of the sweep's time
goes into the work per item (policy, reminder log rows, three e-mails to the outbox). Finding
the due rows is the indexed range scan measured above. Delivering the queued e-mails is
the outbox's work and is not included.

Plan of the due query:

```
{result.plan}
```
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000, help="action items to load (default 1,000,000)")
    parser.add_argument("--due", type=int, default=10_000, help="how many of them are due (default 10,000)")
    parser.add_argument("--batch-size", type=int, default=200, help="items claimed per sweep transaction")
    parser.add_argument("--database-url", help="an empty database to use; default a scratch PostgreSQL database")
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1/postgres",
                        help="server on which the scratch database is created")
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks-followup.md"),
                        help="Markdown file for the result; '-' prints it only")
    args = parser.parse_args()
    if args.due > args.items:
        parser.error("--due cannot exceed --items")

    scratch = None
    url = args.database_url
    if url is None:
        scratch = f"confsvc_bench_{uuid.uuid4().hex[:8]}"
        asyncio.run(_admin(args.postgres, f'CREATE DATABASE "{scratch}"'))
        url = make_url(args.postgres).set(database=scratch).render_as_string(hide_password=False)
    try:
        result = asyncio.run(run(url, items=args.items, due=args.due, batch_size=args.batch_size))
    finally:
        if scratch is not None:
            asyncio.run(_admin(args.postgres, f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))

    database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    if database == "PostgreSQL":
        database += " " + asyncio.run(_server_version(args.postgres))
    command = "python bench/followup_sweep.py " + " ".join(sys.argv[1:])
    markdown = report_markdown(result, command=command.strip(), database=database)
    if str(args.output) == "-":
        print(markdown)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(markdown, encoding="utf-8")
        print(json.dumps({k: v for k, v in result.__dict__.items() if k != "plan"}))


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _server_version(url: str) -> str:
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


if __name__ == "__main__":
    main()
