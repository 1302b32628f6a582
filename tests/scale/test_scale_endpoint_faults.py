"""CalDAV and IM endpoints that are down, slow or failing: the outbox retries with backoff,
dead-letters after the last attempt, logs the outbox id, and keeps delivering other work.

CalDAV is a real Radicale behind ``TcpProxy``, cut for "down" and delayed for "slow". The
IM robots are a loopback HTTP server that replies like WeCom and DingTalk.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import OutboxMessage
from confsvc.notify.delivery import CalDAVHandler, ChannelHandler, EmailHandler
from confsvc.notify.outbox import OutboxDispatcher, enqueue
from confsvc.settings import CalDAVSettings, MailSettings, OutboxSettings, Settings
from scale_support import RadicaleProcess, SmtpSink, TcpProxy, free_port

OUTBOX = OutboxSettings(max_attempts=3, base_delay_seconds=1, max_delay_seconds=60, lease_seconds=30)
ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//confsvc//scale//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
    "DTSTAMP:20270101T000000Z\r\nDTSTART:20270301T020000Z\r\nDTEND:20270301T030000Z\r\nSEQUENCE:0\r\n"
    "SUMMARY:故障演练\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


class Clock:
    """The dispatcher's clock: real time plus an offset that a test moves past a backoff."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


# -- loopback IM robots ------------------------------------------------------------------


@dataclasses.dataclass
class RobotReply:
    status: int = 200
    body: dict[str, object] = dataclasses.field(default_factory=lambda: {"errcode": 0, "errmsg": "ok"})
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    delay_s: float = 0.0


class RobotServer:
    """WeCom (``?key=``) and DingTalk (``?access_token=``) robots on 127.0.0.1, by key."""

    def __init__(self) -> None:
        self.replies: dict[str, RobotReply] = {}
        self.received: list[str] = []
        self.port = free_port()
        robots = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's method name
                query = parse_qs(urlsplit(self.path).query)
                key = (query.get("key") or query.get("access_token") or [""])[0]
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                robots.received.append(key)
                reply = robots.replies.get(key, RobotReply())
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                body = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up after its timeout

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RobotServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def caldav(tmp_path: Path) -> Iterator[tuple[RadicaleProcess, TcpProxy]]:
    radicale = RadicaleProcess(tmp_path / "radicale")
    radicale.start()
    proxy = TcpProxy("127.0.0.1", radicale.port)
    proxy.start()
    yield radicale, proxy
    proxy.stop()
    radicale.stop()


@pytest.fixture
async def sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(settings.database)
    yield create_session_factory(engine)
    await engine.dispose()


def _with_endpoints(settings: Settings, smtp: SmtpSink, caldav_url: str | None = None) -> Settings:
    return dataclasses.replace(
        settings,
        outbox=OUTBOX,
        mail=MailSettings(smtp_url=smtp.url, mail_from="meetings@example.com"),
        caldav=CalDAVSettings(
            url=caldav_url, username=RadicaleProcess.username, password=RadicaleProcess.password,
            calendar_template="{base}/confsvc/calendar/",
        ),
    )


async def _queue(sessions: async_sessionmaker[AsyncSession], rows: list[tuple[str, str, dict[str, object]]]) -> dict[str, uuid.UUID]:
    async with sessions() as session:
        for key, channel, payload in rows:
            await enqueue(session, key=key, channel=channel, recipient="zhang.wei@example.com", payload=payload)
        await session.commit()
        found = await session.execute(select(OutboxMessage.idempotency_key, OutboxMessage.id))
        return {key: row_id for key, row_id in found.all()}


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> dict[str, OutboxMessage]:
    async with sessions() as session:
        return {row.idempotency_key: row for row in await session.scalars(select(OutboxMessage))}


def _mail(key: str) -> tuple[str, str, dict[str, object]]:
    return key, "email", {"subject": "通知", "text": "正文\n", "language": "zh-CN"}


def _caldav(key: str) -> tuple[str, str, dict[str, object]]:
    uid = f"{key}@example.com"
    return key, "caldav", {"action": "put", "uid": uid, "ics": ICS.format(uid=uid), "sequence": 0,
                           "dtstamp": "2027-01-01T00:00:00+00:00"}


def _robot(key: str, kind: str, robot_key: str, base_url: str) -> tuple[str, str, dict[str, object]]:
    config: dict[str, object] = {"base_url": base_url, "timeout": 0.5}
    if kind == "wecom":
        config["key"] = robot_key
    else:
        config.update(access_token=robot_key, secret="scale-dingtalk-secret")
    return key, "im", {"kind": kind, "config": config, "title": "提醒", "text": "请按时参会", "format": "plain"}


