"""Administrator pages: dashboard, bridges, people import, deliveries and settings (rooms: ``rooms.py``)."""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import Provide
from litestar.response import Redirect, Template
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.bridges.schemas import BridgeCreate, BridgeUpdate, DialIn
from confsvc.bridges.services import BRIDGE_KINDS, BridgeService
from confsvc.db.models import Department, Meeting, OutboxMessage, Person
from confsvc.db.models.outbox import OUTBOX_STATUSES
from confsvc.directory.services import DirectoryService
from confsvc.errors import Conflict, NotFound, ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.web.forms import FormErrors, errors_from_validation
from confsvc.web.pages import Page, provide_page

logger = logging.getLogger(__name__)

MAX_CSV_BYTES = 1_000_000


async def dashboard_data(db_session: AsyncSession, *, now: datetime) -> dict[str, Any]:
    """Figures for the dashboard: meetings per department (organiser's) for the past 30 and next
    30 days, deliveries per status, and the optional preparation and follow-up figures."""
    window_start, window_end = now - timedelta(days=30), now + timedelta(days=30)
    rows = await db_session.execute(
        select(Department.name, Meeting.status, func.count(Meeting.id))
        .select_from(Meeting)
        .join(Person, Person.id == Meeting.organiser_id)
        .outerjoin(Department, Department.id == Person.department_id)
        .where(Meeting.starts_at < window_end, Meeting.series_ends_at > window_start)
        .group_by(Department.name, Meeting.status)
    )
    by_department: dict[str, Counter[str]] = {}
    for department, status, count in rows:
        by_department.setdefault(department or "—", Counter())[status] += count
    deliveries = dict((status, count) for status, count in await db_session.execute(
        select(OutboxMessage.status, func.count(OutboxMessage.id)).group_by(OutboxMessage.status)
    ))
    upcoming = await db_session.scalar(
        select(func.count(Meeting.id)).where(Meeting.status == "scheduled", Meeting.series_ends_at > now, Meeting.starts_at < now + timedelta(days=7))
    )
    departments = sorted(by_department)
    return {
        "departments": departments,
        "scheduled": [by_department[d]["scheduled"] + by_department[d]["completed"] for d in departments],
        "cancelled": [by_department[d]["cancelled"] for d in departments],
        "deliveries": {status: deliveries.get(status, 0) for status in OUTBOX_STATUSES},
        "upcoming_week": upcoming or 0,
        "extra": await _optional_figures(db_session, now=now),
    }


async def _optional_figures(db_session: AsyncSession, *, now: datetime) -> dict[str, Any]:
    """Check failures and open/overdue action items per department, when those domains exist."""
    figures: dict[str, Any] = {}
    try:
        from confsvc.web.actions import action_figures
    except ImportError:
        pass
    else:
        figures["actions"] = await action_figures(db_session, now=now)
    try:
        from confsvc.web.preparation import check_figures
    except ImportError:
        pass
    else:
        figures["checks"] = await check_figures(db_session, now=now)
    return figures


