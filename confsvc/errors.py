"""Domain errors of confsvc.

Domain code raises these; one mapper in ``confsvc.api.problems`` turns them into
RFC 9457 problem details. The tree::

    ConfsvcError
    ├── ConfigurationError        a CONFSVC_* setting is invalid
    ├── ValidationFailed          input breaks a rule; carries invalid_params
    ├── NotFound                  an object id does not exist (or is not visible)
    ├── PermissionDenied          the caller may not do this
    ├── Conflict                  the change collides with stored state
    │   └── BookingConflict       a bridge is taken for the slot; carries alternatives
    ├── IdempotencyMismatch       an Idempotency-Key was reused with another body
    ├── ICalendarError            an iCalendar object cannot be read
    └── DeliveryError             an outgoing message failed; retried by the outbox
        └── PermanentDeliveryError  retrying cannot help
"""

from __future__ import annotations

from typing import Any

from confsvc.i18n import gettext


class ConfsvcError(Exception):
    """Base of every error that confsvc raises on purpose."""

    status_code = 500
    title = "Internal error"


class ConfigurationError(ConfsvcError):
    """A setting is missing or invalid; the message names the variable."""


class ValidationFailed(ConfsvcError):
    """Input breaks a rule. ``invalid_params`` names each field and the reason."""

    status_code = 400
    title = "Invalid input"

    def __init__(self, message: str, *, invalid_params: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.invalid_params = invalid_params or []

    @classmethod
    def field(cls, name: str, reason: str) -> ValidationFailed:
        return cls(f"{name}: {reason}", invalid_params=[{"name": name, "reason": reason}])

    @classmethod
    def fields(cls, invalid_params: list[dict[str, str]]) -> ValidationFailed:
        """Build one error for several invalid fields, each entry with ``name`` and ``reason``.

        The message is "name: reason" for a single field, like ``field``, and lists the
        names for more than one.
        """
        if len(invalid_params) == 1:
            only = invalid_params[0]
            return cls.field(only["name"], only["reason"])
        names = ", ".join(item["name"] for item in invalid_params)
        return cls(gettext("invalid input in: {fields}", fields=names), invalid_params=list(invalid_params))


class NotFound(ConfsvcError):
    status_code = 404
    title = "Not found"

    def __init__(self, kind: str, key: Any) -> None:
        super().__init__(f"{kind} {key} not found")
        self.kind = kind
        self.key = key


class PermissionDenied(ConfsvcError):
    status_code = 403
    title = "Forbidden"


class Conflict(ConfsvcError):
    status_code = 409
    title = "Conflict"

    def __init__(self, message: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.extra = extra or {}


class BookingConflict(Conflict):
    """A bridge cannot take the booking; ``extra`` holds conflicts and alternatives."""


class IdempotencyMismatch(ConfsvcError):
    status_code = 422
    title = "Idempotency key reused"


class ICalendarError(ConfsvcError):
    status_code = 400
    title = "Invalid iCalendar data"


class DeliveryError(ConfsvcError):
    """An outgoing message failed in a way that a later retry may fix."""


class PermanentDeliveryError(DeliveryError):
    """An outgoing message failed in a way that no retry can fix."""
