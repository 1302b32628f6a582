"""Texts of reminders, escalations and digests, in the reader's language (zh-CN or en).

Every owner reminder carries the item link and the two one-click links (mark done, post
progress) signed for the recipient. Escalations to heads and organisers carry the item
link only, because they do not report on the item.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from confsvc.followup.links import make_action_token
from confsvc.i18n import gettext as _
from confsvc.settings import Settings

__all__ = ["ItemFacts", "ReminderText", "digest_text", "escalation_text", "owner_reminder_text"]


@dataclass(frozen=True)
class ItemFacts:
    id: uuid.UUID
    title: str
    due_date: date
    meeting_title: str
    resolution_number: str | None
    owner_email: str
    progress: int


@dataclass(frozen=True)
class ReminderText:
    subject: str
    text: str
    link: str
    done_link: str | None = None
    progress_link: str | None = None


def item_link(settings: Settings, item_id: uuid.UUID) -> str:
    return f"{settings.base_url}/api/v1/action-items/{item_id}"


def _action_links(settings: Settings, facts: ItemFacts, email: str, now: datetime) -> tuple[str, str]:
    expires = now + timedelta(days=settings.followup.link_ttl_days)
    done = make_action_token(settings.secret_key, action="done", action_item_id=facts.id, email=email, expires_at=expires)
    progress = make_action_token(
        settings.secret_key, action="progress", action_item_id=facts.id, email=email, expires_at=expires
    )
    return f"{settings.base_url}/act/{done}", f"{settings.base_url}/act/{progress}"


def owner_reminder_text(
    settings: Settings, facts: ItemFacts, *, kind: str, overdue_days: int, recipient: str, locale: str, now: datetime
) -> ReminderText:
    """Build the owner's reminder of ``kind`` (before_due, due, overdue or notice)."""
    due = facts.due_date.isoformat()
    if kind == "before_due":
        subject = _("Reminder: action item due on {due}: {title}", locale=locale, due=due, title=facts.title)
    elif kind == "due":
        subject = _("Action item due today: {title}", locale=locale, title=facts.title)
    elif kind == "notice":
        subject = _(
            "Formal reminder notice: action item overdue by {days} working days: {title}",
            locale=locale, days=overdue_days, title=facts.title,
        )
    else:
        subject = _(
            "Action item overdue by {days} working days: {title}", locale=locale, days=overdue_days, title=facts.title
        )

    link = item_link(settings, facts.id)
    done_link, progress_link = _action_links(settings, facts, recipient, now)
    lines = [
        subject,
        "",
        _("Meeting: {meeting}", locale=locale, meeting=facts.meeting_title),
        _("Due date: {due}", locale=locale, due=due),
        _("Progress: {progress}%", locale=locale, progress=facts.progress),
    ]
    if facts.resolution_number:
        lines.append(_("Resolution: {number}", locale=locale, number=facts.resolution_number))
    lines += [
        "",
        _("Open the item: {link}", locale=locale, link=link),
        _("Mark it done: {link}", locale=locale, link=done_link),
        _("Post progress: {link}", locale=locale, link=progress_link),
    ]
    return ReminderText(subject, "\n".join(lines), link, done_link, progress_link)


def escalation_text(settings: Settings, facts: ItemFacts, *, overdue_days: int, locale: str) -> ReminderText:
    """Build the message to the department head and the organiser of an overdue item."""
    subject = _(
        "Escalation: action item of {owner} overdue by {days} working days: {title}",
        locale=locale, owner=facts.owner_email, days=overdue_days, title=facts.title,
    )
    link = item_link(settings, facts.id)
    lines = [
        subject,
        "",
        _("Meeting: {meeting}", locale=locale, meeting=facts.meeting_title),
        _("Due date: {due}", locale=locale, due=facts.due_date.isoformat()),
        _("Progress: {progress}%", locale=locale, progress=facts.progress),
        "",
        _("Open the item: {link}", locale=locale, link=link),
    ]
    return ReminderText(subject, "\n".join(lines), link)


def digest_text(
    settings: Settings, *, items: list[tuple[ItemFacts, int]], week: str, locale: str
) -> ReminderText:
    """Build an organiser's weekly digest; ``items`` pairs each open item with its overdue days."""
    overdue = sum(1 for _facts, days in items if days > 0)
    subject = _(
        "Weekly action item digest {week}: {open} open, {overdue} overdue",
        locale=locale, week=week, open=len(items), overdue=overdue,
    )
    lines = [subject, ""]
    for facts, days in sorted(items, key=lambda pair: (-pair[1], pair[0].due_date)):
        state = _("overdue {days} working days", locale=locale, days=days) if days else _("not overdue", locale=locale)
        lines.append(f"- [{state}] {facts.title} ({facts.owner_email}, {facts.due_date.isoformat()})")
        lines.append(f"  {item_link(settings, facts.id)}")
    return ReminderText(subject, "\n".join(lines), f"{settings.base_url}/api/v1/action-items?overdue=true")
