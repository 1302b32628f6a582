"""Validation of a channel's ``config`` dict, collecting every problem before raising."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from confsvc.errors import ValidationFailed

from .base import DEFAULT_TIMEOUT

MAX_TIMEOUT = 60.0
"""Upper bound in seconds for a configured request timeout."""


class ConfigReader:
    """Reads typed fields from a channel config; problems are named ``config.<field>``."""

    def __init__(self, kind: str, config: Mapping[str, Any], *, fields: set[str]) -> None:
        self._kind = kind
        self._config = config
        self._problems: list[dict[str, str]] = []

        # ``timeout`` is accepted by every channel.
        known = fields | {"timeout"}
        for name in sorted(set(config) - known):
            self.fail(name, f"unknown field for a {kind} channel")

    def fail(self, name: str, reason: str) -> None:
        self._problems.append({"name": f"config.{name}", "reason": reason})

    def required_str(self, name: str) -> str:
        value = self._config.get(name)
        if value is None:
            self.fail(name, "is required")
            return ""
        if not isinstance(value, str) or not value.strip():
            self.fail(name, "must be a non-empty string")
            return ""
        return value.strip()

    def optional_str(self, name: str, *, default: str) -> str:
        if self._config.get(name) is None:
            return default
        return self.required_str(name)

    def url(self, name: str, *, default: str | None = None) -> str:
        """Read an absolute http(s) URL without user info or fragment."""
        value = (
            self.required_str(name) if default is None else self.optional_str(name, default=default)
        )
        if not value:
            return ""

        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.fail(name, "must be an absolute http or https URL")
        elif parts.username or parts.password:
            self.fail(name, "must not contain user info; use the secret field")
        elif parts.fragment:
            self.fail(name, "must not contain a fragment")
        return value

    def timeout(self) -> float:
        value = self._config.get("timeout", DEFAULT_TIMEOUT)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail("timeout", "must be a number of seconds")
            return DEFAULT_TIMEOUT
        if not 0 < value <= MAX_TIMEOUT:
            self.fail("timeout", f"must be greater than 0 and at most {MAX_TIMEOUT:g} seconds")
            return DEFAULT_TIMEOUT
        return float(value)

    def finish(self) -> None:
        """Raises ValidationFailed listing every problem found so far."""
        if self._problems:
            names = ", ".join(problem["name"] for problem in self._problems)
            raise ValidationFailed(
                f"invalid {self._kind} channel config: {names}", invalid_params=self._problems
            )
