"""Loopback HTTP server and the vendors' signature recipes, written out independently."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FIXED_NOW = datetime(2026, 3, 2, 1, 30, 15, 250000, tzinfo=UTC)
"""Instant returned by the channels' clock and used by the fakes as their own clock."""

WECOM_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
DINGTALK_TOKEN = "dingtalk-access-token-0123456789"
DINGTALK_SECRET = "SECdingtalk-signing-secret-abcdef"
FEISHU_TOKEN = "feishu-hook-token-0123456789"
FEISHU_SECRET = "feishu-signing-secret-abcdef"
WEBHOOK_SECRET = "webhook-shared-secret-0123456789"


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


Reply = tuple[int, dict[str, str], bytes]


def json_reply(
    status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> Reply:
    body = json.dumps(payload).encode()
    return status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, body


@dataclass
class LoopbackServer:
    """HTTP server on 127.0.0.1 (free port) in a thread; ``handle`` builds every reply."""

    handle: Callable[[RecordedRequest], Reply]
    requests: list[RecordedRequest] = field(default_factory=list)
    mode: str = "ok"
    release: threading.Event = field(default_factory=threading.Event)
    handler_errors: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    """One entry per request: the fake's verdict, such as ``"sign ok"`` or ``"sign mismatch"``."""

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib name
                parts = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length", "0"))
                request = RecordedRequest(
                    method="POST",
                    path=parts.path,
                    query=urllib.parse.parse_qs(parts.query, keep_blank_values=True),
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=self.rfile.read(length),
                )
                server.requests.append(request)

                if server.mode == "slow":
                    # Withholds the response until the test ends, far past the client's timeout.
                    server.release.wait(timeout=10)
                    return

                status, headers, body = server.handle(request)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        class QuietServer(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                error = sys.exc_info()[1]
                # A client that timed out closes its socket; any other error is a fake's bug.
                if not isinstance(error, ConnectionError):
                    server.handler_errors.append(repr(error))

        self._server = QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def dingtalk_expected_sign(timestamp: str, secret: str) -> str:
    # DingTalk's recipe: HmacSHA256 keyed with the secret over "timestamp\nsecret", Base64.
    string_to_sign = f"{timestamp}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), string_to_sign, digestmod=hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_expected_sign(timestamp: str, secret: str) -> str:
    # Feishu's recipe: HMAC-SHA256 keyed with "timestamp\nsecret" over an empty message.
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, digestmod=hashlib.sha256).digest()).decode()


def verify_webhook(request: RecordedRequest, secret: str, *, now: datetime) -> bool:
    """The receiver recipe from docs/webhooks.md, written out independently of confsvc."""
    timestamp = request.headers.get("x-confsvc-timestamp", "")
    signature = request.headers.get("x-confsvc-signature", "")
    if not timestamp.isdigit() or abs(int(timestamp) - int(now.timestamp())) > 300:
        return False
    signed = timestamp.encode() + b"." + request.body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature, expected)
