"""Reading iTIP messages (RFC 5546): REQUEST, REPLY, CANCEL and COUNTER."""

from __future__ import annotations

from confsvc.booking.ical.errors import ItipError
from confsvc.booking.ical.model import (
    CounterProposal,
    ItipMessage,
    ParsedAttendee,
    ParsedEvent,
    ReplyInfo,
)
from confsvc.booking.ical.parse import parse_calendar
from confsvc.booking.ical.replies import normalize_address

__all__ = ["SUPPORTED_METHODS", "parse_itip"]

SUPPORTED_METHODS = frozenset({"REQUEST", "REPLY", "CANCEL", "COUNTER"})


def parse_itip(data: bytes | str, *, default_tz: str, sender: str | None = None) -> ItipMessage:
    """Parse an iTIP message; ``sender`` (the mail From or CalDAV principal) picks the proposer.

    A missing ORGANIZER is accepted (Exchange omits it in replies); matching the UID to a
    stored meeting and the sender to its attendees is the caller's job. Times are UTC.

    Raises:
        ItipError: no calendar-level METHOD (a plain event, not an iTIP message), an
            unsupported METHOD, no VEVENT, several UIDs, a REPLY without ATTENDEE, a
            COUNTER without DTSTART or without one clear proposer, or a CANCEL whose
            STATUS is present but not CANCELLED (RFC 5546 3.2.5).
        ICalendarError: the bytes are not a readable calendar.
    """
    calendar = parse_calendar(data, default_tz=default_tz)
    if calendar.method is None:
        raise ItipError("calendar has no METHOD, so it is a plain event, not an iTIP message")
    if calendar.method not in SUPPORTED_METHODS:
        raise ItipError(f"unsupported iTIP method {calendar.method}")
    if not calendar.events:
        raise ItipError(f"{calendar.method} message has no VEVENT")
    uids = {event.uid for event in calendar.events}
    if len(uids) != 1 or "" in uids:
        raise ItipError(f"{calendar.method} message must carry exactly one UID, found {len(uids)}")

    main = _main_event(calendar.events)
    replies: tuple[ReplyInfo, ...] = ()
    counter = None
    if calendar.method == "REPLY":
        replies = tuple(reply for event in calendar.events for reply in _replies(event))
        if not replies:
            raise ItipError(f"REPLY for UID {main.uid} names no ATTENDEE")
    elif calendar.method == "COUNTER":
        counter = _counter(main, sender)
    elif calendar.method == "CANCEL":
        for event in calendar.events:
            if event.status is not None and event.status != "CANCELLED":
                raise ItipError(
                    f"CANCEL for UID {event.uid} has STATUS:{event.status}; a cancellation "
                    "must have STATUS:CANCELLED"
                )

    return ItipMessage(
        method=calendar.method,
        uid=main.uid,
        sequence=max(event.sequence for event in calendar.events),
        dtstamp=main.dtstamp,
        recurrence_id=main.recurrence_id,
        organizer=main.organizer.email if main.organizer else None,
        calendar=calendar,
        replies=replies,
        counter=counter,
    )


def _main_event(events: tuple[ParsedEvent, ...]) -> ParsedEvent:
    """Return the master (no RECURRENCE-ID) if present, else the first event."""
    for event in events:
        if event.recurrence_id is None:
            return event
    return events[0]


def _replies(event: ParsedEvent) -> list[ReplyInfo]:
    return [
        ReplyInfo(
            uid=event.uid,
            recurrence_id=event.recurrence_id,
            email=attendee.email,
            cn=attendee.cn,
            partstat=attendee.partstat or "NEEDS-ACTION",
            sequence=event.sequence,
            dtstamp=event.dtstamp,
            comment=attendee.comment if attendee.comment is not None else event.comment,
            delegated_to=attendee.delegated_to,
        )
        for attendee in event.attendees
    ]


def _counter(event: ParsedEvent, sender: str | None) -> CounterProposal:
    if event.start is None:
        raise ItipError(f"COUNTER for UID {event.uid} has no DTSTART")
    proposer = _proposer(event, sender)
    return CounterProposal(
        uid=event.uid,
        recurrence_id=event.recurrence_id,
        proposer=proposer.email,
        proposed_start=event.start,
        proposed_end=event.end,
        comment=event.comment if event.comment is not None else proposer.comment,
        sequence=event.sequence,
        dtstamp=event.dtstamp,
    )


def _proposer(event: ParsedEvent, sender: str | None) -> ParsedAttendee:
    """Pick the attendee who sent a COUNTER, which may list every attendee."""
    attendees = event.attendees
    if sender is not None:
        for attendee in attendees:
            if normalize_address(attendee.email) == normalize_address(sender):
                return attendee
        raise ItipError(f"COUNTER for UID {event.uid}: sender {sender} is not among its attendees")
    if len(attendees) == 1:
        return attendees[0]
    for narrowed in (
        [attendee for attendee in attendees if attendee.comment],
        [attendee for attendee in attendees if attendee.partstat not in (None, "NEEDS-ACTION")],
    ):
        if len(narrowed) == 1:
            return narrowed[0]
    raise ItipError(f"COUNTER for UID {event.uid}: cannot tell which attendee proposed it")
