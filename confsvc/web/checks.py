"""The pre-meeting checks section of the meeting page: latest results and "run now".

Check notices link here, so organisers, chairs and secretaries land on a page they can
read, in their own language, rather than on the JSON API.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from litestar import Controller, post
from litestar.di import Provide
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.booking.services import MeetingService, Viewer
from confsvc.db.models import Meeting, Person
from confsvc.i18n import gettext
from confsvc.preparation.agenda import can_prepare
from confsvc.preparation.checks import result_detail
from confsvc.preparation.services import CheckService
from confsvc.web.pages import Page, provide_page

__all__ = ["CheckPages", "checks_context"]

logger = logging.getLogger(__name__)

CHECK_LABELS = {
    "agenda": "Agenda",
    "materials": "Materials",
    "quorum": "Quorum",
    "bridge": "Conference bridge",
    "room": "Room and equipment",
}
STATUS_LABELS = {"pass": "Passed", "warn": "Warning", "fail": "Failed"}


async def checks_context(db_session: AsyncSession, page: Page, meeting: Meeting, person: Person) -> dict[str, Any]:
    """Return the latest check run of ``meeting`` for the template, when ``person`` may run checks."""
    if not can_prepare(meeting, Viewer.of(person)):
        return {"checks": None}
    run = await CheckService(db_session, page.settings).newest_run(meeting.id)
    rows = []
    if run is not None:
        for result in sorted(run.results, key=lambda r: r.position):
            rows.append({
                "label": gettext(CHECK_LABELS.get(result.name, result.name)),
                "status": result.status,
                "status_label": gettext(STATUS_LABELS.get(result.status, result.status)),
                "detail": result_detail(result, locale=page.locale),
            })
    return {"checks": {"run": run, "rows": rows, "can_run": meeting.status == "scheduled"}}


class CheckPages(Controller):
    path = "/meetings/{meeting_id:uuid}/checks"
    dependencies = {"page": Provide(provide_page)}

    @post("/run", operation_id="webRunChecks")
    async def run_checks(self, page: Page, db_session: AsyncSession, meeting_id: uuid.UUID) -> Template | Redirect:
        person = page.require()
        run = await CheckService(db_session, page.settings).run_now(meeting_id, caller=person)
        await db_session.commit()
        logger.info("web checks run meeting_id=%s run_id=%s status=%s person_id=%s", meeting_id, run.id, run.status, person.id)
        if not page.is_htmx:
            return page.redirect(f"/meetings/{meeting_id}#checks")
        meeting = await MeetingService(db_session, page.settings).get(meeting_id, Viewer.of(person))
        return page.render("_checks.html", m=meeting, **await checks_context(db_session, page, meeting, person))
