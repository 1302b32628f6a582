"""Sending through real aiosmtpd servers on 127.0.0.1: plain, AUTH, STARTTLS, implicit TLS."""

from __future__ import annotations

import asyncio
import logging
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import pytest
from mail_support import (
    ATTENDEE,
    ORGANIZER,
    SMTP_PASSWORD,
    SMTP_USER,
    CapturingHandler,
    StartSmtp,
    calendar_bytes,
    free_port,
    parse_mail,
)

from confsvc.errors import DeliveryError, PermanentDeliveryError
from confsvc.notify.mail import SmtpSettings, build_imip_message, send_message

# aiosmtpd warns whenever AUTH is required without STARTTLS: the "auth" mode on purpose,
# and the implicit TLS mode because aiosmtpd does not see that connection as TLS.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

SUBJECT = "邀请：2026年第4季度经营分析会"
CREDENTIALS = f"{quote(SMTP_USER, safe='')}:{quote(SMTP_PASSWORD, safe='')}"


def invitation(recipient: str = ATTENDEE) -> EmailMessage:
    return build_imip_message(
        ics=calendar_bytes(attendees=(recipient,)),
        method="REQUEST",
        subject=SUBJECT,
        text="张伟 邀请您参加会议\n",
        html="<p>张伟 邀请您参加会议</p>",
        sender=ORGANIZER,
        sender_name="张伟",
        recipient=recipient,
        recipient_name="陈静",
        message_id_domain="example.com",
        headers=None,
    )


def assert_received_invitation(content: bytes) -> None:
    parsed = parse_mail(content)
    assert str(parsed["Subject"]) == SUBJECT
    calendar_parts = [p for p in parsed.walk() if p.get_content_type() == "text/calendar"]
    assert len(calendar_parts) == 1
    assert calendar_parts[0].get_param("method") == "REQUEST"
    assert all(byte < 0x80 for byte in content)


async def test_plain_smtp_delivers(start_smtp: StartSmtp) -> None:
    server = start_smtp("plain")
    settings = SmtpSettings.from_url(f"smtp://127.0.0.1:{server.port}")

    await send_message(settings, invitation(), timeout=5)

    assert len(server.handler.received) == 1
    received = server.handler.received[0]
    assert received.mail_from == ORGANIZER
    assert received.rcpt_tos == [ATTENDEE]
    assert_received_invitation(received.content)


