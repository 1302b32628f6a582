"""Reading replies from a private dovecot over IMAP (STARTTLS and imaps)."""

from __future__ import annotations

import dataclasses
import imaplib
import logging
import re
import ssl
from pathlib import Path
from urllib.parse import quote

import pytest
from mail_support import (
    ATTENDEE,
    DATA_DIR,
    IMAP_PASSWORD,
    IMAP_USER,
    ORGANIZER,
    RunningDovecot,
    calendar_bytes,
    free_port,
)

from confsvc.notify.imap import (
    PROCESSED_KEYWORD,
    SKIPPED_KEYWORD,
    ImapSettings,
    MailboxError,
    fetch_calendar_messages,
    mark_processed,
)
from confsvc.notify.mail import build_imip_message, build_plain_message

CREDENTIALS = f"{quote(IMAP_USER, safe='')}:{quote(IMAP_PASSWORD, safe='')}"


def reply_mail(message_id: str) -> bytes:
    return build_imip_message(
        ics=calendar_bytes(method="REPLY", partstat="ACCEPTED"),
        method="REPLY",
        subject="已接受：2026年第4季度经营分析会",
        text="陈静 已接受此会议。\n",
        html=None,
        sender=ATTENDEE,
        sender_name="陈静",
        recipient=ORGANIZER,
        recipient_name="张伟",
        message_id_domain="example.com",
        headers=None,
        message_id=message_id,
    ).as_bytes()


def human_mail() -> bytes:
    return build_plain_message(
        subject="关于会议材料",
        text="请把材料发给我。\n",
        html=None,
        sender=ATTENDEE,
        sender_name=None,
        recipient=ORGANIZER,
        recipient_name=None,
        message_id_domain="example.com",
        headers=None,
        message_id="<human-1@example.com>",
    ).as_bytes()


def admin_connection(server: RunningDovecot, ca_file: Path) -> imaplib.IMAP4:
    connection = imaplib.IMAP4(server.host, server.imap_port, timeout=5)
    connection.starttls(ssl_context=ssl.create_default_context(cafile=str(ca_file)))
    connection.login(IMAP_USER, IMAP_PASSWORD)
    return connection


def append(server: RunningDovecot, ca_file: Path, *messages: bytes) -> None:
    connection = admin_connection(server, ca_file)
    try:
        for raw in messages:
            typ, data = connection.append('"INBOX"', None, None, raw)
            assert typ == "OK", data
    finally:
        connection.logout()


def flags_by_uid(server: RunningDovecot, ca_file: Path, mailbox: str = "INBOX") -> dict[str, str]:
    connection = admin_connection(server, ca_file)
    try:
        typ, _data = connection.select(mailbox)
        assert typ == "OK"
        typ, data = connection.uid("FETCH", "1:*", "(UID FLAGS)")
        assert typ == "OK"
    finally:
        connection.logout()
    flags: dict[str, str] = {}
    for item in data:
        if not isinstance(item, bytes):
            continue
        match = re.search(rb"UID (\d+) FLAGS \(([^)]*)\)", item) or re.search(
            rb"FLAGS \(([^)]*)\) UID (\d+)", item
        )
        if match is None:
            continue
        first, second = match.group(1).decode(), match.group(2).decode()
        uid, value = (first, second) if first.isdigit() else (second, first)
        flags[uid] = value
    return flags


def starttls_settings(server: RunningDovecot, ca_file: Path, query: str = "") -> ImapSettings:
    extra = f"&{query}" if query else ""
    return ImapSettings.from_url(
        f"imap://{CREDENTIALS}@{server.host}:{server.imap_port}/INBOX"
        f"?starttls=true&cafile={ca_file}{extra}"
    )


async def test_fetch_mark_then_nothing(dovecot: RunningDovecot, ca_file: Path) -> None:
    plain_event = (DATA_DIR / "bad-no-method-param.eml").read_bytes()
    append(dovecot, ca_file, reply_mail("<reply-1@example.com>"), human_mail(), plain_event)
    settings = starttls_settings(dovecot, ca_file)

    calendars = await fetch_calendar_messages(settings, timeout=5)

    by_method = {calendar.method: calendar for calendar in calendars}
    assert len(calendars) == 2
    reply = by_method["REPLY"]
    assert reply.message_id == "<reply-1@example.com>"
    assert reply.sender == ATTENDEE
    assert reply.event_uids == ("confsvc-20261210-0002@example.com",)
    assert b"PARTSTAT=ACCEPTED" in reply.ics_bytes
    assert reply.imap_uid == "1"
    assert reply.imap_uidvalidity is not None
    plain = by_method[None]
    assert plain.is_plain_event
    assert plain.imap_uid == "3"

    flags = flags_by_uid(dovecot, ca_file)
    assert SKIPPED_KEYWORD in flags["2"]
    assert "\\Seen" not in flags["2"]
    assert "\\Seen" not in flags["1"]

    await mark_processed(settings, calendars, timeout=5)

    flags = flags_by_uid(dovecot, ca_file)
    for uid in ("1", "3"):
        assert PROCESSED_KEYWORD in flags[uid]
        assert "\\Seen" in flags[uid]
    assert await fetch_calendar_messages(settings, timeout=5) == []


