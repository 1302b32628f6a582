"""Working-day calendar for due dates and reminders.

Where a day's status comes from, first match wins:

1. the administrator's override table (holidays and adjusted working days, 调休);
2. for China (``CN``): ``chinese-calendar`` for the years it has data for (it includes
   调休), else ``holidays``, which is official for years whose State Council schedule it
   lists and a rule-based guess without 调休 otherwise;
3. for other countries: ``holidays`` for that country (rule-based);
4. for a country that neither library supports: Monday to Friday.

A year without an official schedule is reported by :meth:`WorkdayCalendar.coverage` for
the admin view and logged as a warning once per (country, year) per process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar
import holidays

from confsvc.errors import ValidationFailed

__all__ = [
    "CoverageSource",
    "OverrideDay",
    "Overrides",
    "WorkdayCalendar",
    "YearCoverage",
    "overrides_from_days",
]

_module_logger = logging.getLogger(__name__)

CoverageSource = Literal["official", "override", "rules", "weekdays"]

Overrides = Mapping[date, bool] | Callable[[], Mapping[date, bool]]
"""Day → working (True) or day off (False). A callable is called on every lookup, so it can
return a cached snapshot that the caller refreshes when an administrator edits the table."""

MAX_NON_WORKING_RUN = 3660
"""Consecutive days off after which a search gives up (ten years; only a broken table gets
there)."""

_logged_years: set[tuple[str, int]] = set()
_logged_years_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class OverrideDay:
    """One row of the administrator's table, e.g. ``(2027-02-06, False, "春节")``."""

    day: date
    working: bool
    name: str = ""


@dataclass(frozen=True, slots=True)
class YearCoverage:
    """Source of the working days of ``year``, with a sentence for the admin view."""

    year: int
    source: CoverageSource
    message: str


def overrides_from_days(days: Iterable[OverrideDay]) -> dict[date, bool]:
    """Build the ``overrides`` mapping from table rows.

    Raises:
        ValidationFailed: one date appears twice with different values (param ``overrides``).
    """
    result: dict[date, bool] = {}
    for row in days:
        if isinstance(row.day, datetime):
            raise ValidationFailed.field("overrides", f"{row.day!r} is a datetime, not a date")
        previous = result.get(row.day)
        if previous is not None and previous != row.working:
            raise ValidationFailed.field(
                "overrides", f"{row.day.isoformat()} is listed as both working and day off"
            )
        result[row.day] = row.working
    return result


@dataclass(frozen=True, slots=True)
class _YearRule:
    source: CoverageSource
    message: str
    is_working: Callable[[date], bool]


def _is_weekday(day: date) -> bool:
    return day.weekday() < 5


