"""Reading .ics files as Outlook, Exchange, Google, Apple and Thunderbird write them.

Octets are unfolded before they are decoded (a fold may cut a UTF-8 character), decoded
as strict UTF-8, then parsed by icalendar. Every local time is read again with the
zone that :mod:`confsvc.booking.ical.timezones` resolves for its TZID, because icalendar
keeps custom VTIMEZONEs in a process-wide cache keyed by TZID, so its own tzinfo for a
name like ``China Standard Time`` can come from another file.
"""

from __future__ import annotations

import logging
import re
import zoneinfo
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import icalendar

from confsvc.booking.ical.errors import ICalendarError
from confsvc.booking.ical.folding import decode_unfolded, unfold_bytes
from confsvc.booking.ical.model import ParsedAttendee, ParsedCalendar, ParsedEvent
from confsvc.booking.ical.timezones import embedded_zone, iana_zone, resolve_known_name
from confsvc.errors import ConfigurationError

__all__ = ["address_of", "parse_calendar"]

logger = logging.getLogger(__name__)

_MAILTO = re.compile(r"^\s*mailto:", re.IGNORECASE)
_PARAM_ESCAPES = {"n": "\n", "N": "\n", ",": ",", ";": ";", "\\": "\\"}


def address_of(value: object) -> str:
    """Return a calendar address without its ``mailto:`` scheme (any case), else verbatim."""
    return _MAILTO.sub("", str(value)).strip()


def parse_calendar(data: bytes | str, *, default_tz: str) -> ParsedCalendar:
    """Parse one VCALENDAR into :class:`ParsedCalendar`.

    ``default_tz`` (an IANA name, the organisation's zone) is used for floating times
    unless the calendar has a valid ``X-WR-TIMEZONE``, for DATE values, and for a TZID that
    cannot be resolved; the last case adds a warning such as ``time zone FOO unknown,
    assumed Asia/Shanghai`` to the event and the calendar.

    Raises:
        ConfigurationError: ``default_tz`` is not an IANA zone name.
        ICalendarDecodeError: invalid UTF-8, naming the UID and property.
        ICalendarError: the data is not a readable VCALENDAR.
    """
    if iana_zone(default_tz) is None:
        raise ConfigurationError(f"default time zone {default_tz!r} is not an IANA zone name")

    calendar = _load(data)
    try:
        return _CalendarReader(calendar, default_tz=default_tz).read()
    except ICalendarError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        # icalendar defers some parse errors until a value is read.
        raise ICalendarError(f"invalid iCalendar content: {exc}") from exc


def _load(data: bytes | str) -> icalendar.Calendar:
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ICalendarError("calendar text contains characters that are not valid Unicode") from exc
    text = decode_unfolded(unfold_bytes(data))
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except Exception as exc:  # noqa: BLE001 - icalendar raises ValueError, KeyError, IndexError, ...
        raise ICalendarError(f"not a readable iCalendar object: {exc}") from exc
    if not isinstance(calendar, icalendar.Calendar) or calendar.name != "VCALENDAR":
        raise ICalendarError("iCalendar data does not start with BEGIN:VCALENDAR")
    return calendar


