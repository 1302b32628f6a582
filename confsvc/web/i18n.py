"""Language choice and locale-aware formatting for the web pages.

The language of a page is, in order: the ``confsvc_lang`` cookie set by the language switch,
the person's ``locale``, the browser's Accept-Language, the configured default. Dates and
times are shown in the person's time zone (else the organisation's) with Babel's patterns
for that language, e.g. ``2026年3月2日星期一 09:30`` or ``Monday, March 2, 2026 9:30 AM``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_datetime, format_time, format_timedelta
from babel.numbers import format_decimal
from litestar import Request

from confsvc.db.models import Person
from confsvc.i18n import SUPPORTED_LOCALES, negotiate, normalise_locale

LANG_COOKIE = "confsvc_lang"


def babel_locale(locale: str) -> str:
    """Map a confsvc locale (``zh-CN``, ``en``) to Babel's identifier."""
    return locale.replace("-", "_")


def choose_locale(request: Request[Any, Any, Any], person: Person | None, *, default: str) -> str:
    """Return the page language for this request."""
    chosen = normalise_locale(request.cookies.get(LANG_COOKIE))
    if chosen in SUPPORTED_LOCALES:
        return chosen
    preferred = normalise_locale(person.locale) if person is not None else None
    if preferred in SUPPORTED_LOCALES:
        return preferred
    return negotiate(request.headers.get("accept-language"), default=default)


def choose_zone(person: Person | None, *, default: str) -> ZoneInfo:
    """Return the person's time zone, or ``default`` when they have none or an unknown one."""
    for name in ((person.time_zone if person else None), default):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


class Formatter:
    """Format instants (aware datetimes) for one language and time zone."""

    def __init__(self, locale: str, zone: ZoneInfo) -> None:
        self.locale = babel_locale(locale)
        self.zone = zone

    def when(self, value: datetime | None) -> str:
        """Weekday, date and time, e.g. ``2026年3月2日星期一 09:30``."""
        if value is None:
            return ""
        local = value.astimezone(self.zone)
        return f"{format_date(local.date(), 'full', locale=self.locale)} {format_time(local, 'short', locale=self.locale)}"

    def date(self, value: datetime | date | None) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            value = value.astimezone(self.zone).date()
        return format_date(value, "medium", locale=self.locale)

    def time(self, value: datetime | None) -> str:
        if value is None:
            return ""
        return format_time(value.astimezone(self.zone), "short", locale=self.locale)

    def stamp(self, value: datetime | None) -> str:
        """Short date and time, e.g. for lists of deliveries."""
        if value is None:
            return ""
        return format_datetime(value.astimezone(self.zone), "short", tzinfo=self.zone, locale=self.locale)

    def minutes(self, count: int | None) -> str:
        """Format a duration given in minutes, e.g. ``90 分钟`` / ``90 minutes``."""
        if count is None:
            return ""
        return format_timedelta(count * 60, threshold=10_000, granularity="minute", locale=self.locale)

    def size(self, count: int) -> str:
        """Format a file size in bytes with binary units, e.g. ``1.5 MB`` (1 MB = 1024 × 1024 bytes)."""
        if count < 1024:
            return f"{format_decimal(count, locale=self.locale)} B"
        if count < 1024 * 1024:
            return f"{format_decimal(count / 1024, format='#,##0.#', locale=self.locale)} KB"
        return f"{format_decimal(count / (1024 * 1024), format='#,##0.#', locale=self.locale)} MB"

    def zone_name(self) -> str:
        return self.zone.key
