"""Reminder policy on China's 2026 calendar: National Day holiday and the 调休 Saturday.

2026-10-01 to 10-07 are holidays, 10-08 (Thu) is the first working day after them and
10-10 (Sat) is an adjusted working day. Sep 25 (Fri) is the Mid-Autumn holiday.
"""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from confsvc.errors import ValidationFailed
from confsvc.followup.policy import (
    ReminderPolicy,
    next_reminder_date,
    parse_escalation_days,
    parse_local_time,
    plan_for_day,
)
from confsvc.followup.workdays import WorkdayCalendar

DUE = date(2026, 10, 8)


def _simulate(calendar: WorkdayCalendar, policy: ReminderPolicy, start: date, end: date, *, due: date = DUE) -> dict[date, tuple]:
    sent: dict[date, tuple] = {}
    last_kind, last_on, level = None, None, 0
    day = start
    while day <= end:
        plan = plan_for_day(calendar, policy, due=due, day=day, last_kind=last_kind, last_on=last_on, escalation_level=level)
        if plan.kind or plan.escalations:
            sent[day] = (plan.kind, plan.escalations)
            if plan.kind:
                last_kind, last_on = plan.kind, day
            level = plan.escalation_level
        day += timedelta(days=1)
    return sent


def test_policy_default_schedule_over_national_day() -> None:
    calendar = WorkdayCalendar(country="CN")
    sent = _simulate(calendar, ReminderPolicy(), date(2026, 9, 20), date(2026, 10, 16))

    assert sent[date(2026, 9, 29)] == ("before_due", ())
    assert sent[date(2026, 10, 8)] == ("due", ())
    assert sent[date(2026, 10, 9)] == ("notice", ("notice",))
    assert sent[date(2026, 10, 10)] == ("overdue", ())  # adjusted working Saturday
    assert sent[date(2026, 10, 12)] == ("overdue", ("head",))
    assert sent[date(2026, 10, 13)] == ("overdue", ())
    assert sent[date(2026, 10, 14)] == ("overdue", ("sms",))
    assert date(2026, 10, 11) not in sent  # Sunday
    assert not [d for d in sent if date(2026, 10, 1) <= d <= date(2026, 10, 7)]
    assert sorted(sent) == [
        date(2026, 9, 29), date(2026, 10, 8), date(2026, 10, 9), date(2026, 10, 10), date(2026, 10, 12),
        date(2026, 10, 13), date(2026, 10, 14), date(2026, 10, 15), date(2026, 10, 16),
    ]


def test_policy_due_on_holiday_moves_earlier() -> None:
    calendar = WorkdayCalendar(country="CN")
    sent = _simulate(calendar, ReminderPolicy(lead_days=0), date(2026, 9, 20), date(2026, 10, 8), due=date(2026, 10, 3))

    assert sent[date(2026, 9, 30)] == ("due", ())
    assert sent[date(2026, 10, 8)] == ("notice", ("notice",))
    assert len(sent) == 2


def test_policy_overrides_turn_steps_off() -> None:
    calendar = WorkdayCalendar(country="CN")
    policy = ReminderPolicy(lead_days=1, escalation_days=(0, 2, 0))
    sent = _simulate(calendar, policy, date(2026, 9, 28), date(2026, 10, 14))

    assert sent[date(2026, 9, 30)] == ("before_due", ())
    assert sent[date(2026, 10, 9)] == ("overdue", ())
    assert sent[date(2026, 10, 10)] == ("overdue", ("head",))
    assert all("sms" not in steps and "notice" not in steps for _kind, steps in sent.values())
    assert _simulate(calendar, ReminderPolicy(muted=True), date(2026, 9, 28), date(2026, 10, 14)) == {}


def test_policy_catch_up_after_downtime_sends_once() -> None:
    calendar = WorkdayCalendar(country="CN")
    # Down from before the due date until 10-14: one overdue reminder and all three steps at once.
    plan = plan_for_day(calendar, ReminderPolicy(), due=DUE, day=date(2026, 10, 14), last_kind="before_due",
                        last_on=date(2026, 9, 29), escalation_level=0)
    assert plan.kind == "notice"
    assert plan.escalations == ("notice", "head", "sms")
    assert plan.overdue_days == 5
    assert plan.escalation_level == 3

    # A missed before_due still goes out on a later day before the due date, once.
    plan = plan_for_day(calendar, ReminderPolicy(), due=DUE, day=date(2026, 9, 30), last_kind=None,
                        last_on=None, escalation_level=0)
    assert plan.kind == "before_due"
    repeat = plan_for_day(calendar, ReminderPolicy(), due=DUE, day=date(2026, 9, 30), last_kind="before_due",
                          last_on=date(2026, 9, 29), escalation_level=0)
    assert repeat.kind is None


def test_policy_next_date_skips_holidays() -> None:
    calendar = WorkdayCalendar(country="CN")
    policy = ReminderPolicy()
    assert next_reminder_date(calendar, policy, due=DUE, after=date(2026, 9, 20), last_kind=None, escalation_level=0) == date(2026, 9, 29)
    assert next_reminder_date(calendar, policy, due=DUE, after=date(2026, 9, 29), last_kind="before_due", escalation_level=0) == DUE
    assert next_reminder_date(calendar, policy, due=DUE, after=date(2026, 10, 9), last_kind="notice", escalation_level=1) == date(2026, 10, 10)
    assert next_reminder_date(calendar, policy, due=DUE, after=date(2026, 10, 10), last_kind="overdue", escalation_level=1) == date(2026, 10, 12)


def test_policy_override_table_wins() -> None:
    # The administrator declares 2026-10-09 a holiday: the notice moves to the Saturday.
    calendar = WorkdayCalendar(country="CN", overrides={date(2026, 10, 9): False})
    sent = _simulate(calendar, ReminderPolicy(), date(2026, 10, 8), date(2026, 10, 10))
    assert date(2026, 10, 9) not in sent
    assert sent[date(2026, 10, 10)] == ("notice", ("notice",))


def test_policy_input_validation() -> None:
    assert parse_local_time("08:30") == time(8, 30)
    with pytest.raises(ValidationFailed):
        parse_local_time("25:00")
    assert parse_escalation_days([1, 2, 0]) == (1, 2, 0)
    for bad in ([1, 2], [1, -1, 3], ["1", 2, 3], [True, 2, 3], "1,2,3"):
        with pytest.raises(ValidationFailed):
            parse_escalation_days(bad)
