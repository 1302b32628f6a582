"""Reminder policy: which reminder an action item gets on which local working day.

The owner gets at most one reminder per working day:

* ``before_due`` ``lead_days`` working days before the due date;
* ``due`` on the due date, or on the last working day before it when it is a day off;
* ``overdue`` on every working day after the due date, which on the day the notice step is
  reached is the formal reminder notice (``notice``, 催办单).

Escalation steps add messages for other recipients once each: step 1 the notice to the
owner, step 2 the department head and the organiser, step 3 an SMS to the owner. A step is
reached after its number of overdue working days; 0 turns a step off.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, time, timedelta
from typing import Any, Literal

from confsvc.errors import ValidationFailed
from confsvc.followup.workdays import WorkdayCalendar
from confsvc.settings import FollowupSettings

__all__ = [
    "ESCALATION_STEPS",
    "DayPlan",
    "ReminderKind",
    "ReminderPolicy",
    "next_reminder_date",
    "overdue_working_days",
    "plan_for_day",
]

ReminderKind = Literal["before_due", "due", "overdue", "notice"]

ESCALATION_STEPS = ("notice", "head", "sms")
"""Escalation steps in order; ``escalation_level`` on an item is the 1-based index of the
highest one sent."""

_KIND_RANK = {"before_due": 1, "due": 2, "overdue": 3, "notice": 3}
_SEARCH_LIMIT_DAYS = 400


@dataclass(frozen=True)
class ReminderPolicy:
    """Effective policy of one item: the settings with the item's overrides applied."""

    lead_days: int = 2
    local_time: time = time(9, 0)
    escalation_days: tuple[int, int, int] = (1, 3, 5)
    """Overdue working days of the notice, head and SMS steps; 0 turns a step off."""
    muted: bool = False

    @classmethod
    def from_settings(cls, settings: FollowupSettings) -> ReminderPolicy:
        return cls(
            lead_days=settings.reminder_lead_days,
            local_time=parse_local_time(settings.reminder_time, field="reminder_time"),
            escalation_days=(
                settings.escalation_notice_days,
                settings.escalation_head_days,
                settings.escalation_sms_days,
            ),
        )

    def for_item(self, item: Any) -> ReminderPolicy:
        """Apply the per-item overrides stored on an ``ActionItem`` (NULL keeps the default)."""
        policy = self
        if item.reminder_lead_days is not None:
            policy = replace(policy, lead_days=int(item.reminder_lead_days))
        if item.reminder_local_time:
            policy = replace(policy, local_time=parse_local_time(item.reminder_local_time))
        if item.escalation_days:
            policy = replace(policy, escalation_days=parse_escalation_days(item.escalation_days))
        if item.reminders_muted:
            policy = replace(policy, muted=True)
        return policy


def parse_local_time(value: str, *, field: str = "reminder_local_time") -> time:
    """Parse ``HH:MM``.

    Raises:
        ValidationFailed: not a time of day (param ``field``).
    """
    hour, _sep, minute = value.strip().partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise ValidationFailed.field(field, f"{value!r} is not a time HH:MM")
    return time(int(hour), int(minute))


def parse_escalation_days(value: Any) -> tuple[int, int, int]:
    """Parse three whole numbers of overdue working days (0 turns a step off).

    Raises:
        ValidationFailed: not a list of three non-negative integers (param ``escalation_days``).
    """
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise ValidationFailed.field("escalation_days", "needs three numbers: notice, head and SMS days")
    days: list[int] = []
    for entry in value:
        if isinstance(entry, bool) or not isinstance(entry, int) or not 0 <= entry <= 365:
            raise ValidationFailed.field("escalation_days", f"{entry!r} is not a number of days from 0 to 365")
        days.append(entry)
    return (days[0], days[1], days[2])


def overdue_working_days(calendar: WorkdayCalendar, due: date, today: date) -> int:
    """Count working days after ``due`` up to and including ``today`` (0 when not overdue)."""
    if today <= due:
        return 0
    return calendar.working_days_between(due, today)


