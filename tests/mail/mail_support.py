"""Shared constants and helpers for the e-mail tests."""

from __future__ import annotations

import email
import email.policy
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
import trustme
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


def _dovecot_config(root: Path, *, imap_port: int, imaps_port: int) -> str:
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = root
default_internal_group = root
default_login_user = dovenull
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
"""


def _wait_for_port(port: int, *, process: subprocess.Popen[bytes], deadline_s: float) -> bool:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                if sock.recv(5).startswith(b"* OK"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


@contextmanager
def run_dovecot(server_cert: trustme.LeafCert) -> Iterator[RunningDovecot]:
    """Start a private dovecot (imap with STARTTLS, and imaps) with one user and no mail.

    Needs the Debian package dovecot-imapd and root, because dovecot switches to the
    ``dovecot`` and ``dovenull`` users that the package creates.
    """
    binary = shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None
    )
    if binary is None:
        pytest.skip("dovecot is not installed (Debian package dovecot-imapd)")
    if os.geteuid() != 0:
        pytest.skip("the private dovecot instance needs root to switch users")
    try:
        mail_user = pwd.getpwnam("dovecot")
        pwd.getpwnam("dovenull")
    except KeyError:
        pytest.skip("the dovecot and dovenull users are missing (Debian package dovecot-core)")

    # Not pytest's tmp_path: its parents are mode 0700, which the dovenull login process
    # cannot traverse.
    root = Path(tempfile.mkdtemp(prefix="confsvc-dovecot-"))
    root.chmod(0o755)
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir()
    os.chown(root / "mail", mail_user.pw_uid, mail_user.pw_gid)
    os.chown(root / "home", mail_user.pw_uid, mail_user.pw_gid)
    (root / "passwd").write_text(f"{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}\n")
    server_cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
    server_cert.private_key_pem.write_to_path(str(root / "key.pem"))
    imap_port, imaps_port = free_port(), free_port()
    config = root / "dovecot.conf"
    config.write_text(_dovecot_config(root, imap_port=imap_port, imaps_port=imaps_port))

    process = subprocess.Popen(
        [binary, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    running = RunningDovecot(
        host="127.0.0.1", imap_port=imap_port, imaps_port=imaps_port, log_path=root / "dovecot.log"
    )
    try:
        if not _wait_for_port(imap_port, process=process, deadline_s=15):
            process.terminate()
            _out, err = process.communicate(timeout=10)
            pytest.fail(
                f"dovecot did not start:\n{err.decode(errors='replace')}\n{running.log_text()}"
            )
        yield running
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(root, ignore_errors=True)
