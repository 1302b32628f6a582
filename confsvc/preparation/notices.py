"""Notices of failed or warning checks to the organiser and secretary, by e-mail and IM.

Every notice is an outbox row written in the transaction that records the check run. Its
idempotency key is ``prep-check:<meeting id>:<offset>:<run id>:<channel>:<recipient>``, so
one run produces each notice once, however often the sweep or a retry comes by.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.db.models import CheckRun
from confsvc.i18n import gettext as _
from confsvc.i18n import normalise_locale
from confsvc.notify.outbox import enqueue
from confsvc.preparation.checks import CheckOutcome, Contact, MeetingFacts
from confsvc.settings import Settings

__all__ = ["enqueue_check_notices", "notice_text"]

logger = logging.getLogger(__name__)

_STATUS_LABELS = {"fail": "FAIL", "warn": "WARN", "pass": "PASS"}
_CHECK_NAMES = {
    "agenda": "Agenda",
    "materials": "Materials",
    "quorum": "Quorum",
    "bridge": "Bridge",
    "room": "Room and equipment",
}


def _title(facts: MeetingFacts, *, locale: str) -> str:
    return _("Pre-meeting check: {title}", locale=locale, title=facts.title)


def notice_text(facts: MeetingFacts, outcomes: Sequence[CheckOutcome], *, locale: str, link: str) -> str:
    """Render the notice body: the meeting, then one line per failed or warning check."""
    start = facts.occurrence_starts_at.astimezone(ZoneInfo(facts.time_zone))
    lines = [
        _("Meeting: {title}", locale=locale, title=facts.title),
        _("Time: {when}", locale=locale, when=f"{start:%Y-%m-%d %H:%M} ({facts.time_zone})"),
        "",
        _("These checks need attention:", locale=locale),
    ]
    for outcome in outcomes:
        if outcome.status == "pass":
            continue
        label = _(_CHECK_NAMES.get(outcome.name, outcome.name), locale=locale)
        lines.append(f"- [{_STATUS_LABELS[outcome.status]}] {label}: {outcome.detail(locale=locale)}")
    lines += ["", _("Check results: {link}", locale=locale, link=link)]
    return "\n".join(lines) + "\n"


def _recipients(facts: MeetingFacts) -> list[Contact]:
    people = [facts.organiser]
    if facts.secretary is not None and facts.secretary.email != facts.organiser.email:
        people.append(facts.secretary)
    return people


async def enqueue_check_notices(
    session: AsyncSession,
    settings: Settings,
    facts: MeetingFacts,
    run: CheckRun,
    outcomes: Sequence[CheckOutcome],
    *,
    offset_label: str,
    now: datetime,
) -> int:
    """Queue the notices of ``run`` when any check failed or warned; return how many were queued.

    Recipients: the organiser and the secretary by e-mail and on each of their active IM
    channels, plus the meeting's own robots and webhooks. ``offset_label`` is the offset
    in minutes for a scheduled run or ``manual``.
    """
    if all(outcome.status == "pass" for outcome in outcomes):
        return 0
    link = f"{settings.base_url}/meetings/{facts.meeting_id}#checks"
    prefix = f"prep-check:{facts.meeting_id}:{offset_label}:{run.id}"
    queued = 0

    for person in _recipients(facts):
        locale = normalise_locale(person.locale) or settings.default_locale
        title = _title(facts, locale=locale)
        text = notice_text(facts, outcomes, locale=locale, link=link)
        created = await enqueue(
            session,
            key=f"{prefix}:email:{person.email}",
            channel="email",
            recipient=person.email,
            meeting_id=facts.meeting_id,
            payload={"subject": title, "text": text, "to_name": person.name, "language": locale},
        )
        queued += int(created)
        for kind, config in person.channels:
            queued += await _enqueue_im(
                session, key=f"{prefix}:im:{kind}:{person.email}", recipient=person.email, facts=facts,
                kind=kind, config=config, title=title, text=text, link=link,
            )

    locale = settings.default_locale
    for kind, config in facts.meeting_channels:
        queued += await _enqueue_im(
            session, key=f"{prefix}:im:{kind}:meeting", recipient=f"meeting:{facts.meeting_id}", facts=facts,
            kind=kind, config=config, title=_title(facts, locale=locale),
            text=notice_text(facts, outcomes, locale=locale, link=link), link=link,
        )

    run.notified = queued > 0
    logger.info("check notices queued meeting_id=%s run_id=%s count=%d", facts.meeting_id, run.id, queued)
    return queued


async def _enqueue_im(
    session: AsyncSession,
    *,
    key: str,
    recipient: str,
    facts: MeetingFacts,
    kind: str,
    config: Mapping[str, Any],
    title: str,
    text: str,
    link: str,
) -> int:
    # The outbox routes every IM kind through the "im" handler, which reads the kind from the payload.
    created = await enqueue(
        session,
        key=key,
        channel="im",
        recipient=recipient,
        meeting_id=facts.meeting_id,
        payload={"kind": kind, "config": dict(config), "title": title, "text": text, "link": link, "format": "markdown"},
    )
    return int(created)
