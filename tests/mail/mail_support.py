"""Shared constants and helpers for the e-mail tests."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "18-imip-mime-structure"

ORGANIZER = "zhang.wei@example.com"
ATTENDEE = "chen.jing@example.com"
SMTP_USER = "mailer"
SMTP_PASSWORD = "s3cret/pa:ss"  # contains characters that need percent-encoding in a URL
IMAP_USER = "replies"
IMAP_PASSWORD = "imap-pa$$word"


def calendar_bytes(
    *,
    method: str | None = "REQUEST",
    method_in_event: bool = False,
    organizer: str = ORGANIZER,
    sent_by: str | None = None,
    attendees: tuple[str, ...] = (ATTENDEE,),
    uid: str = "confsvc-20261210-0002@example.com",
    sequence: int = 0,
    summary: str = "2026年第4季度经营分析会",
    partstat: str = "NEEDS-ACTION",
) -> bytes:
    """Build a one-event VCALENDAR with CRLF line ends (no folding needed at these lengths)."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//confsvc//tests//ZH"]
    if method and not method_in_event:
        lines.append(f"METHOD:{method}")
    lines += [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20261201T020000Z",
        f"SEQUENCE:{sequence}",
        "DTSTART;TZID=Asia/Shanghai:20261210T140000",
        "DTEND;TZID=Asia/Shanghai:20261210T153000",
        f"SUMMARY:{summary}",
    ]
    if method and method_in_event:
        lines.append(f"METHOD:{method}")
    sent_by_param = f';SENT-BY="mailto:{sent_by}"' if sent_by else ""
    lines.append(f"ORGANIZER;CN=张伟{sent_by_param}:mailto:{organizer}")
    for attendee in attendees:
        lines.append(f"ATTENDEE;CN=陈静;PARTSTAT={partstat};RSVP=TRUE:mailto:{attendee}")
    lines += ["END:VEVENT", "END:VCALENDAR", ""]
    return "\r\n".join(lines).encode("utf-8")


def parse_mail(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    authenticated_as: str | None


@dataclass
class CapturingHandler:
    """aiosmtpd handler that stores each accepted message and refuses chosen addresses."""

    received: list[ReceivedMail] = field(default_factory=list)
    refuse_recipients: dict[str, str] = field(default_factory=dict)
    refuse_senders: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse_senders:
            return self.refuse_senders[address]
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse_recipients:
            return self.refuse_recipients[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply is not None:
            return self.data_reply
        content = envelope.original_content or b""
        login = session.auth_data
        self.received.append(
            ReceivedMail(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                content=content,
                authenticated_as=login.decode() if isinstance(login, bytes) else None,
            )
        )
        return "250 Message accepted for delivery"


def authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
) -> AuthResult:
    if (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    ):
        return AuthResult(success=True, auth_data=auth_data.login)
    return AuthResult(success=False, handled=False)


@dataclass
class RunningSmtp:
    handler: CapturingHandler
    port: int


StartSmtp = Callable[..., RunningSmtp]


@dataclass
class RunningDovecot:
    host: str
    imap_port: int
    imaps_port: int
    log_path: Path

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
