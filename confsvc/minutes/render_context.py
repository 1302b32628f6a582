"""Data handed to the minutes templates, and the placeholders a template may use.

``MinutesContext`` is the typed input of the renderers. ``to_template_context()`` turns it
into the plain mapping that the .docx, HTML and Markdown templates see; ``TEMPLATE_SCHEMA``
describes that mapping, and ``KNOWN_PLACEHOLDERS`` flattens it into dotted paths (list
elements are written ``[]``, e.g. ``action_items[].owner``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from confsvc.errors import ValidationFailed

__all__ = [
    "KNOWN_PLACEHOLDERS",
    "LOOP_ATTRIBUTES",
    "TEMPLATE_SCHEMA",
    "ActionItem",
    "AgendaItem",
    "Approval",
    "Attendance",
    "MeetingInfo",
    "MinutesContext",
    "Person",
    "Resolution",
    "sample_context",
]

DEFAULT_TIMEZONE: Final = "Asia/Shanghai"

CONFIDENTIALITY_MARKS: Final[Mapping[str, str]] = {
    "zh-CN": "内部资料 注意保密",
    "en": "CONFIDENTIAL",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Person:
    """One attendee as the minutes list them.

    ``minutes_late`` is in minutes; ``left_at`` is an aware datetime; ``proxy`` is the name
    of the person who attended in this person's place.
    """

    name: str
    organisation: str = ""
    role: str = ""
    minutes_late: int | None = None
    left_at: datetime | None = None
    proxy: str = ""
    reason: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Attendance:
    """Attendance groups; ``excused`` is 请假 and ``guests`` are 列席 (not invited as members)."""

    present: tuple[Person, ...] = ()
    late: tuple[Person, ...] = ()
    left_early: tuple[Person, ...] = ()
    absent: tuple[Person, ...] = ()
    excused: tuple[Person, ...] = ()
    represented: tuple[Person, ...] = ()
    guests: tuple[Person, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class MeetingInfo:
    """Meeting header. All datetimes must be timezone-aware; ``timezone`` is an IANA name
    used to display them (default Asia/Shanghai)."""

    title: str
    start: datetime
    end: datetime
    number: str = ""
    organiser: str = ""
    chair: str = ""
    secretary: str = ""
    actual_start: datetime | None = None
    actual_end: datetime | None = None
    location: str = ""
    bridge: str = ""
    timezone: str = DEFAULT_TIMEZONE
    confidential: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class AgendaItem:
    """Agenda item; ``number`` defaults to its 1-based position."""

    title: str
    presenter: str = ""
    notes: str = ""
    number: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Resolution:
    """Resolution; ``decided_by`` says how it was decided (e.g. 一致通过, show of hands)."""

    number: str
    text: str
    decided_by: str = ""
    votes_for: int | None = None
    votes_against: int | None = None
    votes_abstain: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ActionItem:
    """Action item; ``due`` is a calendar date in the meeting's time zone."""

    number: str
    title: str
    owner: str
    co_owners: tuple[str, ...] = ()
    due: date | None = None
    resolution_number: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Approval:
    approved_by: str = ""
    approved_at: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class MinutesContext:
    """Everything one set of minutes shows.

    ``locale`` ("zh-CN" or "en") picks the default confidentiality mark; a non-empty
    ``confidentiality_mark`` replaces it.
    """

    meeting: MeetingInfo
    attendance: Attendance = field(default_factory=Attendance)
    agenda_items: tuple[AgendaItem, ...] = ()
    resolutions: tuple[Resolution, ...] = ()
    action_items: tuple[ActionItem, ...] = ()
    approval: Approval = field(default_factory=Approval)
    locale: str = "zh-CN"
    confidentiality_mark: str = ""

    def to_template_context(self) -> dict[str, Any]:
        """Build the mapping described by ``TEMPLATE_SCHEMA``.

        Raises:
            ValidationFailed: a datetime is naive or the time zone is not a known IANA name.
        """
        meeting = self.meeting
        _check_timezone(meeting.timezone)
        for name, value in (
            ("meeting.start", meeting.start),
            ("meeting.end", meeting.end),
            ("meeting.actual_start", meeting.actual_start),
            ("meeting.actual_end", meeting.actual_end),
            ("approval.approved_at", self.approval.approved_at),
        ):
            _check_aware(name, value)

        mark = ""
        if meeting.confidential:
            mark = self.confidentiality_mark or CONFIDENTIALITY_MARKS.get(
                self.locale, CONFIDENTIALITY_MARKS["en"]
            )

        return {
            "meeting": {
                "title": meeting.title,
                "number": meeting.number,
                "organiser": meeting.organiser,
                "chair": meeting.chair,
                "host": meeting.chair,
                "secretary": meeting.secretary,
                "recorder": meeting.secretary,
                "start": meeting.start,
                "end": meeting.end,
                "actual_start": meeting.actual_start,
                "actual_end": meeting.actual_end,
                "location": meeting.location,
                "bridge": meeting.bridge,
                "timezone": meeting.timezone,
                "confidential": meeting.confidential,
            },
            "attendance": {
                group: [_person(p, group) for p in getattr(self.attendance, group)]
                for group in _ATTENDANCE_GROUPS
            },
            "agenda_items": [
                {
                    "number": item.number if item.number is not None else position,
                    "title": item.title,
                    "presenter": item.presenter,
                    "notes": item.notes,
                }
                for position, item in enumerate(self.agenda_items, start=1)
            ],
            "resolutions": [
                {
                    "number": r.number,
                    "text": r.text,
                    "decided_by": r.decided_by,
                    "votes_for": r.votes_for,
                    "votes_against": r.votes_against,
                    "votes_abstain": r.votes_abstain,
                    "has_votes": any(
                        v is not None for v in (r.votes_for, r.votes_against, r.votes_abstain)
                    ),
                }
                for r in self.resolutions
            ],
            "action_items": [
                {
                    "number": a.number,
                    "title": a.title,
                    "text": a.title,
                    "owner": a.owner,
                    "co_owners": list(a.co_owners),
                    "due": a.due,
                    "resolution_number": a.resolution_number,
                }
                for a in self.action_items
            ],
            "approval": {
                "approved_by": self.approval.approved_by,
                "approved_at": self.approval.approved_at,
            },
            "confidential": meeting.confidential,
            "confidentiality_mark": mark,
        }


