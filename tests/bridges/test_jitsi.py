from __future__ import annotations

import dataclasses
import datetime as dt
import http.server
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from confsvc.bridges.adapters import (
    BookingInfo,
    BridgeInfo,
    ParticipantsUnsupported,
    adapter_for,
)
from confsvc.bridges.adapters.jitsi import JitsiAdapter

APP_SECRET = "0123456789abcdef0123456789abcdef-jitsi"


def make_adapter(**overrides: Any) -> JitsiAdapter:
    settings: dict[str, Any] = {
        "base_url": "https://meet.example.com/",
        "room_secret": "room-secret-0123456789",
    }
    settings.update(overrides)
    bridge = BridgeInfo(id="br-jitsi", name="Jitsi", kind="jitsi", settings=settings)
    adapter = adapter_for("jitsi", settings=settings, bridge=bridge)
    assert isinstance(adapter, JitsiAdapter)
    return adapter


def token_of(url: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["jwt"][0]


def test_room_name_stable_per_uid() -> None:
    adapter = make_adapter()

    first = adapter.room_name("uid-1@example.com")

    assert adapter.room_name("uid-1@example.com") == first
    assert adapter.room_name("uid-2@example.com") != first
    assert first.startswith("confsvc-")
    assert len(first) == len("confsvc-") + 26
    assert first[len("confsvc-") :].isalnum()
    assert first == first.lower()


def test_room_name_depends_on_secret() -> None:
    one = make_adapter().room_name("uid-1@example.com")
    other = make_adapter(room_secret="another-secret-98765").room_name("uid-1@example.com")

    assert one != other


async def test_provision_without_jwt(booking: BookingInfo) -> None:
    adapter = make_adapter()

    conference = await adapter.provision(booking)

    room = adapter.room_name(booking.meeting_uid)
    assert conference.conference_id == room
    assert conference.chair_join_url == f"https://meet.example.com/{room}"
    assert conference.participant_join_url == conference.chair_join_url
    assert conference.dial_in_numbers == ()


async def test_jwt_has_documented_claims(booking: BookingInfo) -> None:
    adapter = make_adapter(jwt_app_id="confsvc", jwt_app_secret=APP_SECRET)

    conference = await adapter.provision(booking)
    assert conference.chair_join_url is not None
    assert conference.participant_join_url is not None

    room = conference.conference_id
    chair = jwt.decode(
        token_of(conference.chair_join_url),
        APP_SECRET,
        algorithms=["HS256"],
        audience="jitsi",
        issuer="confsvc",
        options={"verify_exp": False, "verify_nbf": False},
    )
    assert chair["sub"] == "meet.example.com"
    assert chair["room"] == room
    assert chair["context"]["user"] == {
        "name": "王芳",
        "email": "wang.fang@example.com",
        "moderator": True,
    }
    assert chair["nbf"] == int((booking.starts_at - dt.timedelta(minutes=30)).timestamp())
    assert chair["exp"] == int((booking.ends_at + dt.timedelta(minutes=60)).timestamp())
    assert jwt.get_unverified_header(token_of(conference.chair_join_url))["alg"] == "HS256"

    guest = jwt.decode(
        token_of(conference.participant_join_url),
        APP_SECRET,
        algorithms=["HS256"],
        audience="jitsi",
        options={"verify_exp": False, "verify_nbf": False},
    )
    assert guest["context"]["user"] == {"name": "Guest", "moderator": False}


async def test_jwt_rejects_other_secret(booking: BookingInfo) -> None:
    adapter = make_adapter(jwt_app_id="confsvc", jwt_app_secret=APP_SECRET)
    conference = await adapter.provision(booking)
    assert conference.chair_join_url is not None

    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            token_of(conference.chair_join_url),
            "x" * 40,
            algorithms=["HS256"],
            audience="jitsi",
            options={"verify_exp": False, "verify_nbf": False},
        )


async def test_jwt_valid_during_meeting(booking: BookingInfo) -> None:
    now = dt.datetime.now(dt.UTC)
    booking = dataclasses.replace(
        booking, starts_at=now - dt.timedelta(minutes=5), ends_at=now + dt.timedelta(hours=1)
    )
    adapter = make_adapter(jwt_app_id="confsvc", jwt_app_secret=APP_SECRET, jwt_audience="meet")
    conference = await adapter.provision(booking)
    assert conference.chair_join_url is not None

    claims = jwt.decode(
        token_of(conference.chair_join_url), APP_SECRET, algorithms=["HS256"], audience="meet"
    )
    assert claims["aud"] == "meet"


async def test_participants_unsupported() -> None:
    adapter = make_adapter()

    with pytest.raises(ParticipantsUnsupported):
        await adapter.participants("confsvc-room")


async def test_health_without_http_check() -> None:
    report = await make_adapter().health()

    assert report.ok is True
    assert report.free_ports is None


@pytest.fixture
def web_server() -> Iterator[tuple[str, list[str]]]:
    paths: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            paths.append(self.path)
            status = 200 if self.path == "/" else 404
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}", paths
    server.shutdown()
    server.server_close()
    thread.join()


async def test_health_http_check(web_server: tuple[str, list[str]]) -> None:
    base_url, paths = web_server

    report = await make_adapter(base_url=base_url, check_http=True).health()
    assert report.ok is True
    assert "HTTP 200" in report.detail
    assert paths == ["/"]

    report = await make_adapter(base_url=base_url + "/missing", check_http=True).health()
    assert report.ok is False
    assert "HTTP 404" in report.detail
