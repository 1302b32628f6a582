"""The live minutes console for secretaries, and review by chairs.

The console is one form: attendance, actual start and end, notes per agenda item,
resolutions and action items. htmx posts it to :meth:`MinutesPages.save_draft` a moment
after each keystroke, so the stored draft (not the browser) keeps the text and a reload
shows it again. Submitting, approving, returning and the .docx download call the minutes
service directly.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.booking.services import MeetingFilters, MeetingService, Viewer
from confsvc.db.models import Meeting
from confsvc.errors import Conflict, ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.minutes.schemas import AttendanceIn, MinutesDraft, MinutesRead, ResolutionIn, SubmitRequest
from confsvc.minutes.services import MinutesService, can_approve, can_edit
from confsvc.web.meetings import own_viewer
from confsvc.web.pages import Page, provide_page

logger = logging.getLogger(__name__)

ATTENDANCE_CHOICES = ("present", "late", "left_early", "absent", "excused", "represented")
SPARE_ACTION_ROWS = 2


def minutes_pages() -> list[Any]:
    return [MinutesPages]


def _one(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _clock(day: date, text: str, zone: Any, field: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.combine(day, time.fromisoformat(text), tzinfo=zone)
    except ValueError as exc:
        raise ValidationFailed.field(field, _("give a time such as 09:30")) from exc


def draft_from_form(form: Any, *, day: date, zone: Any) -> MinutesDraft:
    """Build the whole draft from the console form (times are wall-clock times on ``day`` in ``zone``).

    Raises:
        ValidationFailed: a time or a due date is malformed, or an action item lacks its owner.
    """
    attendance = []
    index = 0
    while f"att-{index}-email" in form:
        status = _one(form, f"att-{index}-status")
        if status in ATTENDANCE_CHOICES:
            attendance.append({"status": status, "email": _one(form, f"att-{index}-email") or None, "name": _one(form, f"att-{index}-name")})
        index += 1
    notes = []
    item = 1
    while f"note-{item}" in form:
        text = (form.get(f"note-{item}") or "").strip()
        if text:
            notes.append({"item": item, "text": text})
        item += 1
    resolutions = [ResolutionIn(text=line.strip()) for line in (form.get("resolutions") or "").splitlines() if line.strip()]
    actions = []
    index = 0
    while f"act-{index}-title" in form:
        title, owner, due = _one(form, f"act-{index}-title"), _one(form, f"act-{index}-owner"), _one(form, f"act-{index}-due")
        if title or owner:
            if not owner or not due:
                raise ValidationFailed.field(f"action_items[{len(actions)}]", _("an action item needs an owner and a due date"))
            try:
                due_day = date.fromisoformat(due)
            except ValueError as exc:
                raise ValidationFailed.field(f"action_items[{len(actions)}].due", _("give a date such as 2026-03-02")) from exc
            actions.append({"title": title, "owner": owner, "due": due_day})
        index += 1
    payload = {
        "attendance": attendance,
        "notes": notes,
        "resolutions": [msgspec.to_builtins(r) for r in resolutions],
        "action_items": actions,
        "actual_start": _clock(day, _one(form, "actual_start"), zone, "actual_start"),
        "actual_end": _clock(day, _one(form, "actual_end"), zone, "actual_end"),
    }
    try:
        return msgspec.convert(payload, MinutesDraft)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(str(exc), invalid_params=[{"name": "form", "reason": str(exc)}]) from exc


def pick_occurrence(meeting: Meeting, raw: str | None, *, now: datetime) -> datetime | None:
    """Return the occurrence (recurrence id, UTC) the console works on; None for a single meeting.

    An explicit ``raw`` ISO value wins. Otherwise the latest occurrence that has started is
    used, or the first one when none has started yet.

    Raises:
        ValidationFailed: ``raw`` is not an ISO date-time.
    """
    if raw:
        try:
            return datetime.fromisoformat(raw).astimezone(UTC)
        except ValueError as exc:
            raise ValidationFailed.field("occurrence", _("give a date-time such as 2027-03-01T01:30:00Z")) from exc
    if not meeting.rrule:
        return None
    active = sorted((b for b in meeting.bookings if b.active), key=lambda b: b.starts_at)
    if not active:
        return None
    started = [b for b in active if b.starts_at <= now]
    return (started[-1] if started else active[0]).recurrence_id


class MinutesPages(Controller):
    path = "/minutes"
    include_in_schema = False
    dependencies = {"page": Provide(provide_page)}

    @get("/", operation_id="webMinutesList")
    async def index(self, page: Page, db_session: AsyncSession) -> Template:
        """Meetings of the last 14 days and the next 14 whose minutes the person keeps or approves."""
        person = page.require()
        now = datetime.now(UTC)
        meetings = await MeetingService(db_session, page.settings).list(
            MeetingFilters(starts_from=now - timedelta(days=14), starts_to=now + timedelta(days=14), limit=200), own_viewer(person)
        )
        viewer = Viewer.of(person)
        rows = [m for m in meetings if can_edit(m, viewer) or can_approve(m, viewer)]
        return page.render("minutes_list.html", meetings=rows)

    @get("/{meeting_id:uuid}", operation_id="webMinutesConsole")
    async def console(self, page: Page, db_session: AsyncSession, meeting_id: uuid.UUID, occurrence: str | None = None) -> Template:
        person = page.require()
        return page.render("minutes_console.html", **await self._context(page, db_session, meeting_id, person, occurrence))

    @post("/{meeting_id:uuid}/draft", operation_id="webMinutesDraft")
    async def save_draft(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession, meeting_id: uuid.UUID) -> Template:
        """Store the console form as the draft and return the save-status fragment."""
        person = page.require()
        meeting = await MeetingService(db_session, page.settings).get(meeting_id, Viewer.of(person))
        zone = _zone(meeting.time_zone)
        form = await request.form()
        try:
            occurrence = pick_occurrence(meeting, _one(form, "occurrence"), now=datetime.now(UTC))
            day = (occurrence or meeting.starts_at).astimezone(zone).date()
            draft = draft_from_form(form, day=day, zone=zone)
            await MinutesService(db_session, page.settings).save_draft(meeting_id, draft, caller=person, occurrence=occurrence)
            await db_session.commit()
        except (ValidationFailed, Conflict) as exc:
            await db_session.rollback()
            problems = getattr(exc, "invalid_params", None) or [{"name": "", "reason": str(exc)}]
            return page.render("_save_status.html", saved_at=None, problems=problems)
        return page.render("_save_status.html", saved_at=datetime.now(UTC), problems=[])

    @post("/{meeting_id:uuid}/submit", operation_id="webMinutesSubmit")
    async def submit(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession, meeting_id: uuid.UUID) -> Template | Redirect:
        person = page.require()
        meeting = await MeetingService(db_session, page.settings).get(meeting_id, Viewer.of(person))
        zone = _zone(meeting.time_zone)
        service = MinutesService(db_session, page.settings)
        form = await request.form()
        occurrence = pick_occurrence(meeting, _one(form, "occurrence"), now=datetime.now(UTC))
        try:
            draft = draft_from_form(form, day=(occurrence or meeting.starts_at).astimezone(zone).date(), zone=zone)
            await service.save_draft(meeting_id, draft, caller=person, occurrence=occurrence)
            await service.submit(meeting_id, SubmitRequest(), caller=person, occurrence=occurrence)
            await db_session.commit()
        except (ValidationFailed, Conflict) as exc:
            await db_session.rollback()
            context = await self._context(page, db_session, meeting_id, person, _one(form, "occurrence"))
            context["problems"] = getattr(exc, "invalid_params", None) or [{"name": "", "reason": str(exc)}]
            return page.render("minutes_console.html", status_code=400, **context)
        logger.info("web minutes submitted meeting_id=%s person_id=%s", meeting_id, person.id)
        return page.redirect(_console_path(meeting_id, occurrence))

    @post("/{meeting_id:uuid}/approve", operation_id="webMinutesApprove")
    async def approve(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession, meeting_id: uuid.UUID) -> Redirect:
        person = page.require()
        meeting = await MeetingService(db_session, page.settings).get(meeting_id, Viewer.of(person))
        occurrence = pick_occurrence(meeting, _one(await request.form(), "occurrence"), now=datetime.now(UTC))
        await MinutesService(db_session, page.settings).approve(meeting_id, caller=person, occurrence=occurrence)
        await db_session.commit()
        logger.info("web minutes approved meeting_id=%s person_id=%s", meeting_id, person.id)
        return page.redirect(_console_path(meeting_id, occurrence))

    @post("/{meeting_id:uuid}/return", operation_id="webMinutesReturn")
    async def return_to_draft(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession, meeting_id: uuid.UUID) -> Redirect:
        person = page.require()
        form = await request.form()
        meeting = await MeetingService(db_session, page.settings).get(meeting_id, Viewer.of(person))
        occurrence = pick_occurrence(meeting, _one(form, "occurrence"), now=datetime.now(UTC))
        await MinutesService(db_session, page.settings).return_to_draft(meeting_id, caller=person, comment=_one(form, "comment"), occurrence=occurrence)
        await db_session.commit()
        logger.info("web minutes returned meeting_id=%s person_id=%s", meeting_id, person.id)
        return page.redirect(_console_path(meeting_id, occurrence))

    @get("/{meeting_id:uuid}/minutes.docx", operation_id="webMinutesDocx")
    async def document(self, page: Page, db_session: AsyncSession, meeting_id: uuid.UUID, occurrence: str | None = None) -> Response[bytes]:
        person = page.require()
        meeting = await MeetingService(db_session, page.settings).get(meeting_id, Viewer.of(person))
        chosen = pick_occurrence(meeting, occurrence, now=datetime.now(UTC))
        rendered = await MinutesService(db_session, page.settings).render(
            meeting_id, Viewer.of(person), fmt="docx", locale=page.locale, occurrence=chosen
        )
        body = rendered.body if isinstance(rendered.body, bytes) else rendered.body.encode("utf-8")
        return Response(body, media_type=rendered.media_type, headers={"Content-Disposition": f'attachment; filename="{rendered.filename}"'})

    async def _context(self, page: Page, db_session: AsyncSession, meeting_id: uuid.UUID, person: Any, raw_occurrence: str | None) -> dict[str, Any]:
        viewer = Viewer.of(person)
        meeting = await MeetingService(db_session, page.settings).get(meeting_id, viewer)
        occurrence = pick_occurrence(meeting, raw_occurrence, now=datetime.now(UTC))
        minutes: MinutesRead = await MinutesService(db_session, page.settings).read(meeting_id, viewer, occurrence=occurrence)
        zone = _zone(meeting.time_zone)
        notes = {note.item: note.text for note in minutes.notes if note.item}
        actions = list(minutes.action_items)
        return {
            "m": meeting,
            "occurrence": occurrence.isoformat() if occurrence else "",
            "occurrence_start": occurrence,
            "minutes": minutes,
            "editable": can_edit(meeting, viewer) and minutes.status == "draft",
            "approver": can_approve(meeting, viewer) and minutes.status == "submitted",
            "notes": notes,
            "actions": actions,
            "spare_rows": range(len(actions), len(actions) + SPARE_ACTION_ROWS),
            "start_clock": minutes.actual_start.astimezone(zone).strftime("%H:%M") if minutes.actual_start else "",
            "end_clock": minutes.actual_end.astimezone(zone).strftime("%H:%M") if minutes.actual_end else "",
            "choices": ATTENDANCE_CHOICES,
            "problems": [],
        }


def _console_path(meeting_id: uuid.UUID, occurrence: datetime | None) -> str:
    return f"/minutes/{meeting_id}" + (f"?occurrence={quote(occurrence.isoformat())}" if occurrence else "")


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
