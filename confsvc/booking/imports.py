"""Import of .ics files into meetings: create new UIDs, update newer SEQUENCEs, skip the rest.

Every meeting of one file is written in the caller's transaction, each inside its own
savepoint, so that one event broken by a booking rule is reported as skipped without
losing the others. A file that cannot be read at all raises before anything is written.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc import validation
from confsvc.booking import rules as booking_rules
from confsvc.booking.ical import ParsedEvent, parse_calendar
from confsvc.booking.schemas import AttendeeIn, MeetingCreate, MeetingUpdate
from confsvc.booking.services import MeetingService, Viewer, can_manage
from confsvc.bridges.allocation import Slot
from confsvc.db.models import Attendee, Booking, Meeting, Person
from confsvc.errors import BookingConflict, ConfsvcError, ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.settings import Settings

__all__ = ["ImportReport", "ImportService", "SkippedEvent"]

logger = logging.getLogger(__name__)

_OPTIONAL_ROLES = {"OPT-PARTICIPANT", "NON-PARTICIPANT"}


@dataclass(frozen=True)
class SkippedEvent:
    uid: str
    reason: str


@dataclass
class ImportReport:
    """Result of one import; ``created`` and ``updated`` contain meeting ids, UIDs and titles."""

    created: list[dict[str, str]] = field(default_factory=list)
    updated: list[dict[str, str]] = field(default_factory=list)
    skipped: list[SkippedEvent] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)


class _FixedUidMeetingService(MeetingService):
    """MeetingService that gives the new meeting the UID of the imported event."""

    def __init__(self, session: AsyncSession, settings: Settings, uid: str) -> None:
        super().__init__(session, settings)
        self._fixed_uid = uid

    def _uid(self) -> str:
        return self._fixed_uid


class ImportService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    async def import_calendar(
        self, data: bytes, *, caller: Person, book_bridge: bool = False, now: datetime | None = None
    ) -> ImportReport:
        """Create or update the caller's meetings from one VCALENDAR (no commit).

        Only masters (no RECURRENCE-ID) become meetings; a CANCELLED override or an EXDATE
        deactivates that occurrence. With ``book_bridge`` each new meeting goes through
        :meth:`MeetingService.create` (notice, duration and bridge rules, invitations);
        without it the meeting is stored with no bridge and sends nothing.

        Raises:
            ICalendarError: the file is not a readable VCALENDAR.
            ValidationFailed: the file contains no VEVENT.
        """
        now = now or datetime.now(UTC)
        calendar = parse_calendar(data, default_tz=self.settings.time_zone)
        if not calendar.events:
            raise ValidationFailed.field("file", _("the calendar contains no VEVENT"))
        report = ImportReport()
        for text in calendar.warnings:
            report.warn(text)
        masters: list[ParsedEvent] = []
        overrides: dict[str, list[ParsedEvent]] = {}
        for event in calendar.events:
            for text in event.warnings:
                report.warn(text)
            if event.recurrence_id is None:
                masters.append(event)
            else:
                overrides.setdefault(event.uid, []).append(event)
        master_uids = {m.uid for m in masters}
        for uid in overrides:
            if uid not in master_uids:
                report.skipped.append(SkippedEvent(uid=uid, reason=_("a changed occurrence without its series")))
        for event in masters:
            await self._import_one(event, overrides.get(event.uid, []), caller=caller, book_bridge=book_bridge, now=now, report=report)
        logger.info(
            "calendar imported person_id=%s created=%d updated=%d skipped=%d",
            caller.id, len(report.created), len(report.updated), len(report.skipped),
        )
        return report

    async def _import_one(
        self, event: ParsedEvent, overrides: Sequence[ParsedEvent], *, caller: Person, book_bridge: bool, now: datetime, report: ImportReport
    ) -> None:
        if (event.status or "").upper() == "CANCELLED":
            report.skipped.append(SkippedEvent(uid=event.uid, reason=_("the event is cancelled")))
            return
        if event.start_instant is None or event.end_instant is None:
            report.skipped.append(SkippedEvent(uid=event.uid, reason=_("the event has no start")))
            return
        existing = await self.session.scalar(select(Meeting).where(Meeting.uid == event.uid))
        if existing is not None and not can_manage(existing, Viewer.of(caller)):
            report.skipped.append(SkippedEvent(uid=event.uid, reason=_("a meeting with this UID belongs to another organiser")))
            return
        if existing is not None and event.sequence <= existing.sequence:
            report.skipped.append(
                SkippedEvent(
                    uid=event.uid,
                    reason=_("SEQUENCE {sequence} is not newer than the stored {stored}", sequence=event.sequence, stored=existing.sequence),
                )
            )
            return
        savepoint = await self.session.begin_nested()
        try:
            if existing is None:
                meeting = await self._create(event, overrides, caller=caller, book_bridge=book_bridge, now=now, report=report)
            else:
                meeting = await self._update(existing, event, overrides, caller=caller, now=now, report=report)
            await self.session.flush()
        except (ValidationFailed, BookingConflict) as exc:
            await savepoint.rollback()
            report.skipped.append(SkippedEvent(uid=event.uid, reason=_reason(exc)))
            return
        await savepoint.commit()
        entry = {"id": str(meeting.id), "uid": meeting.uid, "title": meeting.title}
        (report.created if existing is None else report.updated).append(entry)

    # -- creating ---------------------------------------------------------------------

    async def _create(
        self, event: ParsedEvent, overrides: Sequence[ParsedEvent], *, caller: Person, book_bridge: bool, now: datetime, report: ImportReport
    ) -> Meeting:
        time_zone = self._zone(event)
        title = _title(event)
        attendees = _attendees(event, report)
        rrule = booking_rules.normalise_rrule(event.rrule) if event.rrule else None
        assert event.start_instant is not None and event.end_instant is not None
        if book_bridge:
            service = _FixedUidMeetingService(self.session, self.settings, event.uid)
            meeting = await service.create(
                MeetingCreate(
                    title=title,
                    description=_description(event),
                    starts_at=event.start_instant,
                    ends_at=event.end_instant,
                    time_zone=time_zone,
                    attendees=attendees,
                    rrule=rrule,
                ),
                caller=caller,
                now=now,
            )
            meeting.sequence = event.sequence
            _drop_cancelled(meeting.bookings, event, overrides)
            return meeting
        starts_at, ends_at = _times(event)
        slots = booking_rules.expand(starts_at, ends_at, time_zone=time_zone, rrule=rrule, rules=self.settings.booking)
        meeting = Meeting(
            uid=event.uid,
            title=title,
            description=_description(event),
            starts_at=starts_at,
            ends_at=ends_at,
            series_ends_at=slots[-1].ends_at,
            time_zone=time_zone,
            organiser_id=caller.id,
            bridge_id=None,
            rrule=rrule,
            sequence=event.sequence,
        )
        meeting.organiser, meeting.chair, meeting.secretary, meeting.bridge, meeting.room = caller, None, None, None, None
        meeting.attendees = await self._attendee_rows(attendees, {})
        meeting.bookings = self._bridgeless_bookings(slots)
        meeting.agenda_items = []
        _drop_cancelled(meeting.bookings, event, overrides)
        self.session.add(meeting)
        return meeting

    # -- updating ---------------------------------------------------------------------

    async def _update(
        self, meeting: Meeting, event: ParsedEvent, overrides: Sequence[ParsedEvent], *, caller: Person, now: datetime, report: ImportReport
    ) -> Meeting:
        """Apply a newer SEQUENCE: title, description, times (and the recurrence)."""
        time_zone = self._zone(event)
        starts_at, ends_at = _times(event)
        rrule = booking_rules.normalise_rrule(event.rrule) if event.rrule else None
        description = _description(event)
        if meeting.bridge_id is not None:
            # A booked bridge is moved under the usual rules (notice, overlap, capacity).
            meeting = await MeetingService(self.session, self.settings).update(
                meeting.id,
                MeetingUpdate(
                    title=_title(event), description=description, starts_at=starts_at, ends_at=ends_at, time_zone=time_zone, rrule=rrule
                ),
                caller=caller,
                now=now,
            )
            meeting.sequence = event.sequence
            _drop_cancelled(meeting.bookings, event, overrides)
            return meeting
        slots = booking_rules.expand(starts_at, ends_at, time_zone=time_zone, rrule=rrule, rules=self.settings.booking)
        schedule_changed = (starts_at, ends_at, time_zone, rrule) != (meeting.starts_at, meeting.ends_at, meeting.time_zone, meeting.rrule)
        meeting.title = _title(event)
        meeting.description = description
        meeting.sequence = event.sequence
        if schedule_changed:
            for booking in list(meeting.bookings):
                await self.session.delete(booking)
            meeting.bookings = []
            await self.session.flush()
            meeting.starts_at, meeting.ends_at, meeting.time_zone, meeting.rrule = starts_at, ends_at, time_zone, rrule
            meeting.series_ends_at = slots[-1].ends_at
            meeting.bookings = self._bridgeless_bookings(slots)
            for attendee in meeting.attendees:
                attendee.partstat = "NEEDS-ACTION"
                attendee.reply_sequence = None
                attendee.reply_dtstamp = None
        _drop_cancelled(meeting.bookings, event, overrides)
        return meeting

    # -- helpers ----------------------------------------------------------------------

    def _zone(self, event: ParsedEvent) -> str:
        if event.timezone and not event.floating:
            try:
                return validation.time_zone(event.timezone)
            except ValidationFailed:
                pass
        return self.settings.time_zone

    def _bridgeless_bookings(self, slots: Sequence[Slot]) -> list[Booking]:
        buffer = timedelta(minutes=self.settings.booking.buffer_minutes)
        return [
            Booking(
                recurrence_id=slot.recurrence_id or slot.starts_at,
                bridge_id=None,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                blocked_until=slot.ends_at + buffer,
            )
            for slot in slots
        ]

    async def _attendee_rows(self, attendees: Sequence[AttendeeIn], existing: dict[str, Attendee]) -> list[Attendee]:
        emails = [a.email for a in attendees]
        people = {p.email: p for p in await self.session.scalars(select(Person).where(Person.email.in_(emails)))} if emails else {}
        rows = []
        for attendee in attendees:
            person = people.get(attendee.email)
            row = existing.get(attendee.email) or Attendee(email=attendee.email)
            row.person_id = person.id if person else None
            row.name = attendee.name or (person.name if person else "")
            row.role = attendee.role
            rows.append(row)
        return rows


def _reason(exc: ConfsvcError) -> str:
    params = getattr(exc, "invalid_params", None) or []
    details = "; ".join(f"{p.get('name')}: {p.get('reason')}" for p in params if isinstance(p, dict))
    return details or str(exc)


def _description(event: ParsedEvent) -> str:
    text = (event.description or "")[:20_000]
    if not text.strip():
        return ""
    return validation.text(text, field="description", max_length=20_000, required=False, multiline=True) or ""


def _title(event: ParsedEvent) -> str:
    text = " ".join((event.summary or "").split())[:300]
    return text or _("(no title)")


def _times(event: ParsedEvent) -> tuple[datetime, datetime]:
    assert event.start_instant is not None and event.end_instant is not None
    starts_at = event.start_instant.astimezone(UTC)
    ends_at = event.end_instant.astimezone(UTC)
    if ends_at <= starts_at:
        # A date-time event without DTEND or DURATION takes no time; store it as a minute.
        ends_at = starts_at + timedelta(minutes=1)
    return starts_at, ends_at


def _attendees(event: ParsedEvent, report: ImportReport) -> list[AttendeeIn]:
    seen: set[str] = set()
    result = []
    for parsed in event.attendees:
        try:
            email = validation.email(parsed.email, field="attendee")
        except ValidationFailed:
            report.warn(_("{uid}: attendee {email!r} skipped, not an e-mail address", uid=event.uid, email=parsed.email[:100]))
            continue
        if email in seen:
            continue
        seen.add(email)
        role = "optional" if (parsed.role or "").upper() in _OPTIONAL_ROLES else "required"
        result.append(AttendeeIn(email=email, name=(parsed.cn or "")[:200], role=role))
    return result


def _drop_cancelled(bookings: Sequence[Booking], event: ParsedEvent, overrides: Sequence[ParsedEvent]) -> None:
    """Deactivate occurrences named by EXDATE or by a CANCELLED override."""
    if len(bookings) < 2:
        return
    instants: set[datetime] = set()
    days: set[date] = set()
    removed = list(event.exdates) + [o.recurrence_id for o in overrides if (o.status or "").upper() == "CANCELLED" and o.recurrence_id]
    for value in removed:
        if isinstance(value, datetime):
            instants.add(value.astimezone(UTC))
        else:
            days.add(value)
    for booking in bookings:
        recurrence = booking.recurrence_id.astimezone(UTC)
        if recurrence in instants or recurrence.date() in days:
            booking.active = False
