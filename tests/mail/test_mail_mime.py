"""Structure of the generated iMIP and plain mails, parsed back with the email package."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest
from icalendar import Calendar
from mail_support import ATTENDEE, DATA_DIR, ORGANIZER, calendar_bytes, parse_mail

from confsvc.errors import ICalendarError, ValidationFailed
from confsvc.notify.imap import parse_calendar_message
from confsvc.notify.mail import build_imip_message, build_plain_message

SUBJECT = "邀请：2026年第4季度经营分析会"
TEXT = "张伟 邀请您参加：2026年第4季度经营分析会\n时间：2026-12-10 14:00-15:30 (Asia/Shanghai)\n"
HTML = "<p>张伟 邀请您参加：<b>2026年第4季度经营分析会</b></p>"


def imip_kwargs(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "ics": calendar_bytes(),
        "method": "REQUEST",
        "subject": SUBJECT,
        "text": TEXT,
        "html": HTML,
        "sender": ORGANIZER,
        "sender_name": "张伟",
        "recipient": ATTENDEE,
        "recipient_name": "陈静",
        "message_id_domain": "example.com",
        "headers": None,
    }
    values.update(overrides)
    return values


def mime_shape(part: EmailMessage) -> tuple[Any, ...]:
    """Reduce a message to its tree of content types, encodings, dispositions and methods."""
    if part.is_multipart():
        children = tuple(mime_shape(child) for child in part.iter_parts())  # type: ignore[arg-type]
        return (part.get_content_type(), children)
    method = part.get_param("method")
    return (
        part.get_content_type(),
        str(part.get("Content-Transfer-Encoding", "7bit")).lower(),
        part.get_content_disposition(),
        part.get_filename(),
        str(method).upper() if method else None,
    )


def leaf_parts(message: EmailMessage) -> list[EmailMessage]:
    return [part for part in message.walk() if not part.is_multipart()]  # type: ignore[misc]


def assert_imip_structure(message: EmailMessage) -> bytes:
    """Check the iMIP rules on a parsed mail and return the inline calendar bytes."""
    assert message.get_content_type() == "multipart/mixed"
    top_parts = list(message.iter_parts())
    alternative = top_parts[0]
    assert alternative.get_content_type() == "multipart/alternative"

    calendars_in_alternative = [
        p for p in alternative.iter_parts() if p.get_content_type() == "text/calendar"
    ]
    assert len(calendars_in_alternative) == 1
    inline = calendars_in_alternative[0]
    assert inline.get_content_disposition() in (None, "inline")
    assert str(inline.get_param("charset")).upper() == "UTF-8"
    inline_ics = inline.get_payload(decode=True)
    assert isinstance(inline_ics, bytes)

    all_calendar_leaves = [
        p for p in leaf_parts(message) if p.get_content_type() == "text/calendar"
    ]
    assert all_calendar_leaves == [inline]

    calendar = Calendar.from_ical(inline_ics)
    assert str(inline.get_param("method")) == str(calendar["METHOD"])
    assert all("METHOD" not in component for component in calendar.subcomponents)

    attachments = [p for p in top_parts[1:] if p.get_content_disposition() == "attachment"]
    assert len(attachments) == 1
    assert attachments[0].get_filename() == "invite.ics"
    assert attachments[0].get_content_type() in {"application/ics", "text/calendar"}
    assert attachments[0].get_payload(decode=True) == inline_ics
    return inline_ics


def assert_seven_bit(raw: bytes, message: EmailMessage) -> None:
    assert all(byte < 0x80 for byte in raw), "raw 8-bit byte in the generated mail"
    for part in leaf_parts(message):
        encoding = str(part.get("Content-Transfer-Encoding", "7bit")).lower()
        assert encoding in {"base64", "quoted-printable"}, part.get_content_type()


def test_reference_shape_parses_as_imip() -> None:
    reference = parse_mail((DATA_DIR / "expected-shape-request.eml").read_bytes())

    assert_imip_structure(reference)


def test_request_matches_reference_shape() -> None:
    reference = parse_mail((DATA_DIR / "expected-shape-request.eml").read_bytes())
    reference_ics = assert_imip_structure(reference)

    built = build_imip_message(**imip_kwargs(ics=reference_ics, html=None))
    parsed = parse_mail(built.as_bytes())

    assert mime_shape(parsed) == mime_shape(reference)
    assert assert_imip_structure(parsed) == reference_ics


def test_request_with_html_structure() -> None:
    ics = calendar_bytes()

    built = build_imip_message(**imip_kwargs(ics=ics))
    raw = built.as_bytes()
    parsed = parse_mail(raw)

    alternative = next(parsed.iter_parts())
    types = [p.get_content_type() for p in alternative.iter_parts()]
    assert types == ["text/plain", "text/html", "text/calendar"]
    assert assert_imip_structure(parsed) == ics
    assert_seven_bit(raw, parsed)
    bodies = {p.get_content_type(): p.get_content() for p in alternative.iter_parts()}
    assert bodies["text/plain"] == TEXT
    assert bodies["text/html"].strip() == HTML
    for part in alternative.iter_parts():
        if part.get_content_maintype() == "text" and part.get_content_subtype() != "calendar":
            assert str(part.get_param("charset")).lower() == "utf-8"


def test_chinese_headers_rfc2047_roundtrip() -> None:
    built = build_imip_message(**imip_kwargs())
    raw = built.as_bytes()
    parsed = parse_mail(raw)

    raw_headers = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    subject_line = next(line for line in raw_headers.splitlines() if line.startswith("Subject:"))
    assert "=?utf-8?" in subject_line.lower()
    assert str(parsed["Subject"]) == SUBJECT
    assert parsed["From"].addresses[0].display_name == "张伟"
    assert parsed["From"].addresses[0].addr_spec == ORGANIZER
    assert parsed["To"].addresses[0].display_name == "陈静"
    assert parsed["To"].addresses[0].addr_spec == ATTENDEE


@pytest.mark.parametrize("method", ["REQUEST", "CANCEL"])
def test_method_parameter_follows_calendar(method: str) -> None:
    ics = calendar_bytes(method=method, sequence=3)

    built = build_imip_message(**imip_kwargs(ics=ics, method=method.lower()))
    parsed = parse_mail(built.as_bytes())

    inline_ics = assert_imip_structure(parsed)
    inline = next(p for p in parsed.walk() if p.get_content_type() == "text/calendar")
    assert inline.get_param("method") == method
    event = Calendar.from_ical(inline_ics).walk("VEVENT")[0]
    assert int(event["SEQUENCE"]) == 3
    assert str(event["UID"]) == "confsvc-20261210-0002@example.com"


def test_reply_message_from_attendee() -> None:
    ics = calendar_bytes(method="REPLY", partstat="ACCEPTED")

    built = build_imip_message(
        **imip_kwargs(ics=ics, method="REPLY", sender=ATTENDEE, recipient=ORGANIZER)
    )

    assert assert_imip_structure(parse_mail(built.as_bytes())) == ics


def test_method_mismatch_rejected() -> None:
    with pytest.raises(ValidationFailed) as caught:
        build_imip_message(**imip_kwargs(ics=calendar_bytes(method="CANCEL"), method="REQUEST"))

    assert caught.value.invalid_params[0]["name"] == "method"
    assert "CANCEL" in str(caught.value)


def test_method_inside_vevent_only_rejected() -> None:
    ics = calendar_bytes(method="REQUEST", method_in_event=True)

    with pytest.raises(ValidationFailed) as caught:
        build_imip_message(**imip_kwargs(ics=ics))

    assert caught.value.invalid_params[0]["name"] == "ics"
    assert "VEVENT" in str(caught.value)


def test_missing_method_rejected() -> None:
    with pytest.raises(ValidationFailed) as caught:
        build_imip_message(**imip_kwargs(ics=calendar_bytes(method=None)))

    assert "METHOD is missing" in str(caught.value)


def test_publish_file_rejected_as_invitation() -> None:
    ics = (DATA_DIR / "bad-publish-as-invitation.ics").read_bytes()

    for method in ("REQUEST", "PUBLISH"):
        with pytest.raises(ValidationFailed) as caught:
            build_imip_message(**imip_kwargs(ics=ics, method=method))
        assert "PUBLISH" in str(caught.value)


def test_unknown_method_rejected() -> None:
    with pytest.raises(ValidationFailed) as caught:
        build_imip_message(**imip_kwargs(method="INVITE"))

    assert caught.value.invalid_params[0]["name"] == "method"


def test_request_without_attendee_rejected() -> None:
    with pytest.raises(ValidationFailed) as caught:
        build_imip_message(**imip_kwargs(ics=calendar_bytes(attendees=())))

    assert "ATTENDEE" in str(caught.value)


def test_request_organizer_must_match_sender() -> None:
    scheduling = "calendar@example.com"

    with pytest.raises(ValidationFailed) as caught:
        build_imip_message(**imip_kwargs(sender=scheduling))
    assert caught.value.invalid_params[0]["name"] == "sender"

    ics = calendar_bytes(sent_by=scheduling)
    built = build_imip_message(**imip_kwargs(ics=ics, sender=scheduling))
    assert built["From"].addresses[0].addr_spec == scheduling


def test_non_utf8_calendar_rejected() -> None:
    ics = calendar_bytes().decode("utf-8").encode("gb18030")

    with pytest.raises(ICalendarError):
        build_imip_message(**imip_kwargs(ics=ics))


def test_unparsable_calendar_rejected() -> None:
    with pytest.raises(ICalendarError):
        build_imip_message(**imip_kwargs(ics=b"this is not a calendar"))


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("subject", {"subject": "邀请\r\nBcc: victim@example.org"}),
        ("sender_name", {"sender_name": "张伟\nBcc: victim@example.org"}),
        ("recipient_name", {"recipient_name": "陈静\r"}),
        ("recipient", {"recipient": "chen.jing@example.com\r\nBcc: victim@example.org"}),
        ("sender", {"sender": "zhang.wei@example.com\n"}),
        ("message_id_domain", {"message_id_domain": "example.com\r\nX: y"}),
        ("headers[X-Trace]", {"headers": {"X-Trace": "a\r\nBcc: victim@example.org"}}),
        ("headers[X-Evil\r\nBcc]", {"headers": {"X-Evil\r\nBcc": "victim@example.org"}}),
    ],
)
def test_header_injection_rejected(field: str, overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed) as caught:
        build_imip_message(**imip_kwargs(**overrides))

    assert caught.value.invalid_params[0]["name"] == field


def test_plain_message_header_injection_rejected() -> None:
    with pytest.raises(ValidationFailed) as caught:
        build_plain_message(
            subject="提醒\nBcc: victim@example.org",
            text="x",
            html=None,
            sender=ORGANIZER,
            sender_name=None,
            recipient=ATTENDEE,
            recipient_name=None,
            message_id_domain="example.com",
            headers=None,
        )

    assert caught.value.invalid_params[0]["name"] == "subject"


@pytest.mark.parametrize("name", ["Content-Type", "from", "Bcc", "Message-ID"])
def test_reserved_header_rejected(name: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        build_imip_message(**imip_kwargs(headers={name: "x"}))

    assert caught.value.invalid_params[0]["name"] == f"headers[{name}]"


@pytest.mark.parametrize(
    "address", ["not-an-address", "a b@example.com", "<x@example.com>", "张@example.com"]
)
def test_invalid_recipient_rejected(address: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        build_imip_message(**imip_kwargs(recipient=address))

    assert caught.value.invalid_params[0]["name"] == "recipient"


def test_idn_domain_punycoded() -> None:
    built = build_imip_message(**imip_kwargs(recipient="li.na@例子.中国"))

    assert built["To"].addresses[0].domain == "xn--fsqu00a.xn--fiqs8s"


def test_extra_headers_message_id_and_language() -> None:
    built = build_imip_message(
        **imip_kwargs(
            headers={"X-Confsvc-Delivery": "outbox-42", "Auto-Submitted": "auto-generated"},
            message_id="<outbox-42@confsvc.example.com>",
            language="zh-CN",
        )
    )
    parsed = parse_mail(built.as_bytes())

    assert parsed["Message-ID"] == "<outbox-42@confsvc.example.com>"
    assert parsed["X-Confsvc-Delivery"] == "outbox-42"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Content-Language"] == "zh-CN"
    assert parsed["Date"].datetime.tzinfo is not None
    assert_imip_structure(parsed)


def test_generated_message_id_uses_domain() -> None:
    first = build_imip_message(**imip_kwargs())
    second = build_imip_message(**imip_kwargs())

    assert str(first["Message-ID"]).endswith("@example.com>")
    assert first["Message-ID"] != second["Message-ID"]


def test_invalid_message_id_rejected() -> None:
    with pytest.raises(ValidationFailed) as caught:
        build_imip_message(**imip_kwargs(message_id="no-brackets@example.com"))

    assert caught.value.invalid_params[0]["name"] == "message_id"


def test_plain_message_text_only() -> None:
    built = build_plain_message(
        subject="提醒：行动项即将到期",
        text="请在 2026-12-15 前提交进度。\n",
        html=None,
        sender="calendar@example.com",
        sender_name="会议服务",
        recipient=ATTENDEE,
        recipient_name="陈静",
        message_id_domain="example.com",
        headers=None,
        language="zh-CN",
    )
    raw = built.as_bytes()
    parsed = parse_mail(raw)

    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content() == "请在 2026-12-15 前提交进度。\n"
    assert str(parsed["Subject"]) == "提醒：行动项即将到期"
    assert parsed["Content-Language"] == "zh-CN"
    assert_seven_bit(raw, parsed)


def test_plain_message_with_html() -> None:
    built = build_plain_message(
        subject="Reminder: action item due",
        text="Please report progress.\n",
        html="<p>Please report progress.</p>",
        sender="calendar@example.com",
        sender_name=None,
        recipient=ATTENDEE,
        recipient_name=None,
        message_id_domain="example.com",
        headers={"X-Confsvc-Delivery": "7"},
    )
    raw = built.as_bytes()
    parsed = parse_mail(raw)

    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert not any(p.get_content_type() == "text/calendar" for p in parsed.walk())
    assert_seven_bit(raw, parsed)


def test_no_method_param_imports_as_plain_event() -> None:
    raw = (DATA_DIR / "bad-no-method-param.eml").read_bytes()

    calendars = parse_calendar_message(raw)

    assert len(calendars) == 1
    assert calendars[0].method is None
    assert calendars[0].is_plain_event
    assert calendars[0].event_uids == ("res-0001",)
    assert calendars[0].sender == "zhang.wei@example.com"
    assert b"ORGANIZER;CN=Zhang Wei:MAILTO:zhang.wei@example.com" in calendars[0].ics_bytes


def test_generated_request_parses_back_once() -> None:
    ics = calendar_bytes()
    built = build_imip_message(**imip_kwargs(ics=ics, message_id="<m1@example.com>"))

    calendars = parse_calendar_message(built.as_bytes())

    assert len(calendars) == 1
    assert calendars[0].method == "REQUEST"
    assert not calendars[0].is_plain_event
    assert calendars[0].ics_bytes == ics
    assert calendars[0].message_id == "<m1@example.com>"
    assert calendars[0].event_uids == ("confsvc-20261210-0002@example.com",)


def test_parse_converts_declared_charset_to_utf8() -> None:
    ics_text = calendar_bytes(method="REPLY", partstat="DECLINED").decode("utf-8")
    message = EmailMessage()
    message["From"] = ATTENDEE
    message["Subject"] = "Declined"
    message.set_content(
        ics_text.encode("gb18030"),
        maintype="text",
        subtype="calendar",
        cte="base64",
        params={"charset": "gb18030", "method": "REPLY"},
    )

    calendars = parse_calendar_message(message.as_bytes())

    assert calendars[0].method == "REPLY"
    assert calendars[0].ics_bytes.decode("utf-8") == ics_text
