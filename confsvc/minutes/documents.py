"""Turn stored minutes into documents: the render context, template choice, .docx, HTML,
Markdown and PDF.

Rendering itself is ``confsvc.minutes.render``; this module fills its ``MinutesContext``
from the database rows and resolves template names (shipped or uploaded).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.db.models import Meeting, Minutes, MinutesTemplate, Person
from confsvc.errors import ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.minutes import content
from confsvc.minutes.render import SHIPPED_TEMPLATES
from confsvc.minutes.render_context import (
    ActionItem,
    AgendaItem,
    Approval,
    Attendance,
    MeetingInfo,
    MinutesContext,
    Resolution,
)
from confsvc.minutes.render_context import Person as AttendancePerson
from confsvc.minutes.schemas import ActionItemIn, AttendanceIn, NoteIn, ResolutionIn

logger = logging.getLogger(__name__)

SHIPPED_LOCALES = {"default-zh": "zh-CN", "business-en": "en"}

_DECISION_LABELS = {
    "consensus": "adopted by consensus",
    "unanimous": "adopted unanimously",
    "vote": "adopted by vote",
    "chair": "decided by the chair",
}

_GROUPS = {
    "present": "present",
    "late": "late",
    "left_early": "left_early",
    "absent": "absent",
    "excused": "excused",
    "represented": "represented",
    "guest": "guests",
}


@dataclass(frozen=True)
class ChosenTemplate:
    """A template ready for ``render_docx``: a shipped name or uploaded bytes."""

    name: str
    source: str | bytes
    locale: str


async def choose_template(session: AsyncSession, name: str) -> ChosenTemplate:
    """Find a shipped or uploaded template by name.

    Raises:
        ValidationFailed: no template has that name (field ``template``).
    """
    if name in SHIPPED_TEMPLATES:
        return ChosenTemplate(name=name, source=name, locale=SHIPPED_LOCALES.get(name, "zh-CN"))
    stored = await session.scalar(select(MinutesTemplate).where(MinutesTemplate.name == name))
    if stored is None:
        raise ValidationFailed.field("template", _("no minutes template named {name!r}", name=name))
    return ChosenTemplate(name=stored.name, source=stored.data, locale=stored.locale)


def decision_label(method: str, *, locale: str) -> str:
    return _(_DECISION_LABELS.get(method, method), locale=locale)


async def build_context(
    session: AsyncSession,
    *,
    meeting: Meeting,
    minutes: Minutes,
    scheduled: tuple[datetime, datetime],
    locale: str,
) -> MinutesContext:
    """Fill the render context from a meeting and one minutes version.

    Names come from the minutes entries first, then the invitation, then the directory.
    ``scheduled`` is the start and end of the occurrence (aware, UTC).
    """
    attendance = content.from_json(minutes.attendance, AttendanceIn)
    notes = content.from_json(minutes.notes, NoteIn)
    resolutions = content.from_json(minutes.resolutions, ResolutionIn)
    action_items = content.from_json(minutes.action_items, ActionItemIn)

    emails = {entry.email for entry in attendance if entry.email}
    for item in action_items:
        emails.add(item.owner)
        emails.update(item.co_owners)
    people = await _people(session, emails)
    invited = content.invitees(meeting)

    def name_of(email: str, given: str = "") -> str:
        person = people.get(email)
        return given or invited.get(email) or (person.name if person else "") or email

    groups: dict[str, list[AttendancePerson]] = {group: [] for group in _GROUPS.values()}
    for entry in attendance:
        person = people.get(entry.email) if entry.email else None
        organisation = entry.organisation or (person.department.name if person and person.department else "")
        groups[_GROUPS[entry.status]].append(
            AttendancePerson(
                name=name_of(entry.email, entry.name) if entry.email else entry.name,
                organisation=organisation,
                role=entry.role,
                minutes_late=entry.minutes_late,
                left_at=entry.left_at,
                proxy=entry.proxy,
                reason=entry.reason,
            )
        )

    approver = await session.get(Person, minutes.approved_by_id) if minutes.approved_by_id else None
    organiser = meeting.organiser
    return MinutesContext(
        locale=locale,
        meeting=MeetingInfo(
            title=meeting.title,
            number=minutes.number or "",
            organiser=organiser.department.name if organiser.department else organiser.name,
            chair=meeting.chair.name if meeting.chair else "",
            secretary=meeting.secretary.name if meeting.secretary else "",
            start=scheduled[0],
            end=scheduled[1],
            actual_start=minutes.actual_start,
            actual_end=minutes.actual_end,
            location=_location(meeting),
            bridge=_bridge(meeting, locale=locale),
            timezone=meeting.time_zone,
            confidential=meeting.confidentiality == "confidential",
        ),
        attendance=Attendance(**{group: tuple(people_in) for group, people_in in groups.items()}),
        agenda_items=_agenda(meeting, notes),
        resolutions=tuple(
            Resolution(
                number=str(number),
                text=resolution.text,
                decided_by=decision_label(resolution.decided_by, locale=locale),
                votes_for=resolution.votes_for,
                votes_against=resolution.votes_against,
                votes_abstain=resolution.votes_abstain,
            )
            for number, resolution in enumerate(resolutions, start=1)
        ),
        action_items=tuple(
            ActionItem(
                number=str(number),
                title=item.title,
                owner=name_of(item.owner, item.owner_name),
                co_owners=tuple(name_of(email) for email in item.co_owners),
                due=item.due,
                resolution_number=str(item.resolution) if item.resolution else "",
            )
            for number, item in enumerate(action_items, start=1)
        ),
        approval=Approval(approved_by=approver.name if approver else "", approved_at=minutes.approved_at),
    )


def _agenda(meeting: Meeting, notes: list[NoteIn]) -> tuple[AgendaItem, ...]:
    by_item = {note.item: note for note in notes if note.item is not None}
    items = [
        AgendaItem(
            number=agenda.position,
            title=agenda.title,
            presenter=(by_item[agenda.position].presenter if agenda.position in by_item else "") or (agenda.presenter or ""),
            notes=by_item[agenda.position].text if agenda.position in by_item else "",
        )
        for agenda in meeting.agenda_items
    ]
    extra = [note for note in notes if note.item is None]
    for offset, note in enumerate(extra, start=len(items) + 1):
        items.append(AgendaItem(number=offset, title=note.title, presenter=note.presenter, notes=note.text))
    return tuple(items)


def _location(meeting: Meeting) -> str:
    room = meeting.room
    if room is None:
        return ""
    return f"{room.name}（{room.location}）" if room.location else room.name


def _bridge(meeting: Meeting, *, locale: str) -> str:
    bridge = meeting.bridge
    if bridge is None:
        return ""
    numbers = "、".join(str(entry.get("number", "")) for entry in bridge.dial_in or [] if entry.get("number"))
    parts = [bridge.name]
    if numbers:
        parts.append(numbers)
    if bridge.access_code:
        parts.append(_("access code {code}", locale=locale, code=bridge.access_code))
    return " ".join(parts)


async def _people(session: AsyncSession, emails: set[str]) -> dict[str, Person]:
    if not emails:
        return {}
    rows = await session.scalars(select(Person).where(Person.email.in_(sorted(emails))))
    return {person.email: person for person in rows}


async def docx_to_pdf(document: bytes, *, soffice: str, timeout_seconds: int) -> bytes | None:
    """Convert a .docx to PDF with LibreOffice; return None when it is missing or fails.

    Runs ``soffice --headless --convert-to pdf`` in a temporary folder with its own user
    profile, so conversions running at the same time do not share a profile lock. Failures
    are logged and give None, because the .docx alone is still a complete distribution.
    """
    program = shutil.which(soffice)
    if program is None:
        logger.info("minutes pdf skipped, libreoffice not found program=%s", soffice)
        return None
    with tempfile.TemporaryDirectory(prefix="confsvc-pdf-") as folder:
        work = Path(folder)
        source = work / "minutes.docx"
        source.write_bytes(document)
        process = await asyncio.create_subprocess_exec(
            program,
            f"-env:UserInstallation={(work / 'profile').as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(work),
            str(source),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=timeout_seconds)
        except TimeoutError:
            process.kill()
            await process.wait()
            logger.warning("minutes pdf conversion timed out timeout_s=%d", timeout_seconds)
            return None
        target = work / "minutes.pdf"
        if process.returncode != 0 or not target.is_file():
            logger.warning(
                "minutes pdf conversion failed returncode=%s error=%s",
                process.returncode,
                stderr.decode("utf-8", "replace")[-300:],
            )
            return None
        return target.read_bytes()
