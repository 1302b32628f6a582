"""The reminder sweep: finds action items whose ``next_reminder_at`` has come and reminds.

Due state lives in ``action_item.next_reminder_at``, so a restart loses nothing, and a
sweep after downtime sends one catch-up reminder per item (see
:func:`confsvc.followup.policy.plan_for_day`), never one per missed day.

Several processes may sweep at once. Each batch is claimed in one transaction with
``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite's ``BEGIN IMMEDIATE`` lets one
writer in at a time), and every reminder is first recorded in ``reminder_log`` under the
unique key ``<item>:<kind>:<local date>``; a process that loses that insert sends nothing.
Outbox rows carry the delivery check ``followup.action_item_active``, so a reminder that
waits in the outbox is dropped when the item is done, closed or cancelled before delivery.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from confsvc.db.models import Department, Meeting, OutboxMessage, Person, PersonChannel, ReminderLog
from confsvc.db.models.followup import ACTIVE_STATUSES, ActionItem
from confsvc.followup.calendar import load_calendar
from confsvc.followup.messages import (
    ItemFacts,
    ReminderText,
    digest_text,
    escalation_text,
    owner_reminder_text,
)
from confsvc.followup.policy import (
    DayPlan,
    ReminderPolicy,
    next_reminder_date,
    overdue_working_days,
    plan_for_day,
)
from confsvc.followup.workdays import WorkdayCalendar
from confsvc.i18n import normalise_locale
from confsvc.notify.outbox import OutgoingMessage, enqueue, enqueue_many, register_delivery_check
from confsvc.settings import Settings

__all__ = ["DELIVERY_CHECK", "ReminderSweep", "SweepReport", "next_reminder_at", "reminder_is_stale"]

logger = logging.getLogger(__name__)

DELIVERY_CHECK = "followup.action_item_active"

_DIGEST_MAX_ITEMS = 500
"""Items listed in one digest, earliest due first; the link in it opens the full list."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def zone_of(person: Person | None, default: str) -> ZoneInfo:
    name = (person.time_zone if person is not None else None) or default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown person time zone, using the service zone person_id=%s", getattr(person, "id", None))
        return ZoneInfo(default)


def wall_clock(day: date, local_time: time, zone: ZoneInfo) -> datetime:
    """Return ``local_time`` on ``day`` in ``zone`` as UTC; a time in a DST gap moves forward."""
    return datetime.combine(day, local_time).replace(tzinfo=zone, fold=0).astimezone(UTC)


def next_reminder_at(
    item: Any, calendar: WorkdayCalendar, policy: ReminderPolicy, zone: ZoneInfo, *, now: datetime
) -> datetime | None:
    """Return when the sweep should next look at ``item`` (UTC), or None when never.

    When today still has a reminder to send, the result is today's reminder time even if
    it has passed, so an item created or changed after that time is reminded at once.
    """
    if item.status not in ACTIVE_STATUSES or policy.muted:
        return None
    today = now.astimezone(zone).date()
    plan = plan_for_day(
        calendar, policy, due=item.due_date, day=today, last_kind=item.last_reminder_kind,
        last_on=item.last_reminder_on, escalation_level=item.escalation_level or 0,
    )
    if plan.kind is not None or plan.escalations:
        return wall_clock(today, policy.local_time, zone)
    day = next_reminder_date(
        calendar, policy, due=item.due_date, after=today, last_kind=item.last_reminder_kind,
        escalation_level=item.escalation_level or 0,
    )
    return None if day is None else wall_clock(day, policy.local_time, zone)


async def reminder_is_stale(session: AsyncSession, message: OutboxMessage) -> str | None:
    """Delivery check of reminder outbox rows: a reason to drop the row, or None to send it."""
    payload = message.payload or {}
    try:
        item_id = uuid.UUID(str(payload["action_item_id"]))
    except (KeyError, ValueError):
        return "the reminder names no action item"
    row = (await session.execute(
        select(ActionItem.status, ActionItem.due_date).where(ActionItem.id == item_id)
    )).first()
    if row is None:
        return "the action item no longer exists"
    status, due_date = row
    if status not in ACTIVE_STATUSES:
        return f"the action item is {status}"
    if payload.get("due_date") and due_date.isoformat() != payload["due_date"]:
        return "the due date changed after the reminder was queued"
    return None


register_delivery_check(DELIVERY_CHECK, reminder_is_stale)


