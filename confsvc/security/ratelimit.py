"""Per-address request limits for login, RSVP and the other endpoints without login.

A fixed one-minute window per (group, client address), counted in process memory: with
several processes behind a load balancer each process counts on its own, so the
effective limit is the setting times the process count. Over the limit, the request
gets a 429 problem detail with Retry-After before it reaches a handler.
"""

from __future__ import annotations

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


def limit_group(path: str, rules: SecuritySettings) -> tuple[str, int] | None:
    """Return the limit group and its per-minute limit for ``path``, or None when unlimited."""
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

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        matched = limit_group(scope.get("path", ""), self.rules)
        if matched is None or matched[1] <= 0:
            await next_app(scope, receive, send)
            return
        group, limit = matched
        client = scope.get("client")
        address = client[0] if client else "unknown"
        retry_after = self.hit(group, address, limit=limit)
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
