"""Owners' pages: my action items with due dates, overdue marks, progress and "done"."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.response import Redirect, Template
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.db.models import Department, Person
from confsvc.db.models.minutes import ActionItem
from confsvc.errors import Conflict, ValidationFailed
from confsvc.followup.services import ActionItemFilters, ActionItemService
from confsvc.web.meetings import own_viewer
from confsvc.web.pages import Page, provide_page

logger = logging.getLogger(__name__)

ACTIVE = ("open", "in_progress")


def action_pages() -> list[Any]:
    return [ActionPages]


async def action_figures(db_session: AsyncSession, *, now: datetime) -> dict[str, Any]:
    """Open and overdue action items per owner's department (overdue: due date before today, UTC)."""
    rows = await db_session.execute(
        select(Department.name, ActionItem.due_date, func.count(ActionItem.id))
        .select_from(ActionItem)
        .outerjoin(Person, Person.email == ActionItem.owner_email)
        .outerjoin(Department, Department.id == Person.department_id)
        .where(ActionItem.status.in_(ACTIVE))
        .group_by(Department.name, ActionItem.due_date)
    )
    open_count: Counter[str] = Counter()
    overdue: Counter[str] = Counter()
    for department, due, count in rows:
        name = department or "—"
        open_count[name] += count
        if due < now.date():
            overdue[name] += count
    departments = sorted(open_count)
    return {
        "departments": departments,
        "open": [open_count[d] for d in departments],
        "overdue": [overdue[d] for d in departments],
        "overdue_total": sum(overdue.values()),
    }


class ActionPages(Controller):
    path = "/actions"
    include_in_schema = False
    dependencies = {"page": Provide(provide_page)}

    @get("/", operation_id="webMyActions")
    async def index(self, page: Page, db_session: AsyncSession, show: str = "open") -> Template:
        person = page.require()
        service = ActionItemService(db_session, page.settings)
        items = await service.list(ActionItemFilters(owner=person.email), own_viewer(person))
        if show != "all":
            items = [item for item in items if item.status in ACTIVE]
        reads = [await service.read(item) for item in items]
        reads.sort(key=lambda r: (not r.overdue, r.due_date))
        return page.render("actions.html", items=reads, show=show, errors={})

    @post("/{item_id:uuid}/progress", operation_id="webActionProgress")
    async def progress(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession, item_id: uuid.UUID) -> Template | Redirect:
        person = page.require()
        form = await request.form()
        text = str(form.get("text") or "")
        try:
            percent = int(str(form.get("progress") or "-1"))
        except ValueError:
            percent = -1
        service = ActionItemService(db_session, page.settings)
        try:
            await service.add_progress(item_id, own_viewer(person), text=text, progress=percent)
            await db_session.commit()
        except (ValidationFailed, Conflict) as exc:
            await db_session.rollback()
            return await self._with_error(page, db_session, item_id, str(exc))
        logger.info("web action progress item_id=%s person_id=%s", item_id, person.id)
        return page.redirect("/actions/")

    @post("/{item_id:uuid}/done", operation_id="webActionDone")
    async def done(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession, item_id: uuid.UUID) -> Template | Redirect:
        person = page.require()
        result = str((await request.form()).get("result") or "").strip()
        try:
            await ActionItemService(db_session, page.settings).mark_done(item_id, own_viewer(person), result=result)
            await db_session.commit()
        except (ValidationFailed, Conflict) as exc:
            await db_session.rollback()
            return await self._with_error(page, db_session, item_id, str(exc))
        logger.info("web action done item_id=%s person_id=%s", item_id, person.id)
        return page.redirect("/actions/")

    async def _with_error(self, page: Page, db_session: AsyncSession, item_id: uuid.UUID, message: str) -> Template:
        person = page.require()
        service = ActionItemService(db_session, page.settings)
        items = [i for i in await service.list(ActionItemFilters(owner=person.email), own_viewer(person)) if i.status in ACTIVE]
        reads = [await service.read(item) for item in items]
        return page.render("actions.html", items=reads, show="open", errors={str(item_id): message}, status_code=400)
