"""iTIP REPLY, COUNTER and CANCEL parsing, and the reply ordering policy."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from confsvc.booking.ical import (
    AttendeeReplyState,
    ItipError,
    ReplyDecision,
    apply_reply,
    next_sequence,
    parse_calendar,
    parse_itip,
)

SH = "Asia/Shanghai"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def stored_states(ics, path: str) -> tuple[int, dict[str, AttendeeReplyState]]:
    (meeting,) = parse_calendar(ics(path), default_tz=SH).events
    states = {a.email: AttendeeReplyState(email=a.email, partstat=a.partstat or "NEEDS-ACTION") for a in meeting.attendees}
    return meeting.sequence, states


# --- Exchange REPLY without ORGANIZER ------------------------------------------------------


def test_exchange_reply_without_organizer(ics):
    folder = "03-exchange-reply-no-organizer"
    message = parse_itip(ics(f"{folder}/reply-exchange-china-with-comment.ics"), default_tz=SH)
    assert message.method == "REPLY"
    assert message.organizer is None
    assert message.uid == "confsvc-20261210-0002@example.com"
    (reply,) = message.replies
    assert reply.email == "chen.jing@example.com"
    assert reply.partstat == "ACCEPTED"
    assert reply.comment == "好的, 我会准时参加"

    sequence, states = stored_states(ics, f"{folder}/stored-meeting.ics")
    outcome = apply_reply(states, reply, meeting_sequence=sequence)
    assert outcome.decision is ReplyDecision.APPLY
    assert outcome.states["chen.jing@example.com"].partstat == "ACCEPTED"
    assert outcome.states["chen.jing@example.com"].comment == "好的, 我会准时参加"
    assert outcome.states["li.na@example.com"].partstat == "NEEDS-ACTION"
    assert states["chen.jing@example.com"].partstat == "NEEDS-ACTION"  # input unchanged

    (stored,) = parse_calendar(ics(f"{folder}/stored-meeting.ics"), default_tz=SH).events
    assert stored.start == utc(2026, 12, 10, 6)
    assert stored.end == utc(2026, 12, 10, 7, 30)
    assert stored.summary is not None and not stored.summary.startswith("已接受")


def test_exchange_reply_pacific_empty_comment(ics):
    message = parse_itip(ics("03-exchange-reply-no-organizer/reply-exchange-pacific.ics"), default_tz=SH)
    (event,) = message.calendar.events
    assert event.start == utc(2014, 7, 29, 20)
    assert event.timezone == "America/Los_Angeles"
    (reply,) = message.replies
    assert reply.email == "liu.yang@example.com"
    assert reply.comment == ""
    assert message.uid == "confsvc-20140723-0001@example.com"


# --- Google REPLY, folded parameters, X-RESPONSE-COMMENT ---------------------------------

GOOGLE_UID = (
    "040000008200E00074C5B7101A82E0080000000057E690055723DD01000000000000000010000000"
    "AA3D563406A91946998F2774AAD4D280"
)


def test_google_replies_unfold_exactly(ics):
    folder = "04-google-reply-folded-params-comment"
    expected = [
        ("reply-google-accepted.ics", "ACCEPTED", None, "Chen Jing"),
        ("reply-google-tentative-comment.ics", "TENTATIVE", "This is my reply for maybe", "Chen Jing"),
        ("reply-google-declined-chinese-comment.ics", "DECLINED", "抱歉，那天出差，请把纪要发我", "陈静"),
    ]
    for name, partstat, comment, cn in expected:
        message = parse_itip(ics(f"{folder}/{name}"), default_tz=SH)
        assert message.uid == GOOGLE_UID, name
        assert len(message.uid) == 112
        (reply,) = message.replies
        assert reply.email == "chen.jing@example.com", name
        assert reply.cn == cn, name
        assert reply.partstat == partstat, name
        assert reply.comment == comment, name
        assert reply.sequence == 1, name


def test_google_replies_in_file_order(ics):
    folder = "04-google-reply-folded-params-comment"
    states = {"chen.jing@example.com": AttendeeReplyState(email="chen.jing@example.com")}
    names = [
        "reply-google-accepted.ics",
        "reply-google-tentative-comment.ics",
        "reply-google-declined-chinese-comment.ics",
    ]
    replies = [parse_itip(ics(f"{folder}/{n}"), default_tz=SH).replies[0] for n in names]
    assert [r.dtstamp for r in replies] == sorted(r.dtstamp for r in replies)
    for reply in replies:
        outcome = apply_reply(states, reply, meeting_sequence=1)
        assert outcome.decision is ReplyDecision.APPLY
        states = outcome.states
    final = states["chen.jing@example.com"]
    assert final.partstat == "DECLINED"
    assert final.comment == "抱歉，那天出差，请把纪要发我"


# --- display names with , ; : " and Chinese ------------------------------------------------


def test_display_names_parse_whole(ics):
    folder = "07-cn-commas-quotes-chinese"
    (organizer_event,) = parse_calendar(ics(f"{folder}/organizer-cn-with-comma.ics"), default_tz=SH).events
    assert organizer_event.organizer is not None
    assert organizer_event.organizer.cn == "示例科技, 管理员"
    assert organizer_event.organizer.email == "admin@example.com"
    assert organizer_event.location == "im büro"

    (caret_event,) = parse_calendar(ics(f"{folder}/attendee-rfc6868-caret.ics"), default_tz=SH).events
    assert [(a.cn, a.email) for a in caret_event.attendees] == [
        ('Wang "Fang" 王芳', "wang.fang@example.com"),
        ("李娜; 市场部", "li.na@example.com"),
        ("主持人: 刘洋", "liu.yang@example.com"),
    ]

    message = parse_itip(ics(f"{folder}/reply-exchange-cn-lastname-comma.ics"), default_tz=SH)
    (reply,) = message.replies
    assert reply.cn == "Zhang, Wei (技术部)"
    assert reply.email == "zhang.wei@example.com"
    assert reply.partstat == "ACCEPTED"
    states = {"zhang.wei@example.com": AttendeeReplyState(email="zhang.wei@example.com")}
    outcome = apply_reply(states, reply, meeting_sequence=0)
    assert list(outcome.states) == ["zhang.wei@example.com"]
    assert outcome.states["zhang.wei@example.com"].partstat == "ACCEPTED"


# --- COUNTER --------------------------------------------------------------------------------


def test_counter_becomes_proposal(ics):
    folder = "16-counter-propose-new-time"
    message = parse_itip(ics(f"{folder}/counter-from-attendee.ics"), default_tz=SH)
    assert message.method == "COUNTER"
    proposal = message.counter
    assert proposal is not None
    assert proposal.uid == "confsvc-20261215-0011@example.com"
    assert proposal.proposer == "li.na@example.com"
    assert proposal.proposed_start == utc(2026, 12, 15, 7)
    assert proposal.proposed_end == utc(2026, 12, 15, 8)
    assert proposal.comment == "上午有客户拜访，下午三点可以吗？"
    assert proposal.sequence == 0

    same = parse_itip(ics(f"{folder}/counter-from-attendee.ics"), default_tz=SH, sender="MAILTO:Li.Na@example.com")
    assert same.counter is not None and same.counter.proposer == "li.na@example.com"
    with pytest.raises(ItipError):
        parse_itip(ics(f"{folder}/counter-from-attendee.ics"), default_tz=SH, sender="x@example.com")


# --- bad cancellations ------------------------------------------------------------------------


def test_method_inside_vevent_is_plain_event(ics):
    data = ics("15-method-cancel-shapes/bad-cancel-method-inside-vevent.ics")
    calendar = parse_calendar(data, default_tz=SH)
    assert calendar.method is None
    assert calendar.events[0].uid == "82aaf1aa-9522-4000-8a29-084c5a4762d5"
    with pytest.raises(ItipError, match="no METHOD"):
        parse_itip(data, default_tz=SH)


def test_cancel_with_confirmed_status_rejected(ics):
    data = ics("15-method-cancel-shapes/bad-cancel-occurrence-without-recurrence-id.ics")
    calendar = parse_calendar(data, default_tz=SH)
    assert calendar.method == "CANCEL"
    assert calendar.events[0].recurrence_id is None
    with pytest.raises(ItipError, match="STATUS:CONFIRMED"):
        parse_itip(data, default_tz=SH)


# --- reply ordering ---------------------------------------------------------------------------

R_FILES = [
    "r1-reply-to-old-version-seq0-accepted.ics",
    "r2-reply-seq1-declined.ics",
    "r3-reply-seq1-tentative-later.ics",
    "r4-reply-attendee-bumped-seq2-accepted.ics",
]


def test_reply_order_always_ends_tentative(ics):
    folder = "17-reply-sequence-dtstamp-ordering"
    sequence, initial = stored_states(ics, f"{folder}/stored-meeting-seq1.ics")
    assert sequence == 1
    replies = {name: parse_itip(ics(f"{folder}/{name}"), default_tz=SH).replies[0] for name in R_FILES}
    for order in itertools.permutations(R_FILES):
        states = initial
        decisions = {}
        for name in order:
            outcome = apply_reply(states, replies[name], meeting_sequence=sequence)
            decisions[name] = outcome.decision
            states = outcome.states
        final = states["wang.fang@example.com"]
        assert final.partstat == "TENTATIVE", order
        assert final.reply_dtstamp == utc(2026, 12, 6, 4, 15), order
        assert final.reply_sequence == 1, order
        assert decisions[R_FILES[0]] is ReplyDecision.OLD_VERSION, order
    # The client-raised SEQUENCE 2 of r4 does not move the meeting's own SEQUENCE.
    assert next_sequence([sequence]) == 2


def test_reply_applied_twice_is_noop(ics):
    folder = "17-reply-sequence-dtstamp-ordering"
    _, states = stored_states(ics, f"{folder}/stored-meeting-seq1.ics")
    reply = parse_itip(ics(f"{folder}/{R_FILES[2]}"), default_tz=SH).replies[0]
    first = apply_reply(states, reply, meeting_sequence=1)
    second = apply_reply(first.states, reply, meeting_sequence=1)
    assert first.decision is ReplyDecision.APPLY
    assert second.decision is ReplyDecision.STALE
    assert second.states == first.states


def test_reply_from_stranger_changes_nothing(ics):
    folder = "17-reply-sequence-dtstamp-ordering"
    _, states = stored_states(ics, f"{folder}/stored-meeting-seq1.ics")
    data = ics(f"{folder}/{R_FILES[2]}").replace(b"wang.fang@example.com", b"eve@example.org")
    reply = parse_itip(data, default_tz=SH).replies[0]
    outcome = apply_reply(states, reply, meeting_sequence=1)
    assert outcome.decision is ReplyDecision.NOT_INVITED
    assert outcome.states == states


def test_delegated_reply_names_delegate():
    data = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\n"
        "UID:deleg@example.com\r\nDTSTAMP:20261206T030000Z\r\nSEQUENCE:0\r\n"
        'ATTENDEE;PARTSTAT=DELEGATED;DELEGATED-TO="mailto:liu.yang@example.com":MAILTO:Wang.Fang@example.com\r\n'
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()
    (reply,) = parse_itip(data, default_tz=SH).replies
    assert reply.partstat == "DELEGATED"
    assert reply.delegated_to == ("liu.yang@example.com",)
    states = {"wang.fang@example.com": AttendeeReplyState(email="wang.fang@example.com")}
    outcome = apply_reply(states, reply, meeting_sequence=0)
    assert outcome.states["wang.fang@example.com"].delegated_to == ("liu.yang@example.com",)
    assert outcome.states["wang.fang@example.com"].partstat == "DELEGATED"
