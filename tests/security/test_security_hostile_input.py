"""Hostile input: parser fuzzing, injection through titles, names and addresses, log masking."""

from __future__ import annotations

import logging
from email import message_from_bytes
from email.utils import getaddresses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient

from confsvc.booking.ical import ICalendarError, parse_itip
from confsvc.db.engine import create_engine, create_session_factory
from confsvc.directory.services import DirectoryService
from confsvc.errors import ValidationFailed
from confsvc.notify.mail import build_plain_message
from confsvc.security.export import safe_cell
from confsvc.security.logfilter import SecretMaskingFilter, install_secret_filter, mask_secrets
from confsvc.settings import Settings
from tests.security.conftest import World

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))

ITIP_LINES = st.sampled_from(
    [
        "BEGIN:VCALENDAR", "END:VCALENDAR", "BEGIN:VEVENT", "END:VEVENT", "METHOD:REPLY", "METHOD:COUNTER",
        "METHOD:REQUEST", "VERSION:2.0", "UID:abc@example.com", "DTSTART:20270301T013000Z", "DTSTART;TZID=Nowhere:20270301T093000",
        "DTEND:20270301T023000Z", "DTSTAMP:20270101T000000Z", "SEQUENCE:-1", "SEQUENCE:99999999999999999999",
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:li.na@example.com", "ATTENDEE;PARTSTAT=\"X\r\n\":mailto:", "ORGANIZER:mailto:",
        "RECURRENCE-ID:not-a-date", "BEGIN:VTIMEZONE", "END:VTIMEZONE", "RRULE:FREQ=DAILY;COUNT=0", " folded continuation",
        "COMMENT:=cmd|' /C calc'!A0", "SUMMARY:{{ 7*7 }}<script>alert(1)</script>",
    ]
)


@FUZZ
@given(lines=st.lists(ITIP_LINES | st.text(max_size=40), max_size=25))
def test_itip_parser_fuzz_structured(lines: list[str]) -> None:
    try:
        parse_itip("\r\n".join(lines).encode("utf-8", "surrogatepass"), default_tz="Asia/Shanghai")
    except ICalendarError:
        pass


@FUZZ
@given(data=st.binary(max_size=600))
def test_itip_parser_fuzz_bytes(data: bytes) -> None:
    try:
        parse_itip(data, default_tz="Asia/Shanghai")
    except ICalendarError:
        pass


CSV_CELLS = st.sampled_from(
    ["email", "name", "department", "phone", "li.na@example.com", "李娜", "=1+2", "+86 10 1234 5678", "@SUM(A1)", '"', "\r\n", ",", "zh-CN", "Asia/Shanghai", ""]
) | st.text(max_size=20)


@pytest.fixture
def directory_db(settings: Settings) -> Settings:
    return settings


async def test_csv_import_fuzz(directory_db: Settings) -> None:
    engine = create_engine(directory_db.database)
    seen: list[str] = []
    try:
        session_factory = create_session_factory(engine)

        @settings(max_examples=80, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
        @given(rows=st.lists(st.lists(CSV_CELLS, max_size=7), max_size=8), header=st.booleans(), raw=st.binary(max_size=60))
        def generate(rows: list[list[str]], header: bool, raw: bytes) -> None:
            lines = ([",".join(["email", "name", "department"])] if header else []) + [",".join(row) for row in rows]
            seen.append("\n".join(lines))
            seen.append(raw.decode("latin-1"))

        generate()
        for text in seen:
            async with session_factory() as session:
                try:
                    report = await DirectoryService(session).import_csv(text.encode("utf-8", "surrogatepass"))
                except ValidationFailed:
                    continue
                finally:
                    await session.rollback()
                assert report.created + report.updated + report.unchanged >= 0
    finally:
        await engine.dispose()
    assert len(seen) >= 80


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
        ("+86 10", "'+86 10"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("＝1+1", "'＝1+1"),
        ("line\r\nbreak", "line break"),
        ("普通标题", "普通标题"),
        (None, ""),
        (-5, -5),
    ],
)
def test_safe_cell_neutralises_formulas(value: object, expected: object) -> None:
    assert safe_cell(value) == expected


@pytest.mark.parametrize(
    "title",
    ["Review\r\nBcc: victim@example.com", "Line\nbreak", "Null\x00byte"],
)
async def test_title_with_line_breaks_rejected(client: AsyncTestClient, world: World, title: str) -> None:
    response = await client.post(
        "/api/v1/meetings",
        json={"title": title, "starts_at": "2027-03-05T09:30:00+08:00", "duration_minutes": 30},
        headers=world.roles.organiser.headers,
    )
    assert response.status_code == 400
    assert response.json()["invalid_params"][0]["name"] == "title"


