"""Expanding recurring events into occurrences, and choosing the next SEQUENCE."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import recurring_ical_events

from confsvc.booking.ical.errors import ICalendarError
from confsvc.booking.ical.model import MeetingSnapshot, Occurrence, ParsedCalendar, ParsedEvent
from confsvc.booking.ical.parse import parse_calendar
from confsvc.booking.ical.timezones import iana_zone

__all__ = ["expand_occurrences", "needs_new_sequence", "next_sequence"]


def expand_occurrences(
    calendar: ParsedCalendar | bytes,
    start: datetime,
    end: datetime,
    *,
    default_tz: str | None = None,
) -> list[Occurrence]:
    """Return the active occurrences that overlap [``start``, ``end``), sorted by start.

    RRULE, RDATE, EXDATE (compared as instants) and RECURRENCE-ID overrides are applied by
    recurring-ical-events on the zone-resolved copy of the calendar. Occurrences with
    STATUS:CANCELLED are left out. All-day occurrences get instants at local midnight in the
    calendar's default zone. ``default_tz`` is required when ``calendar`` is bytes.

    Raises:
        ValueError: ``start`` or ``end`` is naive, or bytes come without ``default_tz``.
        ICalendarError: the calendar cannot be parsed or its recurrence cannot be expanded.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("expand_occurrences needs timezone-aware start and end")
    if isinstance(calendar, (bytes, bytearray)):
        if default_tz is None:
            raise ValueError("default_tz is required when expanding raw calendar bytes")
        calendar = parse_calendar(bytes(calendar), default_tz=default_tz)

    day_zone = iana_zone(calendar.default_timezone) or UTC
    try:
        components = recurring_ical_events.of(calendar.normalized).between(start, end)
    except Exception as exc:  # noqa: BLE001 - the library raises many kinds for bad rules
        raise ICalendarError(f"recurrence cannot be expanded: {exc}") from exc

    occurrences = []
    for component in components:
        status = str(component.get("STATUS", "")).strip().upper()
        if status == "CANCELLED":
            continue
        occurrences.append(_occurrence(component, day_zone))
    occurrences.sort(key=lambda occurrence: (occurrence.start, occurrence.uid))
    return occurrences


def _occurrence(component: object, day_zone: tzinfo) -> Occurrence:
    first = component["DTSTART"].dt  # type: ignore[index]
    last = component["DTEND"].dt if "DTEND" in component else first  # type: ignore[index, operator]
    all_day = not isinstance(first, datetime)
    if all_day:
        start = datetime.combine(first, time(0), tzinfo=day_zone).astimezone(UTC)
        end = datetime.combine(last, time(0), tzinfo=day_zone).astimezone(UTC)
        days = max((last - first).days, 1)
        dates = tuple(first + timedelta(days=offset) for offset in range(days))
    else:
        start = first.astimezone(UTC)
        end = last.astimezone(UTC)
        local_last = last - timedelta(microseconds=1) if last > first else first
        count = (local_last.astimezone(first.tzinfo).date() - first.date()).days
        dates = tuple(first.date() + timedelta(days=offset) for offset in range(count + 1))
        flag = str(component.get("X-MICROSOFT-CDO-ALLDAYEVENT", "")).upper()  # type: ignore[attr-defined]
        all_day = flag == "TRUE" or (first.time() == time(0) and last.time() == time(0) and last > first)

    recurrence = component.get("RECURRENCE-ID")  # type: ignore[attr-defined]
    recurrence_id: date | datetime | None = recurrence.dt if recurrence is not None else first
    if isinstance(recurrence_id, datetime):
        recurrence_id = recurrence_id.astimezone(UTC)
    summary = component.get("SUMMARY")  # type: ignore[attr-defined]
    location = component.get("LOCATION")  # type: ignore[attr-defined]
    return Occurrence(
        uid=str(component.get("UID", "")),  # type: ignore[attr-defined]
        start=start,
        end=end,
        all_day=all_day,
        dates=dates,
        recurrence_id=recurrence_id,
        sequence=int(component.get("SEQUENCE", 0)),  # type: ignore[attr-defined]
        summary=str(summary) if summary is not None else None,
        location=str(location) if location is not None else None,
    )


def next_sequence(components: Iterable[ParsedEvent | int], *, uid: str | None = None) -> int:
    """Return the SEQUENCE for the next message about a UID: the highest one seen plus 1.

    ``components`` are the stored master and overrides of the meeting (or their SEQUENCE
    numbers). Overrides may carry a higher SEQUENCE than the master, so the maximum over
    every component counts. With ``uid`` given, events of other UIDs are ignored. An
    empty input gives 0 (a first message).
    """
    highest = -1
    for component in components:
        if isinstance(component, int):
            highest = max(highest, component)
        elif uid is None or component.uid == uid:
            highest = max(highest, component.sequence)
    return highest + 1


def needs_new_sequence(old: MeetingSnapshot, new: MeetingSnapshot) -> bool:
    """Return True when ``new`` changes what attendees must answer again (RFC 5546 2.1.4).

    That is the time, the time zone, the room, the bridge (dial-in, codes, join link) or the
    recurrence (RRULE, EXDATE, overrides). Summary, description and attendee changes alone
    do not raise SEQUENCE.
    """
    return (
        old.start != new.start
        or old.end != new.end
        or old.timezone != new.timezone
        or old.room != new.room
        or old.conference != new.conference
        or old.rrule != new.rrule
        or set(old.exdates) != set(new.exdates)
        or set(old.overrides) != set(new.overrides)
    )