def _log_lines(caplog: pytest.LogCaptureFixture, words: str, delivery_id: uuid.UUID) -> list[str]:
    return [r.getMessage() for r in caplog.records if words in r.getMessage() and f"delivery_id={delivery_id}" in r.getMessage()]


async def _make_calendar(radicale: RadicaleProcess) -> None:
    base = f"http://127.0.0.1:{radicale.port}/"
    async with httpx.AsyncClient(auth=(radicale.username, radicale.password)) as client:
        # Radicale creates the account's own collection on first access.
        await client.request("PROPFIND", f"{base}confsvc/", headers={"Depth": "0"})
        assert (await client.request("MKCALENDAR", f"{base}confsvc/calendar/")).status_code == 201


# -- CalDAV ---------------------------------------------------------------------------------


async def test_scale_caldav_down_dead_letters_and_mail_flows(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], smtp: SmtpSink,
    caldav: tuple[RadicaleProcess, TcpProxy], caplog: pytest.LogCaptureFixture,
) -> None:
    radicale, proxy = caldav
    await _make_calendar(radicale)
    endpoints = _with_endpoints(settings, smtp, f"http://127.0.0.1:{proxy.port}/")
    clock = Clock()
    dispatcher = OutboxDispatcher(
        sessions, OUTBOX, {"email": EmailHandler(endpoints), "caldav": CalDAVHandler(endpoints, timeout=2)}, clock=clock
    )
    ids = await _queue(sessions, [_caldav("cal-a"), _caldav("cal-b"), _mail("mail-a"), _mail("mail-b")])
    proxy.cut()
    caplog.set_level(logging.INFO, logger="confsvc.notify")

    first = await dispatcher.run_once()
    assert first.sent == 2, first  # both e-mails, while CalDAV refuses connections
    assert first.retried == 1
    assert first.postponed == 1
    assert len(smtp.message_ids()) == 2
    rows = await _rows(sessions)
    failed = next(row for row in (rows["cal-a"], rows["cal-b"]) if row.attempts == 1)
    waiting = rows["cal-b"] if failed is rows["cal-a"] else rows["cal-a"]
    assert failed.status == "pending"
    assert "ConnectError" in (failed.last_error or "")
    assert waiting.status == "pending"  # postponed, no attempt counted
    assert waiting.attempts == 0
    assert _log_lines(caplog, "retry scheduled", failed.id), caplog.text

    # Each further sweep makes one attempt per lane while the server stays down, with doubling waits.
    for _sweep in range(10):
        clock.advance(OUTBOX.max_delay_seconds)
        await dispatcher.run_once()
    rows = await _rows(sessions)
    for key in ("cal-a", "cal-b"):
        assert rows[key].status == "dead", rows[key].last_error
        assert rows[key].attempts == OUTBOX.max_attempts
        assert _log_lines(caplog, "outbox message dead", ids[key]), caplog.text
    messages = [record.getMessage() for record in caplog.records]
    delays = [line for line in messages if f"delivery_id={ids['cal-a']}" in line and "delay_s=" in line]
    assert [line.split("delay_s=")[1].split()[0] for line in delays] == ["1", "2"]

    # Back up: a new write reaches Radicale through the proxy.
    proxy.restore()
    await _queue(sessions, [_caldav("cal-c")])
    assert (await dispatcher.run_once()).sent == 1
    stored = httpx.get(
        f"http://127.0.0.1:{radicale.port}/confsvc/calendar/", auth=(radicale.username, radicale.password)
    )
    assert stored.status_code in (200, 207)


async def test_scale_caldav_slow_times_out_without_holding_mail(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], smtp: SmtpSink,
    caldav: tuple[RadicaleProcess, TcpProxy], caplog: pytest.LogCaptureFixture,
) -> None:
    radicale, proxy = caldav
    await _make_calendar(radicale)
    endpoints = _with_endpoints(settings, smtp, f"http://127.0.0.1:{proxy.port}/")
    dispatcher = OutboxDispatcher(
        sessions, OUTBOX, {"email": EmailHandler(endpoints), "caldav": CalDAVHandler(endpoints, timeout=0.5)}
    )
    await _queue(sessions, [_caldav(f"slow-{n}") for n in range(4)] + [_mail("mail-a")])
    proxy.delay_s = 3.0
    caplog.set_level(logging.INFO, logger="confsvc.notify")

    started = time.monotonic()
    report = await dispatcher.run_once()
    elapsed = time.monotonic() - started

    assert report.sent == 1
    assert len(smtp.message_ids()) == 1
    assert report.retried == 1
    assert report.postponed == 3
    # One 0.5 s timeout for the lane, not one per row.
    assert elapsed < 2.5, elapsed
    rows = await _rows(sessions)
    timed_out = [row for key, row in rows.items() if key.startswith("slow-") and row.attempts == 1]
    assert len(timed_out) == 1
    assert "timed out" in (timed_out[0].last_error or "")
    assert _log_lines(caplog, "retry scheduled", timed_out[0].id)
    assert any("postponed" in r.getMessage() and "lane=caldav" in r.getMessage() for r in caplog.records)


