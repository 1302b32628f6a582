"""HTTP API of follow-up: action items, reports and exports, the holiday table, and the
one-click links of reminders."""

from __future__ import annotations

import html
import uuid
from typing import Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, patch, post, put
from litestar.datastructures import UploadFile
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.api.auth import admin_only, current_person
from confsvc.booking.services import Viewer
from confsvc.db.models import HolidayOverride, Person
from confsvc.errors import ValidationFailed
from confsvc.followup.calendar import load_calendar, replace_year
from confsvc.followup.links import InvalidActionLink, read_action_token
from confsvc.followup.reports import GroupBy, build_report, export_csv, export_xlsx
from confsvc.followup.schemas import (
    ActionItemDetail,
    ActionItemPatch,
    ActionItemRead,
    ActResult,
    CloseRequest,
    DoneRequest,
    HolidayDay,
    HolidayYearRead,
    HolidayYearWrite,
    ItemUpdateRead,
    ReasonRequest,
    ReportRow,
)
from confsvc.security.audit import record_audit
from confsvc.followup.services import ActionItemFilters, ActionItemService, Attachment
from confsvc.followup.workdays import OverrideDay
from confsvc.i18n import gettext as _
from confsvc.settings import Settings

__all__ = ["ActController", "ActionItemController", "HolidayAdminController"]