@dataclass
class SweepReport:
    claimed: int = 0
    reminded: int = 0
    """Items whose owner got a reminder."""
    escalations: int = 0
    messages: int = 0
    """Outbox rows written."""
    skipped_duplicates: int = 0
    """Reminders another process had already recorded."""
    digests: int = 0

    def add(self, other: SweepReport) -> None:
        for name in ("claimed", "reminded", "escalations", "messages", "skipped_duplicates", "digests"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Context:
    owners: dict[str, Person]
    departments: dict[uuid.UUID, Department]
    meetings: dict[uuid.UUID, Meeting]
    channels: dict[uuid.UUID, list[PersonChannel]]


class ReminderSweep:
    """Sends due reminders, escalations and weekly digests through the outbox."""

    def __init__(
        self,
        settings: Settings,
        session_maker: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.settings = settings
        self.session_maker = session_maker
        self.clock = clock
        self.policy = ReminderPolicy.from_settings(settings.followup)

    async def run_once(self, *, limit: int | None = None) -> SweepReport:
        """Claim one batch of due items (default: the batch size) and handle it in one transaction."""
        async with self.session_maker() as session, session.begin():
            report = await self.sweep_in(session, now=self.clock(), limit=limit)
        if report.reminded or report.escalations:
            logger.info(
                "reminder sweep finished claimed=%d reminded=%d escalations=%d messages=%d",
                report.claimed, report.reminded, report.escalations, report.messages,
            )
        return report

    async def sweep_in(
        self, session: AsyncSession, *, now: datetime, limit: int | None = None, record_only: bool = False
    ) -> SweepReport:
        """Claim and handle one batch inside the caller's transaction; the caller commits.

        ``record_only`` writes the reminder log and advances the items without queuing any
        message (the demo uses it to build a history of past days).
        """
        report = SweepReport()
        calendar = await load_calendar(session, self.settings.followup.holiday_country)
        due = (
            select(ActionItem)
            .where(ActionItem.next_reminder_at <= now, ActionItem.status.in_(ACTIVE_STATUSES))
            .order_by(ActionItem.next_reminder_at)
            .limit(limit or self.settings.followup.batch_size)
            # SKIP LOCKED on PostgreSQL; SQLite ignores it and holds the write lock already.
            .with_for_update(skip_locked=True)
        )
        items = list((await session.execute(due)).scalars())
        report.claimed = len(items)
        if not items:
            return report
        context = await self._context(session, items)
        batch = _Batch()
        with session.no_autoflush:
            for item in items:
                self._handle(batch, item, calendar, context, now)
        await batch.write(session, report, record_only=record_only)
        return report

    async def run_until_idle(self, *, max_rounds: int = 10_000) -> SweepReport:
        """Sweep batch after batch until nothing is due, then send the digests."""
        total = SweepReport()
        await self._clear_stale()
        for _round in range(max_rounds):
            report = await self.run_once()
            total.add(report)
            if report.claimed == 0:
                break
        total.digests = await self.send_digests()
        return total

    async def _clear_stale(self) -> None:
        """Clear ``next_reminder_at`` of due items that left the active states without it
        being cleared (the minutes domain marks items ``superseded``), so that the due
        query's index range contains only items that still need a reminder."""
        async with self.session_maker() as session, session.begin():
            result = await session.execute(
                update(ActionItem)
                .where(ActionItem.next_reminder_at <= self.clock(), ActionItem.status.not_in(ACTIVE_STATUSES))
                .values(next_reminder_at=None)
                .execution_options(synchronize_session=False)
            )
        if getattr(result, "rowcount", 0):
            logger.info("reminder times cleared on inactive action items count=%d", result.rowcount)

    # -- one item ------------------------------------------------------------------

    def _handle(
        self, batch: _Batch, item: ActionItem, calendar: WorkdayCalendar, context: _Context, now: datetime,
    ) -> None:
        owner = context.owners.get(item.owner_email.lower())
        zone = zone_of(owner, self.settings.time_zone)
        policy = self.policy.for_item(item)
        today = now.astimezone(zone).date()
        plan = plan_for_day(
            calendar, policy, due=item.due_date, day=today, last_kind=item.last_reminder_kind,
            last_on=item.last_reminder_on, escalation_level=item.escalation_level or 0,
        )
        has_work = plan.kind is not None or bool(plan.escalations)
        if has_work and now >= wall_clock(today, policy.local_time, zone):
            self._plan_messages(batch, item, plan, owner, context, now)
            if plan.kind is not None:
                item.last_reminder_on = today
                item.last_reminder_kind = plan.kind
            item.escalation_level = plan.escalation_level
        item.next_reminder_at = next_reminder_at(item, calendar, policy, zone, now=now)

    def _plan_messages(
        self, batch: _Batch, item: ActionItem, plan: DayPlan, owner: Person | None, context: _Context, now: datetime,
    ) -> None:
        meeting = context.meetings.get(item.meeting_id)
        meeting_id = meeting.id if meeting is not None else None
        facts = ItemFacts(
            id=item.id, title=item.title, due_date=item.due_date,
            meeting_title=meeting.title if meeting is not None else "",
            resolution_number=item.resolution_number, owner_email=item.owner_email, progress=item.progress or 0,
        )
        check = {"check": DELIVERY_CHECK, "action_item_id": str(item.id), "due_date": item.due_date.isoformat()}

        if plan.kind is not None:
            recipients = _unique([item.owner_email, *(item.co_owner_emails or [])])
            key = f"{item.id}:{plan.kind}:{plan.day.isoformat()}"
            batch.log(key, item_id=item.id, kind=plan.kind, day=plan.day, recipients=recipients,
                      overdue_days=plan.overdue_days, now=now)
            for email in recipients:
                locale = self._locale(context.owners.get(email.lower()))
                text = owner_reminder_text(self.settings, facts, kind=plan.kind, overdue_days=plan.overdue_days,
                                           recipient=email, locale=locale, now=now)
                batch.message(key, _email(key, email, text, locale, check, meeting_id))
            for channel in self._im_channels(owner, context):
                locale = self._locale(owner)
                text = owner_reminder_text(self.settings, facts, kind=plan.kind, overdue_days=plan.overdue_days,
                                           recipient=item.owner_email, locale=locale, now=now)
                batch.message(key, _im(key, channel.kind, dict(channel.config or {}), item.owner_email, text, check,
                                       meeting_id, mentions=()))

        for step in plan.escalations:
            if step == "notice":
                continue  # the owner's reminder of the day is the notice
            key = f"{item.id}:escalate_{step}:{item.due_date.isoformat()}"
            recipients = self._head_recipients(owner, meeting, context) if step == "head" else [item.owner_email]
            batch.log(key, item_id=item.id, kind=f"escalate_{step}", day=plan.day, recipients=recipients,
                      overdue_days=plan.overdue_days, now=now)
            if step == "head":
                for email in recipients:
                    locale = self._locale(context.owners.get(email.lower()))
                    text = escalation_text(self.settings, facts, overdue_days=plan.overdue_days, locale=locale)
                    batch.message(key, _email(key, email, text, locale, check, meeting_id))
            else:
                sms = self._sms(key, item, owner, context, facts, plan, check, meeting_id, now)
                if sms is not None:
                    batch.message(key, sms)

    # -- recipients and channels -----------------------------------------------------

    def _locale(self, person: Person | None) -> str:
        return normalise_locale(person.locale if person is not None else None) or self.settings.default_locale

    def _head_recipients(self, owner: Person | None, meeting: Meeting | None, context: _Context) -> list[str]:
        emails: list[str] = []
        if owner is not None and owner.department_id is not None:
            department = context.departments.get(owner.department_id)
            if department is not None and department.head_email:
                emails.append(department.head_email)
        if meeting is not None and meeting.organiser is not None:
            emails.append(meeting.organiser.email)
        return _unique(emails)

    def _im_channels(self, owner: Person | None, context: _Context) -> list[PersonChannel]:
        if owner is None:
            return []
        return [c for c in context.channels.get(owner.id, []) if c.active and c.kind not in ("sms", "sms_webhook")]

    def _sms(
        self, key: str, item: ActionItem, owner: Person | None, context: _Context, facts: ItemFacts,
        plan: DayPlan, check: dict[str, str], meeting_id: uuid.UUID | None, now: datetime,
    ) -> OutgoingMessage | None:
        own = [c for c in context.channels.get(owner.id, []) if c.active and c.kind == "sms"] if owner else []
        config: dict[str, Any] | None = dict(own[0].config or {}) if own else None
        if config is None and self.settings.followup.sms_url and self.settings.followup.sms_secret:
            config = {"url": self.settings.followup.sms_url, "secret": self.settings.followup.sms_secret}
        phone = owner.phone if owner is not None else None
        if config is None or not phone:
            logger.warning(
                "sms escalation skipped, no gateway or phone number action_item_id=%s has_gateway=%s",
                item.id, config is not None,
            )
            return None
        text = owner_reminder_text(self.settings, facts, kind="notice", overdue_days=plan.overdue_days,
                                   recipient=item.owner_email, locale=self._locale(owner), now=now)
        short = ReminderText(text.subject, text.subject, text.link)
        return _im(key, "sms", config, item.owner_email, short, check, meeting_id, mentions=[phone])

    async def _context(self, session: AsyncSession, items: list[ActionItem]) -> _Context:
        emails = {item.owner_email.lower() for item in items}
        for item in items:
            emails.update(email.lower() for email in item.co_owner_emails or [])
        people = list((await session.execute(select(Person).where(Person.email.in_(sorted(emails))))).scalars())
        owners = {person.email.lower(): person for person in people}
        department_ids = {p.department_id for p in people if p.department_id is not None}
        departments = {
            d.id: d for d in (await session.execute(select(Department).where(Department.id.in_(department_ids)))).scalars()
        } if department_ids else {}
        meeting_ids = {item.meeting_id for item in items}
        meetings = {m.id: m for m in (await session.execute(select(Meeting).where(Meeting.id.in_(meeting_ids)))).scalars()}
        channels: dict[uuid.UUID, list[PersonChannel]] = {}
        person_ids = [p.id for p in people]
        if person_ids:
            for channel in (await session.execute(
                select(PersonChannel).where(PersonChannel.person_id.in_(person_ids))
            )).scalars():
                channels.setdefault(channel.person_id, []).append(channel)
        return _Context(owners=owners, departments=departments, meetings=meetings, channels=channels)

    # -- weekly digest -----------------------------------------------------------------

    async def send_digests(self) -> int:
        """Send each organiser with open items the weekly digest once per ISO week.

        The digest goes out at the reminder time on the first working day on or after the
        configured weekday in the organiser's zone. Returns the number of digests queued.
        """
        weekday = self.settings.followup.digest_weekday
        if weekday == 0:
            return 0
        now = self.clock()
        sent = 0
        async with self.session_maker() as session, session.begin():
            calendar = await load_calendar(session, self.settings.followup.holiday_country)
            due = await self._organisers_due_digest(session, calendar, now, weekday)
            for organiser, today, key in due:
                # Recorded first, so a second process loses the insert and sends nothing.
                if not await _record(session, key=key, item_id=None, kind="digest", day=today,
                                     recipients=[organiser.email], overdue_days=0, now=now):
                    continue
                rows = (await session.execute(
                    select(ActionItem, Meeting.title)
                    .join(Meeting, Meeting.id == ActionItem.meeting_id)
                    .where(Meeting.organiser_id == organiser.id, ActionItem.status.in_(ACTIVE_STATUSES))
                    .order_by(ActionItem.due_date)
                    .limit(_DIGEST_MAX_ITEMS)
                )).all()
                facts = [
                    (
                        ItemFacts(
                            id=item.id, title=item.title, due_date=item.due_date, meeting_title=title,
                            resolution_number=item.resolution_number, owner_email=item.owner_email,
                            progress=item.progress or 0,
                        ),
                        overdue_working_days(calendar, item.due_date, today),
                    )
                    for item, title in rows
                ]
                locale = self._locale(organiser)
                year, week, _day = today.isocalendar()
                text = digest_text(self.settings, items=facts, week=f"{year}-W{week:02d}", locale=locale)
                await enqueue(
                    session, key=f"followup:{key}:email", channel="email", recipient=organiser.email,
                    payload={"subject": text.subject, "text": text.text, "language": locale},
                )
                sent += 1
        if sent:
            logger.info("weekly digests queued count=%d", sent)
        return sent


    async def _organisers_due_digest(
        self, session: AsyncSession, calendar: WorkdayCalendar, now: datetime, weekday: int
    ) -> list[tuple[Person, date, str]]:
        """Return organisers whose digest of this week is due now and not yet recorded.

        Looks at meetings with active items (through the index on ``action_item.meeting_id``)
        rather than at the items themselves, so the check stays cheap on a large table.
        """
        has_active = select(ActionItem.id).where(
            ActionItem.meeting_id == Meeting.id, ActionItem.status.in_(ACTIVE_STATUSES)
        ).exists()
        organiser_ids = select(Meeting.organiser_id).where(has_active).distinct()
        organisers = list((await session.execute(select(Person).where(Person.id.in_(organiser_ids)))).scalars())

        candidates: list[tuple[Person, date, str]] = []
        for organiser in organisers:
            zone = zone_of(organiser, self.settings.time_zone)
            today = now.astimezone(zone).date()
            if today.isoweekday() < weekday or not calendar.is_working_day(today):
                continue
            if now < wall_clock(today, self.policy.local_time, zone):
                continue
            year, week, _day = today.isocalendar()
            candidates.append((organiser, today, f"digest:{organiser.email.lower()}:{year}-W{week:02d}"))
        if not candidates:
            return []
        sent = set((await session.execute(
            select(ReminderLog.key).where(ReminderLog.key.in_([key for _o, _d, key in candidates]))
        )).scalars())
        return [candidate for candidate in candidates if candidate[2] not in sent]

class _Batch:
    """Reminder log rows and outbox messages of one sweep batch, written together.

    The log rows go in first with ON CONFLICT DO NOTHING; only the messages of the rows
    this sweep actually inserted are queued, so a reminder that another process recorded
    first is never sent twice.
    """

    def __init__(self) -> None:
        self.logs: list[dict[str, Any]] = []
        self.messages: dict[str, list[OutgoingMessage]] = {}

    def log(self, key: str, *, item_id: uuid.UUID, kind: str, day: date, recipients: list[str],
            overdue_days: int, now: datetime) -> None:
        self.logs.append({
            "id": uuid.uuid4(), "key": key, "action_item_id": item_id, "kind": kind, "local_date": day,
            "recipients": recipients, "overdue_days": overdue_days, "sent_at": now, "created_at": now, "updated_at": now,
        })
        self.messages.setdefault(key, [])

    def message(self, key: str, message: OutgoingMessage) -> None:
        self.messages[key].append(message)

    async def write(self, session: AsyncSession, report: SweepReport, *, record_only: bool) -> None:
        inserted = await _insert_logs(session, self.logs)
        report.skipped_duplicates += len(self.logs) - len(inserted)
        outgoing: list[OutgoingMessage] = []
        for row in self.logs:
            if row["key"] not in inserted:
                continue
            if row["kind"].startswith("escalate_"):
                report.escalations += 1
            else:
                report.reminded += 1
            if not record_only:
                outgoing.extend(self.messages[row["key"]])
        report.messages += await enqueue_many(session, outgoing)
        await session.flush()


async def _insert_logs(session: AsyncSession, rows: list[dict[str, Any]]) -> set[str]:
    """Insert reminder_log rows, skipping existing keys; return the keys inserted now."""
    if not rows:
        return set()
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = ReminderLog.__table__
    statement = insert(table).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key)
    return set((await session.execute(statement, rows)).scalars())


async def _record(
    session: AsyncSession, *, key: str, item_id: uuid.UUID | None, kind: str, day: date,
    recipients: list[str], overdue_days: int, now: datetime,
) -> bool:
    """Insert one reminder_log row; False when another sweep recorded ``key`` first."""
    row = {
        "id": uuid.uuid4(), "key": key, "action_item_id": item_id, "kind": kind, "local_date": day,
        "recipients": recipients, "overdue_days": overdue_days, "sent_at": now, "created_at": now, "updated_at": now,
    }
    return bool(await _insert_logs(session, [row]))


def _email(key: str, email: str, text: ReminderText, locale: str, check: dict[str, str],
           meeting_id: uuid.UUID | None) -> OutgoingMessage:
    payload = {"subject": text.subject, "text": text.text, "language": locale, **check}
    return OutgoingMessage(key=f"followup:{key}:email:{email.lower()}", channel="email", recipient=email,
                           payload=payload, meeting_id=meeting_id)


def _im(key: str, kind: str, config: dict[str, Any], recipient: str, text: ReminderText, check: dict[str, str],
        meeting_id: uuid.UUID | None, *, mentions: Iterable[str]) -> OutgoingMessage:
    payload = {
        "kind": kind, "config": config, "title": text.subject, "text": text.text, "link": text.link,
        "format": "text", "mentions": list(mentions), **check,
    }
    return OutgoingMessage(key=f"followup:{key}:im:{kind}:{recipient.lower()}", channel="im", recipient=recipient,
                           payload=payload, meeting_id=meeting_id)


def _unique(emails: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    result: list[str] = []
    for email in emails:
        if email and email.lower() not in seen:
            seen.add(email.lower())
            result.append(email)
    return result
