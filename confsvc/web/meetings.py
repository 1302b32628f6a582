"""Pages for attendees and organisers: my meetings, replies, booking, reschedule and cancel."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.booking import feed, invitations
from confsvc.booking.replies import ReplyService
from confsvc.booking.schemas import MeetingUpdate
from confsvc.booking.services import MeetingFilters, MeetingService, Viewer, can_manage
from confsvc.bridges.services import BridgeService
from confsvc.db.models import Meeting, Person, Room
from confsvc.directory.services import DirectoryService
from confsvc.errors import BookingConflict, PermissionDenied, ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.settings import Settings
from confsvc.web.checks import checks_context
from confsvc.web.forms import BookingForm, FormErrors, errors_from_validation
from confsvc.web.pages import Page, provide_page
from confsvc.web.preparation import agenda_context, materials_context

logger = logging.getLogger(__name__)

REPLY_CHOICES = ("ACCEPTED", "TENTATIVE", "DECLINED")
BOOKING_FIELDS = {
    "title", "description", "date", "start", "duration", "time_zone", "attendees", "chair", "secretary",
    "bridge_id", "room_id", "repeat", "count", "agenda", "urgent_reason", "confidentiality",
}
DAY_START_HOUR = 7
DAY_END_HOUR = 21


def own_viewer(person: Person) -> Viewer:
    """Return a viewer that sees only the person's own meetings, even for an administrator."""
    return Viewer(person_id=person.id, email=person.email, roles=frozenset())


@dataclass
class MyMeeting:
    meeting: Meeting
    my_role: str
    partstat: str | None
    next_start: datetime
    next_end: datetime


def _next_occurrence(meeting: Meeting, now: datetime) -> tuple[datetime, datetime]:
    upcoming = sorted((b for b in meeting.bookings if b.active and b.ends_at > now), key=lambda b: b.starts_at)
    if upcoming:
        return upcoming[0].starts_at, upcoming[0].ends_at
    return meeting.starts_at, meeting.ends_at


def my_meeting(meeting: Meeting, person: Person, *, now: datetime) -> MyMeeting:
    attendee = next((a for a in meeting.attendees if a.email == person.email), None)
    if meeting.organiser_id == person.id:
        role = "organiser"
    elif meeting.chair_id == person.id:
        role = "chair"
    elif meeting.secretary_id == person.id:
        role = "secretary"
    else:
        role = "attendee"
    start, end = _next_occurrence(meeting, now)
    return MyMeeting(meeting=meeting, my_role=role, partstat=attendee.partstat if attendee else None, next_start=start, next_end=end)


def feed_links(settings: Settings, person: Person) -> dict[str, str]:
    """Return the person's calendar subscription URLs: ``url`` on the service's own scheme
    and host (``CONFSVC_BASE_URL``), and ``webcal`` for calendar programs that take it."""
    webcal, _https = feed.feed_urls(settings, person.id)
    token = feed.feed_token(settings.secret_key, person.id)
    return {"url": f"{settings.base_url.rstrip('/')}/feed/{token}.ics", "webcal": webcal}


def tel_link(number: str, access_code: str | None) -> str:
    """``tel:`` URI dialling the number, waiting, then keying the access code and ``#``."""
    digits = "".join(ch for ch in number if ch.isdigit() or ch == "+")
    return f"tel:{digits},,{access_code}%23" if access_code else f"tel:{digits}"


