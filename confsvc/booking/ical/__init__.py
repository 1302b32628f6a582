"""iCalendar layer of booking: building invitations and reading imports and iTIP messages.

A pure library: no database and no network. Builders take a :class:`MeetingSnapshot` and
return folded .ics bytes; parsers take bytes and return frozen dataclasses with UTC
instants. Every error raised on purpose derives from ``confsvc.errors.ICalendarError``.
"""

from confsvc.booking.ical.build import build_calendar, build_cancel, build_declinecounter
from confsvc.booking.ical.errors import ICalendarDecodeError, ICalendarError, ItipError
from confsvc.booking.ical.folding import MAX_LINE_OCTETS, fold, unfold_bytes
from confsvc.booking.ical.itip import parse_itip
from confsvc.booking.ical.model import (
    AttendeeInfo,
    ConferenceInfo,
    CounterProposal,
    DialIn,
    ItipMessage,
    MeetingSnapshot,
    Occurrence,
    OccurrenceOverride,
    ParsedAttendee,
    ParsedCalendar,
    ParsedEvent,
    ReplyInfo,
)
from confsvc.booking.ical.parse import address_of, parse_calendar
from confsvc.booking.ical.recurrence import expand_occurrences, needs_new_sequence, next_sequence
from confsvc.booking.ical.replies import (
    AttendeeReplyState,
    ReplyDecision,
    ReplyOutcome,
    apply_reply,
    decide_reply,
    normalize_address,
)
from confsvc.booking.ical.timezones import WINDOWS_TO_IANA, resolve_known_name, vtimezone

__all__ = [
    "MAX_LINE_OCTETS",
    "WINDOWS_TO_IANA",
    "AttendeeInfo",
    "AttendeeReplyState",
    "ConferenceInfo",
    "CounterProposal",
    "DialIn",
    "ICalendarDecodeError",
    "ICalendarError",
    "ItipError",
    "ItipMessage",
    "MeetingSnapshot",
    "Occurrence",
    "OccurrenceOverride",
    "ParsedAttendee",
    "ParsedCalendar",
    "ParsedEvent",
    "ReplyDecision",
    "ReplyInfo",
    "ReplyOutcome",
    "address_of",
    "apply_reply",
    "build_calendar",
    "build_cancel",
    "build_declinecounter",
    "decide_reply",
    "expand_occurrences",
    "fold",
    "needs_new_sequence",
    "next_sequence",
    "normalize_address",
    "parse_calendar",
    "parse_itip",
    "resolve_known_name",
    "unfold_bytes",
    "vtimezone",
]