class _CalendarReader:
    """Reads one icalendar.Calendar; holds the per-file time-zone resolution."""

    def __init__(self, calendar: icalendar.Calendar, *, default_tz: str) -> None:
        self.calendar = calendar
        self.default_tz = default_tz
        self.embedded: dict[str, icalendar.Timezone] = {}
        for component in calendar.walk("VTIMEZONE"):
            tzid = component.get("TZID")
            if tzid is not None:
                self.embedded[str(tzid)] = component
        self.resolved: dict[str, tuple[str, tzinfo, str | None]] = {}

        self.floating_tz = default_tz
        wr_timezone = calendar.get("X-WR-TIMEZONE")
        self.calendar_warnings: list[str] = []
        if wr_timezone is not None:
            name = resolve_known_name(str(wr_timezone))
            if name is not None:
                self.floating_tz = name
            else:
                self.calendar_warnings.append(
                    f"X-WR-TIMEZONE {wr_timezone} unknown, assumed {default_tz}"
                )

    def read(self) -> ParsedCalendar:
        method_prop = self.calendar.get("METHOD")
        method = str(method_prop).strip().upper() if method_prop is not None else None

        normalized = icalendar.Calendar()
        normalized.add("PRODID", "-//confsvc//normalized//EN")
        normalized.add("VERSION", "2.0")
        events = []
        for component in self.calendar.walk("VEVENT"):
            event, copy = self._read_event(component)
            events.append(event)
            normalized.add_component(copy)

        warnings = list(self.calendar_warnings)
        for event in events:
            for warning in event.warnings:
                if warning not in warnings:
                    warnings.append(warning)
        for warning in warnings:
            logger.info("calendar import warning: %s", warning)
        return ParsedCalendar(
            method=method or None,
            events=tuple(events),
            default_timezone=self.default_tz,
            warnings=tuple(warnings),
            normalized=normalized,
        )

    # --- time zones ---------------------------------------------------------------------

    def _zone_for(self, tzid: str) -> tuple[str, tzinfo, str | None]:
        """Return (zone name, tzinfo, warning) for a TZID parameter value."""
        if tzid in self.resolved:
            return self.resolved[tzid]

        result: tuple[str, tzinfo, str | None]
        name = resolve_known_name(tzid)
        component = self.embedded.get(tzid)
        if name is not None:
            result = (name, zoneinfo.ZoneInfo(name), None)
        elif component is not None and (found := embedded_zone(component)) != (None, None):
            found_name, found_tz = found
            assert found_tz is not None
            result = (found_name or tzid, found_tz, None)
        else:
            warning = f"time zone {tzid} unknown, assumed {self.default_tz}"
            result = (self.default_tz, zoneinfo.ZoneInfo(self.default_tz), warning)
        self.resolved[tzid] = result
        return result

    def _localize(
        self, value: date | datetime, tzid: str | None, warnings: list[str]
    ) -> tuple[date | datetime, str | None, bool]:
        """Return (value in its resolved zone, zone name, floating) for a DATE or DATE-TIME."""
        if not isinstance(value, datetime):
            return value, None, False
        wall = value.replace(tzinfo=None)
        if tzid is not None and not _is_utc(value):
            name, zone, warning = self._zone_for(tzid)
            if warning is not None and warning not in warnings:
                warnings.append(warning)
            return wall.replace(tzinfo=zone), name, False
        if value.tzinfo is not None:
            return value, "UTC" if _is_utc(value) else None, False
        return wall.replace(tzinfo=zoneinfo.ZoneInfo(self.floating_tz)), self.floating_tz, True

    def _property_time(
        self, component: icalendar.cal.Component, name: str, uid: str, warnings: list[str]
    ) -> tuple[date | datetime | None, str | None, bool]:
        prop = _first(component.get(name))
        if prop is None:
            return None, None, False
        value = _dt(prop)
        if not isinstance(value, date):
            raise ICalendarError(f"invalid {name} in UID {uid}: {_raw(prop)}")
        tzid = prop.params.get("TZID") if hasattr(prop, "params") else None
        return self._localize(value, str(tzid) if tzid else None, warnings)

    def _property_times(
        self, component: icalendar.cal.Component, name: str, uid: str, warnings: list[str]
    ) -> list[date | datetime]:
        """Return every value of a list property such as EXDATE or RDATE, localized."""
        values: list[date | datetime] = []
        for prop in _all(component.get(name)):
            tzid = prop.params.get("TZID") if hasattr(prop, "params") else None
            for item in getattr(prop, "dts", [prop]):
                value = _dt(item)
                if isinstance(value, tuple):  # RDATE;VALUE=PERIOD gives (start, end)
                    value = value[0]
                if not isinstance(value, date):
                    raise ICalendarError(f"invalid {name} in UID {uid}: {_raw(prop)}")
                item_tzid = getattr(item, "params", {}).get("TZID") or tzid
                local, _, _ = self._localize(value, str(item_tzid) if item_tzid else None, warnings)
                values.append(local)
        return values

    # --- events -------------------------------------------------------------------------

    def _read_event(self, component: icalendar.Event) -> tuple[ParsedEvent, icalendar.Event]:
        uid_prop = component.get("UID")
        uid = str(_first(uid_prop)).strip() if uid_prop is not None else ""
        warnings: list[str] = []
        label = uid or "(no UID)"

        start, zone_name, floating = self._property_time(component, "DTSTART", label, warnings)
        end, _, _ = self._property_time(component, "DTEND", label, warnings)
        duration = _first(component.get("DURATION"))
        if end is None and start is not None:
            end = _end_from_duration(start, duration, label)
        recurrence_id, _, _ = self._property_time(component, "RECURRENCE-ID", label, warnings)
        exdates = self._property_times(component, "EXDATE", label, warnings)
        rdates = self._property_times(component, "RDATE", label, warnings)
        dtstamp_prop = _first(component.get("DTSTAMP"))
        dtstamp = _dt(dtstamp_prop)
        if isinstance(dtstamp, datetime):
            dtstamp = _as_utc(dtstamp, self.floating_tz)
        else:
            dtstamp = None

        day_zone_name = zone_name if zone_name and zone_name != "UTC" else self.floating_tz
        day_zone = _tz_by_name(day_zone_name, start)
        start_instant = _instant(start, day_zone)
        end_instant = _instant(end, day_zone)
        all_day = _is_all_day(component, start, end)
        dates = _local_dates(start, end, day_zone)

        organizer_prop = _first(component.get("ORGANIZER"))
        organizer = _attendee(organizer_prop) if organizer_prop is not None else None
        attendees = tuple(_attendee(prop) for prop in _all(component.get("ATTENDEE")))

        event = ParsedEvent(
            uid=uid,
            sequence=_sequence(component, label),
            dtstamp=dtstamp,
            start=_public(start),
            end=_public(end),
            start_instant=start_instant,
            end_instant=end_instant,
            all_day=all_day,
            dates=dates,
            timezone=zone_name if isinstance(start, datetime) else None,
            floating=floating,
            transp=_transp(component),
            status=_upper_text(component.get("STATUS")),
            summary=_text(component.get("SUMMARY")),
            description=_text(component.get("DESCRIPTION")),
            location=_text(component.get("LOCATION")),
            comment=_comment(component.get("COMMENT")),
            organizer=organizer,
            attendees=attendees,
            recurrence_id=_public(recurrence_id),
            rrule=_rrule(component),
            exdates=tuple(_public(value) for value in exdates),
            alarms=_alarms(component, start_instant, end_instant),
            warnings=tuple(warnings),
        )
        copy = _normalized_copy(component, uid, start, end, recurrence_id, exdates, rdates)
        return event, copy