async def test_new_message_after_processing(dovecot: RunningDovecot, ca_file: Path) -> None:
    settings = starttls_settings(dovecot, ca_file)
    append(dovecot, ca_file, reply_mail("<reply-1@example.com>"))
    first = await fetch_calendar_messages(settings, timeout=5)
    await mark_processed(settings, first, timeout=5)

    append(dovecot, ca_file, reply_mail("<reply-2@example.com>"))
    second = await fetch_calendar_messages(settings, timeout=5)

    assert [c.message_id for c in first] == ["<reply-1@example.com>"]
    assert [c.message_id for c in second] == ["<reply-2@example.com>"]


async def test_fetch_limit(dovecot: RunningDovecot, ca_file: Path) -> None:
    append(dovecot, ca_file, *(reply_mail(f"<reply-{n}@example.com>") for n in range(3)))
    settings = starttls_settings(dovecot, ca_file)

    batch = await fetch_calendar_messages(settings, limit=2, timeout=5)
    await mark_processed(settings, batch, timeout=5)
    rest = await fetch_calendar_messages(settings, limit=2, timeout=5)

    assert [c.message_id for c in batch] == ["<reply-0@example.com>", "<reply-1@example.com>"]
    assert [c.message_id for c in rest] == ["<reply-2@example.com>"]


async def test_oversize_message_skipped(dovecot: RunningDovecot, ca_file: Path) -> None:
    raw = reply_mail("<big@example.com>")
    append(dovecot, ca_file, raw)
    settings = starttls_settings(dovecot, ca_file)

    calendars = await fetch_calendar_messages(settings, max_message_bytes=len(raw) - 1, timeout=5)

    assert calendars == []
    assert SKIPPED_KEYWORD in flags_by_uid(dovecot, ca_file)["1"]


async def test_imaps_moves_to_chinese_folder(dovecot: RunningDovecot, ca_file: Path) -> None:
    append(dovecot, ca_file, reply_mail("<reply-1@example.com>"))
    folder = quote("已处理", safe="")
    settings = ImapSettings.from_url(
        f"imaps://{CREDENTIALS}@{dovecot.host}:{dovecot.imaps_port}/INBOX"
        f"?cafile={ca_file}&processed_folder={folder}"
    )

    calendars = await fetch_calendar_messages(settings, timeout=5)
    await mark_processed(settings, calendars, timeout=5)

    assert [c.method for c in calendars] == ["REPLY"]
    assert flags_by_uid(dovecot, ca_file, "INBOX") == {}
    # Modified UTF-7 (RFC 3501) of 已处理.
    moved = flags_by_uid(dovecot, ca_file, '"&XfJZBHQG-"')
    assert len(moved) == 1
    assert PROCESSED_KEYWORD in next(iter(moved.values()))
    assert await fetch_calendar_messages(settings, timeout=5) == []


async def test_stale_uidvalidity_rejected(dovecot: RunningDovecot, ca_file: Path) -> None:
    append(dovecot, ca_file, reply_mail("<reply-1@example.com>"))
    settings = starttls_settings(dovecot, ca_file)
    [calendar] = await fetch_calendar_messages(settings, timeout=5)
    assert calendar.imap_uidvalidity is not None
    stale = dataclasses.replace(calendar, imap_uidvalidity=calendar.imap_uidvalidity + 1)

    with pytest.raises(MailboxError) as caught:
        await mark_processed(settings, [stale], timeout=5)

    assert "UIDVALIDITY" in str(caught.value)
    assert PROCESSED_KEYWORD not in flags_by_uid(dovecot, ca_file)["1"]


async def test_wrong_password_rejected(
    dovecot: RunningDovecot, ca_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-Pa55word"
    settings = ImapSettings.from_url(
        f"imap://{IMAP_USER}:{wrong}@{dovecot.host}:{dovecot.imap_port}/INBOX"
        f"?starttls=true&cafile={ca_file}"
    )

    with pytest.raises(MailboxError) as caught:
        await fetch_calendar_messages(settings, timeout=5)

    assert "login failed" in str(caught.value)
    assert wrong not in str(caught.value)
    assert wrong not in caplog.text


async def test_untrusted_certificate_rejected(dovecot: RunningDovecot) -> None:
    settings = ImapSettings.from_url(
        f"imaps://{CREDENTIALS}@{dovecot.host}:{dovecot.imaps_port}/INBOX"
    )

    with pytest.raises(MailboxError):
        await fetch_calendar_messages(settings, timeout=5)


async def test_missing_mailbox_rejected(dovecot: RunningDovecot, ca_file: Path) -> None:
    settings = ImapSettings.from_url(
        f"imap://{CREDENTIALS}@{dovecot.host}:{dovecot.imap_port}/Replies"
        f"?starttls=true&cafile={ca_file}"
    )

    with pytest.raises(MailboxError) as caught:
        await fetch_calendar_messages(settings, timeout=5)

    assert "Replies" in str(caught.value)


async def test_server_down_rejected() -> None:
    settings = ImapSettings.from_url(f"imap://{CREDENTIALS}@127.0.0.1:{free_port()}/INBOX")

    with pytest.raises(MailboxError):
        await fetch_calendar_messages(settings, timeout=2)
