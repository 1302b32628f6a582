"""Field checks shared by the API, the CSV import and the web forms.

Each check returns the cleaned value or raises ``ValidationFailed`` naming the field.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from confsvc.errors import ValidationFailed
from confsvc.i18n import gettext as _

# RFC 5322 allows far more, but these are the addresses that mail relays accept in
# practice; a "/" in the local part (seen in Outlook invitations) is allowed.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
_DIGITS = re.compile(r"^[0-9]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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
