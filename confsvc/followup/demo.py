"""Follow-up demo data: action items in every state and the reminders they produced.

:func:`load_followup_demo` writes into the caller's session and leaves the commit to it.
It is idempotent: a second call finds the demo meeting and returns its summary.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.db.models import (
    ActionItemUpdate,
    Department,
    DueDateChange,
    Meeting,
    Minutes,
    Person,
    ReminderLog,
)
from confsvc.db.models.followup import ActionItem
from confsvc.followup.calendar import load_calendar
from confsvc.followup.policy import ReminderPolicy
from confsvc.followup.reminders import ReminderSweep
from confsvc.settings import Settings

__all__ = ["FollowupDemo", "load_followup_demo"]

logger = logging.getLogger(__name__)

DEMO_MEETING_UID = "followup-demo@confsvc.demo"
HISTORY_DAYS = 21
"""Days of reminder history simulated before ``now``."""


@dataclass
class FollowupDemo:
    meeting_id: uuid.UUID
    items_by_status: dict[str, int] = field(default_factory=dict)
    reminders: int = 0
    """Reminder log rows, history and today's."""


async def load_followup_demo(session: AsyncSession, settings: Settings, *, now: datetime) -> FollowupDemo:
    """Create a demo meeting with action items in every state, then run the reminder policy
    over the last three weeks so each item has the reminders it would have had.

    Past days are recorded in the reminder log only; today's reminders go to the outbox
    like any sweep's. ``now`` must be timezone-aware.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    existing = (await session.execute(select(Meeting).where(Meeting.uid == DEMO_MEETING_UID))).scalar_one_or_none()
    if existing is not None:
        return await _summary(session, existing.id)

    zone = ZoneInfo(settings.time_zone)
    calendar = await load_calendar(session, settings.followup.holiday_country)
    today = now.astimezone(zone).date()

    def working(offset: int) -> date:
        return calendar.add_working_days(today, offset)

    people = await _people(session)
    organiser, owner, colleague, approver = people
    start = now - timedelta(days=HISTORY_DAYS + 1)
    meeting = Meeting(
        uid=DEMO_MEETING_UID, title="督办演示：季度经营分析会", starts_at=start, ends_at=start + timedelta(hours=1),
        series_ends_at=start + timedelta(hours=1), time_zone=settings.time_zone, organiser_id=organiser.id,
        chair_id=organiser.id,
    )
    session.add(meeting)
    await session.flush()
    minutes = Minutes(meeting_id=meeting.id, status="approved", version=1, approved_at=start + timedelta(hours=2))
    session.add(minutes)
    await session.flush()

    history_start = now - timedelta(days=HISTORY_DAYS)
    specs = [
        ("open", "编制下季度预算草案", owner, working(8), "1"),
        ("open", "提交供应商比价报告", owner, working(2), "1"),
        ("in_progress", "完成客户满意度回访", colleague, today, "2"),
        ("open", "整改审计发现的问题", owner, working(-3), "2"),
        ("in_progress", "上线新版报销流程", colleague, working(-6), "3"),
        ("open", "Update the English product sheet", colleague, working(5), None),
    ]
    items: list[ActionItem] = []
    for status, title, person, due, resolution in specs:
        item = ActionItem(
            meeting_id=meeting.id, minutes_id=minutes.id, resolution_number=resolution, title=title,
            owner_email=person.email, owner_id=person.id, co_owner_emails=[], due_date=due, status=status,
            approver_email=approver.email, next_reminder_at=history_start,
            progress=40 if status == "in_progress" else 0,
        )
        session.add(item)
        items.append(item)
    await session.flush()
    for item in items:
        if item.status == "in_progress":
            session.add(ActionItemUpdate(action_item_id=item.id, kind="progress", author_email=item.owner_email,
                                         text="已完成资料收集，正在汇总。", progress=40))
    rescheduled = items[3]
    session.add(DueDateChange(action_item_id=rescheduled.id, old_due_date=working(-6), new_due_date=rescheduled.due_date,
                              reason="等待外部审计报告", changed_by_email=organiser.email))

    # Replay the policy day by day at the reminder time, so the log contains the history.
    sweep = ReminderSweep(settings, session_maker=None)  # type: ignore[arg-type]
    policy = ReminderPolicy.from_settings(settings.followup)
    day = history_start.astimezone(zone).date()
    while day < today:
        instant = datetime.combine(day, policy.local_time, tzinfo=zone).astimezone(UTC) + timedelta(minutes=1)
        await sweep.sweep_in(session, now=instant, limit=len(items), record_only=True)
        day += timedelta(days=1)
    await sweep.sweep_in(session, now=now, limit=len(items))

    # Items that left the active states, each with its history.
    finished = [
        ("done", "核对固定资产台账", owner, working(-2), now - timedelta(days=1), None),
        ("closed", "发布会议纪要", colleague, working(-8), now - timedelta(days=12), now - timedelta(days=11)),
        ("closed", "续签办公场地租约", owner, working(-4), now - timedelta(days=2), now - timedelta(days=1)),
    ]
    for status, title, person, due, done_at, closed_at in finished:
        item = ActionItem(
            meeting_id=meeting.id, minutes_id=minutes.id, resolution_number="3", title=title, owner_email=person.email,
            owner_id=person.id, co_owner_emails=[], due_date=due, status=status, result="已按要求办结。",
            progress=100, done_at=done_at, closed_at=closed_at,
            closed_by_email=organiser.email if closed_at else None, approver_email=approver.email,
            next_reminder_at=None,
        )
        session.add(item)
        await session.flush()
        session.add(ActionItemUpdate(action_item_id=item.id, kind="done", author_email=person.email, text=item.result or ""))
        if closed_at:
            session.add(ActionItemUpdate(action_item_id=item.id, kind="closed", author_email=organiser.email, text="核实无误"))
    cancelled = ActionItem(
        meeting_id=meeting.id, minutes_id=minutes.id, resolution_number="1", title="筹备线下团建活动",
        owner_email=colleague.email, owner_id=colleague.id, co_owner_emails=[], due_date=working(3),
        status="cancelled", cancel_reason="预算调整，活动取消", next_reminder_at=None,
    )
    session.add(cancelled)
    await session.flush()
    session.add(ActionItemUpdate(action_item_id=cancelled.id, kind="cancelled", author_email=organiser.email,
                                 text="预算调整，活动取消"))

    await session.flush()
    summary = await _summary(session, meeting.id)
    logger.info("follow-up demo loaded meeting_id=%s reminders=%d", meeting.id, summary.reminders)
    return summary


async def _people(session: AsyncSession) -> list[Person]:
    department = (await session.execute(select(Department).where(Department.name == "督办演示部"))).scalar_one_or_none()
    if department is None:
        department = Department(name="督办演示部", head_email="head.followup@demo.confsvc.cn")
        session.add(department)
        await session.flush()
    wanted = [
        ("organiser.followup@demo.confsvc.cn", "周组织", ["organiser"], "zh-CN"),
        ("owner.followup@demo.confsvc.cn", "李责任", ["member"], "zh-CN"),
        ("colleague.followup@demo.confsvc.cn", "Alex Chen", ["member"], "en"),
        ("approver.followup@demo.confsvc.cn", "王审核", ["member"], "zh-CN"),
    ]
    people: list[Person] = []
    for email, name, roles, locale in wanted:
        person = (await session.execute(select(Person).where(Person.email == email))).scalar_one_or_none()
        if person is None:
            person = Person(email=email, name=name, roles=roles, locale=locale, department_id=department.id)
            session.add(person)
            await session.flush()
        people.append(person)
    return people


async def _summary(session: AsyncSession, meeting_id: uuid.UUID) -> FollowupDemo:
    statuses = dict((await session.execute(
        select(ActionItem.status, func.count()).where(ActionItem.meeting_id == meeting_id).group_by(ActionItem.status)
    )).all())
    reminders = (await session.execute(
        select(func.count()).select_from(ReminderLog).join(ActionItem, ActionItem.id == ReminderLog.action_item_id)
        .where(ActionItem.meeting_id == meeting_id)
    )).scalar_one()
    return FollowupDemo(meeting_id=meeting_id, items_by_status={k: int(v) for k, v in statuses.items()}, reminders=int(reminders))
