"""The failure of a whole remote endpoint, as opposed to one message, and Retry-After parsing.

Channels raise :class:`EndpointUnavailable` when the endpoint refused the connection,
timed out, replied 5xx or throttled (429). The outbox dispatcher then postpones the rest
of that endpoint's rows in the sweep instead of letting each of them wait for its own
timeout, so a dead CalDAV server or robot cannot hold up a sweep.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from confsvc.errors import DeliveryError

__all__ = ["EndpointUnavailable", "parse_retry_after"]


class EndpointUnavailable(DeliveryError):
    """The endpoint as a whole failed; a later retry may succeed.

    ``retry_after`` is the wait in seconds that the endpoint asked for, or None.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return the seconds of a Retry-After header (delta-seconds or HTTP-date, RFC 9110).

    Returns None for a missing, negative, non-finite or unreadable value; a date in the
    past gives 0.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds
