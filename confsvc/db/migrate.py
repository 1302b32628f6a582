"""Apply Alembic migrations from code (``confsvc db upgrade`` and ``confsvc serve``)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from confsvc.db.engine import create_engine
from confsvc.settings import DatabaseSettings

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(settings: DatabaseSettings, *, revision: str = "head") -> None:
    """Bring the schema to ``revision``; blocking, so call it outside the event loop."""
    logger.info("database migration started")
    command.upgrade(alembic_config(settings.url), revision)
    logger.info("database migration finished")


async def upgrade_async(settings: DatabaseSettings) -> None:
    await asyncio.to_thread(upgrade, settings)


async def current_revision_is_head(settings: DatabaseSettings) -> bool:
    """Tell whether the database is at the newest migration (used by the readiness check)."""
    head = ScriptDirectory.from_config(alembic_config(settings.url)).get_current_head()
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(
                lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
            )
    finally:
        await engine.dispose()
    return current == head