async def test_html_and_template_syntax_stay_text(client: AsyncTestClient, world: World) -> None:
    title = "{{ config }}{% for x in range(9) %}<script>alert(1)</script>"
    response = await client.post(
        "/api/v1/meetings",
        json={
            "title": title, "starts_at": "2027-03-06T09:30:00+08:00", "duration_minutes": 30,
            "attendees": [{"email": world.roles.member.email, "name": "<b>Li</b> {{7*7}}"}],
        },
        headers=world.roles.organiser.headers,
    )
    assert response.status_code == 201, response.text
    meeting = response.json()
    assert meeting["title"] == title
    ics = await client.get(f"/api/v1/meetings/{meeting['id']}/invitation.ics", headers=world.roles.member.headers)
    assert ics.status_code == 200
    assert "SUMMARY:{{ config }}{% for x in range(9) %}<script>alert(1)</script>" in ics.text.replace("\r\n ", "")
    assert "49" not in ics.text.split("SUMMARY")[1].splitlines()[0]


@pytest.mark.parametrize(
    ("field", "value"),
    [("subject", "Hi\r\nBcc: victim@example.com"), ("recipient_name", "Li\nX-Injected: 1"), ("recipient", "a@example.com\r\nCc: b@example.com")],
)
def test_mail_headers_reject_crlf(field: str, value: str) -> None:
    options = {
        "subject": "Meeting", "text": "body", "html": None, "sender": "meetings@example.com", "sender_name": "confsvc",
        "recipient": "li.na@example.com", "recipient_name": "李娜", "message_id_domain": "example.com",
    }
    options[field] = value
    with pytest.raises(ValidationFailed):
        build_plain_message(**options)  # type: ignore[arg-type]


def test_mail_header_encodes_unicode_name() -> None:
    message = build_plain_message(
        subject="=?utf-8?q?fake?= 会议", text="body", html=None, sender="meetings@example.com", sender_name="confsvc",
        recipient="li.na@example.com", recipient_name="李娜 <evil@example.com>", message_id_domain="example.com",
    )
    parsed = message_from_bytes(message.as_bytes())
    addresses = getaddresses(parsed.get_all("To") or [])
    assert [address for _name, address in addresses] == ["li.na@example.com"]
    assert parsed.get_all("Bcc") is None


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer cfs_abcdefghijklmnopqrstuvwxyz0123", "abcdefghijklmnop"),
        ("GET /api/v1/x?token=tok-12345&a=1", "tok-12345"),
        ("bridge pin=918273 dialled", "918273"),
        ('payload {"host_pin": "564738"}', "564738"),
        ("GET /rsvp/eyJhbGciOi.payload.sig HTTP/1.1", "eyJhbGciOi"),
        ("callback?code=AUTHCODE123&state=xyz", "AUTHCODE123"),
        ("password: hunter2", "hunter2"),
    ],
)
def test_mask_secrets_patterns(text: str, secret: str) -> None:
    assert secret not in mask_secrets(text)


def test_log_records_masked_after_create_app(caplog: pytest.LogCaptureFixture) -> None:
    install_secret_filter()
    logger = logging.getLogger("confsvc.test.masking")
    with caplog.at_level(logging.INFO, logger="confsvc.test.masking"):
        logger.info("request headers=%s", {"authorization": "Bearer cfs_SECRETSECRETSECRET"})
        logger.info("dial pin=%s", "123456")
    text = caplog.text
    assert "SECRETSECRET" not in text
    assert "123456" not in text
    assert "Bearer ***" in text


def test_masking_filter_keeps_plain_records() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "meeting booked meeting_id=%s", ("42",), None)
    assert SecretMaskingFilter().filter(record)
    assert record.getMessage() == "meeting booked meeting_id=42"


async def test_app_logs_never_contain_token(client: AsyncTestClient, world: World, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    with caplog.at_level(logging.DEBUG):
        await client.get("/api/v1/me", headers=world.roles.member.headers)
        await client.get("/api/v1/me", headers={"Authorization": "Bearer cfs_notARealTokenButSecretish"})
    assert world.roles.member.token not in caplog.text
    assert "notARealTokenButSecretish" not in caplog.text
