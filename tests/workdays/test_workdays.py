from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from confsvc.errors import ValidationFailed
from confsvc.followup import workdays
from confsvc.followup.workdays import OverrideDay, WorkdayCalendar, overrides_from_days

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def fresh_warning_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    # The once-per-process registry would otherwise carry warnings from earlier tests.
    monkeypatch.setattr(workdays, "_logged_years", set())


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "confsvc.followup.workdays" and record.levelno == logging.WARNING
    ]


# --- China with chinese-calendar data ---------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 10, 1), False),  # National Day
        (date(2026, 10, 7), False),  # last day of the National Day week
        (date(2026, 10, 8), True),
        (date(2026, 9, 20), True),  # Sunday, 调休 working day for National Day
        (date(2026, 10, 10), True),  # Saturday, 调休 working day for National Day
        (date(2026, 2, 14), True),  # Saturday, 调休 working day for the Spring Festival
        (date(2026, 2, 23), False),  # Monday inside the Spring Festival break
        (date(2026, 3, 7), False),  # an ordinary Saturday
        (date(2026, 3, 9), True),  # an ordinary Monday
    ],
)
def test_cn_2026_official_days(day: date, working: bool) -> None:
    assert WorkdayCalendar().is_working_day(day) is working


def test_cn_2026_coverage_official(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    coverage = WorkdayCalendar().coverage(2026)

    assert coverage.source == "official"
    assert "chinese-calendar" in coverage.message
    assert warnings_logged(caplog) == []


# --- China without official data --------------------------------------------------------


def test_cn_2027_falls_back_to_rules(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    calendar = WorkdayCalendar()

    coverage = calendar.coverage(2027)
    national_day = calendar.is_working_day(date(2027, 10, 1))
    ordinary_monday = calendar.is_working_day(date(2027, 3, 8))
    calendar.coverage(2027)
    WorkdayCalendar().is_working_day(date(2027, 6, 1))

    assert coverage.source == "rules"
    assert "2027" in coverage.message
    assert "调休" in coverage.message
    assert national_day is False
    assert ordinary_monday is True
    assert warnings_logged(caplog) == [
        "no official holiday data: country=CN year=2027 source=rules"
    ]


def test_cn_2027_override_days(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    overrides = overrides_from_days(
        [
            OverrideDay(date(2027, 2, 20), True, "调休上班"),  # Saturday
            OverrideDay(date(2027, 2, 11), False, "春节"),  # Thursday
        ]
    )
    calendar = WorkdayCalendar(overrides=overrides)

    assert calendar.is_working_day(date(2027, 2, 20)) is True
    assert calendar.is_working_day(date(2027, 2, 11)) is False
    assert calendar.is_working_day(date(2027, 2, 12)) is True
    coverage = calendar.coverage(2027)
    assert coverage.source == "override"
    assert coverage.message.startswith("2 days of 2027 come from the holiday table")
    assert warnings_logged(caplog) == []


def test_override_beats_library_data() -> None:
    calendar = WorkdayCalendar(overrides={date(2026, 10, 1): True, date(2026, 3, 9): False})

    assert calendar.is_working_day(date(2026, 10, 1)) is True
    assert calendar.is_working_day(date(2026, 3, 9)) is False
    assert calendar.coverage(2026).source == "official"
    assert "changes 2 of its days" in calendar.coverage(2026).message


def test_callable_overrides_see_edits() -> None:
    table: dict[date, bool] = {}
    calendar = WorkdayCalendar(overrides=lambda: table)
    saturday = date(2027, 9, 25)

    before = calendar.is_working_day(saturday)
    table[saturday] = True
    after = calendar.is_working_day(saturday)

    assert before is False
    assert after is True


def test_override_rows_conflict_rejected() -> None:
    rows = [OverrideDay(date(2027, 1, 2), True, "调休上班"), OverrideDay(date(2027, 1, 2), False)]

    with pytest.raises(ValidationFailed) as caught:
        overrides_from_days(rows)

    assert caught.value.invalid_params[0]["name"] == "overrides"
    assert "2027-01-02" in str(caught.value)


# --- day arithmetic ---------------------------------------------------------------------


def test_add_working_days_across_national_day() -> None:
    calendar = WorkdayCalendar()

    assert calendar.add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert calendar.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert calendar.add_working_days(date(2026, 10, 8), -1) == date(2026, 9, 30)
    assert calendar.add_working_days(date(2026, 10, 3), 0) == date(2026, 10, 3)
    assert calendar.add_working_days(date(2026, 9, 18), 2) == date(2026, 9, 21)


def test_working_days_between_national_day() -> None:
    calendar = WorkdayCalendar()

    assert calendar.working_days_between(date(2026, 9, 30), date(2026, 10, 10)) == 3
    assert calendar.working_days_between(date(2026, 10, 10), date(2026, 9, 30)) == -3
    assert calendar.working_days_between(date(2026, 10, 1), date(2026, 10, 7)) == 0
    for count in (1, 5, 12):
        end = calendar.add_working_days(date(2026, 9, 28), count)
        assert calendar.working_days_between(date(2026, 9, 28), end) == count


def test_is_working_day_rejects_datetime() -> None:
    with pytest.raises(TypeError, match="local date"):
        WorkdayCalendar().is_working_day(datetime(2026, 10, 1, tzinfo=UTC))


# --- reminder instants ------------------------------------------------------------------


def test_next_at_skips_national_day() -> None:
    calendar = WorkdayCalendar()
    instant = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai

    result = calendar.next_working_day_at(instant, tz="Asia/Shanghai")

    assert result == datetime(2026, 10, 8, 9, 0, tzinfo=SHANGHAI)
    assert result.tzinfo == SHANGHAI


def test_next_at_same_day_before_time() -> None:
    calendar = WorkdayCalendar()
    instant = datetime(2026, 3, 9, 8, 59, tzinfo=SHANGHAI)

    assert calendar.next_working_day_at(instant, tz=SHANGHAI) == datetime(
        2026, 3, 9, 9, 0, tzinfo=SHANGHAI
    )
    exactly_nine = datetime(2026, 3, 9, 9, 0, tzinfo=SHANGHAI)
    assert calendar.next_working_day_at(exactly_nine, tz=SHANGHAI) == datetime(
        2026, 3, 10, 9, 0, tzinfo=SHANGHAI
    )


def test_next_at_berlin_spring_forward() -> None:
    calendar = WorkdayCalendar(country="DE")
    friday_after_nine = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)  # 10:00 CET

    result = calendar.next_working_day_at(friday_after_nine, tz="Europe/Berlin")

    # Clocks go forward on Sunday 2026-03-29, so 09:00 on Monday is 07:00 UTC, not 08:00.
    assert result.astimezone(UTC) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert result.replace(tzinfo=None) == datetime(2026, 3, 30, 9, 0)
    assert result.utcoffset().total_seconds() == 7200


def test_next_at_berlin_fall_back() -> None:
    calendar = WorkdayCalendar(country="DE")
    friday_after_nine = datetime(2026, 10, 23, 8, 0, tzinfo=UTC)  # 10:00 CEST

    result = calendar.next_working_day_at(friday_after_nine, tz=BERLIN)

    assert result.astimezone(UTC) == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)


def test_next_at_time_in_dst_gap() -> None:
    # 02:30 does not exist in Berlin on 2026-03-29; the override makes that Sunday working.
    calendar = WorkdayCalendar(country="DE", overrides={date(2026, 3, 29): True})
    instant = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)

    result = calendar.next_working_day_at(instant, local_time=time(2, 30), tz=BERLIN)

    assert result.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert (result.hour, result.minute) == (3, 30)


