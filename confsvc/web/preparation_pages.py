"""Agenda editing and materials on the meeting page (organisers, chairs, secretaries, presenters).

Both sections are htmx fragments of the meeting page: a request with ``HX-Request`` gets
the section back, a plain form post gets a redirect (or the whole page with the errors).
A material arrives in one of two ways. htmx sends the CSRF token in a header, so the
multipart body is still unread and goes through the preparation service's streaming
parser, which stops at the size limit. A form posted without JavaScript carries the token
in a form field, so the CSRF check has parsed the body already and the file is copied
from the parsed form.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.booking.services import MeetingService, Viewer
from confsvc.db.models import Person
from confsvc.errors import ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.preparation.agenda import AgendaService
from confsvc.preparation.materials import (
    MaterialService,
    UploadedFile,
    default_store,
    receive_upload,
)
from confsvc.preparation.controllers import material_download
from confsvc.preparation.schemas import AgendaWrite
from confsvc.web.agenda import agenda_errors, apply_operation, items_from_rows, rows_from_form
from confsvc.web.forms import errors_from_validation
from confsvc.web.identity import CSRF_HEADER
from confsvc.web.meetings import meeting_page_context
from confsvc.web.pages import Page, provide_page
from confsvc.web.preparation import agenda_context, materials_context, spool_form_file

__all__ = ["MATERIAL_UPLOAD_OPT", "PreparationPages", "upload_too_large"]

logger = logging.getLogger(__name__)

MATERIAL_UPLOAD_OPT = "material_upload"
"""Route option that makes the CSRF hook check the announced body size before parsing a form."""


class PreparationPages(Controller):
    path = "/meetings/{meeting_id:uuid}"
    include_in_schema = False
    dependencies = {"page": Provide(provide_page)}

    @post("/agenda", operation_id="webAgendaSave")
    async def save_agenda(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession, meeting_id: uuid.UUID) -> Template | Redirect:
        """Apply the editor's operation and store the resulting agenda; on an error store nothing."""
        person = page.require()
        form = await request.form()
        rows, new_row = rows_from_form(form)
        operation = str(form.get("op") or "save")
        try:
            rows = apply_operation(rows, new_row, operation)
            items = items_from_rows(rows)
            result = await AgendaService(db_session, page.settings).replace(meeting_id, AgendaWrite(items=items), caller=person)
            await db_session.commit()
        except ValidationFailed as exc:
            await db_session.rollback()
            meeting = await MeetingService(db_session, page.settings).get(meeting_id, Viewer.of(person))
            keep_new = new_row if operation == "add" or "new-title" in {p.get("name") for p in exc.invalid_params} else None
            editor = agenda_context(meeting, Viewer.of(person), rows=rows, new_row=keep_new, errors=agenda_errors(exc))
            logger.info("web agenda rejected meeting_id=%s person_id=%s problems=%d", meeting_id, person.id, len(exc.invalid_params) or 1)
            return await self._render_section(page, db_session, meeting_id, person, "_agenda_editor.html", editor, status_code=400)
        logger.info("web agenda saved meeting_id=%s person_id=%s operation=%s items=%d", meeting_id, person.id, operation, len(result.items))
        if not page.is_htmx:
            return page.redirect(f"/meetings/{meeting_id}?agenda=saved#agenda")
        meeting = await MeetingService(db_session, page.settings).get(meeting_id, Viewer.of(person))
        editor = agenda_context(meeting, Viewer.of(person), saved=True, invitations_queued=result.invitations_queued)
        # The materials section names items by title and position, so it is swapped in too.
        materials = await materials_context(db_session, page, meeting, person)
        return page.render("_agenda_editor.html", m=meeting, **editor, **materials, materials_oob=True)

    @post(
        "/materials", operation_id="webMaterialUpload", request_max_body_size=None,
        opt={MATERIAL_UPLOAD_OPT: True},
    )
    async def upload_material(self, page: Page, request: Request[Any, Any, Any], db_session: AsyncSession, meeting_id: uuid.UUID) -> Template | Redirect:
        person = page.require()
        store = default_store(page.settings)
        service = MaterialService(db_session, page.settings, store=store)
        try:
            upload = await self._receive(request, page, store.incoming)
            material = await service.add(meeting_id, upload, caller=person)
            committed = False
            try:
                await db_session.commit()
                committed = True
            finally:
                if not committed:
                    await service.discard_stored(material)
        except ValidationFailed as exc:
            await db_session.rollback()
            errors = errors_from_validation(exc, known={"file", "agenda_item_id", "agenda_position"})
            meeting = await MeetingService(db_session, page.settings).get(meeting_id, Viewer.of(person))
            section = await materials_context(db_session, page, meeting, person, errors=errors)
            logger.info("web material rejected meeting_id=%s person_id=%s status=%d", meeting_id, person.id, exc.status_code)
            return await self._render_section(page, db_session, meeting_id, person, "_materials.html", section, status_code=exc.status_code)
        logger.info("web material uploaded meeting_id=%s material_id=%s person_id=%s", meeting_id, material.id, person.id)
        if not page.is_htmx:
            return page.redirect(f"/meetings/{meeting_id}?uploaded=1#materials")
        meeting = await MeetingService(db_session, page.settings).get(meeting_id, Viewer.of(person))
        return page.render("_materials.html", m=meeting, **await materials_context(db_session, page, meeting, person, uploaded=material.filename))

    @get("/materials/{material_id:uuid}", operation_id="webMaterialDownload")
    async def download_material(self, page: Page, db_session: AsyncSession, meeting_id: uuid.UUID, material_id: uuid.UUID) -> Response[Any]:
        person = page.require()
        service = MaterialService(db_session, page.settings)
        material = await service.get(meeting_id, material_id, caller=person)
        return await material_download(service, material, headers={})

    @post("/materials/{material_id:uuid}/delete", operation_id="webMaterialDelete")
    async def delete_material(self, page: Page, db_session: AsyncSession, meeting_id: uuid.UUID, material_id: uuid.UUID) -> Template | Redirect:
        person = page.require()
        service = MaterialService(db_session, page.settings)
        material = await service.delete(meeting_id, material_id, caller=person)
        await db_session.commit()
        await service.discard_stored(material)
        logger.info("web material deleted meeting_id=%s material_id=%s person_id=%s", meeting_id, material_id, person.id)
        if not page.is_htmx:
            return page.redirect(f"/meetings/{meeting_id}#materials")
        meeting = await MeetingService(db_session, page.settings).get(meeting_id, Viewer.of(person))
        return page.render("_materials.html", m=meeting, **await materials_context(db_session, page, meeting, person))

    async def _receive(self, request: Request[Any, Any, Any], page: Page, incoming: Any) -> UploadedFile:
        limit = page.settings.preparation.material_max_bytes
        if request.headers.get(CSRF_HEADER):
            length = request.headers.get("content-length")
            upload = await receive_upload(
                request.stream(), content_type=request.headers.get("content-type", ""),
                content_length=int(length) if length and length.isdigit() else None, incoming=incoming, max_bytes=limit,
            )
            if not upload.filename.strip():
                upload.discard()
                raise ValidationFailed.field("file", _("choose a file to upload"))
            return upload
        return await spool_form_file(await request.form(), incoming=incoming, max_bytes=limit)

    async def _render_section(
        self, page: Page, db_session: AsyncSession, meeting_id: uuid.UUID, person: Person,
        template: str, section: dict[str, Any], *, status_code: int,
    ) -> Template:
        """Render the section alone for htmx, else the whole meeting page with it."""
        if page.is_htmx:
            meeting = await MeetingService(db_session, page.settings).get(meeting_id, Viewer.of(person))
            return page.render(template, m=meeting, status_code=status_code, **section)
        context = await meeting_page_context(page, db_session, meeting_id, person, **section)
        return page.render("meeting.html", status_code=status_code, **context)


def upload_too_large(request: Request[Any, Any, Any]) -> bool:
    """Tell whether a form-field-CSRF upload announces a body above the material limit.

    Such a body would be parsed in full by the CSRF check, so it is rejected before that.
    A body without Content-Length counts as too large, because its size is unknown.
    """
    if not request.route_handler.opt.get(MATERIAL_UPLOAD_OPT) or request.headers.get(CSRF_HEADER):
        return False
    length = request.headers.get("content-length", "")
    limit = request.app.state.settings.preparation.material_max_bytes + 64 * 1024
    return not length.isdigit() or int(length) > limit


