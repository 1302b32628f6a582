"""The register of resolutions (议定事项) across all meetings, and uploaded templates."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import Select, String, cast, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc import validation
from confsvc.booking.services import Viewer
from confsvc.db.models import ActionItem, Attendee, Meeting, Minutes, MinutesResolution, MinutesTemplate, Person
from confsvc.errors import Conflict, ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.minutes.documents import decision_label
from confsvc.minutes.render import SHIPPED_TEMPLATES, TemplateReport, validate_template
from confsvc.minutes.schemas import RegisterEntry, TemplateRead

logger = logging.getLogger(__name__)

REGISTER_STATES = ("open", "adopted", "superseded")


@dataclass(frozen=True)
class RegisterFilters:
    """``q`` searches the text and the responsible unit or person (case-insensitive for
    Latin letters); ``state`` None lists every state but ``superseded``."""

    q: str | None = None
    meeting_id: uuid.UUID | None = None
    owner: str | None = None
    state: str | None = None
    limit: int = 100
    offset: int = 0


def _visible(statement: Select[tuple[MinutesResolution, Minutes, Meeting]], viewer: Viewer) -> Select[tuple[MinutesResolution, Minutes, Meeting]]:
    """Apply the meeting access rule: organiser, chair, secretary, attendee or admin."""
    if viewer.is_admin:
        return statement
    return statement.where(
        or_(
            Meeting.organiser_id == viewer.person_id,
            Meeting.chair_id == viewer.person_id,
            Meeting.secretary_id == viewer.person_id,
            exists().where(Attendee.meeting_id == Meeting.id, Attendee.email == viewer.email),
        )
    )


async def search_register(session: AsyncSession, filters: RegisterFilters, viewer: Viewer, *, locale: str) -> list[RegisterEntry]:
    """List resolutions of approved minutes that ``viewer`` may see, newest meetings first.

    Raises:
        ValidationFailed: an unknown state or an invalid owner address.
    """
    statement = (
        select(MinutesResolution, Minutes, Meeting)
        .join(Minutes, Minutes.id == MinutesResolution.minutes_id)
        .join(Meeting, Meeting.id == MinutesResolution.meeting_id)
    )
    if filters.state is not None:
        if filters.state not in REGISTER_STATES:
            raise ValidationFailed.field("state", _("use one of: {values}", values=", ".join(REGISTER_STATES)))
        statement = statement.where(MinutesResolution.state == filters.state)
    else:
        statement = statement.where(MinutesResolution.state != "superseded")
    if filters.meeting_id is not None:
        statement = statement.where(MinutesResolution.meeting_id == filters.meeting_id)
    if filters.q:
        pattern = "%" + filters.q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(
            or_(MinutesResolution.text.ilike(pattern, escape="\\"), MinutesResolution.responsible.ilike(pattern, escape="\\"))
        )
    if filters.owner:
        owner = validation.email(filters.owner, field="owner")
        statement = statement.where(
            exists().where(
                ActionItem.minutes_id == MinutesResolution.minutes_id,
                ActionItem.owner_email == owner,
                ActionItem.resolution_number == cast(MinutesResolution.number, String),
            )
        )
    statement = _visible(statement, viewer)
    statement = (
        statement.order_by(Meeting.starts_at.desc(), MinutesResolution.number)
        .limit(min(max(filters.limit, 1), 500))
        .offset(max(filters.offset, 0))
    )
    return [
        RegisterEntry(
            id=resolution.id,
            meeting_id=meeting.id,
            meeting_title=meeting.title,
            minutes_number=minutes.number,
            minutes_version=minutes.version,
            occurrence=minutes.occurrence,
            number=resolution.number,
            text=resolution.text,
            decided_by=decision_label(resolution.decision_method, locale=locale),
            responsible=resolution.responsible,
            owners=list(resolution.owner_emails or []),
            deadline=resolution.deadline,
            state=resolution.state,
            approved_at=minutes.approved_at,
        )
        for resolution, minutes, meeting in (await session.execute(statement)).all()
    ]


# -- uploaded templates -------------------------------------------------------------


async def list_templates(session: AsyncSession) -> list[TemplateRead]:
    """Return the shipped templates, then the uploaded ones by name."""
    shipped = [
        TemplateRead(id=None, name=name, filename=filename, locale="en" if name == "business-en" else "zh-CN",
                     placeholders=[], size=0, created_at=None, shipped=True)
        for name, filename in SHIPPED_TEMPLATES.items()
    ]
    rows = await session.scalars(select(MinutesTemplate).order_by(MinutesTemplate.name))
    return shipped + [template_read(row) for row in rows]


def template_read(row: MinutesTemplate) -> TemplateRead:
    return TemplateRead(
        id=row.id, name=row.name, filename=row.filename, locale=row.locale,
        placeholders=list(row.placeholders or []), size=len(row.data), created_at=row.created_at,
    )


async def store_template(
    session: AsyncSession, *, name: str, filename: str, data: bytes, locale: str, uploader: Person, max_bytes: int
) -> MinutesTemplate:
    """Validate an uploaded .docx template and store it under ``name``.

    Raises:
        ValidationFailed: bad name, locale or size, or (as ``TemplateRejected``) a template
            with unknown placeholders, broken tags or a failed sample render; each problem
            is one ``invalid_params`` entry.
        Conflict: the name is taken (shipped names included).
    """
    clean_name = validation.text(name, field="name", max_length=200)
    if locale not in ("zh-CN", "en"):
        raise ValidationFailed.field("locale", _("use one of: {values}", values="zh-CN, en"))
    if not data:
        raise ValidationFailed.field("file", _("the uploaded file is empty"))
    if len(data) > max_bytes:
        raise ValidationFailed.field("file", _("too large: at most {limit} bytes", limit=max_bytes))
    if clean_name in SHIPPED_TEMPLATES or await session.scalar(select(MinutesTemplate.id).where(MinutesTemplate.name == clean_name)):
        raise Conflict(_("a minutes template named {name!r} exists already", name=clean_name))

    report: TemplateReport = validate_template(data)
    row = MinutesTemplate(
        name=clean_name, filename=filename[:300] or "template.docx", locale=locale, data=data,
        placeholders=list(report.placeholders), uploaded_by_id=uploader.id,
    )
    session.add(row)
    await session.flush()
    logger.info("minutes template stored template_id=%s merged_tags=%d", row.id, report.merged_tags)
    return row
