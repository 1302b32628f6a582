"""HTTP routes of the minutes domain: the minutes of a meeting, the resolution register,
uploaded templates and the public receipt link."""

from __future__ import annotations

import html
import io
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import quote

import multipart
from litestar import Controller, Request, Response, get, post, put
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.api.auth import admin_only, current_person
from confsvc.booking.services import Viewer
from confsvc.db.models import Person
from confsvc.errors import ValidationFailed
from confsvc.i18n import get_locale
from confsvc.i18n import gettext as _
from confsvc.minutes.register import RegisterFilters, list_templates, search_register, store_template, template_read
from confsvc.minutes.schemas import (
    CosignRequest,
    DistributeRequest,
    MinutesDraft,
    MinutesRead,
    PrefillRequest,
    ReceiptsRead,
    RegisterEntry,
    ReturnRequest,
    SubmitRequest,
    TemplateRead,
    VersionSummary,
)
from confsvc.security.audit import record_audit
from confsvc.minutes.services import DocumentFormat, MinutesService
from confsvc.settings import Settings

_FORM_OVERHEAD_BYTES = 64 * 1024
"""Room for multipart headers and the small form fields beside the template file."""


def _occurrence_param() -> Any:
    return Parameter(query="occurrence", default=None, description="Recurrence id (ISO 8601 with offset) of one occurrence of a series")