class WorkdayCalendar:
    """Working days of one country, with an override table on top.

    ``country`` is an ISO 3166-1 alpha-2 code (``"CN"`` by default); ``subdivision`` picks a
    region where ``holidays`` has them (a German state, for example). Library data is
    loaded lazily per year and cached in the instance.

    Raises:
        ValidationFailed: ``holidays`` has no such ``subdivision`` for ``country``.
    """

    def __init__(
        self,
        *,
        country: str = "CN",
        subdivision: str | None = None,
        overrides: Overrides | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.country = country.strip().upper()
        self.subdivision = subdivision
        self._overrides: Overrides = overrides if overrides is not None else {}
        self._logger = logger or _module_logger
        self._years: dict[int, _YearRule] = {}
        self._lock = threading.Lock()

        supported = holidays.list_supported_countries()
        self._known_to_holidays = self.country in supported
        if subdivision is not None and (
            not self._known_to_holidays or subdivision not in supported[self.country]
        ):
            raise ValidationFailed.field(
                "subdivision", f"{subdivision!r} is not a known subdivision of {self.country}"
            )

    # --- day status ------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        """Return whether ``day`` is a working day.

        Raises:
            TypeError: ``day`` is a datetime; convert the instant to the local date first,
                because the date depends on the time zone.
        """
        if isinstance(day, datetime):
            raise TypeError("is_working_day takes a date; convert the datetime to a local date")

        override = self._current_overrides().get(day)
        if override is not None:
            return override
        return self._rule_for(day.year).is_working(day)

    def add_working_days(self, day: date, count: int) -> date:
        """Return the date ``count`` working days after ``day`` (before it when negative).

        ``day`` itself is never counted, so ``count=1`` is the next working day; ``count=0``
        returns ``day`` unchanged, working or not.
        """
        step = timedelta(days=1 if count > 0 else -1)
        remaining = abs(count)
        current = day
        idle = 0
        while remaining:
            current += step
            if self.is_working_day(current):
                remaining -= 1
                idle = 0
            else:
                idle += 1
                self._check_idle(idle, current)
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Count working days ``d`` with ``start < d <= end``; negative when ``end < start``.

        ``working_days_between(d, add_working_days(d, n)) == n`` for every ``n >= 0``.
        """
        if end < start:
            return -self.working_days_between(end, start)

        count = 0
        current = start + timedelta(days=1)
        while current <= end:
            if self.is_working_day(current):
                count += 1
            current += timedelta(days=1)
        return count

    def next_working_day_at(
        self, instant: datetime, *, local_time: time = time(9, 0), tz: tzinfo | str
    ) -> datetime:
        """Return the first instant strictly after ``instant`` that is ``local_time`` on a
        working day in ``tz`` (an IANA name or tzinfo), as an aware datetime in ``tz``.

        A ``local_time`` that a DST change skips on that day moves forward by the size of
        the gap, as the wall clock does. An ambiguous one takes its first occurrence.
        The result is strictly after ``instant``, so a reminder sent at 09:00:00 is next due
        a working day later, never again at the same instant.

        Raises:
            ValueError: ``instant`` is naive or ``local_time`` carries a tzinfo.
            ValidationFailed: ``tz`` is not a known IANA time zone (param ``tz``).
        """
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError("instant must be a timezone-aware datetime")
        if local_time.tzinfo is not None:
            raise ValueError("local_time must be a wall-clock time without tzinfo")
        zone = _zone(tz)

        day = instant.astimezone(zone).date()
        idle = 0
        while True:
            if self.is_working_day(day):
                candidate = _wall_clock_instant(day, local_time, zone)
                if candidate > instant:
                    return candidate
            else:
                idle += 1
                self._check_idle(idle, day)
            day += timedelta(days=1)

    # --- coverage --------------------------------------------------------------------

    def coverage(self, year: int) -> YearCoverage:
        """Report where the working days of ``year`` come from, for the admin view.

        ``"official"``: a library has the published schedule (override days may still
        change single days). ``"override"``: the library has no official schedule but the
        override table has days in ``year``. ``"rules"``: holidays computed from rules,
        without one-off changes such as 调休. ``"weekdays"``: Monday to Friday only.
        Logs the warning for a year without official data if it was not logged yet.
        """
        rule = self._rule_for(year)
        override_days = sum(1 for day in self._current_overrides() if day.year == year)

        if rule.source == "official":
            if override_days:
                return YearCoverage(
                    year,
                    "official",
                    f"{rule.message} The holiday table changes {override_days} of its days.",
                )
            return YearCoverage(year, "official", rule.message)
        if override_days:
            return YearCoverage(
                year,
                "override",
                f"{override_days} days of {year} come from the holiday table; the other days "
                f"follow this fallback: {rule.message}",
            )
        return YearCoverage(year, rule.source, rule.message)

    # --- internals -------------------------------------------------------------------

    def _current_overrides(self) -> Mapping[date, bool]:
        if callable(self._overrides):
            return self._overrides()
        return self._overrides

    def _check_idle(self, idle: int, day: date) -> None:
        if idle > MAX_NON_WORKING_RUN:
            raise ValueError(
                f"no working day within {MAX_NON_WORKING_RUN} days of {day.isoformat()} "
                f"for country {self.country}; check the holiday table"
            )

    def _rule_for(self, year: int) -> _YearRule:
        rule = self._years.get(year)
        if rule is not None:
            return rule

        with self._lock:
            rule = self._years.get(year)
            if rule is None:
                rule = self._load_year(year)
                self._years[year] = rule
        self._log_fallback(year, rule)
        return rule

    def _load_year(self, year: int) -> _YearRule:
        if self.country == "CN" and _chinese_calendar_has(year):
            return _YearRule(
                "official",
                f"Holidays and adjusted working days of {year} come from the official schedule "
                f"in chinese-calendar {chinese_calendar.__version__}.",
                chinese_calendar.is_workday,
            )

        if not self._known_to_holidays:
            return _YearRule(
                "weekdays",
                f"No holiday data for country {self.country}; Monday to Friday are working "
                f"days in {year}. Enter its holidays in the holiday table.",
                _is_weekday,
            )

        try:
            calendar = holidays.country_holidays(self.country, subdiv=self.subdivision, years=year)
        except (NotImplementedError, KeyError, ValueError) as exc:
            self._logger.warning(
                "holiday library failed: country=%s year=%s error=%s", self.country, year, exc
            )
            return _YearRule(
                "weekdays",
                f"The holidays library cannot compute {year} for {self.country}; Monday to "
                "Friday are working days. Enter its holidays in the holiday table.",
                _is_weekday,
            )

        library = f"holidays {holidays.__version__}"
        if self.country == "CN" and year in calendar.special_public_holidays:
            return _YearRule(
                "official",
                f"Holidays and adjusted working days of {year} come from the official schedule "
                f"in {library}.",
                calendar.is_working_day,
            )
        if self.country == "CN":
            return _YearRule(
                "rules",
                f"No official holiday schedule for {year} is known yet. Holidays follow the "
                f"rules of {library}, without adjusted working days (调休); enter the State "
                "Council schedule in the holiday table once it is published.",
                calendar.is_working_day,
            )
        return _YearRule(
            "rules",
            f"Public holidays of {self.country} in {year} follow the rules of {library}; "
            "one-off holidays count only if that library lists them.",
            calendar.is_working_day,
        )

    def _log_fallback(self, year: int, rule: _YearRule) -> None:
        # Only a source worse than the country normally gets is worth a warning: for CN
        # that is anything but official, elsewhere only the Monday-to-Friday fallback.
        expected_rules = self.country != "CN" and rule.source == "rules"
        if rule.source == "official" or expected_rules:
            return
        if any(day.year == year for day in self._current_overrides()):
            return

        key = (self.country, year)
        with _logged_years_lock:
            if key in _logged_years:
                return
            _logged_years.add(key)
        self._logger.warning(
            "no official holiday data: country=%s year=%s source=%s",
            self.country,
            year,
            rule.source,
        )


def _chinese_calendar_has(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _zone(tz: tzinfo | str) -> tzinfo:
    if not isinstance(tz, str):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed.field("tz", f"unknown IANA time zone {tz!r}") from exc


def _wall_clock_instant(day: date, local_time: time, zone: tzinfo) -> datetime:
    # fold=0 takes the first of two ambiguous times; the round trip through UTC moves a
    # time inside a DST gap forward by the gap, as the wall clock does.
    local = datetime.combine(day, local_time).replace(tzinfo=zone, fold=0)
    return local.astimezone(UTC).astimezone(zone)
