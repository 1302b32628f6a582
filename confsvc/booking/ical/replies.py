"""Deciding whether an incoming iTIP REPLY changes an attendee's stored answer.

Policy (RFC 5546 2.1.5: SEQUENCE first, then DTSTAMP):

* A reply with a SEQUENCE below the meeting's answers an older version. It is reported
  as :attr:`ReplyDecision.OLD_VERSION` and never sets the current PARTSTAT.
* A reply with a SEQUENCE above the meeting's comes from a client that raised SEQUENCE
  itself. It is treated as a reply to the current version: it neither moves the
  meeting's SEQUENCE nor wins by its SEQUENCE, so only its DTSTAMP counts.
* Among replies to the current version, the latest DTSTAMP wins. A reply whose DTSTAMP is
  not later than the stored one (including an equal one) changes nothing, so the same
  message applied twice is a no-op.
* A reply from an address that is not an attendee changes nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from confsvc.booking.ical.model import ReplyInfo

__all__ = [
    "AttendeeReplyState",
    "ReplyDecision",
    "ReplyOutcome",
    "apply_reply",
    "decide_reply",
    "normalize_address",
]


class ReplyDecision(enum.Enum):
    APPLY = "apply"
    OLD_VERSION = "old_version"
    STALE = "stale"
    NOT_INVITED = "not_invited"


@dataclass(frozen=True)
class AttendeeReplyState:
    """The stored answer of one attendee; ``reply_*`` are None until a reply arrived."""

    email: str
    partstat: str = "NEEDS-ACTION"
    reply_sequence: int | None = None
    reply_dtstamp: datetime | None = None
    comment: str | None = None
    delegated_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReplyOutcome:
    """The decision and the attendee states after it (unchanged unless APPLY)."""

    decision: ReplyDecision
    states: dict[str, AttendeeReplyState]
    email: str


def normalize_address(address: str) -> str:
    """Return the key used to match calendar addresses: scheme removed, trimmed, case folded."""
    value = address.strip()
    if value.lower().startswith("mailto:"):
        value = value[len("mailto:") :]
    return value.strip().casefold()


def decide_reply(
    *,
    meeting_sequence: int,
    stored_sequence: int | None,
    stored_dtstamp: datetime | None,
    incoming_sequence: int,
    incoming_dtstamp: datetime | None,
) -> ReplyDecision:
    """Decide whether an incoming reply supersedes the stored one (policy in the module doc).

    A stored reply to an older meeting version never blocks a reply to the current one.
    A reply without DTSTAMP supersedes only when no current reply is stored.
    """
    if incoming_sequence < meeting_sequence:
        return ReplyDecision.OLD_VERSION

    stored_is_current = stored_sequence is not None and stored_sequence >= meeting_sequence
    if not stored_is_current or stored_dtstamp is None:
        return ReplyDecision.APPLY
    if incoming_dtstamp is None or incoming_dtstamp <= stored_dtstamp:
        return ReplyDecision.STALE
    return ReplyDecision.APPLY


def apply_reply(
    states: Mapping[str, AttendeeReplyState],
    reply: ReplyInfo,
    *,
    meeting_sequence: int,
) -> ReplyOutcome:
    """Return the attendee states after ``reply``, without changing ``states``.

    ``states`` is keyed by any form of the address; matching uses
    :func:`normalize_address`. The stored reply sequence is clamped to
    ``meeting_sequence`` so that a client-raised SEQUENCE does not block later replies.
    """
    by_key = {normalize_address(key): key for key in states}
    key = by_key.get(normalize_address(reply.email))
    result = dict(states)
    if key is None:
        return ReplyOutcome(ReplyDecision.NOT_INVITED, result, reply.email)

    current = states[key]
    decision = decide_reply(
        meeting_sequence=meeting_sequence,
        stored_sequence=current.reply_sequence,
        stored_dtstamp=current.reply_dtstamp,
        incoming_sequence=reply.sequence,
        incoming_dtstamp=reply.dtstamp,
    )
    if decision is ReplyDecision.APPLY:
        result[key] = replace(
            current,
            partstat=reply.partstat,
            reply_sequence=min(reply.sequence, meeting_sequence),
            reply_dtstamp=reply.dtstamp,
            comment=reply.comment,
            delegated_to=reply.delegated_to,
        )
    return ReplyOutcome(decision, result, key)
