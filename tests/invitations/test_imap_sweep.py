"""The reply mailbox sweep against a private dovecot: an e-mailed REPLY sets PARTSTAT once."""

from __future__ import annotations

import dataclasses
import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import pytest
import trustme
from litestar.testing import AsyncTestClient

from confsvc.db.engine import create_engine, create_session_factory
from confsvc.notify.sweeps import ReplyMailboxPoller
from confsvc.settings import Settings
from tests.conftest import Account
from tests.invitations.support import ZH_ATTENDEE, book_meeting
from tests.mail.mail_support import (
    IMAP_PASSWORD,
    IMAP_USER,
    RunningDovecot,
    calendar_bytes,
    free_port,
)


@dataclasses.dataclass(frozen=True)
class Mailbox:
    server: RunningDovecot
    ca_file: Path


def _config(root: Path, *, imap_port: int, imaps_port: int) -> str:
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


def _ready(port: int, process: subprocess.Popen[bytes], deadline_s: float) -> bool:
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


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A private dovecot with one empty mailbox; skipped where the e-mail tests skip."""
    binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
    if binary is None:
        pytest.skip("dovecot is not installed (Debian package dovecot-imapd)")
    if os.geteuid() != 0:
        pytest.skip("the private dovecot instance needs root to switch users")
    try:
        mail_user = pwd.getpwnam("dovecot")
        pwd.getpwnam("dovenull")
    except KeyError:
        pytest.skip("the dovecot and dovenull users are missing (Debian package dovecot-core)")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    # Not pytest's tmp_path: its 0700 parents block the dovenull login process.
    root = Path(tempfile.mkdtemp(prefix="confsvc-replies-dovecot-"))
    root.chmod(0o755)
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir()
    os.chown(root / "mail", mail_user.pw_uid, mail_user.pw_gid)
    os.chown(root / "home", mail_user.pw_uid, mail_user.pw_gid)
    (root / "passwd").write_text(f"{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}\n")
    cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
    cert.private_key_pem.write_to_path(str(root / "key.pem"))
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    imap_port, imaps_port = free_port(), free_port()
    (root / "dovecot.conf").write_text(_config(root, imap_port=imap_port, imaps_port=imaps_port))
    process = subprocess.Popen([binary, "-F", "-c", str(root / "dovecot.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server = RunningDovecot(host="127.0.0.1", imap_port=imap_port, imaps_port=imaps_port, log_path=root / "dovecot.log")
    try:
        if not _ready(imap_port, process, 15):
            process.terminate()
            _out, err = process.communicate(timeout=10)
            pytest.fail(f"dovecot did not start:\n{err.decode(errors='replace')}\n{server.log_text()}")
        yield Mailbox(server=server, ca_file=root / "ca.pem")
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


def _append(box: Mailbox, raw: bytes) -> None:
    connection = imaplib.IMAP4(box.server.host, box.server.imap_port, timeout=5)
    try:
        connection.starttls(ssl_context=ssl.create_default_context(cafile=str(box.ca_file)))
        connection.login(IMAP_USER, IMAP_PASSWORD)
        typ, data = connection.append('"INBOX"', None, None, raw)
        assert typ == "OK", data
    finally:
        connection.logout()


def _reply_mail(*, uid: str, sequence: int, organiser: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"李娜 <{ZH_ATTENDEE}>"
    message["To"] = organiser
    message["Subject"] = "已接受: 季度经营分析会"
    message["Message-ID"] = "<accepted-1@example.com>"
    message.set_content("我会参加。")
    ics = calendar_bytes(
        method="REPLY", organizer=organiser, attendees=(ZH_ATTENDEE,), uid=uid, sequence=sequence, partstat="ACCEPTED"
    )
    message.add_alternative(ics, maintype="text", subtype="calendar", params={"method": "REPLY", "charset": "utf-8"})
    return message.as_bytes()


async def _partstat(settings: Settings, client: AsyncTestClient, organiser: Account, meeting_id: str) -> str:
    response = await client.get(f"/api/v1/meetings/{meeting_id}", headers=organiser.headers)
    assert response.status_code == 200, response.text
    return next(a["partstat"] for a in response.json()["attendees"] if a["email"] == ZH_ATTENDEE)


async def test_reply_sweep_applies_accept_once(
    mailbox: Mailbox, client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account
) -> None:
    meeting = await book_meeting(client, settings, admin, organiser)
    assert await _partstat(settings, client, organiser, meeting["id"]) == "NEEDS-ACTION"
    _append(mailbox, _reply_mail(uid=meeting["uid"], sequence=meeting["sequence"], organiser=settings.mail.mail_from))

    credentials = f"{quote(IMAP_USER, safe='')}:{quote(IMAP_PASSWORD, safe='')}"
    imap_url = f"imap://{credentials}@127.0.0.1:{mailbox.server.imap_port}/INBOX?starttls=true&cafile={mailbox.ca_file}"
    sweep_settings = dataclasses.replace(settings, mail=dataclasses.replace(settings.mail, imap_url=imap_url))
    engine = create_engine(sweep_settings.database)
    try:
        poller = ReplyMailboxPoller(sweep_settings, create_session_factory(engine))
        assert await poller.run_once() == 1
        assert await _partstat(settings, client, organiser, meeting["id"]) == "ACCEPTED"
        # The message is marked processed: a second run reads nothing and changes nothing.
        assert await poller.run_once() == 0
    finally:
        await engine.dispose()
    assert await _partstat(settings, client, organiser, meeting["id"]) == "ACCEPTED"
