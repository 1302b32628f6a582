"""Generation: folding, display names, host PIN, cancellations and DECLINECOUNTER."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

from confsvc.booking.ical import (
    MAX_LINE_OCTETS,
    AttendeeInfo,
    ConferenceInfo,
    DialIn,
    MeetingSnapshot,
    build_calendar,
    build_cancel,
    build_declinecounter,
    expand_occurrences,
    needs_new_sequence,
    next_sequence,
    parse_calendar,
    parse_itip,
)
from confsvc.booking.ical.folding import fold

SH = "Asia/Shanghai"
SHANGHAI = ZoneInfo(SH)
SERVICE = "calendar@example.com"


def physical_lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    return data[:-2].split(b"\r\n")


def assert_lines_valid(data: bytes) -> None:
    for line in physical_lines(data):
        assert len(line) <= MAX_LINE_OCTETS, line
        line.decode("utf-8")  # raises if a character was cut


def snapshot(**changes) -> MeetingSnapshot:
    values = dict(
        uid="confsvc-20261210-0100@example.com",
        sequence=0,
        start=datetime(2026, 12, 10, 14, 0, tzinfo=SHANGHAI),
        end=datetime(2026, 12, 10, 15, 0, tzinfo=SHANGHAI),
        timezone=SH,
        summary="季度经营分析会",
        attendees=(
            AttendeeInfo("zhang.wei@example.com", "张伟", role="CHAIR"),
            AttendeeInfo("li.na@example.com", "李娜"),
        ),
        room="3楼 301会议室",
        conference=ConferenceInfo(
            dial_in=(DialIn("+86 10 5555 0100", "北京"),),
            access_code="246810",
            participant_pin="1357",
            host_pin="9753",
            join_url="https://meet.example.com/j/246810",
        ),
        dtstamp=datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
    )
    values.update(changes)
    return MeetingSnapshot(**values)


# --- folding -------------------------------------------------------------------------------


def test_long_chinese_and_emoji_fold_safely():
    text = "会议纪要：" + "请各部门负责人于周五前提交书面材料。" * 8 + "😀" + "结束"
    assert len(text) >= 100
    meeting = snapshot(summary="😀" + "经营分析" * 30, description=text)
    data = build_calendar(meeting, method="REQUEST", organiser_address=SERVICE, organiser_cn="会议服务")
    assert_lines_valid(data)
    (event,) = parse_calendar(data, default_tz=SH).events
    assert event.summary == meeting.summary
    assert event.description is not None and event.description.startswith(text)


def test_icalendar_own_folding_is_char_safe():
    # Kept as a guard: the builders refold anyway, but the library's folding is checked too.
    event = icalendar.Event()
    event.add("SUMMARY", "会" * 120 + "😀" * 5)
    assert_lines_valid(event.to_ical())


def test_fold_cuts_only_between_characters():
    line = ("DESCRIPTION:" + "x" + "门" * 60 + "😀" * 20).encode()
    folded = fold(line)
    assert_lines_valid(folded)
    assert re.sub(rb"\r\n[ \t]", b"", folded) == line + b"\r\n"


# --- display names --------------------------------------------------------------------------


def test_display_names_round_trip():
    names = [
        ("admin@example.com", "示例科技, 管理员"),
        ("zhang.wei@example.com", "Zhang, Wei (技术部)"),
        ("wang.fang@example.com", 'Wang "Fang" 王芳'),
        ("li.na@example.com", "李娜; 市场部"),
        ("liu.yang@example.com", "主持人: 刘洋"),
        ("long.name@example.com", "非常长的中文显示名称" * 4),
    ]
    meeting = snapshot(attendees=tuple(AttendeeInfo(email, cn) for email, cn in names), conference=None)
    data = build_calendar(meeting, method="REQUEST", organiser_address=SERVICE, organiser_cn="会议服务")
    assert_lines_valid(data)
    unfolded = re.sub(rb"\r\n[ \t]", b"", data).decode()
    assert "CN=\"Wang ^'Fang^' 王芳\"" in unfolded
    assert 'CN="示例科技, 管理员"' in unfolded
    assert 'CN="李娜; 市场部"' in unfolded
    assert 'CN="主持人: 刘洋"' in unfolded
    (event,) = parse_calendar(data, default_tz=SH).events
    assert [(a.email, a.cn) for a in event.attendees] == names
    rebuilt = build_calendar(
        snapshot(attendees=tuple(AttendeeInfo(a.email, a.cn) for a in event.attendees)),
        method="REQUEST",
        organiser_address=SERVICE,
        organiser_cn="会议服务",
    )
    (again,) = parse_calendar(rebuilt, default_tz=SH).events
    assert [(a.email, a.cn) for a in again.attendees] == names


# --- invitation content -------------------------------------------------------------------------


def test_request_shape_and_host_pin_only_for_chair():
    meeting = snapshot()
    attendee_copy = build_calendar(
        meeting, method="REQUEST", recipient="li.na@example.com", organiser_address=SERVICE,
        organiser_cn="会议服务", sent_by="zhang.wei@example.com", etiquette="请提前5分钟入会，发言前报姓名。",
    )
    chair_copy = build_calendar(
        meeting, method="REQUEST", recipient="ZHANG.WEI@example.com", organiser_address=SERVICE,
        organiser_cn="会议服务", sent_by="zhang.wei@example.com",
    )
    assert b"9753" not in re.sub(rb"\r\n[ \t]", b"", attendee_copy)
    assert b"9753" in re.sub(rb"\r\n[ \t]", b"", chair_copy)

    calendar = icalendar.Calendar.from_ical(re.sub(rb"\r\n[ \t]", b"", attendee_copy).decode())
    assert calendar["METHOD"] == "REQUEST"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == [SH]
    (event,) = calendar.walk("VEVENT")
    assert event["DTSTART"].params["TZID"] == SH
    assert event["DTEND"].params["TZID"] == SH
    organizer = event["ORGANIZER"]
    assert str(organizer) == "mailto:calendar@example.com"
    assert organizer.params["SENT-BY"] == "mailto:zhang.wei@example.com"
    attendees = event["ATTENDEE"]
    assert [a.params["RSVP"] for a in attendees] == ["TRUE", "TRUE"]
    assert [a.params["ROLE"] for a in attendees] == ["CHAIR", "REQ-PARTICIPANT"]

    (parsed,) = parse_calendar(attendee_copy, default_tz=SH).events
    assert parsed.start == datetime(2026, 12, 10, 6, tzinfo=UTC)
    assert parsed.floating is False
    for text in (parsed.location, parsed.description):
        assert text is not None
        assert "+86 10 5555 0100" in text
        assert "246810" in text
        assert "1357" in text
    assert parsed.description is not None and "请提前5分钟入会" in parsed.description
    conferences = event.get("CONFERENCE")
    assert [str(c) for c in conferences] == ["tel:+861055550100", "https://meet.example.com/j/246810"]
    assert conferences[0].params["FEATURE"] == "PHONE"
    assert "246810" in conferences[0].params["LABEL"]


def test_sequence_rules():
    meeting = snapshot()
    assert needs_new_sequence(meeting, snapshot(start=meeting.start + timedelta(hours=1)))
    assert needs_new_sequence(meeting, snapshot(room="5楼 501"))
    assert needs_new_sequence(meeting, snapshot(conference=ConferenceInfo(access_code="1")))
    assert needs_new_sequence(meeting, snapshot(rrule="FREQ=WEEKLY;COUNT=4"))
    assert not needs_new_sequence(meeting, snapshot(summary="改了标题"))


# --- cancellations ----------------------------------------------------------------------------


def series_snapshot(ics) -> MeetingSnapshot:
    (series,) = parse_calendar(ics("15-method-cancel-shapes/series-before-cancel.ics"), default_tz=SH).events
    assert series.start is not None and series.end is not None
    return MeetingSnapshot(
        uid=series.uid,
        sequence=next_sequence([series]),
        start=series.start,
        end=series.end,
        timezone=series.timezone or SH,
        summary=series.summary or "",
        rrule=series.rrule,
        attendees=tuple(AttendeeInfo(a.email, a.cn, partstat=a.partstat or "NEEDS-ACTION") for a in series.attendees),
    )


def unfolded_text(data: bytes) -> str:
    return re.sub(rb"\r\n[ \t]", b"", data).decode()


def test_cancel_one_occurrence(ics):
    meeting = series_snapshot(ics)
    occurrence = datetime(2026, 12, 15, 9, 30, tzinfo=SHANGHAI)
    data = build_cancel(
        meeting, organiser_address="zhang.wei@example.com", organiser_cn="张伟", recurrence_id=occurrence
    )
    assert_lines_valid(data)
    text = unfolded_text(data)
    assert "\r\nMETHOD:CANCEL\r\n" in text
    assert "RECURRENCE-ID;TZID=Asia/Shanghai:20261215T093000" in text
    assert "STATUS:CANCELLED" in text
    assert "SEQUENCE:3" in text
    assert "RRULE" not in text
    assert text.count("BEGIN:VEVENT") == 1
    message = parse_itip(data, default_tz=SH)
    assert message.method == "CANCEL"
    assert message.uid == "confsvc-weekly-0042@example.com"
    assert message.sequence == 3
    assert message.recurrence_id == datetime(2026, 12, 15, 1, 30, tzinfo=UTC)
    assert message.organizer == "zhang.wei@example.com"
    (event,) = message.calendar.events
    assert {a.email for a in event.attendees} == {"li.na@example.com", "liu.yang@example.com"}
    assert event.dtstamp is not None
    assert abs(event.dtstamp - datetime.now(UTC)) < timedelta(minutes=5)

    organiser_copy = build_calendar(
        MeetingSnapshot(**{**meeting.__dict__, "exdates": (occurrence,)}),
        method=None, organiser_address="zhang.wei@example.com", organiser_cn="张伟",
    )
    copy_text = unfolded_text(organiser_copy)
    assert "METHOD" not in copy_text
    assert "EXDATE;TZID=Asia/Shanghai:20261215T093000" in copy_text
    starts = [o.start for o in expand_occurrences(organiser_copy, datetime(2026, 11, 1, tzinfo=UTC),
                                                    datetime(2027, 3, 1, tzinfo=UTC), default_tz=SH)]
    assert len(starts) == 7
    assert datetime(2026, 12, 15, 1, 30, tzinfo=UTC) not in starts


def test_cancel_whole_series(ics):
    meeting = series_snapshot(ics)
    data = build_cancel(meeting, organiser_address="zhang.wei@example.com", organiser_cn="张伟")
    text = unfolded_text(data)
    assert "\r\nMETHOD:CANCEL\r\n" in text
    assert "RECURRENCE-ID" not in text
    assert "STATUS:CANCELLED" in text
    assert "SEQUENCE:3" in text
    message = parse_itip(data, default_tz=SH)
    assert message.recurrence_id is None
    assert message.sequence == 3


def test_cancel_for_removed_attendee_only(ics):
    meeting = series_snapshot(ics)
    removed = meeting.attendees[1]
    data = build_cancel(meeting, organiser_address="zhang.wei@example.com", organiser_cn="张伟", attendees=[removed])
    (event,) = parse_itip(data, default_tz=SH).calendar.events
    assert [a.email for a in event.attendees] == ["liu.yang@example.com"]


# --- DECLINECOUNTER -----------------------------------------------------------------------------


def test_declinecounter_shape(ics):
    (stored,) = parse_calendar(ics("16-counter-propose-new-time/stored-meeting.ics"), default_tz=SH).events
    proposal = parse_itip(ics("16-counter-propose-new-time/counter-from-attendee.ics"), default_tz=SH).counter
    assert proposal is not None
    assert stored.start is not None
    assert stored.end is not None
    meeting = MeetingSnapshot(
        uid=stored.uid, sequence=stored.sequence, start=stored.start, end=stored.end, timezone=SH,
        summary=stored.summary or "",
        attendees=tuple(AttendeeInfo(a.email, a.cn) for a in stored.attendees),
    )
    data = build_declinecounter(
        meeting, proposer=proposal.proposer, organiser_address="zhang.wei@example.com", organiser_cn="张伟"
    )
    assert_lines_valid(data)
    calendar = icalendar.Calendar.from_ical(unfolded_text(data))
    assert calendar["METHOD"] == "DECLINECOUNTER"
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == "confsvc-20261215-0011@example.com"
    assert int(event["SEQUENCE"]) == 0
    assert event["DTSTART"].to_ical() == b"20261215T100000"
    assert event["DTSTART"].params["TZID"] == SH
    assert event["DTEND"].to_ical() == b"20261215T110000"
    assert str(event["ORGANIZER"]) == "mailto:zhang.wei@example.com"
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:li.na@example.com"
    assert attendee.params["CN"] == "李娜"
