"""Alembic environment: runs migrations on the async engine that confsvc uses."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from confsvc.db.engine import create_engine
from confsvc.db.models import Base
from confsvc.settings import DatabaseSettings

config = context.config
target_metadata = Base.metadata
MIGRATION_LOCK_ID = 72_635_400_012


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Processes starting together migrate one after another; the later ones
            # then find the schema current and do nothing.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})")
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(DatabaseSettings(url=config.get_main_option("sqlalchemy.url")))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
