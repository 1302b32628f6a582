"""Per-client request limits for login, RSVP and the pages outside the API.

A fixed one-minute window per (group, client), counted in process memory: with several
processes behind a load balancer each process counts on its own, so the effective limit
is the setting times the process count. Over the limit, the request gets a 429 problem
detail with Retry-After before it reaches a handler.

A client is the remote address, except for web pages sent with a session cookie: those
count per session, so that colleagues behind one company NAT do not share one budget.
Static assets and the health, readiness and metrics endpoints are not limited.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import OrderedDict

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from confsvc.i18n import gettext as _
from confsvc.settings import SecuritySettings

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
MAX_TRACKED_CLIENTS = 10_000
"""Oldest windows are dropped beyond this many (group, address) pairs to bound memory."""


UNLIMITED_PREFIXES = ("/static/", "/healthz", "/readyz", "/metrics", "/favicon.ico")


def limit_group(path: str, rules: SecuritySettings) -> tuple[str, int] | None:
    """Return the limit group and its per-minute limit for ``path``, or None when unlimited."""
    if path.startswith(UNLIMITED_PREFIXES):
        return None
    if path.startswith("/auth/"):
        return "login", rules.rate_limit_login_per_minute
    if path.startswith("/rsvp/"):
        return "rsvp", rules.rate_limit_rsvp_per_minute
    if path.startswith("/api/"):
        return None
    return "public", rules.rate_limit_public_per_minute


class RateLimitMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self, rules: SecuritySettings) -> None:
        self.rules = rules
        self._windows: OrderedDict[tuple[str, str], tuple[float, int]] = OrderedDict()

    def hit(self, group: str, address: str, *, limit: int, now: float | None = None) -> int:
        """Count one request; return 0 when allowed, else the seconds until the window ends.

        Each client's window opens with its first request, so a burst is never split by
        a clock-minute boundary into two half-counted windows.
        """
        now = time.monotonic() if now is None else now
        key = (group, address)
        started, count = self._windows.get(key, (now, 0))
        if now - started >= WINDOW_SECONDS:
            started, count = now, 0
        count += 1
        self._windows[key] = (started, count)
        self._windows.move_to_end(key)
        while len(self._windows) > MAX_TRACKED_CLIENTS:
            self._windows.popitem(last=False)
        if count <= limit:
            return 0
        return max(int(started + WINDOW_SECONDS - now), 1)

    def _client_key(self, scope: Scope, group: str) -> str:
        client = scope.get("client")
        address = client[0] if client else "unknown"
        if group != "public":
            return address
        session = _cookie(scope, self.rules.session_cookie)
        if not session:
            return address
        # The cookie is not checked here: a made-up one only buys pages that redirect to
        # the login form, and the login group always counts per address.
        return f"{address} session:{hashlib.sha256(session.encode()).hexdigest()[:16]}"

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        matched = limit_group(scope.get("path", ""), self.rules)
        if matched is None or matched[1] <= 0:
            await next_app(scope, receive, send)
            return
        group, limit = matched
        retry_after = self.hit(group, self._client_key(scope, group), limit=limit)
        if not retry_after:
            await next_app(scope, receive, send)
            return
        logger.info("rate limit reached group=%s retry_after=%d", group, retry_after)
        body = json.dumps(
            {
                "type": "about:blank",
                "status": 429,
                "title": _("Too many requests"),
                "detail": _("too many requests; try again in {seconds} seconds", seconds=retry_after),
            },
            ensure_ascii=False,
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _cookie(scope: Scope, name: str) -> str | None:
    for header, value in scope.get("headers", ()):
        if header != b"cookie":
            continue
        for part in value.decode("latin-1").split(";"):
            key, _sep, cookie_value = part.strip().partition("=")
            if key == name and cookie_value:
                return cookie_value
    return None
