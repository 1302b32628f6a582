"""The working-day calendar of follow-up: library data plus the administrator's table.

One :class:`WorkdayCalendar` per country lives for the process, so library years are
loaded once; its override table is a snapshot that :func:`load_calendar` refreshes from
``holiday_override`` each time a sweep or request needs the calendar.
"""

from __future__ import annotations

import threading
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.db.models import HolidayOverride
from confsvc.errors import ValidationFailed
from confsvc.followup.workdays import OverrideDay, WorkdayCalendar, overrides_from_days

__all__ = ["load_calendar", "replace_year"]

_lock = threading.Lock()
_calendars: dict[str, WorkdayCalendar] = {}
_snapshots: dict[str, dict[date, bool]] = {}


def _calendar(country: str) -> WorkdayCalendar:
    with _lock:
        calendar = _calendars.get(country)
        if calendar is None:
            _snapshots.setdefault(country, {})
            calendar = WorkdayCalendar(country=country, overrides=lambda: _snapshots[country])
            _calendars[country] = calendar
        return calendar


async def load_calendar(session: AsyncSession, country: str) -> WorkdayCalendar:
    """Return the calendar of ``country`` with the override table as stored now."""
    country = country.upper()
    rows = (await session.execute(
        select(HolidayOverride.day, HolidayOverride.working).where(HolidayOverride.country == country)
    )).all()
    calendar = _calendar(country)
    _snapshots[country] = {day: working for day, working in rows}
    return calendar


async def replace_year(session: AsyncSession, country: str, year: int, days: list[OverrideDay]) -> None:
    """Replace the table rows of ``country`` in ``year`` with ``days`` (in the caller's transaction).

    Raises:
        ValidationFailed: a day lies outside ``year`` or is listed twice with different values.
    """
    for row in days:
        if row.day.year != year:
            raise ValidationFailed.field("days", f"{row.day.isoformat()} is not in {year}")
    overrides_from_days(days)
    names = {row.day: row.name for row in days}
    working = {row.day: row.working for row in days}

    await session.execute(
        delete(HolidayOverride).where(
            HolidayOverride.country == country,
            HolidayOverride.day >= date(year, 1, 1),
            HolidayOverride.day <= date(year, 12, 31),
        )
    )
    session.add_all(
        HolidayOverride(country=country, day=day, working=working[day], name=names[day][:100])
        for day in sorted(working)
    )
    await session.flush()