class MinutesController(Controller):
    path = "/meetings/{meeting_id:uuid}"
    tags = ["minutes"]
    dependencies = {"caller": Provide(current_person)}

    @get("/minutes", operation_id="getMinutes")
    async def get_minutes(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID,
        occurrence: datetime | None = _occurrence_param(),
    ) -> MinutesRead:
        return await MinutesService(db_session, settings).read(meeting_id, Viewer.of(caller), occurrence=occurrence)

    @put("/minutes", operation_id="replaceMinutesDraft")
    async def put_minutes(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID, data: MinutesDraft,
        occurrence: datetime | None = _occurrence_param(),
    ) -> MinutesRead:
        result = await MinutesService(db_session, settings).save_draft(meeting_id, data, caller=caller, occurrence=occurrence)
        await db_session.commit()
        return result

    @post("/minutes/submit", operation_id="submitMinutes", status_code=200)
    async def submit(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID,
        data: SubmitRequest | None = None, occurrence: datetime | None = _occurrence_param(),
    ) -> MinutesRead:
        result = await MinutesService(db_session, settings).submit(
            meeting_id, data or SubmitRequest(), caller=caller, occurrence=occurrence
        )
        await db_session.commit()
        return result

    @post("/minutes/cosign", operation_id="cosignMinutes", status_code=200)
    async def cosign(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID,
        data: CosignRequest | None = None, occurrence: datetime | None = _occurrence_param(),
    ) -> MinutesRead:
        result = await MinutesService(db_session, settings).cosign(
            meeting_id, caller=caller, comment=data.comment if data else None, occurrence=occurrence
        )
        await db_session.commit()
        return result

    @post("/minutes/approve", operation_id="approveMinutes", status_code=200)
    async def approve(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID,
        occurrence: datetime | None = _occurrence_param(),
    ) -> MinutesRead:
        result = await MinutesService(db_session, settings).approve(meeting_id, caller=caller, occurrence=occurrence)
        record_audit(
            db_session, actor=caller, action="minutes.approve", object_type="meeting", object_id=meeting_id,
            details={"occurrence": occurrence.isoformat() if occurrence else None},
        )
        await db_session.commit()
        return result

    @post("/minutes/return", operation_id="returnMinutes", status_code=200)
    async def return_minutes(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID, data: ReturnRequest,
        occurrence: datetime | None = _occurrence_param(),
    ) -> MinutesRead:
        result = await MinutesService(db_session, settings).return_to_draft(
            meeting_id, caller=caller, comment=data.comment, occurrence=occurrence
        )
        await db_session.commit()
        return result

    @post("/minutes/revise", operation_id="reviseMinutes", status_code=201)
    async def revise(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID,
        occurrence: datetime | None = _occurrence_param(),
    ) -> MinutesRead:
        result = await MinutesService(db_session, settings).revise(meeting_id, caller=caller, occurrence=occurrence)
        await db_session.commit()
        return result

    @post("/minutes/attendance/prefill", operation_id="prefillMinutesAttendance", status_code=200)
    async def prefill(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID,
        data: PrefillRequest | None = None, occurrence: datetime | None = _occurrence_param(),
    ) -> MinutesRead:
        result = await MinutesService(db_session, settings).prefill_attendance(
            meeting_id, caller=caller, conference_id=data.conference_id if data else None, occurrence=occurrence
        )
        await db_session.commit()
        return result

    @post("/minutes/distribute", operation_id="distributeMinutes", status_code=200)
    async def distribute(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID,
        data: DistributeRequest | None = None, occurrence: datetime | None = _occurrence_param(),
    ) -> ReceiptsRead:
        result = await MinutesService(db_session, settings).distribute(
            meeting_id, caller=caller, extra_recipients=data.extra_recipients if data else (), occurrence=occurrence
        )
        await db_session.commit()
        return result

    @get("/minutes/receipts", operation_id="getMinutesReceipts")
    async def receipts(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID,
        occurrence: datetime | None = _occurrence_param(),
    ) -> ReceiptsRead:
        return await MinutesService(db_session, settings).receipts(meeting_id, Viewer.of(caller), occurrence=occurrence)

    @get("/minutes/versions", operation_id="listMinutesVersions")
    async def versions(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID,
        occurrence: datetime | None = _occurrence_param(),
    ) -> list[VersionSummary]:
        return await MinutesService(db_session, settings).versions(meeting_id, Viewer.of(caller), occurrence=occurrence)

    @get("/minutes/versions/{version:int}", operation_id="getMinutesVersion")
    async def version(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID, version: int,
        occurrence: datetime | None = _occurrence_param(),
    ) -> MinutesRead:
        return await MinutesService(db_session, settings).version(meeting_id, version, Viewer.of(caller), occurrence=occurrence)

    @get("/minutes.docx", operation_id="downloadMinutesDocx", media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    async def docx(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID,
        occurrence: datetime | None = _occurrence_param(),
        template: str | None = Parameter(query="template", default=None, max_length=200),
        version: int | None = Parameter(query="version", default=None, ge=1),
    ) -> Response[bytes]:
        return await _document(db_session, caller, settings, meeting_id, "docx", occurrence=occurrence, template=template, version=version)

    @get("/minutes.html", operation_id="downloadMinutesHtml", media_type="text/html")
    async def html_document(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID,
        occurrence: datetime | None = _occurrence_param(),
        locale: str | None = Parameter(query="locale", default=None, max_length=16),
        version: int | None = Parameter(query="version", default=None, ge=1),
    ) -> Response[bytes]:
        return await _document(db_session, caller, settings, meeting_id, "html", occurrence=occurrence, locale=locale, version=version)

    @get("/minutes.md", operation_id="downloadMinutesMarkdown", media_type="text/markdown")
    async def markdown_document(
        self, db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID,
        occurrence: datetime | None = _occurrence_param(),
        locale: str | None = Parameter(query="locale", default=None, max_length=16),
        version: int | None = Parameter(query="version", default=None, ge=1),
    ) -> Response[bytes]:
        return await _document(db_session, caller, settings, meeting_id, "md", occurrence=occurrence, locale=locale, version=version)


async def _document(
    db_session: AsyncSession, caller: Person, settings: Settings, meeting_id: uuid.UUID, fmt: DocumentFormat, *,
    occurrence: datetime | None, template: str | None = None, locale: str | None = None, version: int | None = None,
) -> Response[bytes]:
    rendered = await MinutesService(db_session, settings).render(
        meeting_id, Viewer.of(caller), fmt=fmt, occurrence=occurrence, template=template,
        locale=locale or get_locale(), version=version,
    )
    body = rendered.body.encode("utf-8") if isinstance(rendered.body, str) else rendered.body
    disposition = "attachment" if fmt == "docx" else "inline"
    return Response(
        body,
        media_type=rendered.media_type,
        headers={
            "Content-Disposition": f"{disposition}; filename=\"{rendered.filename}\"; filename*=UTF-8''{quote(rendered.filename)}",
            "X-Content-Type-Options": "nosniff",
        },
    )


class ResolutionRegisterController(Controller):
    path = "/resolutions"
    tags = ["minutes"]
    dependencies = {"caller": Provide(current_person)}

    @get(operation_id="listResolutions")
    async def list_resolutions(
        self, db_session: AsyncSession, caller: Person,
        q: str | None = Parameter(default=None, max_length=200),
        meeting: uuid.UUID | None = Parameter(default=None),
        owner: str | None = Parameter(default=None, max_length=320),
        state_filter: str | None = Parameter(query="state", default=None, max_length=16),
        limit: int = Parameter(default=100, ge=1, le=500),
        offset: int = Parameter(default=0, ge=0),
    ) -> list[RegisterEntry]:
        filters = RegisterFilters(q=q, meeting_id=meeting, owner=owner, state=state_filter, limit=limit, offset=offset)
        return await search_register(db_session, filters, Viewer.of(caller), locale=get_locale())


class MinutesTemplateController(Controller):
    path = "/minutes-templates"
    tags = ["minutes"]
    dependencies = {"caller": Provide(current_person)}

    @get(operation_id="listMinutesTemplates")
    async def list_minutes_templates(self, db_session: AsyncSession, caller: Person) -> list[TemplateRead]:
        return await list_templates(db_session)

    @post(operation_id="uploadMinutesTemplate", status_code=201, guards=[admin_only], request_max_body_size=None)
    async def upload(self, request: Request[Any, Any, Any], db_session: AsyncSession, caller: Person, settings: Settings) -> Response[TemplateRead]:
        """Accept ``multipart/form-data`` with ``file`` (.docx), ``name`` and optionally
        ``locale`` (zh-CN or en). The body is read up to CONFSVC_MINUTES_MAX_TEMPLATE_BYTES
        plus the form overhead, so this route lifts the app-wide JSON body limit."""
        fields, filename, data = await _read_form(request, max_bytes=settings.minutes.max_template_bytes)
        row = await store_template(
            db_session, name=fields.get("name", ""), filename=filename, data=data,
            locale=fields.get("locale", "zh-CN"), uploader=caller, max_bytes=settings.minutes.max_template_bytes,
        )
        await db_session.commit()
        return Response(template_read(row), status_code=201, headers={"Location": f"/api/v1/minutes-templates/{row.id}"})


async def _read_form(request: Request[Any, Any, Any], *, max_bytes: int) -> tuple[dict[str, str], str, bytes]:
    """Read a small multipart form: text fields and one ``file`` part.

    Raises:
        ValidationFailed: not multipart/form-data, too large, or no ``file`` part.
    """
    media_type, options = multipart.parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get("boundary")
    if media_type != "multipart/form-data" or not boundary:
        raise ValidationFailed.field("body", _("send the template as multipart/form-data with a file part"))
    limit = max_bytes + _FORM_OVERHEAD_BYTES
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ValidationFailed.field("file", _("too large: at most {limit} bytes", limit=max_bytes))
        chunks.append(chunk)
    fields: dict[str, str] = {}
    filename, data = "", b""
    try:
        parser = multipart.MultipartParser(io.BytesIO(b"".join(chunks)), boundary, content_length=size, part_limit=10)
        for part in parser:
            if part.name == "file":
                filename, data = part.filename or "", part.raw
            else:
                fields[part.name] = part.value[:1000]
    except multipart.MultipartError as exc:
        raise ValidationFailed.field("body", _("the multipart body is malformed: {error}", error=str(exc))) from exc
    if not data:
        raise ValidationFailed.field("file", _("missing: the .docx template as the file part"))
    return fields, filename, data


class ReceiptController(Controller):
    """The receipt link (签收) from the distribution e-mail; no login needed."""

    path = "/ack"
    tags = ["minutes"]

    @get("/{token:str}", operation_id="acknowledgeMinutes", media_type="text/html")
    async def acknowledge(self, db_session: AsyncSession, settings: Settings, token: str) -> Response[str]:
        receipt, meeting = await MinutesService(db_session, settings).acknowledge(token[:200])
        await db_session.commit()
        heading = html.escape(_("Receipt confirmed"))
        text = html.escape(
            _("Thank you, {name}: your receipt of the minutes of \"{title}\" is recorded.", name=receipt.name or receipt.email, title=meeting.title)
        )
        page = f'<!doctype html><html><head><meta charset="utf-8"><title>{heading}</title></head><body><h1>{heading}</h1><p>{text}</p></body></html>'
        return Response(page, media_type="text/html; charset=utf-8")
