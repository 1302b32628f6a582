"""The agenda of a meeting: ordered items, timing warnings and updated invitations."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc import validation
from confsvc.booking import invitations
from confsvc.booking.invitations import agenda_text
from confsvc.booking.services import MeetingService, Viewer, can_manage
from confsvc.db.models import AgendaItem, Material, Meeting, OutboxMessage, Person
from confsvc.errors import PermissionDenied, ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.preparation.schemas import AgendaItemView, AgendaItemWrite, AgendaRead, AgendaWrite
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
            AgendaItemView(
                id=item.id,
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


def _item_keys(items: Sequence[AgendaItem]) -> list[tuple[object, ...]]:
    """Return the agenda fields that invitations show, in agenda order."""
    return [
        (item.position, item.title, item.presenter, item.duration_minutes, item.needs_materials)
        for item in sorted(items, key=lambda item: item.position)
    ]


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
        before = _item_keys(meeting.agenda_items)
        new_items, removed = self._merge(meeting, data.items)

        if removed:
            # The database turns them into whole-meeting materials too (ON DELETE SET NULL);
            # doing it here keeps the loaded rows right within this transaction.
            await self.session.execute(
                update(Material)
                .where(Material.meeting_id == meeting.id, Material.agenda_item_id.in_([item.id for item in removed]))
                .values(agenda_item_id=None)
                .execution_options(synchronize_session="fetch")
            )
        meeting.agenda_items = new_items
        await self.session.flush()
        unchanged = before == _item_keys(new_items)
        queued = 0
        if not unchanged and await self._invitations_sent(meeting):
            settle = timedelta(seconds=self.settings.preparation.agenda_resend_settle_seconds)
            queued = await invitations.enqueue_resend_same_sequence(self.session, self.settings, meeting, now=now, settle=settle)
        logger.info(
            "agenda replaced meeting_id=%s items=%d removed=%d changed=%s invitations=%d",
            meeting.id, len(new_items), len(removed), not unchanged, queued,
        )
        return agenda_read(meeting, invitations_queued=queued)

    def _merge(self, meeting: Meeting, items: Sequence[AgendaItemWrite]) -> tuple[list[AgendaItem], list[AgendaItem]]:
        """Return the agenda after the change and the items it no longer has.

        An item sent with the ``id`` of an existing item updates that item in place, so its
        id, and the materials that refer to it, stay. An item without ``id`` is new. All
        problems are collected; nothing changes when there is one.

        Raises:
            ValidationFailed: too many items, an invalid field, or an unknown or repeated id.
        """
        if len(items) > MAX_AGENDA_ITEMS:
            raise ValidationFailed.field("items", _("at most {count} agenda items", count=MAX_AGENDA_ITEMS))
        existing = {item.id: item for item in meeting.agenda_items}
        problems: list[dict[str, str]] = []
        cleaned: list[tuple[AgendaItem | None, str, str | None]] = []
        seen: set[uuid.UUID] = set()
        for index, item in enumerate(items):
            target = None
            if item.id is not None:
                target = existing.get(item.id)
                if target is None:
                    problems.append({
                        "name": f"items[{index}].id",
                        "reason": _("agenda item {id} not found in this meeting; omit the id to add a new item", id=str(item.id)),
                    })
                elif item.id in seen:
                    problems.append({"name": f"items[{index}].id", "reason": _("agenda item {id} appears more than once; list each item once", id=str(item.id))})
                seen.add(item.id)
            title = item.title
            presenter = None
            try:
                title = validation.text(item.title, field=f"items[{index}].title", max_length=300)
            except ValidationFailed as exc:
                problems.extend(exc.invalid_params)
            if item.presenter:
                try:
                    presenter = validation.email(item.presenter, field=f"items[{index}].presenter")
                except ValidationFailed as exc:
                    problems.extend(exc.invalid_params)
            cleaned.append((target, title, presenter))
        if problems:
            raise ValidationFailed.fields(problems)

        result = []
        for index, (item, (target, title, presenter)) in enumerate(zip(items, cleaned, strict=True)):
            entry = target if target is not None else AgendaItem(id=uuid.uuid4())
            entry.position = index + 1
            entry.title = title
            entry.presenter = presenter
            entry.duration_minutes = item.duration_minutes
            entry.needs_materials = item.needs_materials
            result.append(entry)
        kept = {entry.id for entry in result}
        removed = [item for item in meeting.agenda_items if item.id not in kept]
        return result, removed

    async def _invitations_sent(self, meeting: Meeting) -> bool:
        statement = select(
            exists().where(OutboxMessage.meeting_id == meeting.id, OutboxMessage.channel == "email")
        )
        return bool(await self.session.scalar(statement))
