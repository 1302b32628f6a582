"""Content-line folding on octets (RFC 5545 section 3.1) without splitting UTF-8 characters."""

from __future__ import annotations

import re

from confsvc.booking.ical.errors import ICalendarDecodeError

__all__ = ["MAX_LINE_OCTETS", "decode_unfolded", "fold", "unfold_bytes"]

MAX_LINE_OCTETS = 75
"""Longest physical line in octets, CRLF not counted."""

_FOLD = re.compile(rb"\r?\n[ \t]")
_UID_LINE = re.compile(rb"^UID[;:](?:[^:\r\n]*:)?(.*)$", re.MULTILINE)
_BEGIN_LINE = re.compile(rb"^BEGIN:", re.MULTILINE)


def unfold_bytes(data: bytes) -> bytes:
    """Remove every line break followed by one space or tab, before any decoding.

    Working on octets restores a UTF-8 character that a naive folder cut in two.
    """
    return _FOLD.sub(b"", data)


def decode_unfolded(data: bytes) -> str:
    """Decode unfolded calendar octets as strict UTF-8 (a leading BOM is dropped).

    Raises:
        ICalendarDecodeError: an invalid byte sequence; the message names the property
            and the UID of the component that holds it.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line_end = data.find(b"\n", exc.start)
        line = data[line_start : line_end if line_end != -1 else len(data)]
        prop = re.split(rb"[;:]", line, maxsplit=1)[0].strip().decode("ascii", "replace")
        uid = _uid_around(data, exc.start)
        raise ICalendarDecodeError(
            f"invalid UTF-8 in property {prop or '?'} of UID {uid or '(unknown)'} "
            f"at byte {exc.start}",
            uid=uid,
            property_name=prop or None,
        ) from exc


def _uid_around(data: bytes, offset: int) -> str | None:
    """Return the UID of the component that contains ``offset``, when it has one."""
    start = 0
    for begin in _BEGIN_LINE.finditer(data, 0, offset):
        start = begin.start()
    next_begin = _BEGIN_LINE.search(data, offset)
    end = next_begin.start() if next_begin else len(data)
    match = _UID_LINE.search(data, start, end)
    if match is None:
        return None
    return match.group(1).strip().decode("utf-8", "replace")


def fold(data: bytes) -> bytes:
    """Refold serialised iCalendar octets to at most 75 octets per physical line.

    Existing folds are removed first. A line is cut only between UTF-8 characters, and each
    continuation line starts with one space, so every physical line decodes on its own.
    Output lines end with CRLF.
    """
    lines = unfold_bytes(data).replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out: list[bytes] = []
    for line in lines:
        out.extend(_fold_line(line))
    return b"".join(part + b"\r\n" for part in out)


def _fold_line(line: bytes) -> list[bytes]:
    parts: list[bytes] = []
    limit = MAX_LINE_OCTETS
    while len(line) > limit:
        cut = limit
        # A UTF-8 continuation octet is 0b10xxxxxx: step back to the start of the character.
        while cut > 0 and (line[cut] & 0xC0) == 0x80:
            cut -= 1
        parts.append(line[:cut])
        line = b" " + line[cut:]
    parts.append(line)
    return parts