class AdminPages(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"page": Provide(provide_page)}

    @get("/", operation_id="webAdminDashboard")
    async def dashboard(self, page: Page, db_session: AsyncSession) -> Template:
        page.require("admin")
        data = await dashboard_data(db_session, now=datetime.now(UTC))
        labels = {
            "scheduled": _("Held or scheduled"), "cancelled": _("Cancelled"),
            "meetings_by_department": _("Meetings by department (30 days back and ahead)"), "deliveries": _("Deliveries by status"),
            "open": _("Open"), "overdue": _("Overdue"), "actions_by_department": _("Action items by department"),
            "failed_checks": _("Failed checks"), "checks_by_department": _("Failed pre-meeting checks by department"),
            **{status: _(f"delivery {status}") for status in OUTBOX_STATUSES},
            "check_agenda": _("Agenda"), "check_materials": _("Materials"), "check_quorum": _("Quorum"),
            "check_bridge": _("Bridge"), "check_room": _("Room"),
        }
        chart_json = json.dumps({"data": data, "labels": labels}, ensure_ascii=False, default=str).replace("</", "<\\/")
        return page.render("admin/dashboard.html", data=data, chart_json=chart_json)

    # -- bridges -----------------------------------------------------------------

    @get("/bridges", operation_id="webAdminBridges")
    async def bridges(self, page: Page, db_session: AsyncSession) -> Template:
        page.require("admin")
        items = await BridgeService(db_session, page.settings.booking).list(include_inactive=True)
        return page.render("admin/bridges.html", bridges=items, kinds=BRIDGE_KINDS, errors=FormErrors(), values={})

    @post("/bridges", operation_id="webAdminBridgeCreate")
    async def bridge_create(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession) -> Template | Redirect:
        page.require("admin")
        form = await request.form()
        values = {key: str(form.get(key) or "").strip() for key in ("name", "kind", "capacity", "number", "label", "access_code", "host_pin", "participant_pin")}
        service = BridgeService(db_session, page.settings.booking)
        try:
            try:
                capacity = int(values["capacity"])
            except ValueError as exc:
                raise ValidationFailed.field("capacity", _("give the number of ports as a whole number")) from exc
            if capacity < 1:
                raise ValidationFailed.field("capacity", _("give the number of ports as a whole number"))
            await service.create(
                BridgeCreate(
                    name=values["name"], kind=values["kind"] or "static", capacity=capacity,  # type: ignore[arg-type]
                    dial_in=[DialIn(number=values["number"], label=values["label"])] if values["number"] else [],
                    access_code=values["access_code"] or None, host_pin=values["host_pin"] or None,
                    participant_pin=values["participant_pin"] or None,
                )
            )
            await db_session.commit()
        except ValidationFailed as exc:
            await db_session.rollback()
            errors = errors_from_validation(exc, known={"name", "kind", "capacity", "number", "label", "access_code", "host_pin", "participant_pin", "dial_in"})
            for message in errors.fields.pop("dial_in", []):
                errors.add("number", message)
            items = await service.list(include_inactive=True)
            return page.render("admin/bridges.html", bridges=items, kinds=BRIDGE_KINDS, errors=errors, values=values, status_code=400)
        logger.info("web bridge created name_length=%d", len(values["name"]))
        return page.redirect("/admin/bridges")

    @post("/bridges/{bridge_id:uuid}/active", operation_id="webAdminBridgeActive")
    async def bridge_active(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession, bridge_id: uuid.UUID) -> Redirect:
        page.require("admin")
        form = await request.form()
        await BridgeService(db_session, page.settings.booking).update(bridge_id, BridgeUpdate(active=form.get("active") == "true"))
        await db_session.commit()
        return page.redirect("/admin/bridges")

    # -- people ------------------------------------------------------------------

    @get("/people", operation_id="webAdminPeople")
    async def people(self, page: Page, db_session: AsyncSession, q: str = "") -> Template:
        page.require("admin")
        items = await DirectoryService(db_session).list(query=q[:100] or None, limit=200)
        return page.render("admin/people.html", people=items, q=q, report=None, errors=FormErrors())

    @post("/people/import", operation_id="webAdminPeopleImport")
    async def people_import(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession) -> Template:
        """Import a CSV upload; every row is checked first and a bad row stops the whole file."""
        page.require("admin")
        form = await request.form()
        upload = form.get("file")
        errors = FormErrors()
        report = None
        if not isinstance(upload, UploadFile) or not upload.filename:
            errors.add("file", _("choose a CSV file"))
        else:
            content = await upload.read(MAX_CSV_BYTES + 1)
            if len(content) > MAX_CSV_BYTES:
                errors.add("file", _("the file is larger than 1 MB"))
            else:
                try:
                    report = await DirectoryService(db_session).import_csv(content)
                    await db_session.commit()
                except ValidationFailed as exc:
                    await db_session.rollback()
                    errors = errors_from_validation(exc, known={"file"})
        items = await DirectoryService(db_session).list(limit=200)
        status = 400 if errors or (report is not None and report.errors) else 200
        return page.render("admin/people.html", people=items, q="", report=report, errors=errors, status_code=status)

    # -- deliveries ----------------------------------------------------------------

    @get("/deliveries", operation_id="webAdminDeliveries")
    async def deliveries(self, page: Page, db_session: AsyncSession, status: str = "") -> Template:
        page.require("admin")
        statement = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(200)
        if status in OUTBOX_STATUSES:
            statement = statement.where(OutboxMessage.status == status)
        rows = list(await db_session.scalars(statement))
        return page.render("admin/deliveries.html", rows=rows, status=status, statuses=OUTBOX_STATUSES)

    @post("/deliveries/{delivery_id:uuid}/retry", operation_id="webAdminDeliveryRetry")
    async def delivery_retry(self, page: Page, db_session: AsyncSession, delivery_id: uuid.UUID) -> Redirect:
        """Make a dead or waiting delivery due now with a fresh attempt count (as the API does)."""
        # NOTE: this repeats the update of POST /api/v1/deliveries/{id}/retry, because the notify
        # package has no service function for it yet; both should call one when it exists.
        person = page.require("admin")
        now = datetime.now(UTC)
        row = await db_session.get(OutboxMessage, delivery_id)
        if row is None:
            raise NotFound("delivery", delivery_id)
        result = await db_session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == delivery_id, OutboxMessage.status.in_(("pending", "dead")))
            .values(status="pending", attempts=0, next_attempt_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if not getattr(result, "rowcount", 0):
            await db_session.rollback()
            raise Conflict(_("delivery {id} is {status}; only pending or dead deliveries can be retried", id=delivery_id, status=row.status))
        await db_session.commit()
        logger.info("web delivery retry delivery_id=%s person_id=%s", delivery_id, person.id)
        return page.redirect("/admin/deliveries")

    # -- settings ----------------------------------------------------------------

    @get("/settings", operation_id="webAdminSettings")
    async def settings_overview(self, page: Page) -> Template:
        page.require("admin")
        return page.render("admin/settings.html", values=sorted(page.settings.describe().items()))
