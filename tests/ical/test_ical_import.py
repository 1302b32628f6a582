"""Import of .ics files written by Outlook, Exchange, Google, Apple, DAVx5 and Thunderbird."""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime

import pytest

from confsvc.booking.ical import (
    ICalendarDecodeError,
    expand_occurrences,
    next_sequence,
    parse_calendar,
)

SH = "Asia/Shanghai"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- Outlook REQUEST in "China Standard Time" ------------------------------------------


def test_outlook_request_times_and_people(ics):
    calendar = parse_calendar(ics("01-outlook-request-china-standard-time/request.ics"), default_tz=SH)
    assert calendar.method == "REQUEST"
    (event,) = calendar.events
    assert event.start == utc(2013, 3, 12, 1, 0)
    assert event.end == utc(2013, 3, 12, 2, 0)
    assert event.timezone == "Asia/Shanghai"
    assert event.floating is False
    assert event.summary == "内容"
    assert event.location == "地点"
    assert event.organizer is not None
    assert event.organizer.email == "zhang.wei@example.com"
    assert [a.email for a in event.attendees] == ["li.na@example.com", "wang.fang/wechat@example.com"]
    assert all(a.partstat == "NEEDS-ACTION" for a in event.attendees)
    assert all(a.rsvp is True for a in event.attendees)
    assert event.alarms == (utc(2013, 3, 12, 0, 45),)
    assert event.transp == "OPAQUE"


def test_outlook_allday_update_same_meeting(ics):
    first = parse_calendar(ics("01-outlook-request-china-standard-time/request.ics"), default_tz=SH)
    update = parse_calendar(
        ics("01-outlook-request-china-standard-time/request-update-allday.ics"), default_tz=SH
    )
    (old,) = first.events
    (new,) = update.events
    assert new.uid == old.uid
    assert new.sequence == 1 > old.sequence
    assert new.all_day is True
    assert new.start == date(2013, 3, 12)
    assert new.end == date(2013, 3, 13)
    assert new.dates == (date(2013, 3, 12),)
    assert new.transp == "TRANSPARENT"
    # -15 min before local midnight in Shanghai, not before midnight UTC.
    assert new.alarms == (utc(2013, 3, 11, 15, 45),)
    assert {a.email for a in new.attendees} == {a.email for a in old.attendees}
    assert next_sequence([old, new]) == 2


# --- folds that cut a UTF-8 character ----------------------------------------------------


@pytest.mark.parametrize("name", ["byte-folded-split.ics", "char-safe-folded.ics"])
def test_fold_split_character_restored(ics, name):
    expected = ics("09-utf8-fold-splits-chinese-char/expected-description.txt").decode("utf-8").strip()
    calendar = parse_calendar(ics(f"09-utf8-fold-splits-chinese-char/{name}"), default_tz=SH)
    (event,) = calendar.events
    assert event.description == expected
    assert "\ufffd" not in event.description


def test_invalid_utf8_names_uid_and_property():
    data = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:bad-bytes-1@example.com\r\n"
        b"DTSTAMP:20261201T000000Z\r\nDTSTART:20261210T060000Z\r\n"
        b"SUMMARY:\xe4\xbc\x9a\xe8\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    with pytest.raises(ICalendarDecodeError) as caught:
        parse_calendar(data, default_tz=SH)
    assert caught.value.uid == "bad-bytes-1@example.com"
    assert caught.value.property_name == "SUMMARY"
    assert "bad-bytes-1@example.com" in str(caught.value)
    assert "SUMMARY" in str(caught.value)


# --- time-zone resolution ---------------------------------------------------------------

