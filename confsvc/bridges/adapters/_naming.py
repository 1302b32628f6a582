"""Names and secrets derived from a booking, so that provisioning twice gives the same result."""

from __future__ import annotations

import base64
import hashlib
import hmac


def derive_token(key: str, purpose: str, value: str) -> bytes:
    """Return HMAC-SHA256 over ``purpose`` and ``value`` with ``key``, 32 bytes.

    ``purpose`` keeps values derived for different uses (room name, password) apart.
    """
    message = f"{purpose}\x00{value}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).digest()


def derive_room_name(key: str, meeting_uid: str, *, prefix: str, length: int = 26) -> str:
    """Return ``prefix`` plus ``length`` lowercase base32 characters (5 bits each).

    The default 26 characters carry 130 bits, too many to guess without ``key``.
    """
    encoded = base64.b32encode(derive_token(key, "room", meeting_uid)).decode("ascii")
    return prefix + encoded.rstrip("=").lower()[:length]


def derive_digits(key: str, purpose: str, value: str, *, low: int, high: int) -> int:
    """Return a number in ``low..high`` inclusive, derived from ``value``."""
    number = int.from_bytes(derive_token(key, purpose, value), "big")
    return low + number % (high - low + 1)
