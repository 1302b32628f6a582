"""The migrated schema and the SQLAlchemy models declare the same indexes, on both databases."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from confsvc.db.engine import create_engine
from confsvc.db.models import Base
from confsvc.settings import Settings

POSTGRES_ONLY_INDEXES = {"ix_person_email_trgm", "ix_minutes_resolution_text_trgm", "ix_minutes_resolution_responsible_trgm"}
"""Trigram GIN indexes that the models declare with ``ddl_if(dialect="postgresql")``;
Alembic's comparison ignores ``ddl_if``, so on SQLite it reports them as missing."""
MIGRATION_ONLY_INDEXES = {"ix_person_name_trgm"}
"""An expression index that only the migration creates (see the NOTE on ``Person``)."""


def _index_name(diff: Any) -> str | None:
    if isinstance(diff, tuple) and diff and diff[0] in ("add_index", "remove_index"):
        return str(diff[1].name)
    return None


async def test_scale_models_match_migrated_indexes(settings: Settings) -> None:
    engine = create_engine(settings.database)
    try:
        async with engine.connect() as connection:
            dialect = connection.dialect.name

            def compare(sync_connection: Any) -> tuple[list[Any], dict[str, set[str]]]:
                context = MigrationContext.configure(sync_connection, opts={"compare_type": False})
                inspector = inspect(sync_connection)
                indexes = {
                    table: {index["name"] for index in inspector.get_indexes(table)}
                    for table in ("meeting", "person", "action_item", "audit_event", "outbox_message")
                }
                return list(compare_metadata(context, Base.metadata)), indexes

            diffs, indexes = await connection.run_sync(compare)
    finally:
        await engine.dispose()

    ignored = MIGRATION_ONLY_INDEXES | (POSTGRES_ONLY_INDEXES if dialect == "sqlite" else set())
    assert [diff for diff in diffs if _index_name(diff) not in ignored] == []
    assert {"ix_meeting_organiser_starts", "ix_meeting_bridge_starts", "ix_meeting_chair_id"} <= indexes["meeting"]
    assert "ix_meeting_organiser_id" not in indexes["meeting"]
    assert "ix_person_department_id" in indexes["person"]
    assert "ix_action_item_active_due" in indexes["action_item"]
    assert "ix_audit_event_actor_email" in indexes["audit_event"]
    assert "ix_outbox_message_created_at" in indexes["outbox_message"]
    if dialect == "postgresql":
        assert {"ix_person_email_trgm", "ix_person_name_trgm"} <= indexes["person"]