TZ_CASES = [
    ("a-iana-tzid-no-vtimezone.ics", utc(2026, 12, 10, 6), "Asia/Shanghai", False, ()),
    ("b-windows-tzid-no-vtimezone.ics", utc(2026, 12, 10, 6), "Asia/Shanghai", False, ()),
    (
        "c-unknown-tzid-no-vtimezone.ics",
        utc(2026, 12, 10, 6),
        "Asia/Shanghai",
        False,
        ("time zone FOO unknown, assumed Asia/Shanghai",),
    ),
    (
        "d-localized-display-name-tzid.ics",
        utc(2026, 12, 10, 6),
        "(UTC+08:00) 北京，重庆，香港特别行政区，乌鲁木齐",
        False,
        (),
    ),
    ("e-floating-no-tz.ics", utc(2026, 12, 10, 6), "Asia/Shanghai", True, ()),
    ("f-floating-with-x-wr-timezone.ics", utc(2026, 12, 10, 13), "Europe/Berlin", True, ()),
]


@pytest.mark.parametrize(("name", "start", "zone", "floating", "warnings"), TZ_CASES)
def test_tzid_resolution(ics, name, start, zone, floating, warnings):
    calendar = parse_calendar(ics(f"10-timezone-resolution-missing-windows-floating/{name}"), default_tz=SH)
    (event,) = calendar.events
    assert event.start == start
    assert event.end == start.replace(hour=start.hour + 1)
    assert event.timezone == zone
    assert event.floating is floating
    assert event.warnings == warnings
    assert calendar.warnings == warnings


def test_unknown_tzid_follows_default_zone(ics):
    data = ics("10-timezone-resolution-missing-windows-floating/c-unknown-tzid-no-vtimezone.ics")
    (event,) = parse_calendar(data, default_tz="Europe/Berlin").events
    assert event.start == utc(2026, 12, 10, 13)
    assert event.warnings == ("time zone FOO unknown, assumed Europe/Berlin",)


def test_windows_name_with_outlook_suffix():
    data = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:suffix@example.com\r\n"
        "DTSTAMP:20261201T000000Z\r\nDTSTART;TZID=Eastern Standard Time 1:20260710T090000\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()
    (event,) = parse_calendar(data, default_tz=SH).events
    assert event.start == utc(2026, 7, 10, 13)
    assert event.timezone == "America/New_York"
    assert event.warnings == ()


# --- all-day shapes, under several process time zones ------------------------------------


@pytest.fixture(params=["UTC", "America/New_York", "Asia/Shanghai"])
def process_tz(request, monkeypatch):
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


def test_date_allday_shapes(ics, process_tz):
    assert os.environ["TZ"] == process_tz
    for name, transp in [("a-date-exclusive-dtend.ics", "TRANSPARENT"), ("b-date-no-dtend.ics", "OPAQUE")]:
        (event,) = parse_calendar(ics(f"11-all-day-event-shapes/{name}"), default_tz=SH).events
        assert event.all_day is True, name
        assert event.start == date(2026, 10, 1), name
        assert event.end == date(2026, 10, 2), name
        assert event.dates == (date(2026, 10, 1),), name
        assert event.transp == transp, name
        assert event.start_instant == utc(2026, 9, 30, 16), name
        assert event.end_instant == utc(2026, 10, 1, 16), name


def test_timed_allday_shapes(ics, process_tz):
    for name, transp in [
        ("c-google-midnight-to-midnight.ics", "OPAQUE"),
        ("d-outlook-alldayevent-flag.ics", "TRANSPARENT"),
    ]:
        (event,) = parse_calendar(ics(f"11-all-day-event-shapes/{name}"), default_tz=SH).events
        assert event.start == utc(2026, 9, 30, 16), name
        assert event.end == utc(2026, 10, 1, 16), name
        assert event.dates == (date(2026, 10, 1),), name
        assert event.all_day is True, name
        assert event.transp == transp, name


def test_allday_expansion_lists_one_day(ics, process_tz):
    data = ics("11-all-day-event-shapes/a-date-exclusive-dtend.ics")
    (occurrence,) = expand_occurrences(data, utc(2026, 9, 1), utc(2026, 11, 1), default_tz=SH)
    assert occurrence.all_day is True
    assert occurrence.dates == (date(2026, 10, 1),)
    assert occurrence.start == utc(2026, 9, 30, 16)
    assert occurrence.end == utc(2026, 10, 1, 16)


