"""Invitation delivery benchmark: one meeting with 500 attendees.

Measures, in one run on 127.0.0.1, the time from committing the booking until the
outbox has delivered every iMIP e-mail to an aiosmtpd sink and every CalDAV event to a
Radicale server, against the same number of bare sends in one loop (one aiosmtplib
message per attendee, one HTTP PUT per calendar) with the same payloads.

Usage: python bench/invitations.py [--attendees 500] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import platform
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosmtplib
import httpx
from aiosmtpd.controller import Controller

from confsvc.booking.invitations import invitation_ics
from confsvc.booking.schemas import AttendeeIn, MeetingCreate
from confsvc.booking.services import MeetingService
from confsvc.bridges.schemas import BridgeCreate
from confsvc.bridges.services import BridgeService
from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.migrate import upgrade
from confsvc.db.models import Person
from confsvc.directory.schemas import PersonCreate
from confsvc.directory.services import DirectoryService
from confsvc.notify.delivery import build_handlers
from confsvc.notify.mail import build_imip_message
from confsvc.notify.outbox import OutboxDispatcher
from confsvc.sandbox import DemoSandbox, free_port
from confsvc.settings import BookingSettings, Settings


class CountingSink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802 - aiosmtpd hook
        self.count += 1
        return "250 OK"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attendees", type=int, default=500)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="confsvc-bench-"))
    sandbox = DemoSandbox(folder)
    sandbox.start()
    sink = CountingSink()
    smtp_port = free_port()
    smtp = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    try:
        base = Settings.from_env(
            {"CONFSVC_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}", "CONFSVC_DATA_DIR": str(folder)},
            booking=BookingSettings(max_attendees=5000),
        )
        settings = sandbox.apply(base)
        settings = dataclasses.replace(settings, mail=dataclasses.replace(settings.mail, smtp_url=f"smtp://127.0.0.1:{smtp_port}"))
        await asyncio.to_thread(upgrade, settings.database)
        engine = create_engine(settings.database)
        sessions = create_session_factory(engine)

        emails = [f"p{index:04d}@bench.example.com" for index in range(args.attendees)]
        async with sessions() as session:
            directory = DirectoryService(session)
            organiser = await directory.create(PersonCreate(email="organiser@bench.example.com", name="组织者", roles=["organiser"]))
            for address in emails:
                session.add(Person(email=address, name=f"参会人{address[1:5]}", roles=["member"]))
            await BridgeService(session, settings.booking).create(BridgeCreate(name="大会议桥", capacity=args.attendees + 10))
            await session.commit()
        await asyncio.to_thread(sandbox.create_calendars, [*emails, "organiser@bench.example.com"])

        start = datetime.now(UTC) + timedelta(days=3)
        async with sessions() as session:
            organiser = await session.get(Person, organiser.id)
            meeting = await MeetingService(session, settings).create(
                MeetingCreate(
                    title="全员电话会议", starts_at=start, duration_minutes=60,
                    attendees=[AttendeeIn(email=address) for address in emails],
                ),
                caller=organiser,
            )
            await session.commit()
            ics = invitation_ics(meeting, settings, recipient=emails[0])
            uid = meeting.uid

        started = time.perf_counter()
        report = await OutboxDispatcher(sessions, settings.outbox, build_handlers(settings)).run_until_idle(max_rounds=1000)
        outbox_seconds = time.perf_counter() - started
        outbox_mail = sink.count
        await engine.dispose()

        # The bare loop: the same number of messages and PUTs, built and sent one after another.
        sink.count = 0
        started = time.perf_counter()
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_port) as client:
            for address in [*emails, "organiser@bench.example.com"][:outbox_mail]:
                message = build_imip_message(
                    ics=ics, method="REQUEST", subject="全员电话会议", text="请参加", html=None,
                    sender=settings.mail.mail_from, sender_name="confsvc", recipient=address, recipient_name=None,
                    message_id_domain="bench.example.com",
                )
                await client.send_message(message)
        caldav_count = report.sent - outbox_mail
        async with httpx.AsyncClient(auth=("confsvc", "demo"), timeout=30) as client:
            for address in [*emails, "organiser@bench.example.com"][:caldav_count]:
                # Another UID, because the calendar already holds the outbox's copy of this event.
                bare_uid = f"bare-{uuid.uuid4().hex}"
                body = ics.replace(b"METHOD:REQUEST\r\n", b"").replace(uid.encode(), bare_uid.encode())
                url = f"{settings.caldav.url}/{address}/calendar/{bare_uid}.ics"
                response = await client.put(url, content=body, headers={"Content-Type": "text/calendar", "If-None-Match": "*"})
                response.raise_for_status()
        bare_seconds = time.perf_counter() - started
    finally:
        smtp.stop()
        sandbox.stop()

    machine = f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    lines = [
        f"Machine: {machine}. Command: `python bench/invitations.py --attendees {args.attendees}`. SQLite database, aiosmtpd and Radicale on 127.0.0.1.",
        "",
        "| measurement | e-mails | CalDAV writes | seconds |",
        "|---|---:|---:|---:|",
        f"| outbox delivery after booking | {outbox_mail} | {caldav_count} | {outbox_seconds:.2f} |",
        f"| bare loop, same messages | {outbox_mail} | {caldav_count} | {bare_seconds:.2f} |",
        "",
        f"Outbox over bare loop: {outbox_seconds / bare_seconds:.2f}x. Delivery report: {report.sent} sent, {report.retried} retried, {report.dead} dead.",
    ]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with args.markdown.open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    asyncio.run(main())