# -- IM robots ------------------------------------------------------------------------------


async def test_scale_im_server_error_dead_letters(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], smtp: SmtpSink, caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    with RobotServer() as robots:
        robots.replies["broken"] = RobotReply(status=500, body={"error": "internal"})
        robots.replies["overloaded"] = RobotReply(status=503, body={"error": "busy"}, headers={"Retry-After": "999999"})
        endpoints = _with_endpoints(settings, smtp)
        dispatcher = OutboxDispatcher(
            sessions, OUTBOX, {"email": EmailHandler(endpoints), "im": ChannelHandler()}, clock=clock
        )
        ids = await _queue(sessions, [
            _robot("wecom-500", "wecom", "broken", robots.base_url),
            _robot("dingtalk-ok", "dingtalk", "fine-token", robots.base_url),
            _mail("mail-a"),
        ])
        caplog.set_level(logging.INFO, logger="confsvc.notify")

        first = await dispatcher.run_once()
        assert first.sent == 2, first  # DingTalk and e-mail go through
        assert first.retried == 1, first
        assert robots.received.count("fine-token") == 1
        for _sweep in range(OUTBOX.max_attempts):
            clock.advance(OUTBOX.max_delay_seconds)
            await dispatcher.run_once()
        rows = await _rows(sessions)
        assert rows["wecom-500"].status == "dead"
        assert rows["wecom-500"].attempts == OUTBOX.max_attempts
        assert "HTTP 500" in (rows["wecom-500"].last_error or "")
        assert robots.received.count("broken") == OUTBOX.max_attempts
        assert _log_lines(caplog, "outbox message dead", ids["wecom-500"])

        # A 503 whose Retry-After exceeds the maximum delay waits the maximum delay.
        before = clock()
        overloaded = await _queue(sessions, [_robot("wecom-503", "wecom", "overloaded", robots.base_url)])
        await dispatcher.run_once()
        row = (await _rows(sessions))["wecom-503"]
    assert row.status == "pending"
    assert row.attempts == 1
    waited = (row.next_attempt_at - before).total_seconds()
    assert OUTBOX.max_delay_seconds - 1 <= waited <= OUTBOX.max_delay_seconds + 5, waited
    assert _log_lines(caplog, "retry scheduled", overloaded["wecom-503"])


async def test_scale_im_rate_limit_and_slow_robot(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], smtp: SmtpSink, caplog: pytest.LogCaptureFixture,
) -> None:
    with RobotServer() as robots:
        robots.replies["throttled"] = RobotReply(status=429, body={"errcode": 45009}, headers={"Retry-After": "20"})
        robots.replies["sleepy"] = RobotReply(delay_s=2.0)
        endpoints = _with_endpoints(settings, smtp)
        dispatcher = OutboxDispatcher(sessions, OUTBOX, {"email": EmailHandler(endpoints), "im": ChannelHandler()})
        ids = await _queue(sessions, [
            _robot("wecom-429", "wecom", "throttled", robots.base_url),
            _robot("wecom-later", "wecom", "throttled", robots.base_url),
            _robot("dingtalk-slow", "dingtalk", "sleepy", robots.base_url),
            _mail("mail-a"),
        ])
        caplog.set_level(logging.INFO, logger="confsvc.notify")
        started = datetime.now(UTC)
        elapsed = time.monotonic()
        report = await dispatcher.run_once()
        elapsed = time.monotonic() - elapsed
        rows = await _rows(sessions)

    assert report.sent == 1  # the e-mail is not held up
    assert len(smtp.message_ids()) == 1
    assert elapsed < 2.0, elapsed  # the slow robot cost one 0.5 s timeout
    throttled = rows["wecom-429"] if rows["wecom-429"].attempts else rows["wecom-later"]
    postponed = rows["wecom-later"] if throttled is rows["wecom-429"] else rows["wecom-429"]
    assert throttled.status == "pending"
    assert "rate limited" in (throttled.last_error or "")
    # Retry-After (20 s) outweighs the 1 s backoff.
    assert (throttled.next_attempt_at - started).total_seconds() >= 19
    assert postponed.status == "pending"
    assert postponed.attempts == 0
    slow = rows["dingtalk-slow"]
    assert slow.status == "pending"
    assert slow.attempts == 1
    assert "timed out" in (slow.last_error or "")
    assert _log_lines(caplog, "retry scheduled", ids["dingtalk-slow"])
    assert _log_lines(caplog, "retry scheduled", throttled.id)
