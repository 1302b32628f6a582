"""Numbers of approved minutes from the configured pattern, without gaps or duplicates.

Each counter is one ``minutes_counter`` row. ``next_number`` runs inside the approval's
transaction: it makes sure the row exists, locks it, raises its value and returns the
number. On PostgreSQL the lock is ``SELECT ... FOR UPDATE``, so a concurrent approval waits
until this transaction ends. On SQLite the engine opens every transaction with
``BEGIN IMMEDIATE``, which already holds the database's write lock. A rolled-back
approval also rolls back its increment, so numbers have no gaps.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.db.models import Meeting, MinutesCounter
from confsvc.settings import MinutesSettings


@dataclass(frozen=True)
class IssuedNumber:
    text: str
    key: str
    seq: int


def counter_key(settings: MinutesSettings, *, meeting: Meeting, year: int) -> str:
    """Return the counter for ``meeting``: the organisation's or the series', per year when
    the pattern shows the year."""
    scope = f"series:{meeting.id}" if settings.counter_scope == "series" else "organisation"
    return f"{scope}:{year}" if "{year" in settings.number_pattern else scope


async def next_number(
    session: AsyncSession, settings: MinutesSettings, *, meeting: Meeting, now: datetime, time_zone: str
) -> IssuedNumber:
    """Take the next number of the meeting's counter; ``now`` (aware) gives the year in
    ``time_zone``. The row stays locked until the caller's transaction ends."""
    year = now.astimezone(ZoneInfo(time_zone)).year
    key = counter_key(settings, meeting=meeting, year=year)
    stamp = datetime.now(UTC)
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(MinutesCounter)
        .values(id=uuid.uuid4(), key=key, value=0, created_at=stamp, updated_at=stamp)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    counter = (
        await session.scalars(
            select(MinutesCounter)
            .where(MinutesCounter.key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one()
    counter.value += 1
    await session.flush()
    return IssuedNumber(text=settings.number_pattern.format(year=year, seq=counter.value), key=key, seq=counter.value)
