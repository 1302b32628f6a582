"""Meetings: create, read, list, reschedule, re-bridge, change attendees, cancel.

Every write runs in one transaction. The overlap check and the insert of the bookings
happen in that transaction: on SQLite it holds the write lock from its first statement
(BEGIN IMMEDIATE), on PostgreSQL the exclusion constraint rejects a concurrent overlap
at insert time. Either way the loser gets ``BookingConflict`` with alternatives.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy import Select, exists, or_, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc import validation
from confsvc.booking import invitations
from confsvc.booking import rules as booking_rules
from confsvc.booking.schemas import (
    AgendaItemIn,
    AgendaItemRead,
    AlternativeRead,
    AttendeeIn,
    AttendeeRead,
    BridgeInfo,
    ConflictRead,
    MeetingCreate,
    MeetingRead,
    MeetingUpdate,
    OccurrenceRead,
    OccurrenceUpdate,
)
from confsvc.bridges.allocation import Slot, busy_ranges, collides, free_bridges, nearest_free_slots
from confsvc.db.models import AgendaItem, Attendee, Booking, Bridge, Meeting, Person, Room
from confsvc.errors import BookingConflict, NotFound, PermissionDenied, ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.settings import Settings

logger = logging.getLogger(__name__)

# SQLSTATEs that mean "another booking won the race": exclusion violation, deadlock,
# serialization failure.
_CONFLICT_SQLSTATES = {"23P01", "40P01", "40001"}


def sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    for candidate in (orig, getattr(orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if code:
            return str(code)
    return None


@dataclass(frozen=True)
class Viewer:
    """The person making a request, as far as access rules need them."""

    person_id: uuid.UUID
    email: str
    roles: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @classmethod
    def of(cls, person: Person) -> Viewer:
        return cls(person_id=person.id, email=person.email, roles=frozenset(person.roles or []))


@dataclass(frozen=True)
class MeetingFilters:
    starts_from: datetime | None = None
    starts_to: datetime | None = None
    organiser: str | None = None
    attendee: str | None = None
    bridge_id: uuid.UUID | None = None
    status: str | None = None
    limit: int = 100
    offset: int = 0


def participant_count(meeting_emails: Sequence[str | None]) -> int:
    return len({email for email in meeting_emails if email})


def can_see(meeting: Meeting, viewer: Viewer) -> bool:
    if viewer.is_admin:
        return True
    if viewer.person_id in (meeting.organiser_id, meeting.chair_id, meeting.secretary_id):
        return True
    return any(attendee.email == viewer.email for attendee in meeting.attendees)


def can_manage(meeting: Meeting, viewer: Viewer) -> bool:
    return viewer.is_admin or viewer.person_id == meeting.organiser_id


def meeting_read(meeting: Meeting, viewer: Viewer) -> MeetingRead:
    bridge = meeting.bridge
    bridge_info = None
    if bridge is not None:
        bridge_info = BridgeInfo(id=bridge.id, name=bridge.name, dial_in=list(bridge.dial_in or []), access_code=bridge.access_code)
        if can_see(meeting, viewer):
            bridge_info.participant_pin = bridge.participant_pin
        if viewer.person_id in (meeting.organiser_id, meeting.chair_id):
            bridge_info.host_pin = bridge.host_pin
    occurrences = [
        OccurrenceRead(
            recurrence_id=booking.recurrence_id,
            starts_at=booking.starts_at,
            ends_at=booking.ends_at,
            bridge_id=booking.bridge_id,
            status="scheduled" if booking.active else "cancelled",
            overridden=booking.overridden,
        )
        for booking in meeting.bookings
    ]
    return MeetingRead(
        id=meeting.id,
        uid=meeting.uid,
        title=meeting.title,
        description=meeting.description,
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        time_zone=meeting.time_zone,
        organiser=meeting.organiser.email,
        chair=meeting.chair.email if meeting.chair else None,
        secretary=meeting.secretary.email if meeting.secretary else None,
        attendees=[
            AttendeeRead(email=a.email, name=a.name, role=a.role, partstat=a.partstat, comment=a.comment)  # type: ignore[arg-type]
            for a in meeting.attendees
        ],
        bridge_id=meeting.bridge_id,
        bridge=bridge_info,
        room_id=meeting.room_id,
        confidentiality=meeting.confidentiality,  # type: ignore[arg-type]
        rrule=meeting.rrule,
        status=meeting.status,  # type: ignore[arg-type]
        sequence=meeting.sequence,
        urgent=meeting.urgent,
        urgent_reason=meeting.urgent_reason,
        occurrences=occurrences,
        agenda=[
            AgendaItemRead(
                position=item.position,
                title=item.title,
                presenter=item.presenter,
                duration_minutes=item.duration_minutes,
                needs_materials=item.needs_materials,
            )
            for item in meeting.agenda_items
        ],
        duration_minutes=int((meeting.ends_at - meeting.starts_at).total_seconds() // 60),
    )


class MeetingService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.rules = settings.booking

    # -- reading -----------------------------------------------------------------

    async def get(self, meeting_id: uuid.UUID, viewer: Viewer) -> Meeting:
        meeting = await self.session.get(Meeting, meeting_id)
        # A meeting the viewer may not see is reported exactly like a missing one (404).
        if meeting is None or not can_see(meeting, viewer):
            raise NotFound("meeting", meeting_id)
        return meeting

    async def list(self, filters: MeetingFilters, viewer: Viewer) -> list[Meeting]:
        statement = await self.list_statement(filters, viewer)
        if statement is None:
            return []
        return list(await self.session.scalars(statement))

    async def list_statement(self, filters: MeetingFilters, viewer: Viewer) -> Select[tuple[Meeting]] | None:
        """Build the filtered, visible, paged meeting query; None when nothing can match."""
        statement: Select[tuple[Meeting]] = select(Meeting).order_by(Meeting.starts_at, Meeting.id)
        if filters.starts_from is not None:
            statement = statement.where(Meeting.series_ends_at > validation.aware(filters.starts_from, field="from"))
        if filters.starts_to is not None:
            statement = statement.where(Meeting.starts_at < validation.aware(filters.starts_to, field="to"))
        if filters.status:
            if filters.status not in ("scheduled", "cancelled", "completed"):
                raise ValidationFailed.field("status", _("use scheduled, cancelled or completed"))
            statement = statement.where(Meeting.status == filters.status)
        if filters.bridge_id:
            statement = statement.where(Meeting.bridge_id == filters.bridge_id)
        if filters.organiser:
            organiser = await self._person(filters.organiser, field="organiser", required=False)
            if organiser is None:
                return None
            statement = statement.where(Meeting.organiser_id == organiser.id)
        if filters.attendee:
            email = validation.email(filters.attendee, field="attendee")
            statement = statement.where(exists().where(Attendee.meeting_id == Meeting.id, Attendee.email == email))
        if not viewer.is_admin:
            statement = statement.where(
                or_(
                    Meeting.organiser_id == viewer.person_id,
                    Meeting.chair_id == viewer.person_id,
                    Meeting.secretary_id == viewer.person_id,
                    exists().where(Attendee.meeting_id == Meeting.id, Attendee.email == viewer.email),
                )
            )
        return statement.limit(min(max(filters.limit, 1), 500)).offset(max(filters.offset, 0))

    # -- helpers -----------------------------------------------------------------

    async def _person(self, email: str, *, field: str, required: bool = True) -> Person | None:
        address = validation.email(email, field=field)
        person = await self.session.scalar(select(Person).where(Person.email == address))
        if person is None and required:
            raise ValidationFailed.field(field, _("no person with e-mail {email} in the directory", email=address))
        return person

    async def _bridge(self, bridge_id: uuid.UUID) -> Bridge:
        bridge = await self.session.get(Bridge, bridge_id)
        if bridge is None:
            raise ValidationFailed.field("bridge_id", _("no bridge with id {id}", id=bridge_id))
        if not bridge.active:
            raise ValidationFailed.field("bridge_id", _("the bridge {name!r} is out of service", name=bridge.name))
        return bridge

    async def _room(self, room_id: uuid.UUID | None) -> Room | None:
        if room_id is None:
            return None
        room = await self.session.get(Room, room_id)
        if room is None or not room.active:
            raise ValidationFailed.field("room_id", _("no room with id {id}", id=room_id))
        return room

    def _clean_attendees(self, attendees: Sequence[AttendeeIn], errors: validation.FieldErrors) -> list[AttendeeIn]:
        """Return the attendees with addresses and names cleaned, and record each fault in ``errors``."""
        if len(attendees) > self.rules.max_attendees:
            errors.add("attendees", _("at most {count} attendees", count=self.rules.max_attendees))
            return []
        seen: dict[str, int] = {}
        cleaned = []
        for index, attendee in enumerate(attendees):
            email = errors.check(validation.email, attendee.email, field=f"attendees[{index}].email")
            if email in seen:
                errors.add(
                    f"attendees[{index}].email", _("{email} is listed twice (also at position {other})", email=email, other=seen[email])
                )
            elif email is not None:
                seen[email] = index
            name = errors.check(validation.text, attendee.name, field=f"attendees[{index}].name", max_length=200, required=False)
            if email is not None and name is not None:
                cleaned.append(AttendeeIn(email=email, name=name, role=attendee.role))
        return cleaned

    def _clean_agenda(self, agenda: Sequence[AgendaItemIn], errors: validation.FieldErrors) -> list[AgendaItem]:
        """Return the agenda items to store, and record each fault in ``errors``."""
        items = []
        for index, item in enumerate(agenda):
            title = errors.check(validation.text, item.title, field=f"agenda[{index}].title", max_length=300)
            presenter = errors.check(validation.email, item.presenter, field=f"agenda[{index}].presenter") if item.presenter else None
            items.append(
                AgendaItem(
                    position=index + 1,
                    title=title,
                    presenter=presenter,
                    duration_minutes=item.duration_minutes,
                    needs_materials=item.needs_materials,
                )
            )
        return items

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

    async def _conflicts_and_alternatives(
        self,
        slots: Sequence[Slot],
        *,
        bridge: Bridge | None,
        participants: int,
        exclude_meeting_id: uuid.UUID | None,
        now: datetime,
    ) -> dict[str, object]:
        buffer = timedelta(minutes=self.rules.buffer_minutes)
        conflicts: list[ConflictRead] = []
        if bridge is not None:
            if bridge.capacity < participants:
                conflicts.append(
                    ConflictRead(
                        bridge_id=bridge.id,
                        starts_at=slots[0].starts_at,
                        ends_at=slots[0].ends_at,
                        reason=_("the bridge has {ports} ports for {count} participants", ports=bridge.capacity, count=participants),
                    )
                )
            ranges = await busy_ranges(self.session, slots, rules=self.rules, bridge_ids=[bridge.id], exclude_meeting_id=exclude_meeting_id)
            for slot in slots:
                for busy in ranges:
                    if collides(slot, busy, buffer=buffer):
                        conflicts.append(
                            ConflictRead(
                                bridge_id=bridge.id,
                                starts_at=busy.starts_at,
                                ends_at=busy.ends_at,
                                reason=_("the bridge is booked for this time"),
                                occurrence=slot.recurrence_id if len(slots) > 1 else None,
                            )
                        )
        alternatives: list[AlternativeRead] = []
        for other in await free_bridges(self.session, slots, participants=participants, rules=self.rules, exclude_meeting_id=exclude_meeting_id):
            if bridge is None or other.id != bridge.id:
                alternatives.append(
                    AlternativeRead(
                        bridge_id=other.id, bridge_name=other.name, capacity=other.capacity,
                        starts_at=slots[0].starts_at, ends_at=slots[0].ends_at, kind="other_bridge",
                    )
                )
        if bridge is not None and bridge.capacity >= participants and len(slots) == 1:
            earliest = now + timedelta(minutes=self.rules.min_notice_minutes)
            for slot in await nearest_free_slots(
                self.session, bridge.id, slots[0], rules=self.rules, not_before=earliest, exclude_meeting_id=exclude_meeting_id
            ):
                alternatives.append(
                    AlternativeRead(
                        bridge_id=bridge.id, bridge_name=bridge.name, capacity=bridge.capacity,
                        starts_at=slot.starts_at, ends_at=slot.ends_at, kind="other_time",
                    )
                )
        return {
            "conflicts": [msgspec.to_builtins(c) for c in conflicts],
            "alternatives": [msgspec.to_builtins(a) for a in alternatives[:10]],
        }

    async def _raise_conflict(self, slots: Sequence[Slot], *, bridge: Bridge | None, participants: int, exclude_meeting_id: uuid.UUID | None, now: datetime, message: str) -> None:
        extra = await self._conflicts_and_alternatives(slots, bridge=bridge, participants=participants, exclude_meeting_id=exclude_meeting_id, now=now)
        raise BookingConflict(message, extra=extra)

    async def _choose_bridge(
        self, slots: Sequence[Slot], *, bridge_id: uuid.UUID | None, participants: int, exclude_meeting_id: uuid.UUID | None, now: datetime
    ) -> Bridge:
        """Return the requested bridge if it is free and big enough, else the smallest free one that fits."""
        if bridge_id is not None:
            bridge = await self._bridge(bridge_id)
            if bridge.capacity < participants:
                await self._raise_conflict(
                    slots, bridge=bridge, participants=participants, exclude_meeting_id=exclude_meeting_id, now=now,
                    message=_("the bridge has {ports} ports for {count} participants", ports=bridge.capacity, count=participants),
                )
            if await busy_ranges(self.session, slots, rules=self.rules, bridge_ids=[bridge.id], exclude_meeting_id=exclude_meeting_id):
                await self._raise_conflict(
                    slots, bridge=bridge, participants=participants, exclude_meeting_id=exclude_meeting_id, now=now,
                    message=_("the bridge is already booked for this time"),
                )
            return bridge
        candidates = await free_bridges(self.session, slots, participants=participants, rules=self.rules, exclude_meeting_id=exclude_meeting_id)
        if not candidates:
            await self._raise_conflict(
                slots, bridge=None, participants=participants, exclude_meeting_id=exclude_meeting_id, now=now,
                message=_("no bridge with {count} ports is free for this time", count=participants),
            )
        return candidates[0]

    async def _flush_bookings(self, slots: Sequence[Slot], *, bridge: Bridge, participants: int, exclude_meeting_id: uuid.UUID | None, now: datetime) -> None:
        """Flush pending rows; turn a lost race on PostgreSQL into ``BookingConflict``."""
        bridge_id = bridge.id
        try:
            await self.session.flush()
        except (IntegrityError, DBAPIError) as exc:
            code = sqlstate(exc)
            if code not in _CONFLICT_SQLSTATES:
                raise
            await self.session.rollback()
            # The rollback expired every loaded object, and a lazy load in the conflict report
            # would fail outside the async context, so load the bridge again here.
            bridge = await self.session.get_one(Bridge, bridge_id, populate_existing=True)
            logger.info("booking lost a race bridge_id=%s sqlstate=%s", bridge_id, code)
            await self._raise_conflict(
                slots, bridge=bridge, participants=participants, exclude_meeting_id=exclude_meeting_id, now=now,
                message=_("the bridge is already booked for this time"),
            )

    def _bookings(self, slots: Sequence[Slot], *, bridge: Bridge) -> list[Booking]:
        buffer = timedelta(minutes=self.rules.buffer_minutes)
        return [
            Booking(
                recurrence_id=slot.recurrence_id or slot.starts_at,
                bridge_id=bridge.id,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                blocked_until=slot.ends_at + buffer,
            )
            for slot in slots
        ]

    async def _reload(self, meeting: Meeting) -> Meeting:
        """Load the meeting and its relationships afresh after a write, without lazy loads."""
        statement = select(Meeting).where(Meeting.id == meeting.id).execution_options(populate_existing=True)
        return (await self.session.scalars(statement)).one()

    def _uid(self) -> str:
        domain = self.settings.mail.mail_from.rpartition("@")[2] or "confsvc.localhost"
        return f"{uuid.uuid4()}@{domain}"

    # -- writing -----------------------------------------------------------------

    async def create(self, data: MeetingCreate, *, caller: Person, now: datetime | None = None) -> Meeting:
        now = now or datetime.now(UTC)
        viewer = Viewer.of(caller)
        # Every field check below records its fault in ``errors``, so the error response lists them all.
        errors = validation.FieldErrors()
        title = errors.check(validation.text, data.title, field="title", max_length=300)
        description = errors.check(validation.text, data.description, field="description", max_length=20_000, required=False, multiline=True)
        time_zone = errors.check(validation.time_zone, data.time_zone or self.settings.time_zone) or self.settings.time_zone
        rrule = errors.check(booking_rules.normalise_rrule, data.rrule) if data.rrule else None
        # Until the times are known to be valid, the rule is checked on a placeholder hour from now.
        starts_at, ends_at = now + timedelta(hours=1), now + timedelta(hours=2)
        with errors.collect():
            starts_at, ends_at = booking_rules.resolve_times(
                booking_rules.TimeRequest(data.starts_at, data.ends_at, data.duration_minutes, time_zone), rules=self.rules
            )
            booking_rules.check_notice(starts_at, now=now, urgent=data.urgent, urgent_reason=data.urgent_reason, rules=self.rules)
        slots = errors.check(booking_rules.expand, starts_at, ends_at, time_zone=time_zone, rrule=rrule, rules=self.rules) or []

        organiser = caller
        with errors.collect():
            if data.organiser and validation.email(data.organiser, field="organiser") != caller.email:
                if not viewer.is_admin:
                    raise PermissionDenied(_("only an administrator may book on behalf of another organiser"))
                organiser = await self._person(data.organiser, field="organiser")  # type: ignore[assignment]
        chair = secretary = room = None
        with errors.collect():
            chair = await self._person(data.chair, field="chair") if data.chair else None
        with errors.collect():
            secretary = await self._person(data.secretary, field="secretary") if data.secretary else None
        attendees = self._clean_attendees(data.attendees, errors)
        agenda = self._clean_agenda(data.agenda or [], errors)
        with errors.collect():
            room = await self._room(data.room_id)
        errors.raise_if_any()
        participants = participant_count(
            [a.email for a in attendees] + [organiser.email, chair.email if chair else None]
        )

        bridge = await self._choose_bridge(slots, bridge_id=data.bridge_id, participants=participants, exclude_meeting_id=None, now=now)
        meeting = Meeting(
            uid=self._uid(),
            title=title,
            description=description,
            starts_at=starts_at,
            ends_at=ends_at,
            series_ends_at=slots[-1].ends_at,
            time_zone=time_zone,
            organiser_id=organiser.id,
            chair_id=chair.id if chair else None,
            secretary_id=secretary.id if secretary else None,
            bridge_id=bridge.id,
            room_id=room.id if room else None,
            confidentiality=data.confidentiality,
            rrule=rrule,
            urgent=data.urgent,
            urgent_reason=data.urgent_reason.strip() if data.urgent and data.urgent_reason else None,
        )
        if organiser is caller:
            # The caller is a detached copy from the token cache or the cookie lookup. Its
            # Department would clash with the same department loaded here through the
            # chair or secretary, so it joins this session first (no query).
            organiser = await self.session.merge(caller, load=False)
        # Every relationship is set here, so building the response needs no further query.
        meeting.organiser, meeting.chair, meeting.secretary = organiser, chair, secretary
        meeting.bridge, meeting.room = bridge, room
        meeting.attendees = await self._attendee_rows(attendees, {})
        meeting.bookings = self._bookings(slots, bridge=bridge)
        meeting.agenda_items = agenda
        self.session.add(meeting)
        await self._flush_bookings(slots, bridge=bridge, participants=participants, exclude_meeting_id=None, now=now)
        logger.info(
            "meeting booked meeting_id=%s bridge_id=%s occurrences=%d organiser_id=%s",
            meeting.id, bridge.id, len(slots), organiser.id,
        )
        # Invitations: outbox rows in this transaction.
        await invitations.enqueue_created(self.session, self.settings, meeting)
        return meeting

    async def update(self, meeting_id: uuid.UUID, data: MeetingUpdate, *, caller: Person, now: datetime | None = None) -> Meeting:
        """Change a meeting or its whole series.

        A change of time, time zone, recurrence, bridge or room raises SEQUENCE and
        re-books every occurrence. Attendees' replies are reset because they replied to
        another time. Edited single occurrences are replaced by the new series.
        """
        now = now or datetime.now(UTC)
        viewer = Viewer.of(caller)
        meeting = await self.get(meeting_id, viewer)
        if not can_manage(meeting, viewer):
            raise PermissionDenied(_("only the organiser or an administrator may change this meeting"))
        if meeting.status != "scheduled":
            raise ValidationFailed.field("status", _("a {status} meeting cannot be changed", status=meeting.status))
        invited_before = invitations.recipients_of(meeting)

        # Every field check below records its fault in ``errors``, so the error response lists
        # them all. Nothing is booked before ``raise_if_any``, and a raise rolls the changes back.
        errors = validation.FieldErrors()
        if data.title is not msgspec.UNSET:
            with errors.collect():
                meeting.title = validation.text(data.title, field="title", max_length=300)
        if data.description is not msgspec.UNSET:
            with errors.collect():
                meeting.description = validation.text(data.description, field="description", max_length=20_000, required=False, multiline=True)
        if data.confidentiality is not msgspec.UNSET:
            meeting.confidentiality = data.confidentiality
        if data.chair is not msgspec.UNSET:
            with errors.collect():
                chair = await self._person(data.chair, field="chair") if data.chair else None
                meeting.chair_id = chair.id if chair else None
        if data.secretary is not msgspec.UNSET:
            with errors.collect():
                secretary = await self._person(data.secretary, field="secretary") if data.secretary else None
                meeting.secretary_id = secretary.id if secretary else None
        if data.urgent is not msgspec.UNSET:
            meeting.urgent = data.urgent
        if data.urgent_reason is not msgspec.UNSET:
            meeting.urgent_reason = data.urgent_reason

        time_zone = meeting.time_zone
        if data.time_zone is not msgspec.UNSET:
            time_zone = errors.check(validation.time_zone, data.time_zone) or meeting.time_zone
        starts_at, ends_at = meeting.starts_at, meeting.ends_at
        times_sent = any(v is not msgspec.UNSET for v in (data.starts_at, data.ends_at, data.duration_minutes))
        if times_sent:
            start_in = data.starts_at if data.starts_at is not msgspec.UNSET else meeting.starts_at
            end_in = data.ends_at if data.ends_at is not msgspec.UNSET else None
            duration_in = data.duration_minutes if data.duration_minutes is not msgspec.UNSET else None
            if end_in is None and duration_in is None:
                duration_in = int((meeting.ends_at - meeting.starts_at).total_seconds() // 60)
            with errors.collect():
                starts_at, ends_at = booking_rules.resolve_times(
                    booking_rules.TimeRequest(start_in, end_in, duration_in, time_zone), rules=self.rules
                )
        rrule = meeting.rrule
        if data.rrule is not msgspec.UNSET:
            rrule = errors.check(booking_rules.normalise_rrule, data.rrule) if data.rrule else None

        attendees_changed = data.attendees is not msgspec.UNSET
        cleaned = self._clean_attendees(data.attendees, errors) if attendees_changed else []  # type: ignore[arg-type]

        room_changed = data.room_id is not msgspec.UNSET and data.room_id != meeting.room_id
        room = None
        if room_changed:
            with errors.collect():
                room = await self._room(data.room_id)  # type: ignore[arg-type]
        errors.raise_if_any()

        if attendees_changed:
            existing = {a.email: a for a in meeting.attendees}
            meeting.attendees = await self._attendee_rows(cleaned, existing)
        if room_changed:
            meeting.room_id = room.id if room else None

        chair_email = meeting.chair.email if meeting.chair_id and meeting.chair else None
        if data.chair is not msgspec.UNSET:
            chair_email = validation.email(data.chair, field="chair") if data.chair else None
        participants = participant_count([a.email for a in meeting.attendees] + [meeting.organiser.email, chair_email])
        bridge_changed = data.bridge_id is not msgspec.UNSET and data.bridge_id != meeting.bridge_id
        schedule_changed = (
            (starts_at, ends_at) != (meeting.starts_at, meeting.ends_at) or time_zone != meeting.time_zone or rrule != meeting.rrule
        )
        current_bridge = meeting.bridge
        capacity_short = current_bridge is not None and current_bridge.capacity < participants

        if schedule_changed or bridge_changed or capacity_short:
            if schedule_changed:
                booking_rules.check_notice(starts_at, now=now, urgent=meeting.urgent, urgent_reason=meeting.urgent_reason, rules=self.rules)
            slots = booking_rules.expand(starts_at, ends_at, time_zone=time_zone, rrule=rrule, rules=self.rules)
            wanted = data.bridge_id if data.bridge_id is not msgspec.UNSET else meeting.bridge_id
            # Free the old slots inside this transaction, then book the new ones.
            for booking in list(meeting.bookings):
                await self.session.delete(booking)
            meeting.bookings = []
            await self.session.flush()
            bridge = await self._choose_bridge(slots, bridge_id=wanted, participants=participants, exclude_meeting_id=meeting.id, now=now)
            meeting.bookings = self._bookings(slots, bridge=bridge)
            meeting.bridge_id = bridge.id
            meeting.starts_at, meeting.ends_at = starts_at, ends_at
            meeting.series_ends_at = slots[-1].ends_at
            meeting.time_zone = time_zone
            meeting.rrule = rrule
            await self._flush_bookings(slots, bridge=bridge, participants=participants, exclude_meeting_id=meeting.id, now=now)
        if schedule_changed or bridge_changed or room_changed:
            meeting.sequence += 1
            if schedule_changed:
                for attendee in meeting.attendees:
                    attendee.partstat = "NEEDS-ACTION"
                    attendee.reply_sequence = None
                    attendee.reply_dtstamp = None
        await self.session.flush()
        meeting = await self._reload(meeting)
        logger.info("meeting updated meeting_id=%s sequence=%d", meeting.id, meeting.sequence)
        # Invitations: outbox rows in this transaction.
        await invitations.enqueue_updated(self.session, self.settings, meeting, invited_before)
        return meeting

    async def update_occurrence(
        self, meeting_id: uuid.UUID, recurrence_id: datetime, data: OccurrenceUpdate, *, caller: Person, now: datetime | None = None
    ) -> Meeting:
        """Move one occurrence of a series or put it on another bridge."""
        now = now or datetime.now(UTC)
        viewer = Viewer.of(caller)
        meeting = await self.get(meeting_id, viewer)
        if not can_manage(meeting, viewer):
            raise PermissionDenied(_("only the organiser or an administrator may change this meeting"))
        booking = self._occurrence(meeting, recurrence_id)
        if not booking.active:
            raise ValidationFailed.field("recurrence_id", _("this occurrence is cancelled"))
        start_in = data.starts_at if data.starts_at is not msgspec.UNSET else booking.starts_at
        end_in = data.ends_at if data.ends_at is not msgspec.UNSET else None
        duration = None if end_in is not None else int((booking.ends_at - booking.starts_at).total_seconds() // 60)
        starts_at, ends_at = booking_rules.resolve_times(
            booking_rules.TimeRequest(start_in, end_in, duration, meeting.time_zone), rules=self.rules
        )
        if (starts_at, ends_at) != (booking.starts_at, booking.ends_at):
            booking_rules.check_notice(starts_at, now=now, urgent=meeting.urgent, urgent_reason=meeting.urgent_reason, rules=self.rules)
        slot = Slot(starts_at=starts_at, ends_at=ends_at, recurrence_id=booking.recurrence_id)
        participants = participant_count([a.email for a in meeting.attendees] + [meeting.organiser.email, meeting.chair.email if meeting.chair else None])
        wanted = data.bridge_id if data.bridge_id is not msgspec.UNSET else booking.bridge_id
        booking.active = False
        await self.session.flush()
        try:
            bridge = await self._choose_bridge([slot], bridge_id=wanted, participants=participants, exclude_meeting_id=None, now=now)
        finally:
            booking.active = True
        booking.bridge_id = bridge.id
        booking.starts_at, booking.ends_at = starts_at, ends_at
        booking.blocked_until = ends_at + timedelta(minutes=self.rules.buffer_minutes)
        booking.overridden = True
        meeting.sequence += 1
        meeting.series_ends_at = max(b.ends_at for b in meeting.bookings)
        await self._flush_bookings([slot], bridge=bridge, participants=participants, exclude_meeting_id=None, now=now)
        meeting = await self._reload(meeting)
        logger.info("occurrence updated meeting_id=%s recurrence_id=%s", meeting.id, booking.recurrence_id.isoformat())
        # Invitations: outbox rows in this transaction.
        await invitations.enqueue_occurrence_updated(self.session, self.settings, meeting)
        return meeting

    def _occurrence(self, meeting: Meeting, recurrence_id: datetime) -> Booking:
        wanted = validation.aware(recurrence_id, field="recurrence_id").astimezone(UTC)
        for booking in meeting.bookings:
            if booking.recurrence_id == wanted:
                return booking
        raise NotFound("occurrence", wanted.isoformat())

    async def cancel(self, meeting_id: uuid.UUID, *, caller: Person, reason: str | None = None, recurrence_id: datetime | None = None) -> Meeting:
        """Cancel the meeting (every occurrence) or, with ``recurrence_id``, one occurrence.

        Cancelled occurrences release their bridge at once. Cancelling twice is harmless.
        """
        viewer = Viewer.of(caller)
        meeting = await self.get(meeting_id, viewer)
        if not can_manage(meeting, viewer):
            raise PermissionDenied(_("only the organiser or an administrator may cancel this meeting"))
        sequence_before = meeting.sequence
        if recurrence_id is not None:
            booking = self._occurrence(meeting, recurrence_id)
            if booking.active:
                booking.active = False
                meeting.sequence += 1
                if not any(b.active for b in meeting.bookings):
                    meeting.status = "cancelled"
        elif meeting.status != "cancelled":
            meeting.status = "cancelled"
            meeting.cancel_reason = validation.text(reason, field="reason", max_length=1000, required=False, multiline=True) if reason else None
            meeting.sequence += 1
            for booking in meeting.bookings:
                booking.active = False
        await self.session.flush()
        logger.info("meeting cancelled meeting_id=%s occurrence=%s", meeting.id, recurrence_id.isoformat() if recurrence_id else "all")
        meeting = await self._reload(meeting)
        # Invitations: outbox rows in this transaction.
        await invitations.enqueue_cancelled(
            self.session, self.settings, meeting, before_sequence=sequence_before, recurrence_id=recurrence_id
        )
        return meeting
