"""Per-object access rules shared by every domain.

A person sees a meeting when they organise, chair, take the minutes of, attend or
administer it (``can_see``); everyone else learns at most that the time is busy. Use
``busy_view`` wherever a list, feed or export includes other people's meetings, and let
an unseen meeting answer 404 exactly like a missing one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from confsvc.booking.services import Viewer, can_manage, can_see
from confsvc.db.models import Meeting

__all__ = [
    "BUSY_TITLE",
    "Viewer",
    "busy_view",
    "can_download_materials",
    "can_edit_minutes",
    "can_manage",
    "can_report_progress",
    "can_see",
    "can_see_host_pin",
]

BUSY_TITLE = "busy"


def can_see_host_pin(meeting: Meeting, viewer: Viewer) -> bool:
    """Only the chair and the organiser get the host PIN (not administrators)."""
    return viewer.person_id in (meeting.organiser_id, meeting.chair_id)


def can_download_materials(meeting: Meeting, viewer: Viewer) -> bool:
    """Materials and minutes go to the meeting's participants and administrators."""
    return can_see(meeting, viewer)


def can_edit_minutes(meeting: Meeting, viewer: Viewer) -> bool:
    """Tell whether the viewer may edit the minutes: the secretary, the organiser or an administrator."""
    return viewer.is_admin or viewer.person_id in (meeting.secretary_id, meeting.organiser_id)


def can_report_progress(owner_ids: Iterable[uuid.UUID | None], viewer: Viewer) -> bool:
    """Progress on an action item comes from its owner or co-owners (or an administrator)."""
    return viewer.is_admin or viewer.person_id in {owner for owner in owner_ids if owner is not None}


def busy_view(starts_at: datetime, ends_at: datetime) -> dict[str, Any]:
    """The whole of a meeting that a non-participant may learn: its slot, marked busy."""
    return {"title": BUSY_TITLE, "starts_at": starts_at, "ends_at": ends_at, "busy": True}