class MeetingPages(Controller):
    path = "/"
    include_in_schema = False
    dependencies = {"page": Provide(provide_page)}

    @get("/", operation_id="webHome")
    async def home(self, page: Page) -> Redirect:
        if page.person is None:
            return Redirect("/login", status_code=302)
        return Redirect("/meetings", status_code=302)

    # -- my meetings -------------------------------------------------------------

    @get("/meetings", operation_id="webMyMeetings")
    async def my_meetings(self, page: Page, db_session: AsyncSession, show: str = "upcoming") -> Template:
        person = page.require()
        now = datetime.now(UTC)
        filters = MeetingFilters(starts_from=now - timedelta(hours=12) if show != "past" else None, limit=200)
        meetings = await MeetingService(db_session, page.settings).list(filters, own_viewer(person))
        rows = [my_meeting(m, person, now=now) for m in meetings]
        if show == "past":
            rows = [r for r in rows if r.next_end <= now]
        rows.sort(key=lambda r: r.next_start, reverse=show == "past")
        return page.render("meetings.html", rows=rows, show=show, now=now, reply_choices=REPLY_CHOICES, feed=feed_links(page.settings, person))

    @post("/meetings/{meeting_id:uuid}/reply", operation_id="webReply")
    async def reply(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession, meeting_id: uuid.UUID) -> Template | Redirect:
        person = page.require()
        form = await request.form()
        partstat = str(form.get("partstat") or "")
        comment = str(form.get("comment") or "") or None
        meeting = await MeetingService(db_session, page.settings).get(meeting_id, own_viewer(person))
        if not any(a.email == person.email for a in meeting.attendees):
            raise ValidationFailed.field("partstat", _("you are not on the attendee list of this meeting"))
        if partstat not in REPLY_CHOICES:
            raise ValidationFailed.field("partstat", _("use ACCEPTED, TENTATIVE or DECLINED"))
        await ReplyService(db_session, page.settings).rsvp(meeting_id, person.email, partstat=partstat, comment=comment)
        await db_session.commit()
        logger.info("web reply recorded meeting_id=%s person_id=%s partstat=%s", meeting_id, person.id, partstat)
        meeting = await MeetingService(db_session, page.settings).get(meeting_id, own_viewer(person))
        await db_session.refresh(meeting, attribute_names=["attendees"])
        if page.is_htmx:
            row = my_meeting(meeting, person, now=datetime.now(UTC))
            return page.render("_meeting_row.html", row=row, reply_choices=REPLY_CHOICES)
        return page.redirect(f"/meetings/{meeting_id}")

    @get("/meetings/{meeting_id:uuid}", operation_id="webMeeting")
    async def meeting(self, page: Page, db_session: AsyncSession, meeting_id: uuid.UUID) -> Template:
        person = page.require()
        return page.render("meeting.html", **await meeting_page_context(page, db_session, meeting_id, person))

    @get("/meetings/{meeting_id:uuid}/invite.ics", operation_id="webInvitationIcs")
    async def invitation(self, page: Page, db_session: AsyncSession, meeting_id: uuid.UUID) -> Response[bytes]:
        person = page.require()
        meeting = await MeetingService(db_session, page.settings).get(meeting_id, Viewer.of(person))
        ics = invitations.invitation_ics(meeting, page.settings, recipient=person.email)
        return Response(ics, media_type="text/calendar; charset=utf-8", headers={"Content-Disposition": 'attachment; filename="meeting.ics"'})

    # -- reschedule and cancel ---------------------------------------------------

    @get("/meetings/{meeting_id:uuid}/reschedule", operation_id="webRescheduleForm")
    async def reschedule_form(self, page: Page, db_session: AsyncSession, meeting_id: uuid.UUID) -> Template:
        person = page.require("organiser")
        meeting = await self._managed(page, db_session, meeting_id, person)
        local = meeting.starts_at.astimezone(BookingForm(time_zone=meeting.time_zone).zone(page.settings.time_zone))
        form = BookingForm(
            date=local.date().isoformat(), start=local.strftime("%H:%M"), time_zone=meeting.time_zone,
            duration=str(int((meeting.ends_at - meeting.starts_at).total_seconds() // 60)),
        )
        return page.render("reschedule.html", m=meeting, form=form, errors=FormErrors(), conflict=None)

    @post("/meetings/{meeting_id:uuid}/reschedule", operation_id="webReschedule")
    async def reschedule(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession, meeting_id: uuid.UUID) -> Template | Redirect:
        person = page.require("organiser")
        meeting = await self._managed(page, db_session, meeting_id, person)
        form = BookingForm.from_form(await request.form())
        form.time_zone = meeting.time_zone
        conflict = None
        try:
            update = MeetingUpdate(starts_at=form.start_at(page.settings.time_zone), duration_minutes=form.duration_minutes())
            await MeetingService(db_session, page.settings).update(meeting_id, update, caller=person)
            await db_session.commit()
        except ValidationFailed as exc:
            await db_session.rollback()
            return page.render("reschedule.html", m=meeting, form=form, errors=errors_from_validation(exc, known={"date", "start", "duration"}), conflict=None, status_code=400)
        except BookingConflict as exc:
            await db_session.rollback()
            conflict = conflict_view(exc, page)
            return page.render("reschedule.html", m=meeting, form=form, errors=FormErrors(), conflict=conflict, status_code=409)
        logger.info("web meeting rescheduled meeting_id=%s person_id=%s", meeting_id, person.id)
        return page.redirect(f"/meetings/{meeting_id}?changed=1")

    @get("/meetings/{meeting_id:uuid}/cancel", operation_id="webCancelForm")
    async def cancel_form(self, page: Page, db_session: AsyncSession, meeting_id: uuid.UUID) -> Template:
        person = page.require("organiser")
        meeting = await self._managed(page, db_session, meeting_id, person)
        return page.render("cancel.html", m=meeting)

    @post("/meetings/{meeting_id:uuid}/cancel", operation_id="webCancel")
    async def cancel(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession, meeting_id: uuid.UUID) -> Redirect:
        person = page.require("organiser")
        await self._managed(page, db_session, meeting_id, person)
        form = await request.form()
        if form.get("confirm") != "yes":
            raise ValidationFailed.field("confirm", _("tick the box to confirm the cancellation"))
        reason = str(form.get("reason") or "").strip() or None
        await MeetingService(db_session, page.settings).cancel(meeting_id, caller=person, reason=reason)
        await db_session.commit()
        logger.info("web meeting cancelled meeting_id=%s person_id=%s", meeting_id, person.id)
        return page.redirect(f"/meetings/{meeting_id}")

    async def _managed(self, page: Page, db_session: AsyncSession, meeting_id: uuid.UUID, person: Person) -> Meeting:
        viewer = Viewer.of(person)
        meeting = await MeetingService(db_session, page.settings).get(meeting_id, viewer)
        if not can_manage(meeting, viewer):
            raise PermissionDenied(_("only the organiser or an administrator may change this meeting"))
        return meeting

    # -- booking -----------------------------------------------------------------

    @get("/book", operation_id="webBookingForm")
    async def booking_form(self, page: Page, db_session: AsyncSession) -> Template:
        page.require("organiser")
        zone = page.fmt.zone
        tomorrow = (datetime.now(zone) + timedelta(days=1)).date()
        form = BookingForm(date=tomorrow.isoformat(), start="10:00", duration="60", time_zone=zone.key)
        return page.render("book.html", form=form, errors=FormErrors(), conflict=None, rooms=await _rooms(db_session), chosen=[])

    @post("/book", operation_id="webBook")
    async def book(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession) -> Template | Redirect:
        person = page.require("organiser")
        raw = await request.form()
        form = BookingForm.from_form(raw)
        alternative = raw.get("use_alternative")
        if isinstance(alternative, str) and "|" in alternative:
            form = _apply_alternative(form, alternative, page)
        chosen = await _people(db_session, form.attendees)
        try:
            create = form.to_create(default_zone=page.settings.time_zone)
            meeting = await MeetingService(db_session, page.settings).create(create, caller=person)
            await db_session.commit()
        except ValidationFailed as exc:
            await db_session.rollback()
            errors = errors_from_validation(exc, known=BOOKING_FIELDS)
            return page.render("book.html", form=form, errors=errors, conflict=None, rooms=await _rooms(db_session), chosen=chosen, status_code=400)
        except BookingConflict as exc:
            await db_session.rollback()
            return page.render("book.html", form=form, errors=FormErrors(), conflict=conflict_view(exc, page), rooms=await _rooms(db_session), chosen=chosen, status_code=409)
        logger.info("web meeting booked meeting_id=%s person_id=%s", meeting.id, person.id)
        return page.redirect(f"/meetings/{meeting.id}?booked=1")

    @get("/book/people", operation_id="webPeopleSearch")
    async def people_search(self, page: Page, db_session: AsyncSession, q: str = "", target: str = "attendee") -> Template:
        page.require("organiser")
        people = await DirectoryService(db_session).list(query=q[:100], limit=10) if len(q.strip()) >= 1 else []
        people = [p for p in people if p.active]
        return page.render("_people_results.html", people=people, q=q, target=target if target in ("attendee", "chair", "secretary") else "attendee")

    @get("/book/bridges", operation_id="webBridgeDay")
    async def bridge_day(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession) -> Template:
        """Day view of bridge occupancy for the date of the form, with the chosen slot marked."""
        page.require("organiser")
        form = BookingForm.from_form(request.query_params)
        return page.render("_bridge_day.html", **await bridge_day_view(page, db_session, form))


async def meeting_page_context(page: Page, db_session: AsyncSession, meeting_id: uuid.UUID, person: Person, **overrides: Any) -> dict[str, Any]:
    """Return the values of the meeting page; ``overrides`` replace parts (an editor with errors)."""
    viewer = Viewer.of(person)
    meeting = await MeetingService(db_session, page.settings).get(meeting_id, viewer)
    bridge = meeting.bridge
    dial = []
    if bridge is not None:
        for item in bridge.dial_in or []:
            dial.append({"label": item.get("label", ""), "number": item["number"], "tel": tel_link(item["number"], bridge.access_code)})
    context: dict[str, Any] = {
        "m": meeting,
        "row": my_meeting(meeting, person, now=datetime.now(UTC)),
        "dial": dial,
        "bridge": bridge,
        "is_host": person.id in (meeting.organiser_id, meeting.chair_id),
        "manage": can_manage(meeting, viewer) and meeting.status == "scheduled",
        "reply_choices": REPLY_CHOICES,
        **agenda_context(meeting, viewer),
        **await materials_context(db_session, page, meeting, person),
        **await checks_context(db_session, page, meeting, person),
    }
    context.update(overrides)
    return context


async def _rooms(db_session: AsyncSession) -> list[Room]:
    return list(await db_session.scalars(select(Room).where(Room.active.is_(True)).order_by(Room.name)))


async def _people(db_session: AsyncSession, emails: list[str]) -> list[Person]:
    if not emails:
        return []
    found = {p.email: p for p in await db_session.scalars(select(Person).where(Person.email.in_([e.lower() for e in emails])))}
    return [found[e.lower()] for e in emails if e.lower() in found]


def _apply_alternative(form: BookingForm, value: str, page: Page) -> BookingForm:
    bridge_id, _sep, start = value.partition("|")
    try:
        starts_at = datetime.fromisoformat(start)
        uuid.UUID(bridge_id)
    except ValueError:
        return form
    local = starts_at.astimezone(form.zone(page.settings.time_zone))
    form.bridge_id = bridge_id
    form.date = local.date().isoformat()
    form.start = local.strftime("%H:%M")
    return form


def conflict_view(exc: BookingConflict, page: Page) -> dict[str, Any]:
    """Conflicts and alternatives of ``exc`` with their instants parsed back from ISO text."""

    def instant(value: Any) -> datetime | None:
        if isinstance(value, datetime):
            return value
        try:
            return datetime.fromisoformat(str(value))
        except ValueError:
            return None

    conflicts = [{**c, "starts": instant(c.get("starts_at")), "ends": instant(c.get("ends_at"))} for c in exc.extra.get("conflicts", [])]
    alternatives = [
        {**a, "starts": instant(a.get("starts_at")), "ends": instant(a.get("ends_at")), "value": f"{a.get('bridge_id')}|{a.get('starts_at')}"}
        for a in exc.extra.get("alternatives", [])
    ]
    return {"message": str(exc), "conflicts": conflicts, "alternatives": alternatives}


async def bridge_day_view(page: Page, db_session: AsyncSession, form: BookingForm) -> dict[str, Any]:
    """Occupancy of every active bridge from 07:00 to 21:00 local time on the form's date.

    Each bridge gets its busy blocks as percentages of the day (for the bar) and whether it
    is free and big enough for the chosen slot (start plus duration, plus the booking buffer).
    """
    zone = form.zone(page.settings.time_zone)
    participants = len(form.all_attendees()) + 1
    try:
        slot_start: datetime | None = form.start_at(page.settings.time_zone)
        slot_end: datetime | None = slot_start + timedelta(minutes=form.duration_minutes())  # type: ignore[operator]
    except ValidationFailed:
        slot_start = slot_end = None
    try:
        day = datetime.fromisoformat(form.date).date() if form.date else datetime.now(zone).date()
    except ValueError:
        day = datetime.now(zone).date()
    day_start = datetime(day.year, day.month, day.day, DAY_START_HOUR, tzinfo=zone)
    day_end = datetime(day.year, day.month, day.day, DAY_END_HOUR, tzinfo=zone)
    span = (day_end - day_start).total_seconds()
    availability = await BridgeService(db_session, page.settings.booking).availability(
        starts_at=day_start, ends_at=day_end, attendees=participants
    )
    buffer = timedelta(minutes=page.settings.booking.buffer_minutes)

    def percent(start: datetime, end: datetime) -> tuple[float, float]:
        left = max(0.0, (start - day_start).total_seconds()) / span * 100
        right = min(span, (end - day_start).total_seconds()) / span * 100
        return round(left, 2), round(max(0.5, right - left), 2)

    bridges = []
    for item in availability.bridges:
        blocks = [{"starts": b.starts_at, "ends": b.ends_at, "pos": percent(b.starts_at, b.ends_at)} for b in item.busy]
        free_for_slot = None
        if slot_start is not None and slot_end is not None:
            free_for_slot = not any(b.starts_at < slot_end + buffer and slot_start < b.ends_at + buffer for b in item.busy)
        bridges.append(
            {"id": str(item.id), "name": item.name, "capacity": item.capacity, "fits": item.fits, "free": free_for_slot,
             "spare": item.capacity - participants, "blocks": blocks}
        )
    slot_pos = percent(slot_start, slot_end) if slot_start and slot_end else None
    hours = [{"label": f"{h:02d}", "left": round((h - DAY_START_HOUR) / (DAY_END_HOUR - DAY_START_HOUR) * 100, 2)} for h in range(DAY_START_HOUR, DAY_END_HOUR + 1, 2)]
    return {"bridges": bridges, "day": day, "slot_pos": slot_pos, "participants": participants, "hours": hours, "selected": form.bridge_id}
