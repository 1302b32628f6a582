"""Errors raised by the CalDAV writer.

Every failure at the CalDAV boundary becomes one of these, so no httpx exception reaches
the outbox dispatcher::

    DeliveryError (confsvc.errors)
    ├── EndpointUnavailable (confsvc.notify.unavailable)
    │   └── CalDAVUnavailable     timeout, connection error, 5xx, 408, 425, 429: retry later
    ├── SyncConflict              the event kept changing under us after max attempts
    └── PermanentDeliveryError (confsvc.errors)
        ├── CalDAVRejected        the server rejected the request (4xx, 3xx, bad reply)
        ├── ResourceConflict      the resource contains another meeting's UID
        ├── CalendarNotFound      no writable calendar collection was discovered
        └── InvalidDeliveryInput  the event or the address given to the writer is invalid
"""

from __future__ import annotations

from confsvc.errors import DeliveryError, PermanentDeliveryError
from confsvc.notify.unavailable import EndpointUnavailable


class CalDAVUnavailable(EndpointUnavailable):
    """The server could not be reached or failed, and a later retry may succeed.

    ``status`` is the HTTP status, or None for timeouts and connection errors;
    ``retry_after`` the seconds from the reply's Retry-After header, or None.
    """

    def __init__(
        self, message: str, *, href: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.href = href
        self.status = status


class SyncConflict(DeliveryError):
    """Every conditional write failed with 412 because the event kept changing.

    The outbox shows this as "sync conflict". ``attempts`` is the number of PUT requests
    sent for the one write.
    """

    def __init__(self, href: str, *, attempts: int) -> None:
        super().__init__(
            f"sync conflict: {href} changed on the server during each of {attempts} "
            "conditional writes"
        )
        self.href = href
        self.attempts = attempts


class CalDAVRejected(PermanentDeliveryError):
    """The server rejected the request with a status that a retry cannot change."""

    def __init__(self, message: str, *, href: str, status: int | None = None) -> None:
        super().__init__(message)
        self.href = href
        self.status = status


class ResourceConflict(PermanentDeliveryError):
    """The resource at ``href`` contains another meeting (UID ``found_uid``)."""

    def __init__(self, href: str, *, expected_uid: str, found_uid: str | None) -> None:
        super().__init__(
            f"CalDAV resource {href} contains UID {found_uid!r}, not {expected_uid!r}, so "
            "it was left unchanged"
        )
        self.href = href
        self.expected_uid = expected_uid
        self.found_uid = found_uid


class CalendarNotFound(PermanentDeliveryError):
    """Discovery found no calendar collection that stores events and that we may write."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"no writable CalDAV calendar found at {url}: {reason}")
        self.url = url


class InvalidDeliveryInput(PermanentDeliveryError):
    """The event data, UID or e-mail address passed to the writer is invalid."""
