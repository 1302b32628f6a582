"""The live minutes console for secretaries, and review by chairs.

The console is one form: attendance, actual start and end, notes per agenda item,
resolutions and action items. htmx posts it to :meth:`MinutesPages.save_draft` a moment
after each keystroke, so the stored draft (not the browser) keeps the text and a reload
shows it again. An incomplete draft is stored too, and what it still lacks is shown as
warnings next to the fields. Submitting stores the typed draft first, then applies the
completeness rules. Approving, returning and the .docx download call the minutes service
directly.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.booking.services import MeetingFilters, MeetingService, Viewer
from confsvc.db.models import Meeting, Minutes
from confsvc.errors import Conflict, ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.minutes import content
from confsvc.minutes.schemas import (
    MinutesDraft,
    MinutesRead,
    ResolutionIn,
    SubmitRequest,
)
from confsvc.minutes.services import MinutesService, can_approve, can_edit
from confsvc.web.forms import FormErrors, split_emails
from confsvc.web.meetings import own_viewer
from confsvc.web.pages import Page, provide_page

logger = logging.getLogger(__name__)

ATTENDANCE_CHOICES = ("present", "late", "left_early", "absent", "excused", "represented")
SPARE_ACTION_ROWS = 2
ATTENDANCE_DETAIL = {"late": "minutes_late", "left_early": "left_at", "represented": "proxy"}
"""The detail field each attendance status needs, named as in the form and the API."""
_ENTRY_PATH = re.compile(r"^(attendance|action_items)\[(\d+)\](?:\.(\w+))?")


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


@dataclass
class FormRows:
    """The form row of each entry of a draft built from the console form."""

    attendance_rows: list[int] = field(default_factory=list)
    """``attendance_rows[i]`` is the form row of ``attendance[i]``; rows without a status are left out."""
    action_rows: list[int] = field(default_factory=list)
    """``action_rows[i]`` is the form row of ``action_items[i]``; empty rows are left out."""

    def field_of(self, name: str) -> str:
        """Map a draft path such as ``action_items[0].owner`` to its form field (``act-2-owner``).

        Paths of other fields are returned unchanged, and an entry path without a field
        maps to the row's first field.
        """
        found = _ENTRY_PATH.match(name)
        if found is None:
            return name
        kind, index, part = found.group(1), int(found.group(2)), found.group(3)
        rows, prefix, first = (
            (self.attendance_rows, "att", "status") if kind == "attendance" else (self.action_rows, "act", "title")
        )
        row = rows[index] if index < len(rows) else index
        return f"{prefix}-{row}-{part or first}"


def _attendance_entry(form: Any, row: int, status: str, *, position: int, day: date, zone: Any) -> dict[str, Any]:
    """Read one attendance row, taking only the detail field of the chosen status."""
    entry: dict[str, Any] = {"status": status, "email": _one(form, f"att-{row}-email") or None, "name": _one(form, f"att-{row}-name")}
    detail = ATTENDANCE_DETAIL.get(status)
    raw = _one(form, f"att-{row}-{detail}") if detail else ""
    if not raw:
        return entry
    path = f"attendance[{position}].{detail}"
    if detail == "minutes_late":
        if not raw.isdigit():
            raise ValidationFailed.field(path, _("give the minutes late as a whole number, such as 10"))
        entry["minutes_late"] = int(raw)
    elif detail == "left_at":
        entry["left_at"] = _clock(day, raw, zone, path)
    else:
        entry["proxy"] = raw
    return entry


def draft_from_form(form: Any, *, day: date, zone: Any, rows: FormRows | None = None) -> MinutesDraft:
    """Build the whole draft from the console form (times are wall-clock times on ``day`` in ``zone``).

    Incomplete entries are kept: an action item with only a title, a late person without
    the minutes. ``rows``, when given, receives the form row of each entry, also when
    this raises.

    Raises:
        ValidationFailed: a time, a number of minutes or a due date is malformed.
    """
    result = rows if rows is not None else FormRows()
    attendance = []
    index = 0
    while f"att-{index}-email" in form:
        status = _one(form, f"att-{index}-status")
        if status in ATTENDANCE_CHOICES:
            result.attendance_rows.append(index)
            attendance.append(_attendance_entry(form, index, status, position=len(attendance), day=day, zone=zone))
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
        if title or owner or due:
            result.action_rows.append(index)
            action: dict[str, Any] = {"title": title, "owner": owner}
            if due:
                try:
                    action["due"] = date.fromisoformat(due)
                except ValueError as exc:
                    raise ValidationFailed.field(f"action_items[{len(actions)}].due", _("give a date such as 2026-03-02")) from exc
            actions.append(action)
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


def cosigners_from_form(form: Any) -> list[str]:
    """Return the chosen co-signers (checkboxes named ``cosigner``), each once, in order."""
    chosen: dict[str, None] = {}
    for value in form.getall("cosigner", []):
        if isinstance(value, str) and value.strip():
            chosen.setdefault(value.strip(), None)
    return list(chosen)


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
        cosigning = await _awaiting_cosignature(db_session, [m.id for m in meetings], person.email)
        rows = [m for m in meetings if can_edit(m, viewer) or can_approve(m, viewer) or m.id in cosigning]
        return page.render("minutes_list.html", meetings=rows, cosigning=cosigning)

    @get("/{meeting_id:uuid}", operation_id="webMinutesConsole")
    async def console(self, page: Page, db_session: AsyncSession, meeting_id: uuid.UUID, occurrence: str | None = None) -> Template:
        person = page.require()
        return page.render("minutes_console.html", **await self._context(page, db_session, meeting_id, person, occurrence))

    @post("/{meeting_id:uuid}/draft", operation_id="webMinutesDraft")
    async def save_draft(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession, meeting_id: uuid.UUID) -> Template:
        """Store the console form as the draft and return the save-status fragment.

        An incomplete draft is stored too. The fragment lists what the draft lacks by form
        field, so that console.js can show each warning next to its field.
        """
        person = page.require()
        meeting = await MeetingService(db_session, page.settings).get(meeting_id, Viewer.of(person))
        zone = _zone(meeting.time_zone)
        form = await request.form()
        form_rows = FormRows()
        try:
            occurrence = pick_occurrence(meeting, _one(form, "occurrence"), now=datetime.now(UTC))
            day = (occurrence or meeting.starts_at).astimezone(zone).date()
            draft = draft_from_form(form, day=day, zone=zone, rows=form_rows)
            saved = await MinutesService(db_session, page.settings).save_draft(meeting_id, draft, caller=person, occurrence=occurrence)
            await db_session.commit()
        except (ValidationFailed, Conflict) as exc:
            await db_session.rollback()
            logger.info("web minutes draft rejected meeting_id=%s person_id=%s error=%s", meeting_id, person.id, exc)
            problems = getattr(exc, "invalid_params", None) or [{"name": "", "reason": str(exc)}]
            return page.render(
                "_save_status.html", saved_at=None, problems=problems, warnings=[], fields=_fields_of(problems, form_rows)
            )
        warnings = [{"name": w.name, "reason": w.reason} for w in saved.warnings]
        return page.render(
            "_save_status.html", saved_at=datetime.now(UTC), problems=[], warnings=warnings, fields=_fields_of(warnings, form_rows)
        )

    @post("/{meeting_id:uuid}/submit", operation_id="webMinutesSubmit")
    async def submit(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession, meeting_id: uuid.UUID) -> Template | Redirect:
        """Store the typed draft, then submit it for review.

        The draft is committed before the completeness check, so a rejected submission
        keeps the text. The console is then drawn again with the errors next to their
        fields. When even the draft could not be stored, it shows the form as posted.
        """
        person = page.require()
        meeting = await MeetingService(db_session, page.settings).get(meeting_id, Viewer.of(person))
        zone = _zone(meeting.time_zone)
        service = MinutesService(db_session, page.settings)
        form = await request.form()
        occurrence = pick_occurrence(meeting, _one(form, "occurrence"), now=datetime.now(UTC))
        form_rows = FormRows()
        draft_stored = False
        try:
            draft = draft_from_form(form, day=(occurrence or meeting.starts_at).astimezone(zone).date(), zone=zone, rows=form_rows)
            await service.save_draft(meeting_id, draft, caller=person, occurrence=occurrence)
            await db_session.commit()
            draft_stored = True
            await service.submit(meeting_id, SubmitRequest(cosigners=cosigners_from_form(form)), caller=person, occurrence=occurrence)
            await db_session.commit()
        except (ValidationFailed, Conflict) as exc:
            await db_session.rollback()
            logger.info(
                "web minutes submission rejected meeting_id=%s person_id=%s draft_stored=%s error=%s",
                meeting_id, person.id, draft_stored, exc,
            )
            problems = getattr(exc, "invalid_params", None) or [{"name": "", "reason": str(exc)}]
            context = await self._context(page, db_session, meeting_id, person, _one(form, "occurrence"))
            context["problems"] = problems
            context["chosen_cosigners"] = cosigners_from_form(form)
            if draft_stored:
                # The page rows now follow the stored draft, so draft paths map to rows one to one.
                context["fields"] = _fields_of(problems, FormRows())
            else:
                context["fields"] = _fields_of(problems, form_rows)
                context["typed"] = _typed_values(form)
                context["action_rows"] = range(max(len(context["action_rows"]), _row_count(form, "act", "title")))
            return page.render("minutes_console.html", status_code=400, **context)
        logger.info("web minutes submitted meeting_id=%s person_id=%s", meeting_id, person.id)
        return page.redirect(_console_path(meeting_id, occurrence))

    @post("/{meeting_id:uuid}/approve", operation_id="webMinutesApprove")
    async def approve(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession, meeting_id: uuid.UUID) -> Template | Redirect:
        """Approve; missing co-signatures or a wrong status are shown on the console."""
        person = page.require()
        meeting = await MeetingService(db_session, page.settings).get(meeting_id, Viewer.of(person))
        raw_occurrence = _one(await request.form(), "occurrence")
        occurrence = pick_occurrence(meeting, raw_occurrence, now=datetime.now(UTC))
        try:
            await MinutesService(db_session, page.settings).approve(meeting_id, caller=person, occurrence=occurrence)
            await db_session.commit()
        except Conflict as exc:
            await db_session.rollback()
            logger.info("web minutes approval rejected meeting_id=%s person_id=%s error=%s", meeting_id, person.id, exc)
            return await self._console_with_problems(page, db_session, meeting_id, person, raw_occurrence, exc)
        logger.info("web minutes approved meeting_id=%s person_id=%s", meeting_id, person.id)
        return page.redirect(_console_path(meeting_id, occurrence))

    @post("/{meeting_id:uuid}/cosign", operation_id="webMinutesCosign")
    async def cosign(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession, meeting_id: uuid.UUID) -> Template | Redirect:
        """Record the co-signature (会签) of a named co-signer."""
        person = page.require()
        form = await request.form()
        meeting = await MeetingService(db_session, page.settings).get(meeting_id, Viewer.of(person))
        raw_occurrence = _one(form, "occurrence")
        occurrence = pick_occurrence(meeting, raw_occurrence, now=datetime.now(UTC))
        try:
            await MinutesService(db_session, page.settings).cosign(
                meeting_id, caller=person, comment=_one(form, "comment") or None, occurrence=occurrence
            )
            await db_session.commit()
        except (Conflict, ValidationFailed) as exc:
            await db_session.rollback()
            logger.info("web minutes cosign rejected meeting_id=%s person_id=%s error=%s", meeting_id, person.id, exc)
            return await self._console_with_problems(page, db_session, meeting_id, person, raw_occurrence, exc)
        logger.info("web minutes cosigned meeting_id=%s person_id=%s", meeting_id, person.id)
        return page.redirect(_console_path(meeting_id, occurrence))

    @post("/{meeting_id:uuid}/distribute", operation_id="webMinutesDistribute")
    async def distribute(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession, meeting_id: uuid.UUID) -> Template | Redirect:
        """E-mail the approved minutes to every recipient and show who got them.

        A bad extra address or minutes that are not approved change nothing and are
        shown next to the distribution form.
        """
        person = page.require()
        form = await request.form()
        meeting = await MeetingService(db_session, page.settings).get(meeting_id, Viewer.of(person))
        raw_occurrence = _one(form, "occurrence")
        occurrence = pick_occurrence(meeting, raw_occurrence, now=datetime.now(UTC))
        extra_text = str(form.get("extra_recipients") or "")
        try:
            result = await MinutesService(db_session, page.settings).distribute(
                meeting_id, caller=person, extra_recipients=split_emails(extra_text), occurrence=occurrence
            )
            await db_session.commit()
        except (Conflict, ValidationFailed) as exc:
            await db_session.rollback()
            logger.info("web minutes distribution rejected meeting_id=%s person_id=%s error=%s", meeting_id, person.id, exc)
            errors = FormErrors()
            for param in getattr(exc, "invalid_params", None) or [{"name": "form", "reason": str(exc)}]:
                errors.add("extra_recipients" if param.get("name", "").startswith("extra_recipients") else "form", param.get("reason", str(exc)))
            context = await self._context(page, db_session, meeting_id, person, raw_occurrence)
            context.update(distribution_errors=errors, extra_recipients=extra_text)
            template = "_distribution.html" if page.is_htmx else "minutes_console.html"
            return page.render(template, status_code=exc.status_code, **context)
        recipients = len(result.pending) + len(result.acknowledged)
        logger.info("web minutes distributed meeting_id=%s person_id=%s recipients=%d", meeting_id, person.id, recipients)
        if not page.is_htmx:
            return page.redirect(_console_path(meeting_id, occurrence))
        context = await self._context(page, db_session, meeting_id, person, raw_occurrence)
        context["just_distributed"] = recipients
        return page.render("_distribution.html", **context)

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
        editable = can_edit(meeting, viewer) and minutes.status == "draft"
        warnings = [{"name": w.name, "reason": w.reason} for w in minutes.warnings] if editable else []
        return {
            "m": meeting,
            "occurrence": occurrence.isoformat() if occurrence else "",
            "occurrence_start": occurrence,
            "minutes": minutes,
            "editable": editable,
            "approver": can_approve(meeting, viewer) and minutes.status == "submitted",
            "notes": notes,
            "actions": actions,
            "action_rows": range(len(actions) + SPARE_ACTION_ROWS),
            "left_clocks": [a.left_at.astimezone(zone).strftime("%H:%M") if a.left_at else "" for a in minutes.attendance],
            "details": ATTENDANCE_DETAIL,
            "fields": _fields_of(warnings, FormRows()),
            "typed": None,
            # Minutes returned by the chair keep their co-signers ticked for the resubmission.
            "chosen_cosigners": [entry.email for entry in minutes.cosignatures],
            "start_clock": minutes.actual_start.astimezone(zone).strftime("%H:%M") if minutes.actual_start else "",
            "end_clock": minutes.actual_end.astimezone(zone).strftime("%H:%M") if minutes.actual_end else "",
            "choices": ATTENDANCE_CHOICES,
            "problems": [],
            **await self._review_context(db_session, page, meeting, minutes, viewer, occurrence),
        }

    async def _review_context(
        self, db_session: AsyncSession, page: Page, meeting: Meeting, minutes: MinutesRead, viewer: Viewer, occurrence: datetime | None
    ) -> dict[str, Any]:
        """Values of the co-signing and distribution parts of the console."""
        signed = {entry.email for entry in minutes.cosignatures if entry.signed_at is not None}
        may_distribute = (can_edit(meeting, viewer) or can_approve(meeting, viewer)) and minutes.status in ("approved", "distributed")
        receipts = None
        if minutes.status == "distributed" and may_distribute:
            receipts = await MinutesService(db_session, page.settings).receipts(meeting.id, viewer, occurrence=occurrence)
        return {
            "invitees": content.invitees(meeting),
            "can_cosign": minutes.status == "submitted" and viewer.email in {e.email for e in minutes.cosignatures} and viewer.email not in signed,
            "may_distribute": may_distribute,
            "receipts": receipts,
            "distribution_errors": FormErrors(),
            "extra_recipients": "",
            "just_distributed": None,
        }

    async def _console_with_problems(
        self, page: Page, db_session: AsyncSession, meeting_id: uuid.UUID, person: Any, raw_occurrence: str, exc: Exception
    ) -> Template:
        context = await self._context(page, db_session, meeting_id, person, raw_occurrence)
        context["problems"] = getattr(exc, "invalid_params", None) or [{"name": "", "reason": str(exc)}]
        return page.render("minutes_console.html", status_code=getattr(exc, "status_code", 400), **context)


async def _awaiting_cosignature(db_session: AsyncSession, meeting_ids: list[uuid.UUID], email: str) -> set[uuid.UUID]:
    """Return the meetings whose submitted minutes name ``email`` as a co-signer."""
    if not meeting_ids:
        return set()
    rows = await db_session.execute(
        select(Minutes.meeting_id, Minutes.cosigners).where(Minutes.meeting_id.in_(meeting_ids), Minutes.status == "submitted")
    )
    return {meeting_id for meeting_id, cosigners in rows if email in (cosigners or [])}


def _fields_of(problems: list[dict[str, str]], form_rows: FormRows) -> dict[str, list[str]]:
    """Group problem reasons by the form field they belong to, for display next to it."""
    grouped: dict[str, list[str]] = {}
    for problem in problems:
        name = problem.get("name", "")
        if name:
            grouped.setdefault(form_rows.field_of(name), []).append(problem.get("reason", ""))
    return grouped


def _typed_values(form: Any) -> dict[str, str]:
    """Return the console form's single-valued fields as typed, to draw the form again."""
    return {name: value for name, value in form.items() if isinstance(value, str) and name != "cosigner"}


def _row_count(form: Any, prefix: str, first: str) -> int:
    count = 0
    while f"{prefix}-{count}-{first}" in form:
        count += 1
    return count


def _console_path(meeting_id: uuid.UUID, occurrence: datetime | None) -> str:
    return f"/minutes/{meeting_id}" + (f"?occurrence={quote(occurrence.isoformat())}" if occurrence else "")


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
