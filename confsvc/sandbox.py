"""Local mail sink and CalDAV server for ``confsvc serve --demo``.

The demo must show invitations arriving without any outside server: an aiosmtpd sink
stores every message in a Maildir under the data folder, and a Radicale process serves
one calendar per person. ``/demo/mailbox`` lists what arrived, with the calendar parts.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import html
import logging
import mailbox
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from litestar import Response, get

from confsvc.settings import CalDAVSettings, Settings

logger = logging.getLogger(__name__)

CALENDAR_TEMPLATE = "{base}/{email}/calendar/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _MaildirHandler:
    def __init__(self, folder: Path) -> None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        self.box = mailbox.Maildir(folder, create=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook name
        self.box.add(envelope.original_content or envelope.content)
        logger.info("demo mail stored recipients=%d", len(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


@dataclass
class DemoSandbox:
    data_dir: Path
    smtp: Controller | None = None
    radicale: subprocess.Popen[bytes] | None = None
    smtp_port: int = 0
    caldav_port: int = 0

    @property
    def maildir(self) -> Path:
        return self.data_dir / "demo-mail"

    def start(self) -> None:
        """Start the SMTP sink and Radicale on free loopback ports."""
        self.smtp_port = free_port()
        self.smtp = Controller(_MaildirHandler(self.maildir), hostname="127.0.0.1", port=self.smtp_port)
        self.smtp.start()

        self.caldav_port = free_port()
        storage = self.data_dir / "demo-caldav"
        storage.mkdir(parents=True, exist_ok=True)
        self.radicale = subprocess.Popen(
            [
                sys.executable, "-m", "radicale",
                "--server-hosts", f"127.0.0.1:{self.caldav_port}",
                "--auth-type", "none",
                "--rights-type", "authenticated",
                "--storage-filesystem-folder", str(storage),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{self.caldav_port}/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the demo CalDAV server did not start")
        logger.info("demo sandbox started smtp_port=%d caldav_port=%d", self.smtp_port, self.caldav_port)

    def stop(self) -> None:
        if self.smtp is not None:
            self.smtp.stop()
        if self.radicale is not None:
            self.radicale.terminate()
            self.radicale.wait(timeout=10)
        logger.info("demo sandbox stopped")

    def apply(self, settings: Settings) -> Settings:
        """Return ``settings`` pointed at the sandbox servers."""
        mail = dataclasses.replace(settings.mail, smtp_url=f"smtp://127.0.0.1:{self.smtp_port}")
        caldav = CalDAVSettings(
            url=f"http://127.0.0.1:{self.caldav_port}",
            username="confsvc",
            password="demo",
            calendar_template=CALENDAR_TEMPLATE,
        )
        return dataclasses.replace(settings, mail=mail, caldav=caldav)

    def create_calendars(self, emails: list[str]) -> None:
        """Create each person's calendar collection; existing ones are left alone."""
        base = f"http://127.0.0.1:{self.caldav_port}"
        body = (
            '<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>confsvc</D:displayname>'
            "</D:prop></D:set></C:mkcalendar>"
        )
        with httpx.Client(auth=("confsvc", "demo"), timeout=10) as client:
            for address in emails:
                url = CALENDAR_TEMPLATE.format(base=base, email=address)
                client.request("MKCOL", url.rsplit("/calendar/", 1)[0] + "/")
                response = client.request("MKCALENDAR", url, content=body, headers={"Content-Type": "application/xml"})
                if response.status_code not in (201, 405, 409):
                    logger.warning("demo calendar not created email=%s status=%d", address, response.status_code)


def mailbox_page(folder: Path) -> Any:
    """Build the ``/demo/mailbox`` route that lists the messages in ``folder``."""

    @get("/demo/mailbox", operation_id="demoMailbox", include_in_schema=False, sync_to_thread=True)
    def show_mailbox() -> Response[str]:
        box = mailbox.Maildir(folder, create=True)
        rows = []
        for key, raw in sorted(box.items(), key=lambda item: item[1].get_date(), reverse=True)[:200]:
            message = email.message_from_bytes(bytes(raw), policy=email.policy.default)
            calendars = [
                part.get_content() for part in message.walk() if part.get_content_type() == "text/calendar"
            ]
            method = next((part.get_param("method") for part in message.walk() if part.get_content_type() == "text/calendar"), "")
            preview = html.escape(calendars[0][:1500]) if calendars else ""
            rows.append(
                f"<tr><td>{html.escape(str(message['Date'] or ''))}</td><td>{html.escape(str(message['To'] or ''))}</td>"
                f"<td>{html.escape(str(message['Subject'] or ''))}</td><td>{html.escape(str(method or ''))}</td>"
                f"<td><details><summary>{len(calendars)}</summary><pre>{preview}</pre></details></td></tr>"
            )
        page = (
            "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>confsvc demo mailbox</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #999;padding:4px 8px;vertical-align:top}pre{font-size:12px}</style></head><body>"
            f"<h1>演示邮箱 / Demo mailbox</h1><p>{len(rows)} messages (newest first)</p>"
            "<table><tr><th>Date</th><th>To</th><th>Subject</th><th>Method</th><th>text/calendar</th></tr>"
            + "".join(rows)
            + "</table></body></html>"
        )
        return Response(page, media_type="text/html")

    return show_mailbox
