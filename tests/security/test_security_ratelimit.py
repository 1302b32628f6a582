from __future__ import annotations

import dataclasses

from litestar.testing import AsyncTestClient

from confsvc.app import create_app
from confsvc.security.ratelimit import RateLimitMiddleware
from confsvc.settings import SecuritySettings, Settings


def test_burst_across_minute_boundary_is_one_window() -> None:
    limiter = RateLimitMiddleware(SecuritySettings())
    results = [limiter.hit("login", "127.0.0.1", limit=3, now=now) for now in (59.5, 59.8, 60.1, 60.4)]
    assert results[:3] == [0, 0, 0]
    assert results[3] >= 1


def test_window_reopens_after_a_minute() -> None:
    limiter = RateLimitMiddleware(SecuritySettings())
    for now in (0.0, 1.0, 2.0):
        limiter.hit("login", "127.0.0.1", limit=3, now=now)
    assert limiter.hit("login", "127.0.0.1", limit=3, now=30.0) == 30
    assert limiter.hit("login", "127.0.0.1", limit=3, now=60.0) == 0


async def test_public_pages_count_per_session(settings: Settings) -> None:
    rules = SecuritySettings(rate_limit_public_per_minute=3)
    app = create_app(dataclasses.replace(settings, security=rules), start_scheduler=False)
    cookie = rules.session_cookie
    async with AsyncTestClient(app=app) as client:
        anonymous = [(await client.get("/login")).status_code for _ in range(4)]
        assert anonymous[:3] == [200, 200, 200]
        assert anonymous[3] == 429

        # Each session has its own window, although all share the client address.
        for session in ("first-session", "second-session"):
            answers = [
                (await client.get("/login", headers={"Cookie": f"{cookie}={session}"})).status_code
                for _ in range(4)
            ]
            assert 429 not in answers[:3]
            assert answers[3] == 429


async def test_static_and_health_not_limited(settings: Settings) -> None:
    rules = SecuritySettings(rate_limit_public_per_minute=1)
    app = create_app(dataclasses.replace(settings, security=rules), start_scheduler=False)
    async with AsyncTestClient(app=app) as client:
        assets = [(await client.get("/static/web/app.css")).status_code for _ in range(5)]
        assert assets == [200] * 5
        health = [(await client.get("/healthz")).status_code for _ in range(5)]
        assert health == [200] * 5
