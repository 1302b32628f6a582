"""Checks of a minutes draft against its meeting, and conversion to and from JSON columns.

Every check collects its problems, so one PUT reports all invalid fields at once, each
named by its path (``attendance[2].proxy``). A draft may be incomplete: missing parts
(an action item's owner or due date, a late person's minutes) are only warnings on save,
so the text typed so far is stored, and become errors when the draft is submitted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import msgspec

from confsvc import validation
from confsvc.db.models import Meeting, Minutes
from confsvc.errors import ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.minutes.schemas import ActionItemIn, AttendanceIn, MinutesDraft, NoteIn, ResolutionIn

T = TypeVar("T")

MAX_ENTRIES = 500
"""Most entries in each list of a draft."""
MAX_MEETING_HOURS = 24
"""Longest span between the actual start and end, in hours."""


@dataclass
class _Problems:
    items: list[dict[str, str]] = field(default_factory=list)

    def add(self, name: str, reason: str) -> None:
        self.items.append({"name": name, "reason": reason})

    def raise_if_any(self, message: str) -> None:
        if self.items:
            names = ", ".join(item["name"] for item in self.items[:10])
            raise ValidationFailed(f"{message}: {names}", invalid_params=self.items)


@dataclass(frozen=True)
class CleanDraft:
    attendance: list[AttendanceIn]
    notes: list[NoteIn]
    resolutions: list[ResolutionIn]
    action_items: list[ActionItemIn]
    actual_start: datetime | None
    actual_end: datetime | None
    warnings: list[dict[str, str]]
    """Missing parts as ``{"name": path, "reason": text}``, from :func:`missing_parts`."""


def invitees(meeting: Meeting) -> dict[str, str]:
    """Return the invited attendees' addresses with their names, in invitation order."""
    return {attendee.email: attendee.name for attendee in meeting.attendees}


def clean_draft(data: MinutesDraft, *, meeting: Meeting, scheduled_start: datetime) -> CleanDraft:
    """Check ``data`` against ``meeting`` and return it with addresses and text normalised.

    Raises:
        ValidationFailed: one ``invalid_params`` entry per problem found.
    """
    problems = _Problems()
    for name in ("attendance", "notes", "resolutions", "action_items"):
        if len(getattr(data, name)) > MAX_ENTRIES:
            problems.add(name, _("at most {count} entries", count=MAX_ENTRIES))
    problems.raise_if_any(_("invalid minutes"))

    actual_start, actual_end = _clean_times(data, scheduled_start=scheduled_start, problems=problems)
    attendance = _clean_attendance(data.attendance, meeting=meeting, problems=problems)
    notes = _clean_notes(data.notes, agenda_count=len(meeting.agenda_items), problems=problems)
    resolutions = _clean_resolutions(data.resolutions, problems=problems)
    local_day = scheduled_start.astimezone(ZoneInfo(meeting.time_zone)).date()
    action_items = _clean_action_items(
        data.action_items, resolution_count=len(resolutions), meeting_day=local_day, problems=problems
    )
    problems.raise_if_any(_("invalid minutes"))
    warnings = missing_parts(attendance, action_items)
    return CleanDraft(attendance, notes, resolutions, action_items, actual_start, actual_end, warnings)


def _clean_times(data: MinutesDraft, *, scheduled_start: datetime, problems: _Problems) -> tuple[datetime | None, datetime | None]:
    start, end = data.actual_start, data.actual_end
    for name, value in (("actual_start", start), ("actual_end", end)):
        if value is not None and value.utcoffset() is None:
            problems.add(name, _("the time has no UTC offset; write it like 2027-03-01T09:30:00+08:00"))
            return None, None
    if start is not None and abs(start - scheduled_start) > timedelta(days=1):
        problems.add("actual_start", _("more than a day away from the scheduled start {start}", start=scheduled_start.isoformat()))
    if start is not None and end is not None:
        if end <= start:
            problems.add("actual_end", _("must be later than actual_start"))
        elif end - start > timedelta(hours=MAX_MEETING_HOURS):
            problems.add("actual_end", _("more than {hours} hours after actual_start", hours=MAX_MEETING_HOURS))
    return start, end


