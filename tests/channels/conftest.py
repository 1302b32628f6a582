"""Loopback fakes of the IM platforms, each checking signatures as the vendor documents."""

from __future__ import annotations

import hmac
import socket
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from channel_fakes import (
    DINGTALK_SECRET,
    DINGTALK_TOKEN,
    FEISHU_SECRET,
    FEISHU_TOKEN,
    FIXED_NOW,
    WEBHOOK_SECRET,
    WECOM_KEY,
    LoopbackServer,
    RecordedRequest,
    Reply,
    dingtalk_expected_sign,
    feishu_expected_sign,
    json_reply,
    verify_webhook,
)


@pytest.fixture
def start_server() -> Iterator[Callable[[Callable[[RecordedRequest], Reply]], LoopbackServer]]:
    servers: list[LoopbackServer] = []

    def start(handle: Callable[[RecordedRequest], Reply]) -> LoopbackServer:
        server = LoopbackServer(handle)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
    for server in servers:
        assert server.handler_errors == [], "the fake server's handler raised"


# --- WeCom group robot ---------------------------------------------------------------


@pytest.fixture
def wecom_server(start_server: Callable[..., LoopbackServer]) -> LoopbackServer:
    """Fake of ``/cgi-bin/webhook/send?key=KEY``: 93000 for a wrong key, 45009 when limited."""

    def handle(request: RecordedRequest) -> Reply:
        if request.path != "/cgi-bin/webhook/send":
            return 404, {}, b""
        if request.query.get("key") != [WECOM_KEY]:
            server.checks.append("key mismatch")
            return json_reply(200, {"errcode": 93000, "errmsg": "invalid webhook url"})
        server.checks.append("key ok")

        payload = request.json()
        msgtype = payload.get("msgtype")
        if msgtype not in ("text", "markdown") or not payload.get(msgtype, {}).get("content"):
            return json_reply(200, {"errcode": 40008, "errmsg": "invalid message type"})
        if server.mode == "rate_limit":
            return json_reply(200, {"errcode": 45009, "errmsg": "api freq out of limit"})
        return json_reply(200, {"errcode": 0, "errmsg": "ok"})

    server = start_server(handle)
    return server


# --- DingTalk custom robot ----------------------------------------------------------


@pytest.fixture
def dingtalk_server(start_server: Callable[..., LoopbackServer]) -> LoopbackServer:
    """Fake of ``/robot/send``: 310000 for a bad sign or stale timestamp, 130101 when limited."""

    def handle(request: RecordedRequest) -> Reply:
        if request.path != "/robot/send":
            return 404, {}, b""
        if request.query.get("access_token") != [DINGTALK_TOKEN]:
            return json_reply(200, {"errcode": 300001, "errmsg": "token is not exist"})

        # parse_qs has already URL-decoded the sign, so a "+" that the sender forgot to
        # encode arrives here as a space and fails the comparison, as it does at DingTalk.
        timestamp = request.query.get("timestamp", [""])[0]
        sign = request.query.get("sign", [""])[0]
        now_ms = int(FIXED_NOW.timestamp() * 1000)
        fresh = timestamp.isdigit() and abs(int(timestamp) - now_ms) <= 3_600_000
        expected = dingtalk_expected_sign(timestamp, DINGTALK_SECRET)
        if not (fresh and hmac.compare_digest(sign, expected)):
            server.checks.append("sign mismatch")
            return json_reply(
                200, {"errcode": 310000, "errmsg": "sign not match, more: [connector]"}
            )
        server.checks.append("sign ok")

        if server.mode == "rate_limit":
            return json_reply(
                200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
            )
        return json_reply(200, {"errcode": 0, "errmsg": "ok"})

    server = start_server(handle)
    return server


# --- Feishu custom bot ----------------------------------------------------------------


@pytest.fixture
def feishu_server(start_server: Callable[..., LoopbackServer]) -> LoopbackServer:
    """Fake of ``/open-apis/bot/v2/hook/TOKEN``: 19021 for a bad sign, 9499 with HTTP 429."""

    def handle(request: RecordedRequest) -> Reply:
        if request.path != f"/open-apis/bot/v2/hook/{FEISHU_TOKEN}":
            return json_reply(
                200, {"code": 19001, "data": {}, "msg": "param invalid: incoming webhook"}
            )

        payload = request.json()
        timestamp = str(payload.get("timestamp", ""))
        sign = str(payload.get("sign", ""))
        now_s = int(FIXED_NOW.timestamp())
        fresh = timestamp.isdigit() and abs(int(timestamp) - now_s) <= 3600
        if not (
            fresh and hmac.compare_digest(sign, feishu_expected_sign(timestamp, FEISHU_SECRET))
        ):
            server.checks.append("sign mismatch")
            return json_reply(
                200,
                {
                    "code": 19021,
                    "data": {},
                    "msg": "sign match fail or timestamp is not within one hour from current time",
                },
            )
        server.checks.append("sign ok")

        if server.mode == "rate_limit":
            return json_reply(429, {"code": 9499, "data": {}, "msg": "too many request"})
        if server.mode == "rate_limit_200":
            return json_reply(200, {"code": 9499, "data": {}, "msg": "too many request"})
        return json_reply(200, {"code": 0, "data": {}, "msg": "success"})

    server = start_server(handle)
    return server


# --- generic signed webhook -----------------------------------------------------------


@pytest.fixture
def webhook_server(start_server: Callable[..., LoopbackServer]) -> LoopbackServer:
    """Receiver that returns 401 for a bad signature, 429 with Retry-After, 503 or 410."""

    def handle(request: RecordedRequest) -> Reply:
        if not verify_webhook(request, WEBHOOK_SECRET, now=FIXED_NOW):
            server.checks.append("sign mismatch")
            return json_reply(401, {"error": "invalid signature"})
        server.checks.append("sign ok")

        if server.mode == "rate_limit":
            return json_reply(429, {"error": "slow down"}, {"Retry-After": "30"})
        if server.mode == "server_error":
            return json_reply(503, {"error": "unavailable"})
        if server.mode == "gone":
            return json_reply(410, {"error": "endpoint removed"})
        return 204, {}, b""

    server = start_server(handle)
    return server


@pytest.fixture
def fixed_clock() -> Callable[[], datetime]:
    return lambda: FIXED_NOW


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL on which nothing listens (the port was bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