def test_transparent_allday_does_not_block():
    # A free (TRANSPARENT) day off leaves a 10:00 meeting on that day unblocked.
    data = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x@example.com\r\n"
        b"DTSTAMP:20260901T000000Z\r\nDTSTART;VALUE=DATE:20261001\r\nTRANSP:TRANSPARENT\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    (event,) = parse_calendar(data, default_tz=SH).events
    assert event.transp == "TRANSPARENT"
    assert event.end == date(2026, 10, 2)


# --- weekly series, EXDATE in UTC across DST ----------------------------------------------


def test_weekly_exdates_compared_as_instants(ics):
    data = ics("12-rrule-exdate-utc-across-dst/davx5-weekly-exdates-utc.ics")
    calendar = parse_calendar(data, default_tz=SH)
    (master,) = calendar.events
    assert len(master.exdates) == 9
    assert master.rrule is not None and "UNTIL=20200204T151459Z" in master.rrule
    occurrences = expand_occurrences(calendar, utc(2019, 1, 1), utc(2021, 1, 1))
    expected_days = [
        date(2019, 10, 29),
        date(2019, 11, 12),
        date(2019, 12, 10),
        date(2020, 1, 7),
        date(2020, 1, 14),
        date(2020, 1, 21),
        date(2020, 1, 28),
    ]
    assert [o.start for o in occurrences] == [
        datetime.combine(day, datetime.min.time().replace(hour=15, minute=15), tzinfo=UTC)
        for day in expected_days
    ]
    assert all((o.end - o.start).total_seconds() == 90 * 60 for o in occurrences)
    assert utc(2020, 2, 4, 15, 15) not in [o.start for o in occurrences]
    assert master.start == utc(2019, 10, 15, 14, 15)  # 22:15 Shanghai before the DST change


# --- cancelled occurrence, overrides with a higher SEQUENCE -------------------------------


def test_cancelled_occurrence_is_filtered(ics):
    data = ics("14-cancelled-occurrence-and-sequence/thunderbird-one-occurrence-cancelled.ics")
    occurrences = expand_occurrences(data, utc(2020, 1, 1), utc(2020, 3, 1), default_tz=SH)
    assert [o.start for o in occurrences] == [utc(2020, 1, 28, 21), utc(2020, 1, 30, 21)]
    calendar = parse_calendar(data, default_tz=SH)
    statuses = {e.recurrence_id: e.status for e in calendar.events}
    assert statuses[utc(2020, 1, 29, 21)] == "CANCELLED"
    assert statuses[None] is None


def test_overrides_and_next_sequence(ics):
    data = ics("14-cancelled-occurrence-and-sequence/thunderbird-overrides-sequence.ics")
    calendar = parse_calendar(data, default_tz=SH)
    occurrences = expand_occurrences(calendar, utc(2025, 4, 1), utc(2025, 5, 1))
    assert [o.start for o in occurrences] == [
        utc(2025, 4, 23, 8),
        utc(2025, 4, 24, 10),
        utc(2025, 4, 25, 8),
        utc(2025, 4, 26, 8),
        utc(2025, 4, 27, 8),
    ]
    assert occurrences[1].end == utc(2025, 4, 24, 11)
    assert occurrences[2].location == "新会议室 B2"
    assert [e.sequence for e in calendar.events] == [1, 2, 3]
    assert next_sequence(calendar.events) == 4
    assert next_sequence(calendar.events, uid="other@example.com") == 0


def test_expand_rejects_naive_bounds(ics):
    data = ics("12-rrule-exdate-utc-across-dst/davx5-weekly-exdates-utc.ics")
    with pytest.raises(ValueError):
        expand_occurrences(data, datetime(2019, 1, 1), utc(2020, 1, 1), default_tz=SH)