def test_next_at_new_york_spring_forward() -> None:
    calendar = WorkdayCalendar(country="US")
    friday_evening = datetime(2026, 3, 6, 23, 0, tzinfo=NEW_YORK)

    result = calendar.next_working_day_at(friday_evening, tz="America/New_York")

    assert result.astimezone(UTC) == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)


def test_next_at_rejects_bad_input() -> None:
    calendar = WorkdayCalendar()

    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.next_working_day_at(datetime(2026, 3, 9, 8, 0), tz=SHANGHAI)
    with pytest.raises(ValidationFailed) as caught:
        calendar.next_working_day_at(datetime(2026, 3, 9, tzinfo=UTC), tz="Mars/Olympus")
    assert caught.value.invalid_params[0]["name"] == "tz"


# --- other countries --------------------------------------------------------------------


def test_germany_holidays(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    germany = WorkdayCalendar(country="DE")
    bavaria = WorkdayCalendar(country="DE", subdivision="BY")

    assert germany.is_working_day(date(2026, 12, 25)) is False  # Christmas, a Friday
    assert germany.is_working_day(date(2026, 4, 6)) is False  # Easter Monday
    assert germany.is_working_day(date(2026, 10, 10)) is False  # Saturday, no 调休 here
    assert germany.is_working_day(date(2026, 1, 6)) is True  # Epiphany is not federal
    assert bavaria.is_working_day(date(2026, 1, 6)) is False
    assert germany.coverage(2026).source == "rules"
    assert warnings_logged(caplog) == []


def test_germany_unknown_subdivision() -> None:
    with pytest.raises(ValidationFailed) as caught:
        WorkdayCalendar(country="DE", subdivision="XX")

    assert caught.value.invalid_params[0]["name"] == "subdivision"


def test_unknown_country_weekdays(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    calendar = WorkdayCalendar(country="QQ")

    assert calendar.is_working_day(date(2026, 10, 1)) is True
    assert calendar.is_working_day(date(2026, 10, 3)) is False
    assert calendar.coverage(2026).source == "weekdays"
    assert warnings_logged(caplog) == [
        "no official holiday data: country=QQ year=2026 source=weekdays"
    ]
