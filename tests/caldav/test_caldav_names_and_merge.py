"""Resource names, calendar URL templates and merging with the server copy."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from icalendar import Calendar

from confsvc.errors import ICalendarError
from confsvc.notify.caldav import (
    calendar_url_from_template,
    merge_with_server_copy,
    prepare_for_storage,
    resource_name,
)

DATA_19 = Path(__file__).parent.parent / "data" / "19-caldav-uid-special-characters"
DATA_20 = Path(__file__).parent.parent / "data" / "20-caldav-412-precondition-and-missing-etag"


def sha1_name(uid: str) -> str:
    return hashlib.sha1(uid.encode("utf-8")).hexdigest() + ".ics"


def test_resource_name_of_unsafe_uids() -> None:
    expected_hashed = {
        "outlook-globalobjectid",
        "url-as-uid",
        "base64-with-slash-plus",
        "double-slash",
        "chinese-and-space",
    }
    for line in (DATA_19 / "uids.tsv").read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        label, uid = line.split("\t")
        name = resource_name(uid)
        assert name.isascii(), label
        assert "/" not in name, label
        assert " " not in name, label
        assert ":" not in name, label
        if label in expected_hashed:
            assert name == sha1_name(uid), label
        else:
            assert name == f"{uid}.ics", label


@pytest.mark.parametrize(
    ("uid", "expected"),
    [
        ("confsvc-20261210-0002@example.com", "confsvc-20261210-0002@example.com.ics"),
        ("a" * 100, "a" * 100 + ".ics"),
        ("a" * 101, sha1_name("a" * 101)),
        (".hidden", sha1_name(".hidden")),
        ("..", sha1_name("..")),
        ("with%percent", sha1_name("with%percent")),
        ("tab\there", sha1_name("tab\there")),
        ("plus+sign", sha1_name("plus+sign")),
    ],
)
def test_resource_name_cases(uid: str, expected: str) -> None:
    assert resource_name(uid) == expected


def test_resource_name_rejects_empty_uid() -> None:
    with pytest.raises(ValueError):
        resource_name("")


def test_calendar_template_fills_placeholders() -> None:
    url = calendar_url_from_template(
        "{base}/calendars/{user}/{email}", base_url="https://dav.example.com/", email="li.na@example.com"
    )

    assert url == "https://dav.example.com/calendars/li.na/li.na@example.com/"


def test_calendar_template_encodes_unsafe_characters() -> None:
    url = calendar_url_from_template(
        "{base}/{email}/calendar/", base_url="https://dav.example.com", email="a/b c@example.com"
    )

    assert url == "https://dav.example.com/a%2Fb%20c@example.com/calendar/"


@pytest.mark.parametrize("template", ["{base}/{mail}/", "{base}/{0}/"])
def test_calendar_template_unknown_placeholder(template: str) -> None:
    with pytest.raises(ValueError) as caught:
        calendar_url_from_template(template, base_url="https://dav.example.com", email="a@example.com")

    assert template in str(caught.value)


def test_prepare_removes_method_only() -> None:
    stored = (DATA_20 / "stored-meeting.ics").read_bytes()

    prepared = prepare_for_storage(stored, uid="confsvc-20261210-0002@example.com")

    assert b"METHOD:" not in prepared
    event = Calendar.from_ical(prepared).subcomponents[0]
    assert str(event["SUMMARY"]) == "2026年第4季度经营分析会"
    assert event["SEQUENCE"] == 0


def test_prepare_keeps_bytes_without_method() -> None:
    ics = (DATA_19 / "event-outlook-globalobjectid.ics").read_bytes()
    uid = Calendar.from_ical(ics).subcomponents[0]["UID"]

    assert prepare_for_storage(ics, uid=str(uid)) == ics


def test_prepare_rejects_two_uids() -> None:
    first = (DATA_19 / "event-at-sign.ics").read_bytes()
    second = (DATA_19 / "event-double-slash.ics").read_bytes()
    both = first.replace(b"END:VCALENDAR\r\n", b"") + second.split(b"PRODID:-//confsvc//fixture//ZH\r\n")[1]

    with pytest.raises(ICalendarError):
        prepare_for_storage(both, uid="recentTopics-2026-12-01T09-45-00-9@example.com")


SERIES = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//confsvc//test//EN\r\n"
    "BEGIN:VEVENT\r\nUID:weekly@example.com\r\nDTSTAMP:20261201T000000Z\r\nSEQUENCE:2\r\n"
    "DTSTART;TZID=Asia/Shanghai:20261210T140000\r\nDTEND;TZID=Asia/Shanghai:20261210T150000\r\n"
    "RRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:周会\r\nEND:VEVENT\r\n"
    "{override}"
    "END:VCALENDAR\r\n"
)

OVERRIDE = (
    "BEGIN:VEVENT\r\nUID:weekly@example.com\r\nDTSTAMP:20261201T000000Z\r\n"
    "RECURRENCE-ID;TZID=Asia/Shanghai:20261217T140000\r\n"
    "DTSTART;TZID=Asia/Shanghai:20261217T160000\r\nDTEND;TZID=Asia/Shanghai:20261217T170000\r\n"
    "SUMMARY:周会（改期）\r\n{extra}END:VEVENT\r\n"
)


def test_merge_matches_overrides_by_recurrence_id() -> None:
    ours = SERIES.format(override=OVERRIDE.format(extra="")).encode()
    theirs = SERIES.format(
        override=OVERRIDE.format(extra="X-MOZ-SNOOZE-TIME:20261217T075000Z\r\n")
    ).replace("SEQUENCE:2", "SEQUENCE:1").encode()

    merged = merge_with_server_copy(ours, theirs)

    events = [sub for sub in Calendar.from_ical(merged.body).subcomponents if sub.name == "VEVENT"]
    assert len(events) == 2
    master, override = events
    assert master["SEQUENCE"] == 2
    assert "X-MOZ-SNOOZE-TIME" not in master
    assert str(override["X-MOZ-SNOOZE-TIME"]) == "20261217T075000Z"
    assert merged.overwritten == ()


def test_merge_reports_dropped_server_override() -> None:
    ours = SERIES.format(override="").encode()
    theirs = SERIES.format(override=OVERRIDE.format(extra="")).encode()

    merged = merge_with_server_copy(ours, theirs)

    events = [sub for sub in Calendar.from_ical(merged.body).subcomponents if sub.name == "VEVENT"]
    assert len(events) == 1
    assert merged.overwritten == ("VEVENT;RECURRENCE-ID=20261217T140000",)


def test_merge_with_unreadable_server_copy() -> None:
    ours = SERIES.format(override="").encode()

    merged = merge_with_server_copy(ours, b"<html>Service Unavailable</html>")

    assert merged.body == ours
    assert merged.overwritten == ("*",)
