"""Jinja environment and filters shared by the .docx, HTML and Markdown minutes templates.

Date filters show an instant in the meeting's time zone: the ``tz`` argument if given,
else ``meeting.timezone`` from the template context, else Asia/Shanghai. They accept aware
datetimes, ISO 8601 strings with an offset, and ``None`` (rendered as an empty string).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from jinja2 import BaseLoader, Environment, StrictUndefined, pass_context
from jinja2.runtime import Context

from confsvc.minutes.render_context import DEFAULT_TIMEZONE

__all__ = ["FILTER_NAMES", "minutes_environment"]

_MONTHS_EN: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _zone_for(ctx: Context, tz: str | None) -> ZoneInfo:
    if tz:
        return ZoneInfo(tz)
    meeting = ctx.get("meeting")
    name = None
    if isinstance(meeting, Mapping):
        name = meeting.get("timezone")
    return ZoneInfo(name or DEFAULT_TIMEZONE)


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
    if value.utcoffset() is None:
        raise ValueError(f"datetime {value.isoformat()} has no time zone")
    return value


def _as_date(value: Any, zone: ZoneInfo) -> date:
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        return _as_datetime(value).astimezone(zone).date()
    if isinstance(value, date):
        return value
    raise TypeError(f"expected a date, got {type(value).__name__}: {value!r}")


@pass_context
def datetime_cn(ctx: Context, value: Any, tz: str | None = None) -> str:
    """Format as ``2026年12月10日 14:00`` in the meeting's zone."""
    if value is None or value == "":
        return ""
    local = _as_datetime(value).astimezone(_zone_for(ctx, tz))
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


@pass_context
def date_cn(ctx: Context, value: Any, tz: str | None = None) -> str:
    """Format as ``2026年12月10日``; a datetime is first converted to the meeting's zone."""
    if value is None or value == "":
        return ""
    day = _as_date(value, _zone_for(ctx, tz))
    return f"{day.year}年{day.month}月{day.day}日"


@pass_context
def datetime_en(ctx: Context, value: Any, tz: str | None = None) -> str:
    """Format as ``10 December 2026, 14:00`` in the meeting's zone."""
    if value is None or value == "":
        return ""
    local = _as_datetime(value).astimezone(_zone_for(ctx, tz))
    return f"{local.day} {_MONTHS_EN[local.month - 1]} {local.year}, {local:%H:%M}"


@pass_context
def date_en(ctx: Context, value: Any, tz: str | None = None) -> str:
    """Format as ``10 December 2026``; a datetime is first converted to the meeting's zone."""
    if value is None or value == "":
        return ""
    day = _as_date(value, _zone_for(ctx, tz))
    return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


@pass_context
def time_hm(ctx: Context, value: Any, tz: str | None = None) -> str:
    """Format as ``14:00`` (24-hour clock) in the meeting's zone."""
    if value is None or value == "":
        return ""
    return f"{_as_datetime(value).astimezone(_zone_for(ctx, tz)):%H:%M}"


def names(people: Iterable[Any] | None, separator: str = "、") -> str:
    """Join the ``name`` of each person (or each string) with ``separator``."""
    if not people:
        return ""
    parts = []
    for person in people:
        parts.append(person.get("name", "") if isinstance(person, Mapping) else str(person))
    return separator.join(parts)


_FILTERS: Final[dict[str, Callable[..., str]]] = {
    "datetime_cn": datetime_cn,
    "date_cn": date_cn,
    "datetime_en": datetime_en,
    "date_en": date_en,
    "time_hm": time_hm,
    "names": names,
}

FILTER_NAMES: Final = frozenset(_FILTERS)


_MARKDOWN_SPECIAL_RE: Final = re.compile(r"([\\`*_\[\]<>#|~])")


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def _finalize_markdown(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        return _MARKDOWN_SPECIAL_RE.sub(r"\\\1", value)
    return value


def minutes_environment(
    *, autoescape: bool, loader: BaseLoader | None = None, escape_markdown: bool = False
) -> Environment:
    """Create a Jinja environment with the minutes filters.

    Undefined names raise (StrictUndefined) and ``None`` prints as an empty string. With
    ``escape_markdown``, Markdown syntax characters in printed strings are backslash-escaped.
    """
    env = Environment(
        autoescape=autoescape,
        loader=loader,
        undefined=StrictUndefined,
        finalize=_finalize_markdown if escape_markdown else _finalize,
        keep_trailing_newline=True,
    )
    env.filters.update(_FILTERS)
    return env
