"""Turn the booking form into a ``MeetingCreate`` and service errors back into field messages.

The form speaks local wall-clock time (a date, a time and a duration in minutes in the chosen
time zone); the service speaks aware datetimes. Errors keep the service's wording: each
``invalid_params`` entry is shown next to the form field it names.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from confsvc.booking.schemas import AgendaItemIn, AttendeeIn, MeetingCreate
from confsvc.errors import ValidationFailed
from confsvc.i18n import gettext as _

REPEAT_CHOICES = ("", "DAILY", "WEEKLY", "MONTHLY")
_EMAIL_SPLIT = re.compile(r"[\s,;，；]+")

# Service field names (before any "[index]") to the form field that shows the message.
_FIELD_OF_PARAM = {
    "starts_at": "start",
    "ends_at": "duration",
    "duration_minutes": "duration",
    "attendees": "attendees",
    "agenda": "agenda",
    "rrule": "repeat",
    "organiser": "form",
}


@dataclass
class FormErrors:
    """Messages per form field; ``form`` contains those that name no field."""

    fields: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def get(self, name: str) -> list[str]:
        return self.fields.get(name, [])


def form_field_of(param: str) -> str:
    """Map a service field name such as ``attendees[2].email`` to a form field name."""
    base = param.split("[", 1)[0].split(".", 1)[0]
    return _FIELD_OF_PARAM.get(base, base)


def errors_from_validation(exc: ValidationFailed, *, known: set[str]) -> FormErrors:
    """Spread ``exc.invalid_params`` over the form fields in ``known``; the rest go to ``form``."""
    errors = FormErrors()
    for param in exc.invalid_params or [{"name": "form", "reason": str(exc)}]:
        name = form_field_of(param.get("name", "form"))
        reason = param.get("reason", str(exc))
        if name in known:
            errors.add(name, reason)
        else:
            errors.add("form", f"{param.get('name', '')}: {reason}".strip(": "))
    return errors


def split_emails(text: str) -> list[str]:
    return [part.strip() for part in _EMAIL_SPLIT.split(text or "") if part.strip()]


def parse_agenda(text: str) -> list[AgendaItemIn]:
    """Parse the agenda text, one item per line: ``title`` or ``title | minutes``.

    Raises:
        ValidationFailed: a minutes value is not a whole number from 1 to 1440.
    """
    items = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        title, bar, minutes = line.rpartition("|") if "|" in line else (line, "", "")
        duration = None
        if bar:
            try:
                duration = int(minutes.strip())
            except ValueError:
                duration = -1
            if not 1 <= duration <= 1440:
                raise ValidationFailed.field("agenda", _("line {line}: minutes must be a whole number from 1 to 1440", line=number))
        items.append(AgendaItemIn(title=title.strip(), duration_minutes=duration))
    return items


@dataclass
class BookingForm:
    """The raw values of the booking form, kept to fill the form again after an error."""

    title: str = ""
    description: str = ""
    date: str = ""
    start: str = ""
    duration: str = "60"
    time_zone: str = ""
    attendees: list[str] = field(default_factory=list)
    attendees_extra: str = ""
    chair: str = ""
    secretary: str = ""
    bridge_id: str = ""
    room_id: str = ""
    repeat: str = ""
    count: str = "4"
    agenda: str = ""
    confidential: bool = False
    urgent: bool = False
    urgent_reason: str = ""

    @classmethod
    def from_form(cls, form: Any) -> BookingForm:
        def one(name: str) -> str:
            value = form.get(name)
            return value.strip() if isinstance(value, str) else ""

        return cls(
            title=one("title"), description=(form.get("description") or "") if isinstance(form.get("description"), str) else "",
            date=one("date"), start=one("start"), duration=one("duration"), time_zone=one("time_zone"),
            attendees=[v.strip() for v in form.getall("attendee", []) if isinstance(v, str) and v.strip()],
            attendees_extra=one("attendees_extra"), chair=one("chair"), secretary=one("secretary"),
            bridge_id=one("bridge_id"), room_id=one("room_id"), repeat=one("repeat"), count=one("count"),
            agenda=(form.get("agenda") or "") if isinstance(form.get("agenda"), str) else "",
            confidential=bool(one("confidential")), urgent=bool(one("urgent")), urgent_reason=one("urgent_reason"),
        )

    def all_attendees(self) -> list[str]:
        """Chosen attendees followed by the typed ones, each once, in order."""
        seen: dict[str, None] = {}
        for email in [*self.attendees, *split_emails(self.attendees_extra)]:
            seen.setdefault(email.lower(), None)
        return list(seen)

    def zone(self, default: str) -> ZoneInfo:
        try:
            return ZoneInfo(self.time_zone or default)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationFailed.field("time_zone", _("unknown time zone {value!r}", value=self.time_zone[:64])) from exc

    def start_at(self, default_zone: str) -> datetime:
        """Return the chosen start as an aware datetime in the chosen zone.

        Raises:
            ValidationFailed: the date or time is missing or malformed.
        """
        zone = self.zone(default_zone)
        try:
            day = date.fromisoformat(self.date)
        except ValueError as exc:
            raise ValidationFailed.field("date", _("give a date such as 2026-03-02")) from exc
        try:
            clock = time.fromisoformat(self.start)
        except ValueError as exc:
            raise ValidationFailed.field("start", _("give a time such as 09:30")) from exc
        return datetime.combine(day, clock, tzinfo=zone)

    def duration_minutes(self) -> int:
        try:
            minutes = int(self.duration)
        except ValueError:
            minutes = 0
        if minutes < 1:
            raise ValidationFailed.field("duration", _("give the duration in whole minutes"))
        return minutes

    def rrule(self) -> str | None:
        if not self.repeat:
            return None
        if self.repeat not in REPEAT_CHOICES:
            raise ValidationFailed.field("repeat", _("choose a repetition from the list"))
        try:
            count = int(self.count)
        except ValueError:
            count = 0
        if count < 2:
            raise ValidationFailed.field("count", _("a series needs at least 2 occurrences"))
        return f"FREQ={self.repeat};COUNT={count}"

    def to_create(self, *, default_zone: str) -> MeetingCreate:
        """Build the service request; raise ``ValidationFailed`` naming form fields."""
        problems: list[dict[str, str]] = []

        def attempt(func: Any) -> Any:
            try:
                return func()
            except ValidationFailed as exc:
                problems.extend(exc.invalid_params)
                return None

        starts_at = attempt(lambda: self.start_at(default_zone))
        duration = attempt(self.duration_minutes)
        rrule = attempt(self.rrule)
        agenda = attempt(lambda: parse_agenda(self.agenda))
        bridge_id = attempt(lambda: _uuid(self.bridge_id, "bridge_id"))
        room_id = attempt(lambda: _uuid(self.room_id, "room_id"))
        if problems:
            raise ValidationFailed(_("Please correct the marked fields."), invalid_params=problems)
        payload = {
            "title": self.title,
            "description": self.description,
            "starts_at": starts_at,
            "duration_minutes": duration,
            "time_zone": self.zone(default_zone).key,
            "chair": self.chair or None,
            "secretary": self.secretary or None,
            "attendees": [AttendeeIn(email=email) for email in self.all_attendees()],
            "bridge_id": bridge_id,
            "room_id": room_id,
            "confidentiality": "confidential" if self.confidential else "normal",
            "rrule": rrule,
            "agenda": agenda or None,
            "urgent": self.urgent,
            "urgent_reason": self.urgent_reason or None,
        }
        try:
            return msgspec.convert(payload, MeetingCreate, from_attributes=True)
        except msgspec.ValidationError as exc:
            raise from_msgspec(exc) from exc


def _uuid(value: str, name: str) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise ValidationFailed.field(name, _("choose an entry from the list")) from exc


def from_msgspec(exc: msgspec.ValidationError) -> ValidationFailed:
    """Name the field of a msgspec error such as ``Expected `str` of length <= 300 - at `$.title```."""
    message = str(exc)
    match = re.search(r"at `\$\.([A-Za-z_]+)", message)
    name = match.group(1) if match else "form"
    reason = message.split(" - at ", 1)[0]
    return ValidationFailed(message, invalid_params=[{"name": name, "reason": reason}])