def _clean_attendance(entries: Sequence[AttendanceIn], *, meeting: Meeting, problems: _Problems) -> list[AttendanceIn]:
    invited = invitees(meeting)
    seen: dict[str, int] = {}
    cleaned: list[AttendanceIn] = []
    for index, entry in enumerate(entries):
        prefix = f"attendance[{index}]"
        email = _email(entry.email, field=f"{prefix}.email", problems=problems) if entry.email else None
        name = _text(entry.name, field=f"{prefix}.name", max_length=200, problems=problems)
        if email is not None:
            if email in seen:
                problems.add(f"{prefix}.email", _("{email} is listed twice (also at position {other})", email=email, other=seen[email]))
            seen[email] = index
        if entry.status == "guest":
            if email is not None and email in invited:
                problems.add(f"{prefix}.status", _("{email} was invited; record their own status instead of guest", email=email))
            if not name:
                problems.add(f"{prefix}.name", _("a guest needs a name"))
        elif email is None:
            problems.add(f"{prefix}.email", _("missing: the e-mail of the invited person; list people who were not invited as guest"))
        elif email not in invited:
            problems.add(f"{prefix}.email", _("{email} was not invited; record them with status guest", email=email))
        else:
            name = name or invited[email]

        if entry.status != "late" and entry.minutes_late is not None:
            problems.add(f"{prefix}.minutes_late", _("only for status late"))
        if entry.status != "left_early" and entry.left_at is not None:
            problems.add(f"{prefix}.left_at", _("only for status left_early"))
        if entry.left_at is not None and entry.left_at.utcoffset() is None:
            problems.add(f"{prefix}.left_at", _("the time has no UTC offset; write it like 2027-03-01T09:30:00+08:00"))
        proxy = _text(entry.proxy, field=f"{prefix}.proxy", max_length=200, problems=problems)
        if entry.status != "represented" and proxy:
            problems.add(f"{prefix}.proxy", _("only for status represented"))

        cleaned.append(
            msgspec.structs.replace(
                entry,
                email=email,
                name=name,
                organisation=_text(entry.organisation, field=f"{prefix}.organisation", max_length=200, problems=problems),
                role=_text(entry.role, field=f"{prefix}.role", max_length=200, problems=problems),
                proxy=proxy,
                reason=_text(entry.reason, field=f"{prefix}.reason", max_length=500, problems=problems),
            )
        )
    return cleaned


def _clean_notes(entries: Sequence[NoteIn], *, agenda_count: int, problems: _Problems) -> list[NoteIn]:
    seen: set[int] = set()
    cleaned = []
    for index, entry in enumerate(entries):
        prefix = f"notes[{index}]"
        title = _text(entry.title, field=f"{prefix}.title", max_length=300, problems=problems)
        if entry.item is not None:
            if entry.item > agenda_count:
                problems.add(f"{prefix}.item", _("the agenda has {count} items; no item {item}", count=agenda_count, item=entry.item))
            if entry.item in seen:
                problems.add(f"{prefix}.item", _("agenda item {item} has notes twice; merge them", item=entry.item))
            seen.add(entry.item)
        elif not title:
            problems.add(f"{prefix}.title", _("missing: name the agenda item by number (item) or give a title"))
        text = _text(entry.text, field=f"{prefix}.text", max_length=20_000, problems=problems, multiline=True, required=True)
        presenter = _text(entry.presenter, field=f"{prefix}.presenter", max_length=200, problems=problems)
        cleaned.append(NoteIn(text=text, item=entry.item, title=title, presenter=presenter))
    return cleaned


def _clean_resolutions(entries: Sequence[ResolutionIn], *, problems: _Problems) -> list[ResolutionIn]:
    cleaned = []
    for index, entry in enumerate(entries):
        prefix = f"resolutions[{index}]"
        text = _text(entry.text, field=f"{prefix}.text", max_length=5000, problems=problems, multiline=True, required=True)
        has_votes = any(v is not None for v in (entry.votes_for, entry.votes_against, entry.votes_abstain))
        if has_votes and entry.decided_by != "vote":
            problems.add(f"{prefix}.decided_by", _("vote counts are given, so decided_by must be vote"))
        responsible = _text(entry.responsible, field=f"{prefix}.responsible", max_length=500, problems=problems)
        cleaned.append(msgspec.structs.replace(entry, text=text, responsible=responsible))
    return cleaned


