"""Writing invitations, cancellations and DECLINECOUNTER messages (RFC 5545, 5546, 7986).

Times are written in the meeting's IANA zone with a matching VTIMEZONE, never floating.
The output is refolded by :func:`confsvc.booking.ical.folding.fold`: CRLF line ends, at
most 75 octets per physical line, each line valid UTF-8 on its own.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from datetime import UTC, datetime

import icalendar

from confsvc.booking.ical.folding import fold
from confsvc.booking.ical.model import AttendeeInfo, ConferenceInfo, MeetingSnapshot
from confsvc.booking.ical.replies import normalize_address
from confsvc.booking.ical.timezones import iana_zone, vtimezone

__all__ = ["PRODID", "build_calendar", "build_cancel", "build_declinecounter"]

PRODID = "-//confsvc//confsvc 0.1//ZH"
_METHODS = frozenset({"REQUEST", "PUBLISH", "CANCEL", "DECLINECOUNTER"})


def build_calendar(
    snapshot: MeetingSnapshot,
    *,
    method: str | None,
    organiser_address: str,
    organiser_cn: str | None,
    recipient: str | None = None,
    sent_by: str | None = None,
    etiquette: str | None = None,
) -> bytes:
    """Return the .ics bytes of a meeting, with its overrides, for one recipient.

    ``method`` is ``REQUEST`` for an invitation or update, or None for the copy stored by
    CalDAV (a stored object has no METHOD). ``organiser_address`` is the service's
    scheduling address written in ORGANIZER; ``sent_by`` adds SENT-BY for the person who
    organises. ``etiquette`` (meeting rules) is appended to DESCRIPTION. The host PIN is
    written only when ``recipient`` is the organiser address, ``sent_by`` or an attendee
    with ROLE=CHAIR; with ``recipient`` None the output is the attendees' copy.

    Raises:
        ValueError: an unsupported ``method``, a naive datetime or an unknown time zone.
    """
    _check_method(method)
    zone = _zone(snapshot)
    with_host_pin = _is_chair_copy(snapshot, recipient, organiser_address, sent_by)

    calendar = _calendar(method, snapshot.timezone)
    master = _base_event(snapshot, organiser_address, organiser_cn, sent_by)
    master.add("DTSTART", _local(snapshot.start, zone))
    master.add("DTEND", _local(snapshot.end, zone))
    master.add("STATUS", "CONFIRMED")
    master.add("TRANSP", "OPAQUE")
    if snapshot.rrule:
        master.add("RRULE", icalendar.vRecur.from_ical(snapshot.rrule))
    for exdate in snapshot.exdates:
        master.add("EXDATE", _local(exdate, zone))
    _add_content(master, snapshot, with_host_pin=with_host_pin, etiquette=etiquette)
    _add_attendees(master, snapshot.attendees)
    calendar.add_component(master)

    for override in snapshot.overrides:
        event = _base_event(snapshot, organiser_address, organiser_cn, sent_by)
        event.pop("SEQUENCE")
        event.add("SEQUENCE", override.sequence)
        event.add("RECURRENCE-ID", _local(override.recurrence_id, zone))
        event.add("DTSTART", _local(override.start, zone))
        event.add("DTEND", _local(override.end, zone))
        event.add("STATUS", "CANCELLED" if override.cancelled else "CONFIRMED")
        changed = MeetingSnapshot(
            uid=snapshot.uid,
            sequence=override.sequence,
            start=override.start,
            end=override.end,
            timezone=snapshot.timezone,
            summary=override.summary or snapshot.summary,
            description=snapshot.description,
            room=override.location or snapshot.room,
            conference=snapshot.conference,
        )
        _add_content(event, changed, with_host_pin=with_host_pin, etiquette=etiquette)
        _add_attendees(event, snapshot.attendees)
        calendar.add_component(event)

    return fold(calendar.to_ical())


def build_cancel(
    snapshot: MeetingSnapshot,
    *,
    organiser_address: str,
    organiser_cn: str | None,
    sent_by: str | None = None,
    recurrence_id: datetime | None = None,
    attendees: Sequence[AttendeeInfo] | None = None,
) -> bytes:
    """Return a METHOD:CANCEL message for the series, one occurrence, or removed attendees.

    ``snapshot.sequence`` must already be raised above the last message sent (see
    :func:`next_sequence`). With ``recurrence_id`` (the original start of the occurrence)
    only that occurrence is cancelled. ``attendees`` lists who is told (default: all), e.g.
    only the removed ones.

    Raises:
        ValueError: a naive datetime or an unknown time zone.
    """
    zone = _zone(snapshot)
    calendar = _calendar("CANCEL", snapshot.timezone)
    event = _base_event(snapshot, organiser_address, organiser_cn, sent_by)
    if recurrence_id is not None:
        duration = snapshot.end - snapshot.start
        event.add("RECURRENCE-ID", _local(recurrence_id, zone))
        event.add("DTSTART", _local(recurrence_id, zone))
        event.add("DTEND", _local(recurrence_id + duration, zone))
    else:
        event.add("DTSTART", _local(snapshot.start, zone))
        event.add("DTEND", _local(snapshot.end, zone))
        if snapshot.rrule:
            event.add("RRULE", icalendar.vRecur.from_ical(snapshot.rrule))
    event.add("SUMMARY", snapshot.summary)
    event.add("STATUS", "CANCELLED")
    _add_attendees(event, tuple(attendees) if attendees is not None else snapshot.attendees)
    calendar.add_component(event)
    return fold(calendar.to_ical())


def build_declinecounter(
    snapshot: MeetingSnapshot,
    *,
    proposer: str,
    organiser_address: str,
    organiser_cn: str | None,
    sent_by: str | None = None,
    comment: str | None = None,
    recurrence_id: datetime | None = None,
) -> bytes:
    """Return a METHOD:DECLINECOUNTER for ``proposer`` with the meeting's unchanged times.

    Raises:
        ValueError: a naive datetime or an unknown time zone.
    """
    zone = _zone(snapshot)
    calendar = _calendar("DECLINECOUNTER", snapshot.timezone)
    event = _base_event(snapshot, organiser_address, organiser_cn, sent_by)
    if recurrence_id is not None:
        event.add("RECURRENCE-ID", _local(recurrence_id, zone))
    event.add("DTSTART", _local(snapshot.start, zone))
    event.add("DTEND", _local(snapshot.end, zone))
    event.add("SUMMARY", snapshot.summary)
    if comment:
        event.add("COMMENT", comment)
    key = normalize_address(proposer)
    matches = [item for item in snapshot.attendees if normalize_address(item.email) == key]
    _add_attendees(event, tuple(matches) or (AttendeeInfo(email=proposer),))
    calendar.add_component(event)
    return fold(calendar.to_ical())


# --- pieces -------------------------------------------------------------------------------


def _check_method(method: str | None) -> None:
    if method is not None and method not in _METHODS:
        raise ValueError(f"unsupported METHOD {method!r}")


def _zone(snapshot: MeetingSnapshot) -> zoneinfo.ZoneInfo:
    zone = iana_zone(snapshot.timezone)
    if zone is None:
        raise ValueError(f"meeting {snapshot.uid}: unknown time zone {snapshot.timezone!r}")
    return zone


def _local(value: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} cannot be written")
    return value.astimezone(zone)


def _calendar(method: str | None, timezone: str) -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    if method is not None:
        calendar.add("METHOD", method)
    calendar.add_component(vtimezone(timezone))
    return calendar


def _base_event(
    snapshot: MeetingSnapshot, organiser_address: str, organiser_cn: str | None, sent_by: str | None
) -> icalendar.Event:
    event = icalendar.Event()
    event.add("UID", snapshot.uid)
    stamp = snapshot.dtstamp or datetime.now(UTC)
    if stamp.tzinfo is None:
        raise ValueError("naive DTSTAMP cannot be written")
    event.add("DTSTAMP", stamp.astimezone(UTC))
    event.add("SEQUENCE", snapshot.sequence)
    organizer = icalendar.vCalAddress(_mailto(organiser_address))
    if organiser_cn:
        organizer.params["CN"] = organiser_cn
    if sent_by:
        organizer.params["SENT-BY"] = _mailto(sent_by)
    event.add("ORGANIZER", organizer)
    return event


def _add_attendees(event: icalendar.Event, attendees: Sequence[AttendeeInfo]) -> None:
    for attendee in attendees:
        address = icalendar.vCalAddress(_mailto(attendee.email))
        if attendee.cn:
            address.params["CN"] = attendee.cn
        address.params["CUTYPE"] = attendee.cutype
        address.params["ROLE"] = attendee.role
        address.params["PARTSTAT"] = attendee.partstat
        if attendee.rsvp:
            address.params["RSVP"] = "TRUE"
        event.add("ATTENDEE", address)


def _mailto(address: str) -> str:
    return "mailto:" + normalize_address(address) if "@" in address else address


def _is_chair_copy(
    snapshot: MeetingSnapshot, recipient: str | None, organiser: str, sent_by: str | None
) -> bool:
    if recipient is None:
        return False
    key = normalize_address(recipient)
    chairs = {normalize_address(item.email) for item in snapshot.attendees if item.role == "CHAIR"}
    owners = {normalize_address(organiser)} | ({normalize_address(sent_by)} if sent_by else set())
    return key in chairs or key in owners


def _add_content(
    event: icalendar.Event, snapshot: MeetingSnapshot, *, with_host_pin: bool, etiquette: str | None
) -> None:
    """Add SUMMARY, LOCATION, DESCRIPTION, URL and CONFERENCE properties."""
    event.add("SUMMARY", snapshot.summary)
    conference = snapshot.conference

    location = _location(snapshot.room, conference)
    if location:
        event.add("LOCATION", location)

    sections = [snapshot.description.strip()] if snapshot.description else []
    if conference is not None:
        sections.append(_dial_in_text(conference, with_host_pin=with_host_pin))
    if etiquette:
        sections.append("会议规则 / Meeting rules:\n" + etiquette.strip())
    if sections:
        event.add("DESCRIPTION", "\n\n".join(sections))

    if snapshot.url:
        event.add("URL", snapshot.url)
    if conference is not None:
        _add_conference(event, conference)


def _location(room: str | None, conference: ConferenceInfo | None) -> str:
    parts = [room] if room else []
    if conference is not None:
        phone = []
        if conference.dial_in:
            phone.append(f"电话 {conference.dial_in[0].number}")
        if conference.access_code:
            phone.append(f"会议号 {conference.access_code}")
        if conference.participant_pin:
            phone.append(f"密码 {conference.participant_pin}")
        if phone:
            parts.append(", ".join(phone))
        elif conference.join_url:
            parts.append(conference.join_url)
    return "; ".join(parts)


def _dial_in_text(conference: ConferenceInfo, *, with_host_pin: bool) -> str:
    lines = ["电话会议 / Conference call"]
    if conference.bridge_name:
        lines.append(f"会议桥 / Bridge: {conference.bridge_name}")
    for dial_in in conference.dial_in:
        label = f" ({dial_in.label})" if dial_in.label else ""
        lines.append(f"拨入号码 / Dial-in: {dial_in.number}{label}")
    if conference.access_code:
        lines.append(f"会议号 / Access code: {conference.access_code}")
    if conference.participant_pin:
        lines.append(f"参会密码 / Participant PIN: {conference.participant_pin}")
    if with_host_pin and conference.host_pin:
        lines.append(f"主持人密码 / Host PIN: {conference.host_pin}")
    if conference.join_url:
        lines.append(f"入会链接 / Join: {conference.join_url}")
    return "\n".join(lines)


def _add_conference(event: icalendar.Event, conference: ConferenceInfo) -> None:
    """Add one RFC 7986 CONFERENCE property per dial-in number and for the join link."""
    codes = []
    if conference.access_code:
        codes.append(f"会议号 {conference.access_code}")
    if conference.participant_pin:
        codes.append(f"密码 {conference.participant_pin}")
    for dial_in in conference.dial_in:
        uri = icalendar.vUri("tel:" + dial_in.number.replace(" ", ""))
        uri.params["VALUE"] = "URI"
        uri.params["FEATURE"] = "PHONE"
        label = " ".join(item for item in [dial_in.label or "", *codes] if item)
        if label:
            uri.params["LABEL"] = label
        event.add("CONFERENCE", uri)
    if conference.join_url:
        uri = icalendar.vUri(conference.join_url)
        uri.params["VALUE"] = "URI"
        uri.params["FEATURE"] = ["AUDIO", "VIDEO"]
        event.add("CONFERENCE", uri)