async def test_auth_smtp_delivers(start_smtp: StartSmtp, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = start_smtp("auth")
    settings = SmtpSettings.from_url(f"smtp://{CREDENTIALS}@127.0.0.1:{server.port}")

    await send_message(settings, invitation(), timeout=5)

    assert len(server.handler.received) == 1
    assert server.handler.received[0].authenticated_as == SMTP_USER
    assert SMTP_PASSWORD not in caplog.text


async def test_auth_required_without_credentials(start_smtp: StartSmtp) -> None:
    server = start_smtp("auth")
    settings = SmtpSettings.from_url(f"smtp://127.0.0.1:{server.port}")

    with pytest.raises(DeliveryError) as caught:
        await send_message(settings, invitation(), timeout=5)

    assert not isinstance(caught.value, PermanentDeliveryError)
    assert server.handler.received == []


async def test_wrong_password_not_logged(
    start_smtp: StartSmtp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = start_smtp("auth")
    wrong_password = "wrong-Pa55word"
    settings = SmtpSettings.from_url(f"smtp://{SMTP_USER}:{wrong_password}@127.0.0.1:{server.port}")

    with pytest.raises(DeliveryError) as caught:
        await send_message(settings, invitation(), timeout=5)

    assert "authentication failed" in str(caught.value)
    assert not isinstance(caught.value, PermanentDeliveryError)
    assert wrong_password not in str(caught.value)
    assert wrong_password not in caplog.text
    assert server.handler.received == []


async def test_starttls_delivers(start_smtp: StartSmtp, ca_file: Path) -> None:
    server = start_smtp("starttls")
    settings = SmtpSettings.from_url(
        f"smtp://{CREDENTIALS}@127.0.0.1:{server.port}?starttls=true&cafile={ca_file}"
    )

    await send_message(settings, invitation(), timeout=5)

    assert len(server.handler.received) == 1
    assert_received_invitation(server.handler.received[0].content)


async def test_starttls_untrusted_certificate_fails(start_smtp: StartSmtp) -> None:
    server = start_smtp("starttls")
    settings = SmtpSettings.from_url(f"smtp://{CREDENTIALS}@127.0.0.1:{server.port}?starttls=true")

    with pytest.raises(DeliveryError) as caught:
        await send_message(settings, invitation(), timeout=5)

    assert not isinstance(caught.value, PermanentDeliveryError)
    assert server.handler.received == []


async def test_plain_client_against_required_starttls(start_smtp: StartSmtp) -> None:
    server = start_smtp("starttls")
    settings = SmtpSettings.from_url(f"smtp://{CREDENTIALS}@127.0.0.1:{server.port}")

    with pytest.raises(DeliveryError):
        await send_message(settings, invitation(), timeout=5)

    assert server.handler.received == []


async def test_implicit_tls_delivers(start_smtp: StartSmtp, ca_file: Path) -> None:
    server = start_smtp("implicit_tls")
    settings = SmtpSettings.from_url(
        f"smtps://{CREDENTIALS}@127.0.0.1:{server.port}?cafile={ca_file}"
    )

    await send_message(settings, invitation(), timeout=5)

    assert len(server.handler.received) == 1
    assert server.handler.received[0].authenticated_as == SMTP_USER
    assert_received_invitation(server.handler.received[0].content)


async def test_implicit_tls_untrusted_certificate_fails(start_smtp: StartSmtp) -> None:
    server = start_smtp("implicit_tls")
    settings = SmtpSettings.from_url(f"smtps://{CREDENTIALS}@127.0.0.1:{server.port}")

    with pytest.raises(DeliveryError):
        await send_message(settings, invitation(), timeout=5)

    assert server.handler.received == []


async def test_server_down_then_up_delivers_once(start_smtp: StartSmtp) -> None:
    port = free_port()
    settings = SmtpSettings.from_url(f"smtp://127.0.0.1:{port}")
    message = invitation()

    with pytest.raises(DeliveryError) as caught:
        await send_message(settings, message, timeout=2)
    assert not isinstance(caught.value, PermanentDeliveryError)

    server = start_smtp("plain", port=port)
    await send_message(settings, message, timeout=5)

    assert len(server.handler.received) == 1
    assert parse_mail(server.handler.received[0].content)["Message-ID"] == message["Message-ID"]


async def test_recipient_550_is_permanent(start_smtp: StartSmtp) -> None:
    unknown = "nobody@example.com"
    handler = CapturingHandler(refuse_recipients={unknown: "550 5.1.1 User unknown"})
    server = start_smtp("plain", handler=handler)
    settings = SmtpSettings.from_url(f"smtp://127.0.0.1:{server.port}")

    with pytest.raises(PermanentDeliveryError) as caught:
        await send_message(settings, invitation(unknown), timeout=5)

    assert "550" in str(caught.value)
    assert unknown in str(caught.value)
    assert server.handler.received == []


async def test_recipient_450_is_retryable(start_smtp: StartSmtp) -> None:
    busy = "busy@example.com"
    handler = CapturingHandler(refuse_recipients={busy: "450 4.2.1 Mailbox busy, try later"})
    server = start_smtp("plain", handler=handler)
    settings = SmtpSettings.from_url(f"smtp://127.0.0.1:{server.port}")

    with pytest.raises(DeliveryError) as caught:
        await send_message(settings, invitation(busy), timeout=5)

    assert not isinstance(caught.value, PermanentDeliveryError)
    assert "450" in str(caught.value)


async def test_partial_refusal_is_permanent(start_smtp: StartSmtp) -> None:
    busy = "busy@example.com"
    handler = CapturingHandler(refuse_recipients={busy: "450 4.2.1 Mailbox busy"})
    server = start_smtp("plain", handler=handler)
    settings = SmtpSettings.from_url(f"smtp://127.0.0.1:{server.port}")

    with pytest.raises(PermanentDeliveryError) as caught:
        await send_message(settings, invitation(), timeout=5, recipients=[ATTENDEE, busy])

    assert busy in str(caught.value)
    assert len(server.handler.received) == 1
    assert server.handler.received[0].rcpt_tos == [ATTENDEE]


async def test_sender_553_is_permanent(start_smtp: StartSmtp) -> None:
    handler = CapturingHandler(refuse_senders={ORGANIZER: "553 5.7.1 Sender not allowed"})
    server = start_smtp("plain", handler=handler)
    settings = SmtpSettings.from_url(f"smtp://127.0.0.1:{server.port}")

    with pytest.raises(PermanentDeliveryError) as caught:
        await send_message(settings, invitation(), timeout=5)

    assert "553" in str(caught.value)


async def test_data_554_is_permanent_451_is_not(start_smtp: StartSmtp) -> None:
    handler = CapturingHandler(data_reply="554 5.6.0 Message content rejected")
    server = start_smtp("plain", handler=handler)
    settings = SmtpSettings.from_url(f"smtp://127.0.0.1:{server.port}")

    with pytest.raises(PermanentDeliveryError):
        await send_message(settings, invitation(), timeout=5)

    handler.data_reply = "451 4.3.0 Local error, try again"
    with pytest.raises(DeliveryError) as caught:
        await send_message(settings, invitation(), timeout=5)
    assert not isinstance(caught.value, PermanentDeliveryError)


async def test_silent_server_times_out() -> None:
    connections: list[asyncio.StreamWriter] = []

    async def accept_and_stay_silent(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        connections.append(writer)

    server = await asyncio.start_server(accept_and_stay_silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = SmtpSettings.from_url(f"smtp://127.0.0.1:{port}")
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(DeliveryError) as caught:
            await send_message(settings, invitation(), timeout=0.5)
        elapsed = loop.time() - started
    finally:
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()

    assert "timed out" in str(caught.value)
    assert len(connections) == 1
    assert elapsed < 3
