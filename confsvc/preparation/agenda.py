"""The agenda of a meeting: ordered items, timing warnings and updated invitations."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc import validation
from confsvc.booking import invitations
from confsvc.booking.invitations import agenda_text
from confsvc.booking.schemas import AgendaItemIn, AgendaItemRead
from confsvc.booking.services import MeetingService, Viewer, can_manage
from confsvc.db.models import AgendaItem, Meeting, OutboxMessage, Person
from confsvc.errors import PermissionDenied, ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.preparation.schemas import AgendaRead, AgendaWrite
from confsvc.settings import Settings

__all__ = ["AgendaService", "agenda_read", "agenda_text", "agenda_warnings", "can_prepare", "meeting_minutes"]

logger = logging.getLogger(__name__)

MAX_AGENDA_ITEMS = 100


def can_prepare(meeting: Meeting, viewer: Viewer) -> bool:
    """Tell whether ``viewer`` may change the agenda and materials: organiser, chair, secretary or admin."""
    return can_manage(meeting, viewer) or viewer.person_id in (meeting.chair_id, meeting.secretary_id)


def meeting_minutes(meeting: Meeting) -> int:
    return int((meeting.ends_at - meeting.starts_at).total_seconds() // 60)


def _invited(meeting: Meeting) -> set[str]:
    emails = {a.email for a in meeting.attendees} | {meeting.organiser.email}
    if meeting.chair is not None:
        emails.add(meeting.chair.email)
    if meeting.secretary is not None:
        emails.add(meeting.secretary.email)
    return emails


def agenda_warnings(meeting: Meeting, items: Sequence[AgendaItem]) -> list[str]:
    """Return the timing and presenter problems of ``items``; none of them blocks a save."""
    warnings: list[str] = []
    total = sum(item.duration_minutes or 0 for item in items)
    available = meeting_minutes(meeting)
    if total > available:
        warnings.append(
            _("the agenda takes {total} minutes but the meeting lasts {available} minutes", total=total, available=available)
        )
    untimed = [str(item.position) for item in items if not item.duration_minutes]
    if untimed:
        warnings.append(_("agenda items without a duration: {positions}", positions=", ".join(untimed)))
    invited = _invited(meeting)
    for item in items:
        if item.presenter and item.presenter not in invited:
            warnings.append(
                _("the presenter {email} of item {position} is not invited", email=item.presenter, position=item.position)
            )
    return warnings


def agenda_read(meeting: Meeting, *, invitations_queued: int = 0) -> AgendaRead:
    items = sorted(meeting.agenda_items, key=lambda item: item.position)
    return AgendaRead(
        meeting_id=meeting.id,
        items=[
            AgendaItemRead(
                position=item.position,
                title=item.title,
                presenter=item.presenter,
                duration_minutes=item.duration_minutes,
                needs_materials=item.needs_materials,
            )
            for item in items
        ],
        total_minutes=sum(item.duration_minutes or 0 for item in items),
        meeting_minutes=meeting_minutes(meeting),
        warnings=agenda_warnings(meeting, items),
        invitations_queued=invitations_queued,
    )


def _same_items(old: Sequence[AgendaItem], new: Sequence[AgendaItem]) -> bool:
    def key(item: AgendaItem) -> tuple[object, ...]:
        return (item.position, item.title, item.presenter, item.duration_minutes, item.needs_materials)

    return [key(i) for i in sorted(old, key=lambda i: i.position)] == [key(i) for i in new]


class AgendaService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    async def get(self, meeting_id: uuid.UUID, *, caller: Person) -> AgendaRead:
        meeting = await MeetingService(self.session, self.settings).get(meeting_id, Viewer.of(caller))
        return agenda_read(meeting)

    async def replace(self, meeting_id: uuid.UUID, data: AgendaWrite, *, caller: Person, now: datetime | None = None) -> AgendaRead:
        """Replace the agenda of a scheduled meeting.

        When invitations have already been queued and the agenda changed, every recipient
        gets an updated invitation whose DESCRIPTION carries the new agenda, and the
        CalDAV copies are rewritten, at the same SEQUENCE so that the replies stand. The
        caller commits.

        Raises:
            NotFound: the meeting does not exist or the caller may not see it.
            PermissionDenied: the caller is not organiser, chair, secretary or admin.
            ValidationFailed: an item is invalid or the meeting is not scheduled.
        """
        now = now or datetime.now(UTC)
        viewer = Viewer.of(caller)
        meeting = await MeetingService(self.session, self.settings).get(meeting_id, viewer)
        if not can_prepare(meeting, viewer):
            raise PermissionDenied(_("only the organiser, chair, secretary or an administrator may change the agenda"))
        if meeting.status != "scheduled":
            raise ValidationFailed.field("status", _("a {status} meeting cannot be changed", status=meeting.status))
        new_items = self._clean(data.items)

        unchanged = _same_items(meeting.agenda_items, new_items)
        meeting.agenda_items = new_items
        await self.session.flush()
        queued = 0
        if not unchanged and await self._invitations_sent(meeting):
            queued = await invitations.enqueue_resend_same_sequence(self.session, self.settings, meeting, now=now)
        logger.info(
            "agenda replaced meeting_id=%s items=%d changed=%s invitations=%d",
            meeting.id, len(new_items), not unchanged, queued,
        )
        return agenda_read(meeting, invitations_queued=queued)

    def _clean(self, items: Sequence[AgendaItemIn]) -> list[AgendaItem]:
        if len(items) > MAX_AGENDA_ITEMS:
            raise ValidationFailed.field("items", _("at most {count} agenda items", count=MAX_AGENDA_ITEMS))
        cleaned = []
        for index, item in enumerate(items):
            cleaned.append(
                AgendaItem(
                    position=index + 1,
                    title=validation.text(item.title, field=f"items[{index}].title", max_length=300),
                    presenter=validation.email(item.presenter, field=f"items[{index}].presenter") if item.presenter else None,
                    duration_minutes=item.duration_minutes,
                    needs_materials=item.needs_materials,
                )
            )
        return cleaned

    async def _invitations_sent(self, meeting: Meeting) -> bool:
        statement = select(
            exists().where(OutboxMessage.meeting_id == meeting.id, OutboxMessage.channel == "email")
        )
        return bool(await self.session.scalar(statement))
