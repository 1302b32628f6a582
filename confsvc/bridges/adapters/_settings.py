"""Typed reading of a bridge's ``settings`` mapping, collecting one problem per invalid field."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

import phonenumbers

from confsvc.bridges.adapters.base import BridgeConfigurationError, BridgeInfo

# Values go into AMI lines and URLs, where a line break or NUL would end the field early.
_FORBIDDEN_CHARACTERS = frozenset("\r\n\0")


def raise_for_problems(bridge: BridgeInfo, problems: list[dict[str, str]]) -> None:
    """Raise ``BridgeConfigurationError`` naming every invalid field, if there is one."""
    if not problems:
        return
    fields = ", ".join(f"{problem['name']} ({problem['reason']})" for problem in problems)
    raise BridgeConfigurationError(
        f"bridge {bridge.id} ({bridge.kind}) has invalid settings: {fields}",
        invalid_params=problems,
    )


def check_e164(number: str) -> str | None:
    """Return the reason why ``number`` is not a valid E.164 number, or ``None`` if it is."""
    if not number.startswith("+"):
        return "must be in E.164 form with a leading +, e.g. +862161234567"
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as exc:
        return f"is not a phone number ({exc})"
    if not phonenumbers.is_valid_number(parsed):
        return "is not a valid phone number"
    if phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) != number:
        return "must be in E.164 form without spaces or punctuation"
    return None


class SettingsReader:
    """Reads options from a settings mapping and records a problem for each invalid one.

    Every reader method returns the value, or the default when the option is missing or
    invalid, so that a caller can read all options first and look at ``problems`` once.
    """

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self._settings = settings
        self.problems: list[dict[str, str]] = []

    def fail(self, key: str, reason: str) -> None:
        self.problems.append({"name": f"settings.{key}", "reason": reason})

    def _get(self, key: str, *, required: bool) -> Any:
        value = self._settings.get(key)
        if value is None or value == "":
            if required:
                self.fail(key, "is required")
            return None
        return value

    def text(self, key: str, *, required: bool = False, default: str | None = None) -> str | None:
        value = self._get(key, required=required)
        if value is None:
            return default
        if not isinstance(value, str):
            self.fail(key, "must be a string")
            return default
        if _FORBIDDEN_CHARACTERS.intersection(value):
            self.fail(key, "must not contain line breaks or NUL characters")
            return default
        return value

    def integer(
        self,
        key: str,
        *,
        required: bool = False,
        default: int | None = None,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        value = self._get(key, required=required)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, "must be an integer")
            return default
        if minimum is not None and value < minimum:
            self.fail(key, f"must be at least {minimum}")
            return default
        if maximum is not None and value > maximum:
            self.fail(key, f"must be at most {maximum}")
            return default
        return value

    def seconds(self, key: str, *, default: float, maximum: float = 300.0) -> float:
        value = self._get(key, required=False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(key, "must be a number of seconds")
            return default
        if not 0 < value <= maximum:
            self.fail(key, f"must be greater than 0 and at most {maximum:g} seconds")
            return default
        return float(value)

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self._get(key, required=False)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(key, "must be true or false")
            return default
        return value

    def choice(self, key: str, choices: tuple[str, ...], *, default: str) -> str:
        value = self.text(key)
        if value is None:
            return default
        if value not in choices:
            self.fail(key, f"must be one of {', '.join(choices)}")
            return default
        return value

    def digits(
        self, key: str, *, required: bool = False, min_length: int = 1, max_length: int = 16
    ) -> str | None:
        """Read a PIN or code: a string of ASCII digits (an integer would lose leading zeros)."""
        value = self.text(key, required=required)
        if value is None:
            return None
        if not (value.isascii() and value.isdigit()):
            self.fail(key, "must contain digits only")
            return None
        if not min_length <= len(value) <= max_length:
            self.fail(key, f"must have {min_length} to {max_length} digits")
            return None
        return value

    def url(self, key: str, *, required: bool = False) -> str | None:
        """Read an absolute http or https URL and return it without a trailing slash."""
        value = self.text(key, required=required)
        if value is None:
            return None
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.fail(key, "must be an absolute http:// or https:// URL")
            return None
        if parts.query or parts.fragment:
            self.fail(key, "must not contain a query or fragment")
            return None
        return value.rstrip("/")

    def phone_numbers(self, key: str, *, required: bool = False) -> tuple[str, ...]:
        """Read a list of E.164 numbers, recording a problem per invalid entry."""
        value = self._get(key, required=required)
        if value is None:
            return ()
        if isinstance(value, str) or not isinstance(value, list | tuple):
            self.fail(key, "must be a list of E.164 numbers")
            return ()
        if required and not value:
            self.fail(key, "must contain at least one number")
        numbers: list[str] = []
        for index, number in enumerate(value):
            if not isinstance(number, str):
                self.fail(f"{key}[{index}]", "must be a string")
                continue
            reason = check_e164(number)
            if reason is not None:
                self.fail(f"{key}[{index}]", f"{number!r} {reason}")
                continue
            numbers.append(number)
        return tuple(numbers)