# --- helpers without per-file state -------------------------------------------------------


def _dt(prop: Any) -> Any:
    """Return a property's ``dt`` value, or None when it is missing or broken."""
    try:
        return getattr(prop, "dt", None)
    except ValueError:  # icalendar's BrokenCalendarProperty for an unparsable value
        return None


def _first(prop: Any) -> Any:
    if isinstance(prop, list):
        return prop[0] if prop else None
    return prop


def _all(prop: Any) -> list[Any]:
    if prop is None:
        return []
    if isinstance(prop, list):
        return prop
    return [prop]


def _raw(prop: Any) -> str:
    try:
        return prop.to_ical().decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - only for an error message
        return str(prop)


def _is_utc(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() == timedelta(0) and (
        value.tzinfo is UTC or str(value.tzinfo) in {"UTC", "Z", "tzutc()", "Etc/UTC"}
    )


def _as_utc(value: datetime, floating_tz: str) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=zoneinfo.ZoneInfo(floating_tz))
    return value.astimezone(UTC)


def _public(value: date | datetime | None) -> date | datetime | None:
    """Return a datetime as a UTC instant; dates and None unchanged."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value


def _tz_by_name(name: str, start: date | datetime | None) -> tzinfo:
    if isinstance(start, datetime) and start.tzinfo is not None:
        return start.tzinfo
    zone = iana_zone(name)
    return zone if zone is not None else UTC


def _instant(value: date | datetime | None, zone: tzinfo) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.combine(value, time(0), tzinfo=zone).astimezone(UTC)


def _end_from_duration(start: date | datetime, duration: Any, uid: str) -> date | datetime:
    """Return the end from DURATION; without it a date lasts one day, a date-time no time."""
    if duration is not None:
        delta = _dt(duration)
        if not isinstance(delta, timedelta):
            raise ICalendarError(f"invalid DURATION in UID {uid}: {_raw(duration)}")
        if isinstance(start, datetime):
            # RFC 5545 3.3.6: days and weeks are nominal (wall-clock), hours exact.
            return start + delta
        return start + timedelta(days=delta.days)
    if isinstance(start, datetime):
        return start
    return start + timedelta(days=1)


def _is_all_day(component: icalendar.Event, start: Any, end: Any) -> bool:
    if isinstance(start, date) and not isinstance(start, datetime):
        return True
    flag = component.get("X-MICROSOFT-CDO-ALLDAYEVENT")
    if flag is not None and str(flag).strip().upper() == "TRUE":
        return True
    # Google exports some all-day items as local midnight to midnight.
    if isinstance(start, datetime) and isinstance(end, datetime) and end > start:
        local_end = end.astimezone(start.tzinfo)
        return start.time() == time(0) and local_end.time() == time(0)
    return False


def _local_dates(start: Any, end: Any, zone: tzinfo) -> tuple[date, ...]:
    if start is None:
        return ()
    if isinstance(start, datetime):
        first = start.astimezone(zone).date()
        if isinstance(end, datetime) and end > start:
            last = (end.astimezone(zone) - timedelta(microseconds=1)).date()
        else:
            last = first
    else:
        first = start
        end_date = end if isinstance(end, date) and not isinstance(end, datetime) else None
        last = end_date - timedelta(days=1) if end_date and end_date > start else start
    days = (last - first).days
    if days > 366 * 5:
        days = 366 * 5
    return tuple(first + timedelta(days=offset) for offset in range(days + 1))


def _sequence(component: icalendar.Event, uid: str) -> int:
    prop = _first(component.get("SEQUENCE"))
    if prop is None:
        return 0
    try:
        value = int(prop)
    except (TypeError, ValueError) as exc:
        raise ICalendarError(f"invalid SEQUENCE in UID {uid}: {_raw(prop)}") from exc
    if value < 0:
        raise ICalendarError(f"invalid SEQUENCE in UID {uid}: {value}")
    return value


def _transp(component: icalendar.Event) -> str:
    transp = _upper_text(component.get("TRANSP"))
    if transp in {"OPAQUE", "TRANSPARENT"}:
        return transp
    busy = _upper_text(component.get("X-MICROSOFT-CDO-BUSYSTATUS"))
    if busy == "FREE":
        return "TRANSPARENT"
    return "OPAQUE"


def _text(prop: Any) -> str | None:
    prop = _first(prop)
    if prop is None:
        return None
    return str(prop)


def _upper_text(prop: Any) -> str | None:
    text = _text(prop)
    return text.strip().upper() if text is not None else None


def _comment(prop: Any) -> str | None:
    """Return the COMMENT text trimmed; Outlook's ``COMMENT:\\n`` becomes ``""``."""
    values = _all(prop)
    if not values:
        return None
    return "\n".join(str(value) for value in values).strip()


