"""Request and response bodies of the minutes API (msgspec structs)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

Email = Annotated[str, msgspec.Meta(max_length=320)]
ShortText = Annotated[str, msgspec.Meta(max_length=200)]
LongText = Annotated[str, msgspec.Meta(max_length=20_000)]

AttendanceStatus = Literal["present", "late", "left_early", "absent", "excused", "represented", "guest"]
"""``excused`` is 请假; ``guest`` is 列席, a person who attended without being invited."""
DecisionMethod = Literal["consensus", "unanimous", "vote", "chair"]
MinutesStatus = Literal["draft", "submitted", "approved", "distributed"]


class AttendanceIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One person's attendance. ``minutes_late`` is in minutes; ``left_at`` is an aware
    time; ``proxy`` names who attended in this person's place."""

    status: AttendanceStatus
    email: Email | None = None
    name: ShortText = ""
    organisation: ShortText = ""
    role: ShortText = ""
    minutes_late: Annotated[int, msgspec.Meta(ge=1, le=1440)] | None = None
    left_at: datetime | None = None
    proxy: ShortText = ""
    reason: Annotated[str, msgspec.Meta(max_length=500)] = ""


class NoteIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Notes on agenda item ``item`` (its 1-based position), or on an extra item ``title``."""

    text: LongText
    item: Annotated[int, msgspec.Meta(ge=1)] | None = None
    title: Annotated[str, msgspec.Meta(max_length=300)] = ""
    presenter: ShortText = ""


class ResolutionIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A resolution; its number is its 1-based position in the list. ``responsible`` and
    ``deadline`` default to the owners and the earliest due date of its action items."""

    text: Annotated[str, msgspec.Meta(max_length=5000)]
    decided_by: DecisionMethod = "consensus"
    votes_for: Annotated[int, msgspec.Meta(ge=0)] | None = None
    votes_against: Annotated[int, msgspec.Meta(ge=0)] | None = None
    votes_abstain: Annotated[int, msgspec.Meta(ge=0)] | None = None
    responsible: Annotated[str, msgspec.Meta(max_length=500)] = ""
    deadline: date | None = None


class ActionItemIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """An action item; ``resolution`` is the number of the resolution it serves and ``due``
    a calendar day in the meeting's time zone. A draft may leave ``title``, ``owner`` and
    ``due`` empty; submitting for review requires all three."""

    title: Annotated[str, msgspec.Meta(max_length=500)] = ""
    owner: Email = ""
    due: date | None = None
    owner_name: ShortText = ""
    co_owners: list[Email] = msgspec.field(default_factory=list)
    resolution: Annotated[int, msgspec.Meta(ge=1)] | None = None


class MinutesDraft(msgspec.Struct, forbid_unknown_fields=True):
    """The whole draft; PUT replaces the stored draft with it."""

    attendance: list[AttendanceIn] = msgspec.field(default_factory=list)
    notes: list[NoteIn] = msgspec.field(default_factory=list)
    resolutions: list[ResolutionIn] = msgspec.field(default_factory=list)
    action_items: list[ActionItemIn] = msgspec.field(default_factory=list)
    actual_start: datetime | None = None
    actual_end: datetime | None = None
    template: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class SubmitRequest(msgspec.Struct, forbid_unknown_fields=True):
    cosigners: list[Email] = msgspec.field(default_factory=list)
    """Invited attendees who must co-sign (会签) before the minutes can be approved."""


class ReturnRequest(msgspec.Struct, forbid_unknown_fields=True):
    comment: Annotated[str, msgspec.Meta(max_length=2000)]


class CosignRequest(msgspec.Struct, forbid_unknown_fields=True):
    comment: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class DistributeRequest(msgspec.Struct, forbid_unknown_fields=True):
    extra_recipients: list[Email] = msgspec.field(default_factory=list)
    """Further addresses (抄送); rejected for confidential meetings."""


class PrefillRequest(msgspec.Struct, forbid_unknown_fields=True):
    conference_id: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    """Conference id on the bridge; derived from the meeting when the adapter can."""


class AttendanceRead(msgspec.Struct):
    status: AttendanceStatus | None
    """None until the secretary records it."""
    email: str | None
    name: str
    organisation: str = ""
    role: str = ""
    minutes_late: int | None = None
    left_at: datetime | None = None
    proxy: str = ""
    reason: str = ""
    invited: bool = True


class NoteRead(msgspec.Struct):
    item: int | None
    title: str
    presenter: str
    text: str


class ResolutionRead(msgspec.Struct):
    number: int
    text: str
    decided_by: DecisionMethod
    votes_for: int | None
    votes_against: int | None
    votes_abstain: int | None
    responsible: str
    deadline: date | None


class ActionItemRead(msgspec.Struct):
    number: int
    title: str
    owner: str
    """Empty while the draft does not name the owner yet."""
    owner_name: str
    co_owners: list[str]
    due: date | None
    """None while the draft does not give the due date yet."""
    resolution: int | None


class CosignatureRead(msgspec.Struct):
    email: str
    signed_at: datetime | None


class HistoryRead(msgspec.Struct):
    action: str
    by: str
    at: datetime
    comment: str | None = None


class ProblemRead(msgspec.Struct):
    name: str
    """Path of the field, e.g. ``action_items[0].owner``."""
    reason: str


class MinutesRead(msgspec.Struct):
    meeting_id: uuid.UUID
    occurrence: datetime | None
    version: int
    status: MinutesStatus
    stored: bool
    """False while nothing was saved yet: the body is the empty form with the invitees."""
    number: str | None
    template: str | None
    actual_start: datetime | None
    actual_end: datetime | None
    attendance: list[AttendanceRead]
    notes: list[NoteRead]
    resolutions: list[ResolutionRead]
    action_items: list[ActionItemRead]
    cosignatures: list[CosignatureRead]
    history: list[HistoryRead]
    return_comment: str | None
    submitted_at: datetime | None
    approved_at: datetime | None
    approved_by: str | None
    distributed_at: datetime | None
    warnings: list[ProblemRead] = msgspec.field(default_factory=list)
    """Parts a draft still lacks. Submitting for review fails until they are filled in."""


class VersionSummary(msgspec.Struct):
    version: int
    status: MinutesStatus
    number: str | None
    approved_at: datetime | None
    distributed_at: datetime | None
    updated_at: datetime


class ReceiptRead(msgspec.Struct):
    email: str
    name: str
    sent_at: datetime
    acknowledged_at: datetime | None


class ReceiptsRead(msgspec.Struct):
    version: int
    acknowledged: list[ReceiptRead]
    pending: list[ReceiptRead]


class RegisterEntry(msgspec.Struct):
    """One resolution (议定事项) in the register across meetings."""

    id: uuid.UUID
    meeting_id: uuid.UUID
    meeting_title: str
    minutes_number: str | None
    minutes_version: int
    occurrence: datetime | None
    number: int
    text: str
    decided_by: str
    responsible: str
    owners: list[str]
    deadline: date | None
    state: str
    approved_at: datetime | None


class TemplateRead(msgspec.Struct):
    id: uuid.UUID | None
    """None for the templates shipped with confsvc."""
    name: str
    filename: str
    locale: str
    placeholders: list[str]
    size: int
    """Bytes."""
    created_at: datetime | None
    shipped: bool = False
