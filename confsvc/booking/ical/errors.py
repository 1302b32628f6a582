"""Errors of the iCalendar layer; all derive from :class:`confsvc.errors.ICalendarError`.

::

    ICalendarError
    ├── ICalendarDecodeError   bytes that are not valid UTF-8
    └── ItipError              a well-formed calendar that is not a usable iTIP message
"""

from __future__ import annotations

from confsvc.errors import ICalendarError

__all__ = ["ICalendarDecodeError", "ICalendarError", "ItipError"]


class ICalendarDecodeError(ICalendarError):
    """Calendar bytes with an invalid UTF-8 sequence; names the UID and property."""

    def __init__(self, message: str, *, uid: str | None, property_name: str | None) -> None:
        super().__init__(message)
        self.uid = uid
        self.property_name = property_name


class ItipError(ICalendarError):
    """A calendar that parses but breaks an iTIP rule (RFC 5546), such as a missing UID."""