def unescape_param_text(value: str) -> str:
    """Trim a parameter text and undo backslash escapes that some clients put in it."""
    return re.sub(r"\\(.)", lambda m: _PARAM_ESCAPES.get(m.group(1), m.group(0)), value).strip()


def _param(params: Any, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        value = ",".join(str(item) for item in value)
    return str(value)


def _param_addresses(params: Any, name: str) -> tuple[str, ...]:
    value = params.get(name)
    if value is None:
        return ()
    items: Iterable[Any] = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return tuple(address_of(str(item).strip().strip('"')) for item in items if str(item).strip())


def _attendee(prop: Any) -> ParsedAttendee:
    params = getattr(prop, "params", {})
    rsvp = _param(params, "RSVP")
    comment = _param(params, "X-RESPONSE-COMMENT")
    sent_by = _param(params, "SENT-BY")
    partstat = _param(params, "PARTSTAT")
    role = _param(params, "ROLE")
    return ParsedAttendee(
        email=address_of(prop),
        cn=_param(params, "CN"),
        role=role.upper() if role else None,
        partstat=partstat.upper() if partstat else None,
        rsvp=None if rsvp is None else rsvp.strip().upper() == "TRUE",
        comment=unescape_param_text(comment) if comment is not None else None,
        delegated_to=_param_addresses(params, "DELEGATED-TO"),
        delegated_from=_param_addresses(params, "DELEGATED-FROM"),
        sent_by=address_of(sent_by.strip('"')) if sent_by else None,
    )


def _rrule(component: icalendar.Event) -> str | None:
    prop = _first(component.get("RRULE"))
    if prop is None:
        return None
    return prop.to_ical().decode("utf-8")


def _alarms(
    component: icalendar.Event, start: datetime | None, end: datetime | None
) -> tuple[datetime, ...]:
    """Return absolute UTC trigger instants of the VALARMs that can be computed."""
    triggers: list[datetime] = []
    for alarm in component.walk("VALARM"):
        trigger = _first(alarm.get("TRIGGER"))
        value = _dt(trigger)
        if isinstance(value, timedelta):
            related = str(trigger.params.get("RELATED", "START")).upper()
            base = end if related == "END" else start
            if base is not None:
                triggers.append(base + value)
        elif isinstance(value, datetime) and value.tzinfo is not None:
            triggers.append(value.astimezone(UTC))
    return tuple(sorted(triggers))


def _normalized_copy(
    component: icalendar.Event,
    uid: str,
    start: date | datetime | None,
    end: date | datetime | None,
    recurrence_id: date | datetime | None,
    exdates: list[date | datetime],
    rdates: list[date | datetime],
) -> icalendar.Event:
    """Return a VEVENT whose times carry resolved zones, for recurrence expansion."""
    copy = icalendar.Event()
    copy.add("UID", uid)
    copy.add("SEQUENCE", _sequence(component, uid))
    if start is not None:
        copy.add("DTSTART", start)
    if end is not None:
        copy.add("DTEND", end)
    if recurrence_id is not None:
        copy.add("RECURRENCE-ID", recurrence_id)
    for prop in _all(component.get("RRULE")):
        copy.add("RRULE", prop)
    for value in exdates:
        copy.add("EXDATE", value)
    for value in rdates:
        copy.add("RDATE", value)
    for name in ("STATUS", "SUMMARY", "LOCATION", "X-MICROSOFT-CDO-ALLDAYEVENT"):
        prop = _first(component.get(name))
        if prop is not None:
            copy.add(name, prop)
    return copy
