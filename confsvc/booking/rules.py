"""Booking rules: times, notice, duration and recurrence bounds.

All checks raise ``ValidationFailed`` naming the field, before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from confsvc import validation
from confsvc.bridges.allocation import Slot
from confsvc.errors import ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.settings import BookingSettings


@dataclass(frozen=True)
class TimeRequest:
    starts_at: datetime
    ends_at: datetime | None
    duration_minutes: int | None
    time_zone: str


def resolve_times(request: TimeRequest, *, rules: BookingSettings) -> tuple[datetime, datetime]:
    """Return (start, end) in UTC after checking offsets, order and maximum duration."""
    validation.time_zone(request.time_zone)
    starts_at = validation.aware(request.starts_at, field="starts_at").astimezone(UTC)
    if request.ends_at is not None and request.duration_minutes is not None:
        raise ValidationFailed.field("duration_minutes", _("give ends_at or duration_minutes, not both"))
    if request.ends_at is not None:
        ends_at = validation.aware(request.ends_at, field="ends_at").astimezone(UTC)
    elif request.duration_minutes is not None:
        ends_at = starts_at + timedelta(minutes=request.duration_minutes)
    else:
        raise ValidationFailed.field("ends_at", _("missing: give ends_at or duration_minutes"))
    if ends_at <= starts_at:
        raise ValidationFailed.field("ends_at", _("must be after starts_at"))
    if ends_at - starts_at > timedelta(minutes=rules.max_duration_minutes):
        raise ValidationFailed.field(
            "ends_at", _("the meeting is longer than the maximum of {minutes} minutes", minutes=rules.max_duration_minutes)
        )
    return starts_at, ends_at


def check_notice(starts_at: datetime, *, now: datetime, urgent: bool, urgent_reason: str | None, rules: BookingSettings) -> None:
    """Reject a start in the past, or within the minimum notice unless marked urgent with a reason."""
    if starts_at <= now:
        raise ValidationFailed.field("starts_at", _("the start is in the past"))
    if starts_at < now + timedelta(minutes=rules.min_notice_minutes):
        if not urgent:
            raise ValidationFailed.field(
                "starts_at",
                _("bookings need {minutes} minutes' notice; set urgent to true and give urgent_reason to book sooner", minutes=rules.min_notice_minutes),
            )
        if not urgent_reason or not urgent_reason.strip():
            raise ValidationFailed.field("urgent_reason", _("an urgent booking needs a reason"))


def normalise_rrule(value: str) -> str:
    rule = value.strip()
    if rule.upper().startswith("RRULE:"):
        rule = rule[len("RRULE:") :]
    if "\n" in rule or "\r" in rule:
        raise ValidationFailed.field("rrule", _("give a single RRULE value such as FREQ=WEEKLY;COUNT=10"))
    return rule.upper()


def _local_until(rule: str, zone: ZoneInfo) -> str:
    """Rewrite a UTC ``UNTIL=...Z`` as local wall-clock time, because the rule runs on local time."""
    parts = []
    for part in rule.split(";"):
        name, _, value = part.partition("=")
        if name == "UNTIL" and value.endswith("Z"):
            try:
                instant = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            except ValueError as exc:
                raise ValidationFailed.field("rrule", _("UNTIL must look like 20270330T093000Z")) from exc
            value = instant.astimezone(zone).strftime("%Y%m%dT%H%M%S")
        parts.append(f"{name}={value}" if value else name)
    return ";".join(parts)


def expand(
    starts_at: datetime,
    ends_at: datetime,
    *,
    time_zone: str,
    rrule: str | None,
    rules: BookingSettings,
) -> list[Slot]:
    """Return every occurrence as a UTC slot; a meeting without ``rrule`` has one.

    The rule runs on local wall-clock time in ``time_zone``, so a weekly 09:30 meeting
    stays at 09:30 local across daylight-saving changes. A series must end within
    ``max_series_days`` and have at most ``max_occurrences`` occurrences.
    """
    if not rrule:
        return [Slot(starts_at=starts_at, ends_at=ends_at, recurrence_id=starts_at)]
    zone = ZoneInfo(time_zone)
    local_start = starts_at.astimezone(zone).replace(tzinfo=None)
    duration = ends_at - starts_at
    try:
        rule = rrulestr(_local_until(normalise_rrule(rrule), zone), dtstart=local_start, ignoretz=True)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed.field("rrule", _("invalid recurrence rule: {error}", error=str(exc)[:200])) from exc
    limit = local_start + timedelta(days=rules.max_series_days)
    slots: list[Slot] = []
    for local in rule:
        if local > limit or len(slots) >= rules.max_occurrences:
            raise ValidationFailed.field(
                "rrule",
                _("the series must end within {days} days and have at most {count} occurrences; add COUNT or UNTIL", days=rules.max_series_days, count=rules.max_occurrences),
            )
        start = local.replace(tzinfo=zone).astimezone(UTC)
        slots.append(Slot(starts_at=start, ends_at=start + duration, recurrence_id=start))
    if not slots:
        raise ValidationFailed.field("rrule", _("the rule produces no occurrence"))
    return slots
