"""Field checks shared by the API, the CSV import and the web forms.

Each check returns the cleaned value or raises ``ValidationFailed`` naming the field.
``FieldErrors`` runs several checks and reports every failure in one ``ValidationFailed``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from confsvc.errors import ValidationFailed
from confsvc.i18n import gettext as _

# RFC 5322 allows far more, but these are the addresses that mail relays accept in
# practice; a "/" in the local part (seen in Outlook invitations) is allowed.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
_DIGITS = re.compile(r"^[0-9]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

T = TypeVar("T")


class FieldErrors:
    """Collector of invalid fields, so that one error response names every one of them.

    Run each independent check through ``check(func, ...)`` or inside ``with collect():``.
    A ``ValidationFailed`` raised there is recorded instead of propagated. Call
    ``raise_if_any()`` before the first step that needs the checked values, and always
    before anything is written. Only the first reason for each field name is kept.
    """

    def __init__(self) -> None:
        self.invalid_params: list[dict[str, str]] = []

    def __bool__(self) -> bool:
        return bool(self.invalid_params)

    def add(self, name: str, reason: str) -> None:
        if not any(item["name"] == name for item in self.invalid_params):
            self.invalid_params.append({"name": name, "reason": reason})

    def extend(self, exc: ValidationFailed) -> None:
        for item in exc.invalid_params or [{"name": "body", "reason": str(exc)}]:
            self.add(item["name"], item["reason"])

    @contextmanager
    def collect(self) -> Iterator[None]:
        """Record a ``ValidationFailed`` raised in the block, which skips the rest of the block."""
        try:
            yield
        except ValidationFailed as exc:
            self.extend(exc)

    def check(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Call ``func`` and return its result, or record its ``ValidationFailed`` and return None."""
        try:
            return func(*args, **kwargs)
        except ValidationFailed as exc:
            self.extend(exc)
            return None

    def raise_if_any(self) -> None:
        if self.invalid_params:
            raise ValidationFailed.fields(self.invalid_params)


@dataclass(frozen=True)
class Check:
    """``Annotated`` marker on a schema type that names the rule check of its values.

    msgspec ignores it. When a request body fails to decode, the error handler still runs
    these checks on the fields that did decode, so one response lists both kinds of fault.
    ``func`` is called as ``func(value, field=name)`` and raises ``ValidationFailed``. The
    services run the same checks again on a decoded body.
    """

    func: Callable[..., Any]


def email(value: str, *, field: str = "email") -> str:
    cleaned = value.strip().lower()
    if cleaned.startswith("mailto:"):
        cleaned = cleaned[len("mailto:") :]
    if len(cleaned) > 320 or not _EMAIL.match(cleaned):
        raise ValidationFailed.field(field, _("invalid e-mail address {value!r}", value=value[:100]))
    return cleaned


def text(value: str, *, field: str, max_length: int, required: bool = True, multiline: bool = False) -> str:
    cleaned = value.strip()
    if required and not cleaned:
        raise ValidationFailed.field(field, _("must not be empty"))
    if len(cleaned) > max_length:
        raise ValidationFailed.field(field, _("too long: at most {limit} characters", limit=max_length))
    if _CONTROL.search(cleaned) or (not multiline and ("\r" in cleaned or "\n" in cleaned)):
        raise ValidationFailed.field(field, _("contains control characters or line breaks"))
    return cleaned


def time_zone(value: str, *, field: str = "time_zone") -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed.field(
            field, _("unknown time zone {value!r}; use an IANA name such as Asia/Shanghai", value=value[:64])
        ) from exc
    return value


def aware(value: datetime, *, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed.field(
            field, _("the time has no UTC offset; write it like 2027-03-01T09:30:00+08:00")
        )
    return value


def e164(value: str, *, field: str) -> str:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed.field(
            field, _("{value!r} is not an E.164 number; write it like +861012345678", value=value[:40])
        ) from exc
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not phonenumbers.is_valid_number(number) or formatted != value.replace(" ", "").replace("-", ""):
        raise ValidationFailed.field(
            field, _("{value!r} is not an E.164 number; write it like +861012345678", value=value[:40])
        )
    return formatted


def pin(value: str | None, *, field: str) -> str | None:
    if value is None or value == "":
        return None
    if not _DIGITS.match(value) or len(value) > 16:
        raise ValidationFailed.field(field, _("must be 1 to 16 digits"))
    return value


def text_check(max_length: int, *, required: bool = True, multiline: bool = False) -> Check:
    """Return the ``Check`` marker that runs ``text`` with these limits."""
    return Check(partial(text, max_length=max_length, required=required, multiline=multiline))


email_check = Check(email)
aware_check = Check(aware)
time_zone_check = Check(time_zone)
e164_check = Check(e164)
pin_check = Check(pin)