_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ActionItemController(Controller):
    path = "/action-items"
    tags = ["follow-up"]
    dependencies = {"caller": Provide(current_person)}

    @get(operation_id="listActionItems")
    async def list_items(
        self,
        db_session: AsyncSession,
        caller: Person,
        settings: Settings,
        owner: str | None = Parameter(default=None, max_length=320),
        status: str | None = Parameter(default=None, max_length=16),
        overdue: bool | None = Parameter(default=None),
        department: str | None = Parameter(default=None, max_length=200),
        meeting: uuid.UUID | None = Parameter(default=None),
        limit: int = Parameter(default=200, ge=1, le=1000),
        offset: int = Parameter(default=0, ge=0),
    ) -> list[ActionItemRead]:
        service = ActionItemService(db_session, settings)
        filters = ActionItemFilters(owner=owner, status=status, overdue=overdue, department=department,
                                    meeting_id=meeting, limit=limit, offset=offset)
        return [await service.read(item) for item in await service.list(filters, Viewer.of(caller))]

    @get("/report", operation_id="reportActionItems")
    async def report(
        self,
        db_session: AsyncSession,
        caller: Person,
        settings: Settings,
        group_by: Literal["person", "department", "meeting"] = Parameter(default="person"),
        meeting: uuid.UUID | None = Parameter(default=None),
    ) -> list[ReportRow]:
        service = ActionItemService(db_session, settings)
        # NOTE: counts are computed in Python over at most 100,000 visible items; a larger
        # organisation needs a GROUP BY query here.
        items = await service.list(ActionItemFilters(meeting_id=meeting, limit=100_000), Viewer.of(caller))
        grouping: GroupBy = group_by
        return await build_report(db_session, items, group_by=grouping, today=service.today(), time_zone=settings.time_zone)

    @get("/export.csv", operation_id="exportActionItemsCsv", media_type="text/csv; charset=utf-8")
    async def export_csv(
        self,
        db_session: AsyncSession,
        caller: Person,
        settings: Settings,
        owner: str | None = Parameter(default=None, max_length=320),
        status: str | None = Parameter(default=None, max_length=16),
        overdue: bool | None = Parameter(default=None),
        department: str | None = Parameter(default=None, max_length=200),
        meeting: uuid.UUID | None = Parameter(default=None),
    ) -> Response[bytes]:
        """Export the listed action items as UTF-8 CSV with a BOM; the filters are those of the list."""
        filters = ActionItemFilters(owner=owner, status=status, overdue=overdue, department=department,
                                    meeting_id=meeting, limit=100_000)
        rows = await _export_rows(db_session, settings, caller, filters)
        return Response(export_csv(rows), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="action-items.csv"'})

    @get("/export.xlsx", operation_id="exportActionItemsXlsx", media_type=_XLSX)
    async def export_xlsx(
        self,
        db_session: AsyncSession,
        caller: Person,
        settings: Settings,
        owner: str | None = Parameter(default=None, max_length=320),
        status: str | None = Parameter(default=None, max_length=16),
        overdue: bool | None = Parameter(default=None),
        department: str | None = Parameter(default=None, max_length=200),
        meeting: uuid.UUID | None = Parameter(default=None),
    ) -> Response[bytes]:
        """Export the listed action items as an .xlsx workbook; the filters are those of the list."""
        filters = ActionItemFilters(owner=owner, status=status, overdue=overdue, department=department,
                                    meeting_id=meeting, limit=100_000)
        rows = await _export_rows(db_session, settings, caller, filters)
        return Response(export_xlsx(rows), media_type=_XLSX,
                        headers={"Content-Disposition": 'attachment; filename="action-items.xlsx"'})

    @get("/{item_id:uuid}", operation_id="getActionItem")
    async def get_item(self, db_session: AsyncSession, caller: Person, settings: Settings, item_id: uuid.UUID) -> ActionItemDetail:
        service = ActionItemService(db_session, settings)
        item, _meeting = await service.get(item_id, Viewer.of(caller))
        return await service.detail(item)

    @patch("/{item_id:uuid}", operation_id="updateActionItem")
    async def update_item(
        self, db_session: AsyncSession, caller: Person, settings: Settings, item_id: uuid.UUID, data: ActionItemPatch
    ) -> ActionItemRead:
        service = ActionItemService(db_session, settings)
        item = await service.update(item_id, data, Viewer.of(caller))
        await db_session.commit()
        return await service.read(item)

    @post("/{item_id:uuid}/updates", operation_id="postActionItemProgress", status_code=201)
    async def post_progress(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, caller: Person, settings: Settings, item_id: uuid.UUID
    ) -> ItemUpdateRead:
        """Accepts multipart/form-data (``text``, ``progress``, optional file ``attachment``) or JSON."""
        text, progress, attachment = await _progress_input(request)
        service = ActionItemService(db_session, settings)
        update = await service.add_progress(item_id, Viewer.of(caller), text=text, progress=progress, attachment=attachment)
        await db_session.commit()
        return ItemUpdateRead(
            id=update.id, kind=update.kind, author_email=update.author_email, text=update.text, progress=update.progress,
            attachment_name=update.attachment_name, attachment_size=update.attachment_size, created_at=update.created_at,
        )

    @post("/{item_id:uuid}/done", operation_id="markActionItemDone", status_code=200)
    async def done(self, db_session: AsyncSession, caller: Person, settings: Settings, item_id: uuid.UUID, data: DoneRequest) -> ActionItemRead:
        service = ActionItemService(db_session, settings)
        item = await service.mark_done(item_id, Viewer.of(caller), result=data.result)
        await db_session.commit()
        return await service.read(item)

    @post("/{item_id:uuid}/close", operation_id="closeActionItem", status_code=200)
    async def close(
        self, db_session: AsyncSession, caller: Person, settings: Settings, item_id: uuid.UUID, data: CloseRequest | None = None
    ) -> ActionItemRead:
        service = ActionItemService(db_session, settings)
        item = await service.close(item_id, Viewer.of(caller), note=data.note if data else "")
        record_audit(db_session, actor=caller, action="action_item.close", object_type="action_item", object_id=item_id)
        await db_session.commit()
        return await service.read(item)

    @post("/{item_id:uuid}/reopen", operation_id="reopenActionItem", status_code=200)
    async def reopen(self, db_session: AsyncSession, caller: Person, settings: Settings, item_id: uuid.UUID, data: ReasonRequest) -> ActionItemRead:
        service = ActionItemService(db_session, settings)
        item = await service.reopen(item_id, Viewer.of(caller), reason=data.reason)
        record_audit(db_session, actor=caller, action="action_item.reopen", object_type="action_item", object_id=item_id)
        await db_session.commit()
        return await service.read(item)

    @post("/{item_id:uuid}/cancel", operation_id="cancelActionItem", status_code=200)
    async def cancel(self, db_session: AsyncSession, caller: Person, settings: Settings, item_id: uuid.UUID, data: ReasonRequest) -> ActionItemRead:
        service = ActionItemService(db_session, settings)
        item = await service.cancel(item_id, Viewer.of(caller), reason=data.reason)
        record_audit(db_session, actor=caller, action="action_item.cancel", object_type="action_item", object_id=item_id)
        await db_session.commit()
        return await service.read(item)


async def _export_rows(
    session: AsyncSession, settings: Settings, caller: Person, filters: ActionItemFilters
) -> list[ActionItemRead]:
    service = ActionItemService(session, settings)
    return [await service.read(item) for item in await service.list(filters, Viewer.of(caller))]


async def _progress_input(request: Request[Any, Any, Any]) -> tuple[str, int, Attachment | None]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            body = msgspec.json.decode(await request.body())
        except msgspec.DecodeError as exc:
            raise ValidationFailed.field("body", "the body is not JSON") from exc
        if not isinstance(body, dict):
            raise ValidationFailed.field("body", "the body must be a JSON object")
        return str(body.get("text") or ""), _progress_value(body.get("progress")), None

    form = await request.form()
    upload = form.get("attachment")
    attachment = None
    if isinstance(upload, UploadFile) and upload.filename:
        attachment = Attachment(
            filename=upload.filename, content_type=upload.content_type or "application/octet-stream",
            data=await upload.read(),
        )
    return str(form.get("text") or ""), _progress_value(form.get("progress")), attachment


def _progress_value(raw: object) -> int:
    if isinstance(raw, bool):
        raise ValidationFailed.field("progress", _("progress must be between 0 and 100"))
    try:
        value = int(str(raw).strip())
    except ValueError as exc:
        raise ValidationFailed.field("progress", _("progress must be between 0 and 100")) from exc
    if not 0 <= value <= 100:
        raise ValidationFailed.field("progress", _("progress must be between 0 and 100"))
    return value


class HolidayAdminController(Controller):
    path = "/admin/holidays"
    tags = ["follow-up", "admin"]
    guards = [admin_only]

    @get(operation_id="getHolidayTable")
    async def get_year(
        self,
        db_session: AsyncSession,
        settings: Settings,
        year: int = Parameter(ge=1990, le=2200),
        country: str | None = Parameter(default=None, min_length=2, max_length=2),
    ) -> HolidayYearRead:
        return await _holiday_year(db_session, (country or settings.followup.holiday_country).upper(), year)

    @put(operation_id="putHolidayTable")
    async def put_year(self, db_session: AsyncSession, settings: Settings, data: HolidayYearWrite) -> HolidayYearRead:
        """Replace the table's days of ``year``: holidays (``working: false``) and adjusted working days."""
        country = (data.country or settings.followup.holiday_country).upper()
        days = [OverrideDay(day=d.day, working=d.working, name=d.name) for d in data.days]
        await replace_year(db_session, country, data.year, days)
        await db_session.commit()
        return await _holiday_year(db_session, country, data.year)


async def _holiday_year(session: AsyncSession, country: str, year: int) -> HolidayYearRead:
    from datetime import date

    calendar = await load_calendar(session, country)
    coverage = calendar.coverage(year)
    rows = (await session.execute(
        select(HolidayOverride)
        .where(HolidayOverride.country == country, HolidayOverride.day >= date(year, 1, 1),
               HolidayOverride.day <= date(year, 12, 31))
        .order_by(HolidayOverride.day)
    )).scalars()
    return HolidayYearRead(
        country=country, year=year, source=coverage.source, official=coverage.source == "official",
        message=coverage.message, days=[HolidayDay(day=r.day, working=r.working, name=r.name) for r in rows],
    )


class ActForm(msgspec.Struct):
    result: str = ""
    text: str = ""
    progress: str = ""


class ActController(Controller):
    """One-click links from reminders. GET only shows what the link does, because mail
    scanners fetch links, and POST performs it. Both return HTML, or JSON when the client
    sends ``Accept: application/json``."""

    path = "/act"
    tags = ["follow-up"]

    @get("/{token:str}", operation_id="actionLinkPage")
    async def page(self, request: Request[Any, Any, Any], db_session: AsyncSession, settings: Settings, token: str) -> Response[Any]:
        try:
            claim = read_action_token(settings.secret_key, token)
        except InvalidActionLink as exc:
            return _link_error(request, exc)
        service = ActionItemService(db_session, settings)
        item, _meeting = await service.get(claim.action_item_id, await _link_viewer(db_session, claim.email))
        message = _("Confirm that the action item is done") if claim.action == "done" else _("Report progress")
        if _wants_json(request):
            return Response(msgspec.to_builtins(ActResult(
                action=claim.action, action_item_id=item.id, title=item.title, status=item.status,
                performed=False, message=message,
            )))
        if claim.action == "done":
            fields = (f'<label>{html.escape(_("Result"))}<br><textarea name="result" rows="4" cols="50" '
                      'maxlength="10000" required></textarea></label>')
        else:
            fields = (f'<label>{html.escape(_("Progress (%)"))} <input name="progress" type="number" min="0" max="100" '
                      f'value="{item.progress or 0}" required></label><br>'
                      f'<label>{html.escape(_("What was done"))}<br><textarea name="text" rows="4" cols="50" '
                      'maxlength="10000" required></textarea></label>')
        body = (f"<p>{html.escape(item.title)}</p><p>{html.escape(_('Due date: {due}', due=item.due_date.isoformat()))}</p>"
                f'<form method="post">{fields}<p><button type="submit">{html.escape(message)}</button></p></form>')
        return _page(message, body)

    @post("/{token:str}", operation_id="actionLinkPerform", status_code=200)
    async def perform(self, request: Request[Any, Any, Any], db_session: AsyncSession, settings: Settings, token: str) -> Response[Any]:
        try:
            claim = read_action_token(settings.secret_key, token)
        except InvalidActionLink as exc:
            return _link_error(request, exc)
        form = await _act_form(request)
        viewer = await _link_viewer(db_session, claim.email)
        service = ActionItemService(db_session, settings)
        if claim.action == "done":
            item = await service.mark_done(claim.action_item_id, viewer, result=form.result)
            message = _("The action item is marked done.")
        else:
            await service.add_progress(claim.action_item_id, viewer, text=form.text, progress=_progress_value(form.progress))
            item, _meeting = await service.get(claim.action_item_id, viewer)
            message = _("Your progress is recorded.")
        await db_session.commit()
        if _wants_json(request):
            return Response(msgspec.to_builtins(ActResult(
                action=claim.action, action_item_id=item.id, title=item.title, status=item.status,
                performed=True, message=message,
            )))
        return _page(_("Thank you"), f"<p>{html.escape(item.title)}</p><p>{html.escape(message)}</p>")


async def _act_form(request: Request[Any, Any, Any]) -> ActForm:
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            return msgspec.json.decode(await request.body(), type=ActForm)
        except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
            raise ValidationFailed.field("body", str(exc)) from exc
    form = await request.form()
    return ActForm(result=str(form.get("result") or ""), text=str(form.get("text") or ""),
                   progress=str(form.get("progress") or ""))


async def _link_viewer(session: AsyncSession, email: str) -> Viewer:
    # The signature proves the address; the person's roles do not travel with the link.
    person = (await session.execute(select(Person).where(Person.email == email.lower()))).scalar_one_or_none()
    person_id = person.id if person is not None else uuid.UUID(int=0)
    return Viewer(person_id=person_id, email=email.lower(), roles=frozenset())


def _wants_json(request: Request[Any, Any, Any]) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _link_error(request: Request[Any, Any, Any], exc: InvalidActionLink) -> Response[Any]:
    message = _("This link has expired; open the action item instead.") if exc.expired else _("This link is invalid.")
    if _wants_json(request):
        return Response({"title": "Forbidden", "status": 403, "detail": message}, status_code=403,
                        media_type="application/problem+json")
    return _page(_("Link not usable"), f"<p>{html.escape(message)}</p>", status_code=403)


def _page(title: str, body: str, *, status_code: int = 200) -> Response[str]:
    document = (
        '<!doctype html><html><head><meta charset="utf-8"><meta name="robots" content="noindex">'
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Response(document, media_type="text/html; charset=utf-8", status_code=status_code)