def _due_reminder_date(calendar: WorkdayCalendar, due: date) -> date:
    if calendar.is_working_day(due):
        return due
    return calendar.add_working_days(due, -1)


def _before_reminder_date(calendar: WorkdayCalendar, due: date, policy: ReminderPolicy) -> date | None:
    if policy.lead_days <= 0:
        return None
    day = calendar.add_working_days(due, -policy.lead_days)
    return day if day < _due_reminder_date(calendar, due) else None


@dataclass(frozen=True)
class DayPlan:
    """What one sweep sends for an item on its owner's local ``day``."""

    day: date
    kind: ReminderKind | None
    """The owner's reminder, or None when nothing is due for the owner that day."""
    overdue_days: int
    escalations: tuple[str, ...]
    """Steps of ``ESCALATION_STEPS`` to perform now, in order."""
    escalation_level: int
    """The item's escalation level after this plan is carried out."""


def plan_for_day(
    calendar: WorkdayCalendar,
    policy: ReminderPolicy,
    *,
    due: date,
    day: date,
    last_kind: str | None,
    last_on: date | None,
    escalation_level: int,
) -> DayPlan:
    """Decide the reminders of ``day``, catching up on at most one missed reminder.

    A sweep that runs after downtime sends the latest reminder whose date has passed, once:
    a missed ``before_due`` still goes out before the due date, missed overdue days
    collapse into today's one ``overdue``, and escalation steps not sent yet go out once
    each. Nothing is sent on a day off or twice on one day.
    """
    nothing = DayPlan(day, None, 0, (), escalation_level)
    if policy.muted or not calendar.is_working_day(day) or last_on == day:
        return nothing

    overdue = overdue_working_days(calendar, due, day)
    kind: ReminderKind | None
    if overdue > 0:
        kind = "overdue"
    elif day >= _due_reminder_date(calendar, due):
        kind = "due"
    else:
        before = _before_reminder_date(calendar, due, policy)
        kind = "before_due" if before is not None and day >= before else None
    # One before_due and one due per due date: a catch-up must not repeat what was sent.
    if kind in ("before_due", "due") and last_kind is not None and _KIND_RANK[last_kind] >= _KIND_RANK[kind]:
        kind = None

    steps: list[str] = []
    level = escalation_level
    for index, threshold in enumerate(policy.escalation_days, start=1):
        if threshold > 0 and overdue >= threshold and index > escalation_level:
            steps.append(ESCALATION_STEPS[index - 1])
            level = index
    if "notice" in steps and kind == "overdue":
        kind = "notice"
    return DayPlan(day, kind, overdue, tuple(steps), level)


def next_reminder_date(
    calendar: WorkdayCalendar,
    policy: ReminderPolicy,
    *,
    due: date,
    after: date,
    last_kind: str | None,
    escalation_level: int,
) -> date | None:
    """Return the first local day later than ``after`` on which :func:`plan_for_day` sends
    something, or None when the policy is muted.

    Overdue items get a reminder every working day, so the search is short; it gives up
    after 400 days, which only a holiday table without working days reaches.
    """
    if policy.muted:
        return None
    day = after + timedelta(days=1)
    rank = _KIND_RANK.get(last_kind or "", 0)
    before = _before_reminder_date(calendar, due, policy)
    if before is not None and rank < 1 and day <= before:
        return before
    due_day = _due_reminder_date(calendar, due)
    if rank < 2 and day <= due_day:
        return due_day

    for _offset in range(_SEARCH_LIMIT_DAYS):
        plan = plan_for_day(
            calendar, policy, due=due, day=day, last_kind=last_kind, last_on=after, escalation_level=escalation_level
        )
        if plan.kind is not None or plan.escalations:
            return day
        if day > due and calendar.is_working_day(day):
            return day
        day += timedelta(days=1)
    return None
