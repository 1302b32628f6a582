"""Meeting preparation on the pages: the agenda editor and materials of the meeting page,
receiving a material from a page form, and the dashboard's check-failure figures."""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from litestar.datastructures import UploadFile
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.booking.services import Viewer, can_manage
from confsvc.db.models import CheckResult, CheckRun, Department, Meeting, Person
from confsvc.errors import ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.preparation.agenda import agenda_read, can_prepare
from confsvc.preparation.materials import MaterialService, MaterialTooLarge, UploadedFile
from confsvc.web.agenda import AgendaRow, rows_of
from confsvc.web.forms import FormErrors
from confsvc.web.pages import Page

CHECK_NAMES = ("agenda", "materials", "quorum", "bridge", "room")
FIGURE_WINDOW = timedelta(days=30)
_COPY_CHUNK_BYTES = 64 * 1024


@dataclass
class MaterialView:
    id: uuid.UUID
    filename: str
    url: str
    size_bytes: int
    agenda_item_id: uuid.UUID | None
    agenda_position: int | None
    """Current position of the item the file belongs to."""
    uploaded_by: str | None
    uploaded_at: datetime
    deletable: bool


def may_upload(meeting: Meeting, viewer: Viewer) -> bool:
    """Organiser, chair, secretary, administrators and the presenters of agenda items upload."""
    if meeting.status == "cancelled":
        return False
    return can_prepare(meeting, viewer) or any(item.presenter == viewer.email for item in meeting.agenda_items)


def may_delete_material(meeting: Meeting, viewer: Viewer) -> bool:
    return can_manage(meeting, viewer) or viewer.person_id == meeting.secretary_id


async def material_views(db_session: AsyncSession, page: Page, meeting: Meeting, person: Person) -> list[MaterialView]:
    viewer = Viewer.of(person)
    deletable = may_delete_material(meeting, viewer)
    rows = await MaterialService(db_session, page.settings).list(meeting.id, caller=person)
    return [
        MaterialView(
            id=material.id,
            filename=material.filename,
            url=f"/meetings/{meeting.id}/materials/{material.id}",
            size_bytes=material.size_bytes,
            agenda_item_id=material.agenda_item_id,
            agenda_position=position,
            uploaded_by=email,
            uploaded_at=material.created_at,
            deletable=deletable,
        )
        for material, email, position in rows
    ]


def agenda_context(
    meeting: Meeting, viewer: Viewer, *, rows: list[AgendaRow] | None = None, new_row: AgendaRow | None = None,
    errors: FormErrors | None = None, saved: bool = False, invitations_queued: int = 0,
) -> dict[str, Any]:
    """Return the template values of the agenda editor (``_agenda_editor.html``)."""
    return {
        "agenda": agenda_read(meeting, invitations_queued=invitations_queued),
        "agenda_rows": rows if rows is not None else rows_of(meeting.agenda_items),
        "new_row": new_row or AgendaRow(),
        "agenda_editable": can_prepare(meeting, viewer) and meeting.status == "scheduled",
        "agenda_errors": errors or FormErrors(),
        "agenda_saved": saved,
    }


async def materials_context(
    db_session: AsyncSession, page: Page, meeting: Meeting, person: Person, *,
    errors: FormErrors | None = None, uploaded: str | None = None,
) -> dict[str, Any]:
    """Return the template values of the materials section (``_materials.html``)."""
    return {
        "materials": await material_views(db_session, page, meeting, person),
        "can_upload": may_upload(meeting, Viewer.of(person)),
        "material_errors": errors or FormErrors(),
        "material_types": page.settings.preparation.material_types,
        "material_max_mb": round(page.settings.preparation.material_max_bytes / (1024 * 1024), 1),
        "uploaded": uploaded,
    }


async def spool_form_file(form: Any, *, incoming: Path, max_bytes: int) -> UploadedFile:
    """Copy the ``file`` field of a parsed form into a temporary upload file.

    Used when the browser sent the form without JavaScript, so the CSRF check has already
    parsed the multipart body. The same size limit as a streamed upload applies.

    Raises:
        ValidationFailed: no file was chosen.
        MaterialTooLarge: the file is larger than ``max_bytes``.
    """
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise ValidationFailed.field("file", _("choose a file to upload"))
    incoming.mkdir(parents=True, exist_ok=True)
    path = incoming / f"{uuid.uuid4().hex}.part"
    digest = hashlib.sha256()
    size = 0
    complete = False
    try:
        with path.open("wb") as handle:
            while chunk := await upload.read(_COPY_CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise MaterialTooLarge.field("file", _("the file is larger than {limit} bytes", limit=max_bytes))
                digest.update(chunk)
                handle.write(chunk)
        complete = True
    finally:
        await upload.close()
        if not complete:
            path.unlink(missing_ok=True)
    fields = {}
    for name in ("agenda_item_id", "agenda_position"):
        value = form.get(name)
        fields[name] = value if isinstance(value, str) else ""
    return UploadedFile(path=path, filename=upload.filename, size_bytes=size, sha256=digest.hexdigest(), fields=fields)


async def check_figures(db_session: AsyncSession, *, now: datetime) -> dict[str, Any]:
    """Occurrences from 30 days back to 30 days ahead whose latest check run failed.

    Counted per organiser's department, in total and per failed check (``agenda``,
    ``materials``, ``quorum``, ``bridge``, ``room``). A failure fixed before a later run
    does not count, because only the latest run of each occurrence is looked at.
    """
    rows = await db_session.execute(
        select(CheckRun.id, CheckRun.meeting_id, CheckRun.occurrence_starts_at, CheckRun.status, Department.name)
        .join(Meeting, Meeting.id == CheckRun.meeting_id)
        .join(Person, Person.id == Meeting.organiser_id)
        .outerjoin(Department, Department.id == Person.department_id)
        .where(CheckRun.occurrence_starts_at >= now - FIGURE_WINDOW, CheckRun.occurrence_starts_at < now + FIGURE_WINDOW)
        .order_by(CheckRun.started_at, CheckRun.id)
    )
    latest: dict[tuple[uuid.UUID, datetime], tuple[uuid.UUID, str, str]] = {}
    for run_id, meeting_id, occurrence, status, department in rows:
        latest[(meeting_id, occurrence)] = (run_id, status, department or "—")
    failed_runs = {run_id: department for run_id, status, department in latest.values() if status == "fail"}

    failed: Counter[str] = Counter(failed_runs.values())
    by_check: dict[str, Counter[str]] = {name: Counter() for name in CHECK_NAMES}
    if failed_runs:
        results = await db_session.execute(
            select(CheckResult.run_id, CheckResult.name).where(CheckResult.run_id.in_(list(failed_runs)), CheckResult.status == "fail")
        )
        for run_id, name in results:
            by_check.setdefault(name, Counter())[failed_runs[run_id]] += 1
    departments = sorted(failed)
    return {
        "departments": departments,
        "failed": [failed[d] for d in departments],
        "by_check": {name: [counts[d] for d in departments] for name, counts in by_check.items() if sum(counts.values())},
        "failed_total": sum(failed.values()),
    }
