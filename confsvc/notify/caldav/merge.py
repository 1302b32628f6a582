"""Preparing event objects for storage and merging them with the copy on the server.

confsvc owns the scheduling properties of its meetings (time, text, people, SEQUENCE,
STATUS, recurrence, conference details). Other clients add alarms, categories and X-
properties to the same object in a person's calendar. After a 412 the writer merges the
two: every property that confsvc manages or sends comes from confsvc, every other property
and every VALARM stays as the server has it, unless confsvc sends VALARMs of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from icalendar import Calendar, Component

from confsvc.errors import ICalendarError

MANAGED_PROPERTIES = frozenset(
    {
        "UID",
        "RECURRENCE-ID",
        "DTSTAMP",
        "LAST-MODIFIED",
        "SEQUENCE",
        "DTSTART",
        "DTEND",
        "DURATION",
        "SUMMARY",
        "DESCRIPTION",
        "LOCATION",
        "ORGANIZER",
        "ATTENDEE",
        "STATUS",
        "RRULE",
        "RDATE",
        "EXDATE",
        "CONFERENCE",
    }
)
"""Properties of a VEVENT that confsvc sets. A merge replaces the server's values of these."""

_UNREPORTED = frozenset({"DTSTAMP", "LAST-MODIFIED", "SEQUENCE"})
"""Managed properties that change on every write, so a difference is not worth a trace."""

_CALENDAR_PROPERTIES = frozenset({"VERSION", "PRODID", "CALSCALE", "METHOD"})
_OBJECT_COMPONENTS = frozenset({"VEVENT", "VTODO", "VJOURNAL"})


@dataclass(frozen=True, slots=True)
class MergedObject:
    body: bytes
    overwritten: tuple[str, ...]
    """Sorted names of server-side values that confsvc replaced or dropped, e.g. ``SUMMARY``,
    ``VALARM`` or ``VEVENT;RECURRENCE-ID=20261217T060000Z``."""


def parse_calendar(data: bytes, *, label: str) -> Calendar:
    """Parse one VCALENDAR. Raises ICalendarError naming ``label`` when it is invalid."""
    try:
        calendar = Calendar.from_ical(data)
    except ValueError as exc:
        raise ICalendarError(f"{label} is not a valid iCalendar object: {exc}") from exc
    if calendar.name != "VCALENDAR":
        raise ICalendarError(f"{label} is a {calendar.name}, not a VCALENDAR")
    return calendar


def object_uids(calendar: Calendar) -> set[str]:
    """Return the UIDs of the VEVENT, VTODO and VJOURNAL components, as stored."""
    return {
        str(component["UID"])
        for component in calendar.subcomponents
        if component.name in _OBJECT_COMPONENTS and "UID" in component
    }


def prepare_for_storage(ics: bytes, *, uid: str) -> bytes:
    """Check that ``ics`` is one calendar object with UID ``uid`` and make it storable.

    A calendar object resource must not carry an iTIP METHOD (RFC 4791, section 4.1), so
    METHOD is removed. Only in that case is the object serialised again. Otherwise the
    bytes are returned unchanged. Raises ICalendarError for invalid data, a missing UID or a UID
    other than ``uid``.
    """
    calendar = parse_calendar(ics, label="the event to store")

    uids = object_uids(calendar)
    if uids != {uid}:
        raise ICalendarError(f"the event to store must have exactly UID {uid!r}, found {sorted(uids)!r}")

    if "METHOD" not in calendar:
        return ics
    del calendar["METHOD"]
    return calendar.to_ical()


def merge_with_server_copy(ours: bytes, theirs: bytes) -> MergedObject:
    """Merge confsvc's version of an event with the version currently on the server.

    ``ours`` must already have passed ``prepare_for_storage``. Components are matched by
    RECURRENCE-ID. Server-only overrides are dropped and reported, because confsvc's
    recurrence set is authoritative. An unreadable server copy is replaced entirely and
    reported as ``*``. Raises ICalendarError when ``ours`` is invalid.
    """
    our_calendar = parse_calendar(ours, label="the event to store")
    try:
        their_calendar = parse_calendar(theirs, label="the server copy")
    except ICalendarError:
        return MergedObject(body=ours, overwritten=("*",))

    overwritten: set[str] = set()
    theirs_by_recurrence = {
        _recurrence_key(component): component
        for component in their_calendar.subcomponents
        if component.name in _OBJECT_COMPONENTS
    }

    for component in our_calendar.subcomponents:
        if component.name not in _OBJECT_COMPONENTS:
            continue
        their_component = theirs_by_recurrence.pop(_recurrence_key(component), None)
        if their_component is not None:
            overwritten |= _merge_component(component, their_component)

    for key in theirs_by_recurrence:
        overwritten.add(f"VEVENT;RECURRENCE-ID={key}" if key else "VEVENT")

    _keep_calendar_extras(our_calendar, their_calendar)
    return MergedObject(body=our_calendar.to_ical(), overwritten=tuple(sorted(overwritten)))


def _merge_component(ours: Component, theirs: Component) -> set[str]:
    """Copy unmanaged properties and alarms from ``theirs`` into ``ours`` in place.

    Returns the names of managed values on the server that differ from ours.
    """
    overwritten: set[str] = set()

    for name in list(theirs.keys()):
        if name in MANAGED_PROPERTIES or name in ours:
            if name not in _UNREPORTED and _lines(theirs, name) != _lines(ours, name):
                overwritten.add(name)
            continue
        ours[name] = theirs[name]

    for name in MANAGED_PROPERTIES - _UNREPORTED:
        if name in ours and name not in theirs:
            overwritten.add(name)

    our_kinds = {sub.name for sub in ours.subcomponents}
    for sub in theirs.subcomponents:
        if sub.name in our_kinds:
            overwritten.add(sub.name)
        else:
            ours.add_component(sub)
    return overwritten


def _keep_calendar_extras(ours: Calendar, theirs: Calendar) -> None:
    """Keep the server's calendar-level X- properties and the time zones that ours lacks."""
    for name in list(theirs.keys()):
        if name not in _CALENDAR_PROPERTIES and name not in ours:
            ours[name] = theirs[name]

    our_zones = {str(sub.get("TZID")) for sub in ours.subcomponents if sub.name == "VTIMEZONE"}
    extra_zones = [
        sub
        for sub in theirs.subcomponents
        if sub.name == "VTIMEZONE" and str(sub.get("TZID")) not in our_zones
    ]
    # VTIMEZONEs go before the objects that refer to them.
    for zone in reversed(extra_zones):
        ours.subcomponents.insert(0, zone)


def _lines(component: Component, name: str) -> list[bytes]:
    values = component.get(name)
    if values is None:
        return []
    if not isinstance(values, list):
        values = [values]
    return sorted(component.content_line(name, value).to_ical() for value in values)


def _recurrence_key(component: Component) -> str:
    lines = _lines(component, "RECURRENCE-ID")
    if not lines:
        return ""
    return lines[0].decode("utf-8").split(":", 1)[-1]
