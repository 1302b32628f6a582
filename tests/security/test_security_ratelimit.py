from __future__ import annotations

from confsvc.security.ratelimit import RateLimitMiddleware
from confsvc.settings import SecuritySettings


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
