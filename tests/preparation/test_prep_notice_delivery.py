"""End to end: a failing scheduled check reaches a WeCom robot fake and the SMTP sink."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from confsvc.app import create_app
from confsvc.db.engine import create_engine, create_session_factory
from confsvc.notify.sweeps import build_dispatcher
from confsvc.preparation.services import CheckSweep
from confsvc.settings import MailSettings, OutboxSettings, Settings
from tests.channels.channel_fakes import WECOM_KEY, LoopbackServer, RecordedRequest, Reply, json_reply
from tests.conftest import create_account, make_settings
from tests.outbox.sink import SmtpSink, text_body
from tests.preparation.conftest import Cast, add_static_bridge, book_meeting, future_start


@pytest.fixture
def wecom_robot() -> Iterator[LoopbackServer]:
    """WeCom group robot on loopback: errcode 93000 for a wrong key, 0 otherwise."""

    def handle(request: RecordedRequest) -> Reply:
        if request.path != "/cgi-bin/webhook/send":
            return 404, {}, b""
        if request.query.get("key") != [WECOM_KEY]:
            return json_reply(200, {"errcode": 93000, "errmsg": "invalid webhook url"})
        payload = request.json()
        if payload.get("msgtype") not in ("text", "markdown"):
            return json_reply(200, {"errcode": 40008, "errmsg": "invalid message type"})
        return json_reply(200, {"errcode": 0, "errmsg": "ok"})

    server = LoopbackServer(handle)
    server.start()
    yield server
    server.stop()
    assert server.handler_errors == []


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


async def test_failing_check_reaches_wecom_and_mail(
    db_url: str, tmp_path: Path, wecom_robot: LoopbackServer, smtp_sink: SmtpSink
) -> None:
    settings: Settings = dataclasses.replace(
        make_settings(db_url, tmp_path),
        mail=MailSettings(smtp_url=smtp_sink.url, mail_from="meetings@example.com"),
        outbox=OutboxSettings(base_delay_seconds=0),
    )
    cast = Cast(
        admin=await create_account(settings, "admin@example.com", "管理员", ["admin"]),
        organiser=await create_account(settings, "zhang.wei@example.com", "张伟", ["organiser"]),
        chair=await create_account(settings, "chen.jing@example.com", "陈静", ["member"]),
        secretary=await create_account(settings, "wang.fang@example.com", "王芳", ["secretary"]),
        attendee=await create_account(settings, "li.na@example.com", "李娜", ["member"]),
        outsider=await create_account(settings, "zhao.lei@example.com", "赵磊", ["member"]),
    )
    app = create_app(settings, start_scheduler=False)
    async with AsyncTestClient(app=app) as client:
        await add_static_bridge(client, cast.admin)
        meeting = await book_meeting(client, cast, starts_at=future_start(days=2), title="预算评审会")
        channel = {"channels": [{"kind": "wecom", "config": {"key": WECOM_KEY, "base_url": wecom_robot.base_url}}]}
        denied = await client.put(f"/api/v1/people/{cast.organiser.id}/channels", json=channel, headers=cast.attendee.headers)
        assert denied.status_code == 404
        invalid = await client.put(
            f"/api/v1/people/{cast.organiser.id}/channels", json={"channels": [{"kind": "wecom", "config": {}}]}, headers=cast.admin.headers
        )
        assert invalid.status_code == 400
        assert invalid.json()["invalid_params"][0]["name"] == "channels[0].config.key"
        saved = await client.put(f"/api/v1/people/{cast.organiser.id}/channels", json=channel, headers=cast.admin.headers)
        assert saved.status_code == 200, saved.text
        assert saved.json()["channels"][0]["config"]["key"] == "***"

    engine = create_engine(settings.database)
    try:
        session_maker = create_session_factory(engine)
        start = datetime.fromisoformat(meeting["starts_at"])
        report = await CheckSweep(settings, session_maker).run_once(now=start - timedelta(hours=23))
        assert report.runs == 1
        delivered = await build_dispatcher(settings, session_maker).run_until_idle(max_rounds=10)
        assert delivered.dead == 0, delivered.errors
    finally:
        await engine.dispose()

    assert len(wecom_robot.requests) == 1
    robot_text = wecom_robot.requests[0].json()["markdown"]["content"]
    assert "预算评审会" in robot_text
    assert "[FAIL]" in robot_text

    for person in (cast.organiser, cast.secretary):
        mails = smtp_sink.to(person.email)
        assert len(mails) == 1, person.email
        assert "预算评审会" in str(mails[0]["Subject"])
        assert "[FAIL]" in text_body(mails[0])