_ATTENDANCE_GROUPS: Final = (
    "present",
    "late",
    "left_early",
    "absent",
    "excused",
    "represented",
    "guests",
)


def _person(person: Person, group: str) -> dict[str, Any]:
    _check_aware(f"attendance.{group}[].left_at", person.left_at)
    return {
        "name": person.name,
        "organisation": person.organisation,
        "role": person.role,
        "minutes_late": person.minutes_late,
        "left_at": person.left_at,
        "proxy": person.proxy,
        "reason": person.reason,
    }


def _check_aware(name: str, value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise ValidationFailed.field(name, "datetime has no time zone; pass an aware datetime")


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed.field(
            "meeting.timezone", f"unknown IANA time zone {name!r}"
        ) from exc


# A leaf is None, an object is a dict of fields, a list is a one-element list holding the
# schema of its elements.
_PERSON_SCHEMA: Final[dict[str, Any]] = dict.fromkeys(
    ("name", "organisation", "role", "minutes_late", "left_at", "proxy", "reason")
)

TEMPLATE_SCHEMA: Final[dict[str, Any]] = {
    "meeting": dict.fromkeys(
        (
            "title",
            "number",
            "organiser",
            "chair",
            "host",
            "secretary",
            "recorder",
            "start",
            "end",
            "actual_start",
            "actual_end",
            "location",
            "bridge",
            "timezone",
            "confidential",
        )
    ),
    "attendance": {group: [_PERSON_SCHEMA] for group in _ATTENDANCE_GROUPS},
    "agenda_items": [dict.fromkeys(("number", "title", "presenter", "notes"))],
    "resolutions": [
        dict.fromkeys(
            (
                "number",
                "text",
                "decided_by",
                "votes_for",
                "votes_against",
                "votes_abstain",
                "has_votes",
            )
        )
    ],
    "action_items": [
        {
            "number": None,
            "title": None,
            "text": None,
            "owner": None,
            "co_owners": [None],
            "due": None,
            "resolution_number": None,
        }
    ],
    "approval": dict.fromkeys(("approved_by", "approved_at")),
    "confidential": None,
    "confidentiality_mark": None,
}

# Attributes of Jinja's ``loop`` variable inside a for block.
LOOP_ATTRIBUTES: Final = frozenset(
    {
        "index",
        "index0",
        "revindex",
        "revindex0",
        "first",
        "last",
        "length",
        "cycle",
        "depth",
        "depth0",
        "previtem",
        "nextitem",
        "changed",
    }
)


def _flatten(schema: Any, prefix: str) -> list[str]:
    paths: list[str] = []
    if isinstance(schema, dict):
        for key, sub in schema.items():
            path = f"{prefix}.{key}" if prefix else key
            paths.append(path)
            paths.extend(_flatten(sub, path))
    elif isinstance(schema, list):
        paths.extend(_flatten(schema[0], f"{prefix}[]"))
    return paths


KNOWN_PLACEHOLDERS: Final[frozenset[str]] = frozenset(
    _flatten(TEMPLATE_SCHEMA, "") + [f"loop.{name}" for name in LOOP_ATTRIBUTES]
)


def sample_context(*, locale: str = "zh-CN") -> MinutesContext:
    """Build a complete, confidential sample meeting (Asia/Shanghai) that fills every field.

    Template validation renders with it, and the docs use it as the example.
    """
    zone = ZoneInfo(DEFAULT_TIMEZONE)
    start = datetime(2026, 12, 10, 14, 0, tzinfo=zone)
    return MinutesContext(
        locale=locale,
        meeting=MeetingInfo(
            title="2026年第4季度经营分析会",
            number="〔2026〕12号",
            organiser="总经理办公室",
            chair="张伟",
            secretary="陈静",
            start=start,
            end=start + timedelta(hours=1, minutes=30),
            actual_start=start + timedelta(minutes=3),
            actual_end=start + timedelta(hours=1, minutes=41),
            location="总部3号会议室",
            bridge="电话会议桥 8001（接入码 123 456）",
            timezone=DEFAULT_TIMEZONE,
            confidential=True,
        ),
        attendance=Attendance(
            present=(
                Person(name="张伟", organisation="总经理办公室", role="总经理"),
                Person(name="李娜", organisation="华东区", role="区域总监"),
                Person(name="刘洋", organisation="人力资源部", role="经理"),
                Person(name="王芳", organisation="财务部", role="经理"),
            ),
            late=(Person(name="赵强", organisation="华南区", minutes_late=15),),
            left_early=(
                Person(name="孙丽", organisation="市场部", left_at=start + timedelta(hours=1)),
            ),
            absent=(Person(name="周杰", organisation="华北区"),),
            excused=(Person(name="吴敏", organisation="法务部", reason="出差"),),
            represented=(Person(name="郑浩", organisation="信息技术部", proxy="冯雪"),),
            guests=(Person(name="Emily Carter", organisation="德勤咨询", role="顾问"),),
        ),
        agenda_items=(
            AgendaItem(
                title="第4季度经营情况通报",
                presenter="王芳",
                notes="全年收入完成预算的 102%，华东区增长最快。\n华南区回款周期偏长。",
            ),
            AgendaItem(title="华东区 Q1 预算调整", presenter="李娜", notes="建议上调 15%。"),
            AgendaItem(title="2027年招聘计划", presenter="刘洋", notes="计划新增 40 人。"),
        ),
        resolutions=(
            Resolution(
                number="1",
                text="同意华东区 Q1 预算上调 15%",
                decided_by="表决通过",
                votes_for=5,
                votes_against=0,
                votes_abstain=1,
            ),
            Resolution(number="2", text="原则通过2027年招聘计划", decided_by="一致同意"),
        ),
        action_items=(
            ActionItem(
                number="1",
                title="提交华东区续约清单",
                owner="李娜",
                co_owners=("赵强",),
                due=date(2026, 12, 20),
                resolution_number="1",
            ),
            ActionItem(
                number="2",
                title="更新 Q1 招聘计划",
                owner="刘洋",
                due=date(2026, 12, 25),
                resolution_number="2",
            ),
            ActionItem(
                number="3",
                title="整理预算调整说明",
                owner="王芳",
                co_owners=("李娜", "孙丽"),
                due=date(2027, 1, 8),
            ),
        ),
        approval=Approval(approved_by="张伟", approved_at=start + timedelta(days=1, hours=2)),
    )
