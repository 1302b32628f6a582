"""The follow-up demo loader and the migration of the follow-up schema."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from confsvc.db.migrate import alembic_config
from confsvc.db.models import ActionItem, Base, OutboxMessage, ReminderLog
from confsvc.followup.demo import load_followup_demo
from confsvc.settings import Settings

NOW = datetime(2026, 10, 14, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai, a Wednesday


async def test_followup_demo_every_state(fu_settings: Settings, fu_sessions: async_sessionmaker[AsyncSession]) -> None:
    async with fu_sessions() as session:
        demo = await load_followup_demo(session, fu_settings, now=NOW)
        await session.commit()
    assert set(demo.items_by_status) == {"open", "in_progress", "done", "closed", "cancelled"}
    assert demo.reminders > 5

    async with fu_sessions() as session:
        kinds = set((await session.execute(select(ReminderLog.kind))).scalars())
        queued = (await session.execute(select(func.count()).select_from(OutboxMessage))).scalar_one()
        stale = (await session.execute(
            select(func.count()).select_from(ActionItem).where(ActionItem.next_reminder_at <= NOW)
        )).scalar_one()
        again = await load_followup_demo(session, fu_settings, now=NOW)
    assert {"before_due", "due", "notice", "overdue", "escalate_head", "escalate_sms"} <= kinds
    assert queued > 0  # today's reminders only; history is in the log
    assert stale == 0
    assert again.items_by_status == demo.items_by_status


def test_followup_migration_matches_models(tmp_path: Path) -> None:
    path = tmp_path / "migrated.sqlite3"
    config = alembic_config(f"sqlite+aiosqlite:///{path}")
    command.upgrade(config, "head")
    engine = create_sync_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            # SQLite reflects the UUID columns as NUMERIC, so column types are not compared here.
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            diff = compare_metadata(context, Base.metadata)
        ours = ("action_item", "action_item_update", "due_date_change", "reminder_log", "holiday_override")
        assert [d for d in diff if any(name in str(d) for name in ours)] == []

        command.downgrade(config, "0005")
        with engine.connect() as connection:
            inspector = inspect(connection)
            assert "reminder_log" not in inspector.get_table_names()
            assert "next_reminder_at" not in {c["name"] for c in inspector.get_columns("action_item")}
    finally:
        engine.dispose()
