"""Plain data passed into the builders and returned by the parsers.

Every datetime here is timezone-aware. Parsed instants are in UTC; a DATE value (an
all-day event) stays a :class:`datetime.date`. E-mail addresses are stored without the
``mailto:`` scheme.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

__all__ = [
    "AttendeeInfo",
    "ConferenceInfo",
    "CounterProposal",
    "DialIn",
    "ItipMessage",
    "MeetingSnapshot",
    "Occurrence",
    "OccurrenceOverride",
    "ParsedAttendee",
    "ParsedCalendar",
    "ParsedEvent",
    "ReplyInfo",
]


# --- generation ---------------------------------------------------------------------


@dataclass(frozen=True)
class AttendeeInfo:
    """One invited person as written into ATTENDEE; ``role`` CHAIR marks the chair."""

    email: str
    cn: str | None = None
    role: str = "REQ-PARTICIPANT"
    partstat: str = "NEEDS-ACTION"
    rsvp: bool = True
    cutype: str = "INDIVIDUAL"


@dataclass(frozen=True)
class DialIn:
    """A phone number of the bridge in E.164 form, with a label such as ``北京``."""

    number: str
    label: str | None = None


@dataclass(frozen=True)
class ConferenceInfo:
    """How to join the bridge. ``host_pin`` is written only into the chair's copy."""

    dial_in: tuple[DialIn, ...] = ()
    access_code: str | None = None
    participant_pin: str | None = None
    host_pin: str | None = None
    join_url: str | None = None
    bridge_name: str | None = None


@dataclass(frozen=True)
class OccurrenceOverride:
    """A changed occurrence of a series (RECURRENCE-ID); ``recurrence_id`` is the original start."""

    recurrence_id: datetime
    start: datetime
    end: datetime
    sequence: int
    summary: str | None = None
    location: str | None = None
    cancelled: bool = False


@dataclass(frozen=True)
class MeetingSnapshot:
    """The state of a meeting that one iCalendar message describes.

    ``start``/``end``/``exdates`` are aware datetimes; the builders write them in
    ``timezone`` (an IANA name) with a matching VTIMEZONE. ``sequence`` is written as is:
    the caller raises it (see :func:`needs_new_sequence` and :func:`next_sequence`).
    ``rrule`` is the RRULE value without the ``RRULE:`` prefix, e.g. ``FREQ=WEEKLY;COUNT=8``.
    """

    uid: str
    sequence: int
    start: datetime
    end: datetime
    timezone: str
    summary: str
    attendees: tuple[AttendeeInfo, ...] = ()
    description: str | None = None
    room: str | None = None
    conference: ConferenceInfo | None = None
    rrule: str | None = None
    exdates: tuple[datetime, ...] = ()
    overrides: tuple[OccurrenceOverride, ...] = ()
    dtstamp: datetime | None = None
    url: str | None = None


# --- parsing --------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedAttendee:
    """An ATTENDEE or ORGANIZER line. ``comment`` is Google's X-RESPONSE-COMMENT, trimmed."""

    email: str
    cn: str | None = None
    role: str | None = None
    partstat: str | None = None
    rsvp: bool | None = None
    comment: str | None = None
    delegated_to: tuple[str, ...] = ()
    delegated_from: tuple[str, ...] = ()
    sent_by: str | None = None


@dataclass(frozen=True)
class ParsedEvent:
    """One VEVENT of an imported file.

    ``start``/``end`` are UTC instants, or dates for DATE values (``end`` exclusive; a
    missing DTEND on a date is one day, on a date-time it equals ``start``).
    ``start_instant``/``end_instant`` are UTC instants in every case: dates are taken at
    local midnight in ``timezone``. ``timezone`` is the IANA name (or the file's own TZID
    for a VTIMEZONE without one) used to read the local times. ``dates`` lists the local
    days the event covers, end exclusive. ``alarms`` are absolute UTC trigger instants.
    """

    uid: str
    sequence: int
    dtstamp: datetime | None
    start: datetime | date | None
    end: datetime | date | None
    start_instant: datetime | None
    end_instant: datetime | None
    all_day: bool
    dates: tuple[date, ...]
    timezone: str | None
    floating: bool
    transp: str
    status: str | None
    summary: str | None
    description: str | None
    location: str | None
    comment: str | None
    organizer: ParsedAttendee | None
    attendees: tuple[ParsedAttendee, ...]
    recurrence_id: datetime | date | None
    rrule: str | None
    exdates: tuple[datetime | date, ...]
    alarms: tuple[datetime, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedCalendar:
    """An imported calendar object. ``method`` is None for a plain (non-iTIP) calendar."""

    method: str | None
    events: tuple[ParsedEvent, ...]
    default_timezone: str
    warnings: tuple[str, ...] = ()
    # The calendar with every time rewritten in its resolved zone, for recurrence expansion.
    normalized: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Occurrence:
    """One active occurrence of an expanded event; times are UTC instants, end exclusive."""

    uid: str
    start: datetime
    end: datetime
    all_day: bool
    dates: tuple[date, ...]
    recurrence_id: datetime | date | None
    sequence: int
    summary: str | None
    location: str | None


@dataclass(frozen=True)
class ReplyInfo:
    """One attendee's answer in an iTIP REPLY."""

    uid: str
    recurrence_id: datetime | date | None
    email: str
    cn: str | None
    partstat: str
    sequence: int
    dtstamp: datetime | None
    comment: str | None
    delegated_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class CounterProposal:
    """An attendee's proposal of another time (iTIP COUNTER); instants in UTC."""

    uid: str
    recurrence_id: datetime | date | None
    proposer: str
    proposed_start: datetime | date
    proposed_end: datetime | date | None
    comment: str | None
    sequence: int
    dtstamp: datetime | None


@dataclass(frozen=True)
class ItipMessage:
    """An iTIP message: the calendar METHOD plus what the library read from it.

    ``replies`` is filled for REPLY, ``counter`` for COUNTER; ``calendar`` always holds the
    whole parsed calendar (for REQUEST and CANCEL the events carry the content).
    """

    method: str
    uid: str
    sequence: int
    dtstamp: datetime | None
    recurrence_id: datetime | date | None
    organizer: str | None
    calendar: ParsedCalendar
    replies: tuple[ReplyInfo, ...] = ()
    counter: CounterProposal | None = None