def _clean_action_items(
    entries: Sequence[ActionItemIn], *, resolution_count: int, meeting_day: Any, problems: _Problems
) -> list[ActionItemIn]:
    cleaned = []
    for index, entry in enumerate(entries):
        prefix = f"action_items[{index}]"
        title = _text(entry.title, field=f"{prefix}.title", max_length=500, problems=problems)
        owner = (_email(entry.owner, field=f"{prefix}.owner", problems=problems) or entry.owner) if entry.owner.strip() else ""
        co_owners: list[str] = []
        for position, address in enumerate(entry.co_owners):
            co_owner = _email(address, field=f"{prefix}.co_owners[{position}]", problems=problems)
            if co_owner is None:
                continue
            if co_owner == owner:
                problems.add(f"{prefix}.co_owners[{position}]", _("{email} is already the owner", email=co_owner))
            elif co_owner in co_owners:
                problems.add(f"{prefix}.co_owners[{position}]", _("{email} is listed twice", email=co_owner))
            else:
                co_owners.append(co_owner)
        if entry.resolution is not None and entry.resolution > resolution_count:
            problems.add(
                f"{prefix}.resolution",
                _("the minutes have {count} resolutions; no resolution {number}", count=resolution_count, number=entry.resolution),
            )
        if entry.due is not None and entry.due < meeting_day:
            problems.add(f"{prefix}.due", _("{due} is before the meeting day {day}", due=entry.due.isoformat(), day=meeting_day.isoformat()))
        owner_name = _text(entry.owner_name, field=f"{prefix}.owner_name", max_length=200, problems=problems)
        cleaned.append(
            ActionItemIn(title=title, owner=owner, due=entry.due, owner_name=owner_name, co_owners=co_owners, resolution=entry.resolution)
        )
    return cleaned


def check_complete(minutes: Minutes, *, meeting: Meeting) -> None:
    """Check that a draft can be submitted: times set and every invitee's attendance recorded.

    Raises:
        ValidationFailed: one entry per missing time or invitee.
    """
    problems = _Problems()
    if minutes.actual_start is None:
        problems.add("actual_start", _("missing: record when the meeting actually started"))
    if minutes.actual_end is None:
        problems.add("actual_end", _("missing: record when the meeting actually ended"))
    recorded = {entry.get("email") for entry in minutes.attendance}
    for email, name in invitees(meeting).items():
        if email not in recorded:
            problems.add("attendance", _("no attendance recorded for {name} <{email}>", name=name or email, email=email))
    problems.items.extend(missing_parts(from_json(minutes.attendance, AttendanceIn), from_json(minutes.action_items, ActionItemIn)))
    problems.raise_if_any(_("the minutes are incomplete"))


def missing_parts(attendance: Sequence[AttendanceIn], action_items: Sequence[ActionItemIn]) -> list[dict[str, str]]:
    """List what a draft still lacks before it can be submitted, one entry per field.

    A draft save stores the draft and returns these as warnings; :func:`check_complete`
    rejects the submission with them.
    """
    problems = _Problems()
    for index, entry in enumerate(attendance):
        prefix = f"attendance[{index}]"
        if entry.status == "late" and entry.minutes_late is None:
            problems.add(f"{prefix}.minutes_late", _("missing: how many minutes late"))
        if entry.status == "left_early" and entry.left_at is None:
            problems.add(f"{prefix}.left_at", _("missing: the time the person left"))
        if entry.status == "represented" and not entry.proxy:
            problems.add(f"{prefix}.proxy", _("missing: the name of the person who attended in their place"))
    for index, item in enumerate(action_items):
        prefix = f"action_items[{index}]"
        if not item.title:
            problems.add(f"{prefix}.title", _("missing: what is to be done"))
        if not item.owner:
            problems.add(f"{prefix}.owner", _("missing: the owner's e-mail"))
        if item.due is None:
            problems.add(f"{prefix}.due", _("missing: the due date"))
    return problems.items


def to_json(items: Sequence[msgspec.Struct]) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(item) for item in items]


def from_json(rows: Sequence[dict[str, Any]], kind: type[T]) -> list[T]:
    """Read stored entries back; stored values were checked when they were written."""
    return [msgspec.convert(row, kind, strict=False) for row in rows]


def _email(value: str, *, field: str, problems: _Problems) -> str | None:
    try:
        return validation.email(value, field=field)
    except ValidationFailed as exc:
        problems.items.extend(exc.invalid_params)
        return None


def _text(
    value: str, *, field: str, max_length: int, problems: _Problems, multiline: bool = False, required: bool = False
) -> str:
    try:
        return validation.text(value, field=field, max_length=max_length, required=required, multiline=multiline)
    except ValidationFailed as exc:
        problems.items.extend(exc.invalid_params)
        return value.strip()
