"""Action item lifecycle (督办): feedback, done, close (销号), reopen, cancel, due date changes.

Who may do what:

* see an item: everyone who sees its meeting, plus its owner, co-owners and approver;
* post progress: the owner and the co-owners;
* mark done (with a result): the owner;
* close or reopen (with a reason): the organiser, the chair, the named approver, an admin;
* edit, change the due date (with a reason) or cancel (with a reason): the organiser,
  the chair, an admin.

An item the caller may not see answers ``NotFound`` exactly like a missing one. Every
change recomputes ``next_reminder_at``, so reminders stop the moment an item leaves
``open``/``in_progress`` and restart from the new due date after a change.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import String, cast, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc import validation
from confsvc.booking.services import Viewer, can_see
from confsvc.db.models import (
    ActionItemUpdate,
    Attendee,
    Department,
    DueDateChange,
    Meeting,
    Person,
    ReminderLog,
)
from confsvc.db.models.followup import ACTIVE_STATUSES, ActionItem
from confsvc.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from confsvc.followup.calendar import load_calendar
from confsvc.followup.messages import item_link
from confsvc.followup.policy import (
    ReminderPolicy,
    overdue_working_days,
    parse_escalation_days,
    parse_local_time,
)
from confsvc.followup.reminders import next_reminder_at, zone_of
from confsvc.followup.schemas import (
    ActionItemDetail,
    ActionItemPatch,
    ActionItemRead,
    DueDateChangeRead,
    ItemUpdateRead,
    ReminderRead,
)
from confsvc.followup.workdays import WorkdayCalendar
from confsvc.i18n import gettext as _
from confsvc.settings import Settings

__all__ = ["ActionItemFilters", "ActionItemService", "Attachment", "action_item_states_by_resolution"]

logger = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._\-\u4e00-\u9fff]+")


@dataclass(frozen=True)
class ActionItemFilters:
    owner: str | None = None
    status: str | None = None
    overdue: bool | None = None
    department: str | None = None
    """Department name or id of the owner."""
    meeting_id: uuid.UUID | None = None
    limit: int = 200
    offset: int = 0


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


class ActionItemService:
    def __init__(self, session: AsyncSession, settings: Settings, *, now: datetime | None = None) -> None:
        self.session = session
        self.settings = settings
        self._now = now
        self.policy = ReminderPolicy.from_settings(settings.followup)
        self._calendar: WorkdayCalendar | None = None

    def now(self) -> datetime:
        return self._now or datetime.now(UTC)

    async def calendar(self) -> WorkdayCalendar:
        if self._calendar is None:
            self._calendar = await load_calendar(self.session, self.settings.followup.holiday_country)
        return self._calendar

    def today(self) -> date:
        from zoneinfo import ZoneInfo

        return self.now().astimezone(ZoneInfo(self.settings.time_zone)).date()

    # -- reading -------------------------------------------------------------------------

    async def get(self, item_id: uuid.UUID, viewer: Viewer) -> tuple[ActionItem, Meeting]:
        """Raises ``NotFound`` for a missing item and for one the viewer may not see."""
        item = await self.session.get(ActionItem, item_id)
        if item is None:
            raise NotFound("action item", item_id)
        meeting = await self.session.get(Meeting, item.meeting_id)
        if meeting is None or not (can_see(meeting, viewer) or _named_on(item, viewer.email)):
            raise NotFound("action item", item_id)
        return item, meeting

    async def list(self, filters: ActionItemFilters, viewer: Viewer) -> list[ActionItem]:
        query = select(ActionItem)
        if not viewer.is_admin:
            email = viewer.email.lower()
            visible_meeting = or_(
                Meeting.organiser_id == viewer.person_id,
                Meeting.chair_id == viewer.person_id,
                Meeting.secretary_id == viewer.person_id,
                exists().where(Attendee.meeting_id == Meeting.id, Attendee.email == email),
            )
            query = query.where(
                or_(
                    ActionItem.owner_email == email,
                    ActionItem.approver_email == email,
                    cast(ActionItem.co_owner_emails, String).contains(f'"{email}"', autoescape=True),
                    ActionItem.meeting_id.in_(select(Meeting.id).where(visible_meeting)),
                )
            )
        if filters.owner:
            query = query.where(ActionItem.owner_email == filters.owner.strip().lower())
        if filters.status:
            query = query.where(ActionItem.status == filters.status)
        if filters.meeting_id:
            query = query.where(ActionItem.meeting_id == filters.meeting_id)
        if filters.overdue is not None:
            today = self.today()
            overdue = ActionItem.status.in_(ACTIVE_STATUSES) & (ActionItem.due_date < today)
            query = query.where(overdue if filters.overdue else ~overdue)
        if filters.department:
            clauses = [Department.name == filters.department]
            try:
                clauses.append(Department.id == uuid.UUID(filters.department))
            except ValueError:
                pass  # a name, not an id
            department = select(Department.id).where(or_(*clauses))
            owners = select(Person.email).where(Person.department_id.in_(department))
            query = query.where(ActionItem.owner_email.in_(owners))
        query = query.order_by(ActionItem.due_date, ActionItem.id).limit(filters.limit).offset(filters.offset)
        return list((await self.session.execute(query)).scalars())

    async def read(self, item: ActionItem) -> ActionItemRead:
        calendar = await self.calendar()
        today = self.today()
        days = overdue_working_days(calendar, item.due_date, today) if item.status in ACTIVE_STATUSES else 0
        return ActionItemRead(
            id=item.id, meeting_id=item.meeting_id, minutes_id=item.minutes_id,
            resolution_number=item.resolution_number, title=item.title, owner_email=item.owner_email,
            co_owner_emails=list(item.co_owner_emails or []), approver_email=item.approver_email,
            due_date=item.due_date, status=item.status, progress=item.progress or 0, result=item.result,
            overdue=item.status in ACTIVE_STATUSES and item.due_date < today, overdue_working_days=days,
            next_reminder_at=item.next_reminder_at, escalation_level=item.escalation_level or 0,
            reminder_lead_days=item.reminder_lead_days, reminder_local_time=item.reminder_local_time,
            escalation_days=list(item.escalation_days) if item.escalation_days else None,
            reminders_muted=bool(item.reminders_muted), done_at=item.done_at, closed_at=item.closed_at,
            closed_by_email=item.closed_by_email, cancel_reason=item.cancel_reason,
            link=item_link(self.settings, item.id),
        )

    async def detail(self, item: ActionItem) -> ActionItemDetail:
        updates = (await self.session.execute(
            select(ActionItemUpdate).where(ActionItemUpdate.action_item_id == item.id).order_by(ActionItemUpdate.created_at)
        )).scalars()
        changes = (await self.session.execute(
            select(DueDateChange).where(DueDateChange.action_item_id == item.id).order_by(DueDateChange.created_at)
        )).scalars()
        reminders = (await self.session.execute(
            select(ReminderLog).where(ReminderLog.action_item_id == item.id).order_by(ReminderLog.sent_at, ReminderLog.kind)
        )).scalars()
        return ActionItemDetail(
            item=await self.read(item),
            updates=[
                ItemUpdateRead(
                    id=u.id, kind=u.kind, author_email=u.author_email, text=u.text, progress=u.progress,
                    attachment_name=u.attachment_name, attachment_size=u.attachment_size, created_at=u.created_at,
                )
                for u in updates
            ],
            due_date_changes=[
                DueDateChangeRead(
                    old_due_date=c.old_due_date, new_due_date=c.new_due_date, reason=c.reason,
                    changed_by_email=c.changed_by_email, created_at=c.created_at,
                )
                for c in changes
            ],
            reminders=[
                ReminderRead(kind=r.kind, local_date=r.local_date, recipients=list(r.recipients or []),
                             overdue_days=r.overdue_days, sent_at=r.sent_at)
                for r in reminders
            ],
        )

    # -- changes ---------------------------------------------------------------------------

    async def update(self, item_id: uuid.UUID, data: ActionItemPatch, viewer: Viewer) -> ActionItem:
        """Apply a PATCH. Raises ``PermissionDenied``, ``ValidationFailed`` or ``Conflict``."""
        item, meeting = await self.get(item_id, viewer)
        self._require_manager(meeting, viewer)
        if item.status not in ACTIVE_STATUSES and item.status != "done":
            raise Conflict(_("a {status} action item cannot be edited", status=item.status))

        # Faults are collected so that one error response names them all. A raise rolls back the changes.
        errors = validation.FieldErrors()
        if data.title is not msgspec.UNSET:
            item.title = data.title.strip()
        if data.owner_email is not msgspec.UNSET:
            with errors.collect():
                item.owner_email = _email(data.owner_email, "owner_email")
                owner = await self._person(item.owner_email)
                item.owner_id = owner.id if owner is not None else None
        if data.co_owner_emails is not msgspec.UNSET:
            with errors.collect():
                item.co_owner_emails = sorted({_email(e, "co_owner_emails") for e in data.co_owner_emails})
        if data.approver_email is not msgspec.UNSET:
            with errors.collect():
                item.approver_email = _email(data.approver_email, "approver_email") if data.approver_email else None
        if data.reminder_lead_days is not msgspec.UNSET:
            item.reminder_lead_days = data.reminder_lead_days
        if data.reminder_local_time is not msgspec.UNSET:
            value = data.reminder_local_time
            with errors.collect():
                item.reminder_local_time = parse_local_time(value).strftime("%H:%M") if value else None
        if data.escalation_days is not msgspec.UNSET:
            with errors.collect():
                item.escalation_days = list(parse_escalation_days(data.escalation_days)) if data.escalation_days else None
        if data.reminders_muted is not msgspec.UNSET:
            item.reminders_muted = data.reminders_muted

        due_date_changed = data.due_date is not msgspec.UNSET and data.due_date != item.due_date
        if due_date_changed and (data.due_date_reason is msgspec.UNSET or not data.due_date_reason.strip()):
            errors.add("due_date_reason", _("a due date change needs a reason"))
        errors.raise_if_any()
        if due_date_changed:
            self.session.add(DueDateChange(
                action_item_id=item.id, old_due_date=item.due_date, new_due_date=data.due_date,
                reason=data.due_date_reason.strip(), changed_by_email=viewer.email,
            ))
            logger.info("action item due date changed action_item_id=%s", item.id)
            item.due_date = data.due_date
            _restart_reminders(item)
        self._history(item, viewer, "edited", "")
        await self.reschedule(item)
        return item

    async def add_progress(
        self, item_id: uuid.UUID, viewer: Viewer, *, text: str, progress: int, attachment: Attachment | None = None
    ) -> ActionItemUpdate:
        """Record progress feedback from the owner or a co-owner; an open item becomes in_progress.

        Side effect: an attachment is written under ``<data_dir>/followup/<item id>/``.
        """
        item, _meeting = await self.get(item_id, viewer)
        email = viewer.email.lower()
        if email != item.owner_email.lower() and email not in {e.lower() for e in item.co_owner_emails or []}:
            raise PermissionDenied(_("only the owner and the co-owners may post progress"))
        if item.status not in ACTIVE_STATUSES:
            raise Conflict(_("a {status} action item takes no more progress", status=item.status))
        if not 0 <= progress <= 100:
            raise ValidationFailed.field("progress", _("progress must be between 0 and 100"))
        if not text.strip():
            raise ValidationFailed.field("text", _("the progress text is empty"))

        update = ActionItemUpdate(
            id=uuid.uuid4(), action_item_id=item.id, kind="progress", author_email=email, text=text.strip(),
            progress=progress,
        )
        if attachment is not None:
            update.attachment_name = attachment.filename[:255]
            update.attachment_type = attachment.content_type[:127]
            update.attachment_size = len(attachment.data)
            update.attachment_path = self._store_attachment(item.id, update.id, attachment)
        self.session.add(update)
        item.progress = progress
        if item.status == "open":
            item.status = "in_progress"
        await self.session.flush()
        return update

    async def mark_done(self, item_id: uuid.UUID, viewer: Viewer, *, result: str) -> ActionItem:
        item, _meeting = await self.get(item_id, viewer)
        if viewer.email.lower() != item.owner_email.lower():
            raise PermissionDenied(_("only the owner may mark the action item done"))
        if item.status not in ACTIVE_STATUSES:
            raise Conflict(_("a {status} action item cannot be marked done", status=item.status))
        if not result.strip():
            raise ValidationFailed.field("result", _("describe the result"))
        item.status = "done"
        item.result = result.strip()
        item.progress = 100
        item.done_at = self.now()
        self._history(item, viewer, "done", item.result)
        await self.reschedule(item)
        logger.info("action item done action_item_id=%s", item.id)
        return item

    async def close(self, item_id: uuid.UUID, viewer: Viewer, *, note: str = "") -> ActionItem:
        item, meeting = await self.get(item_id, viewer)
        self._require_verifier(item, meeting, viewer)
        if item.status != "done":
            raise Conflict(_("only a done action item can be closed; it is {status}", status=item.status))
        item.status = "closed"
        item.closed_at = self.now()
        item.closed_by_email = viewer.email
        self._history(item, viewer, "closed", note.strip())
        await self.reschedule(item)
        logger.info("action item closed action_item_id=%s", item.id)
        return item

    async def reopen(self, item_id: uuid.UUID, viewer: Viewer, *, reason: str) -> ActionItem:
        item, meeting = await self.get(item_id, viewer)
        self._require_verifier(item, meeting, viewer)
        if item.status not in ("done", "closed"):
            raise Conflict(_("only a done or closed action item can be reopened; it is {status}", status=item.status))
        if not reason.strip():
            raise ValidationFailed.field("reason", _("reopening needs a reason"))
        item.status = "in_progress"
        item.closed_at = None
        item.closed_by_email = None
        item.done_at = None
        _restart_reminders(item)
        self._history(item, viewer, "reopened", reason.strip())
        await self.reschedule(item)
        logger.info("action item reopened action_item_id=%s", item.id)
        return item

    async def cancel(self, item_id: uuid.UUID, viewer: Viewer, *, reason: str) -> ActionItem:
        item, meeting = await self.get(item_id, viewer)
        self._require_manager(meeting, viewer)
        if item.status in ("closed", "cancelled", "superseded"):
            raise Conflict(_("a {status} action item cannot be cancelled", status=item.status))
        if not reason.strip():
            raise ValidationFailed.field("reason", _("cancelling needs a reason"))
        item.status = "cancelled"
        item.cancel_reason = reason.strip()
        self._history(item, viewer, "cancelled", item.cancel_reason)
        await self.reschedule(item)
        logger.info("action item cancelled action_item_id=%s", item.id)
        return item

    async def reschedule(self, item: ActionItem) -> None:
        """Recompute ``next_reminder_at`` from the item's state, due date and owner's zone."""
        owner = await self._person(item.owner_email)
        zone = zone_of(owner, self.settings.time_zone)
        item.next_reminder_at = next_reminder_at(
            item, await self.calendar(), self.policy.for_item(item), zone, now=self.now()
        )
        await self.session.flush()

    # -- helpers -----------------------------------------------------------------------------

    def _require_manager(self, meeting: Meeting, viewer: Viewer) -> None:
        if not (viewer.is_admin or viewer.person_id in (meeting.organiser_id, meeting.chair_id)):
            raise PermissionDenied(_("only the organiser or the chair may change this action item"))

    def _require_verifier(self, item: ActionItem, meeting: Meeting, viewer: Viewer) -> None:
        approver = (item.approver_email or "").lower()
        if viewer.is_admin or viewer.person_id in (meeting.organiser_id, meeting.chair_id):
            return
        if approver and viewer.email.lower() == approver:
            return
        raise PermissionDenied(_("only the organiser, the chair or the named approver may verify this action item"))

    def _history(self, item: ActionItem, viewer: Viewer, kind: str, text: str) -> None:
        self.session.add(ActionItemUpdate(action_item_id=item.id, kind=kind, author_email=viewer.email, text=text))

    async def _person(self, email: str) -> Person | None:
        return (await self.session.execute(select(Person).where(Person.email == email.lower()))).scalar_one_or_none()

    def _store_attachment(self, item_id: uuid.UUID, update_id: uuid.UUID, attachment: Attachment) -> str:
        name = _SAFE_NAME.sub("_", Path(attachment.filename).name).strip("._") or "attachment"
        relative = Path("followup") / str(item_id) / f"{update_id}-{name[:100]}"
        target = self.settings.data_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(attachment.data)
        return relative.as_posix()


def _restart_reminders(item: ActionItem) -> None:
    item.last_reminder_kind = None
    item.last_reminder_on = None
    item.escalation_level = 0


def _named_on(item: ActionItem, email: str) -> bool:
    email = email.lower()
    named = {item.owner_email.lower(), (item.approver_email or "").lower()}
    named.update(e.lower() for e in item.co_owner_emails or [])
    return email in named


def _email(value: str, field: str) -> str:
    value = value.strip().lower()
    if "@" not in value or value.startswith("@") or value.endswith("@") or " " in value:
        raise ValidationFailed.field(field, _("{value} is not an e-mail address", value=value))
    return value


async def action_item_states_by_resolution(
    session: AsyncSession, meeting_id: uuid.UUID, *, minutes_id: uuid.UUID | None = None
) -> dict[str, dict[str, Any]]:
    """Summarise the action items of each resolution of a meeting, for the resolution register.

    Returns ``{resolution_number: {"total", "open", "in_progress", "done", "closed",
    "cancelled", "superseded", "state"}}`` where ``state`` is ``closed`` when every
    item that counts (not cancelled or superseded) is closed, ``done`` when all are at
    least done, ``open`` otherwise, and ``none`` without such items. Items without a
    resolution number are left out.
    """
    query = select(ActionItem.resolution_number, ActionItem.status).where(ActionItem.meeting_id == meeting_id)
    if minutes_id is not None:
        query = query.where(ActionItem.minutes_id == minutes_id)
    summary: dict[str, dict[str, Any]] = {}
    for number, status in (await session.execute(query)).all():
        if number is None:
            continue
        entry = summary.setdefault(number, {
            "total": 0, "open": 0, "in_progress": 0, "done": 0, "closed": 0, "cancelled": 0, "superseded": 0,
        })
        entry["total"] += 1
        entry[status] = entry.get(status, 0) + 1
    for entry in summary.values():
        counting = entry["total"] - entry["cancelled"] - entry["superseded"]
        if counting == 0:
            entry["state"] = "none"
        elif entry["closed"] == counting:
            entry["state"] = "closed"
        elif entry["closed"] + entry["done"] == counting:
            entry["state"] = "done"
        else:
            entry["state"] = "open"
    return summary
