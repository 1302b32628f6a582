"""The reply mailbox sweep against a private dovecot: an e-mailed REPLY sets PARTSTAT once."""

from __future__ import annotations

import dataclasses
import imaplib
import ssl
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
    run_dovecot,
)


@dataclasses.dataclass(frozen=True)
class Mailbox:
    server: RunningDovecot
    ca_file: Path


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[Mailbox]:
    """A private dovecot with one empty mailbox; skipped where the e-mail tests skip."""
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with run_dovecot(ca.issue_cert("127.0.0.1", "localhost")) as server:
        yield Mailbox(server=server, ca_file=ca_file)


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
