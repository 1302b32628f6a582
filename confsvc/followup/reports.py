"""Follow-up reports: counts per person, department or meeting, and CSV/xlsx exports.

An open or in-progress item counts as ``open`` until its due date and as ``overdue`` after
it. A closed item counts as ``closed_on_time`` when it was done (``done_at`` in the
service zone) on or before its due date, else as ``closed_late``. Done items waiting for
verification, cancelled and superseded items count in none of the columns.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from typing import Literal
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from confsvc.db.models import Department, Meeting, Person
from confsvc.db.models.followup import ACTIVE_STATUSES, ActionItem
from confsvc.followup.schemas import ActionItemRead, ReportRow
from confsvc.security.export import safe_row

__all__ = ["EXPORT_COLUMNS", "GroupBy", "build_report", "export_csv", "export_xlsx"]

GroupBy = Literal["person", "department", "meeting"]

EXPORT_COLUMNS = (
    "id", "meeting_id", "resolution_number", "title", "owner_email", "co_owner_emails", "due_date",
    "status", "progress", "overdue_working_days", "result", "done_at", "closed_at",
)


async def build_report(
    session: AsyncSession, items: list[ActionItem], *, group_by: GroupBy, today: date, time_zone: str
) -> list[ReportRow]:
    """Count ``items`` (already filtered to what the caller may see) per group."""
    zone = ZoneInfo(time_zone)
    labels: dict[str, str] = {}
    keys: dict[uuid.UUID, str] = {}
    if group_by == "department":
        emails = sorted({item.owner_email.lower() for item in items})
        rows = (await session.execute(
            select(Person.email, Department.id, Department.name)
            .join(Department, Department.id == Person.department_id)
            .where(Person.email.in_(emails))
        )).all() if emails else []
        department_of = {email: (str(dep_id), name) for email, dep_id, name in rows}
        for item in items:
            key, label = department_of.get(item.owner_email.lower(), ("", "—"))
            keys[item.id] = key
            labels[key] = label
    elif group_by == "meeting":
        meeting_ids = {item.meeting_id for item in items}
        titles = dict((await session.execute(
            select(Meeting.id, Meeting.title).where(Meeting.id.in_(meeting_ids))
        )).all()) if meeting_ids else {}
        for item in items:
            keys[item.id] = str(item.meeting_id)
            labels[str(item.meeting_id)] = titles.get(item.meeting_id, "")
    else:
        for item in items:
            keys[item.id] = item.owner_email.lower()
            labels[item.owner_email.lower()] = item.owner_email.lower()

    counts: dict[str, list[int]] = {}
    for item in items:
        row = counts.setdefault(keys[item.id], [0, 0, 0, 0])
        if item.status in ACTIVE_STATUSES:
            row[1 if item.due_date < today else 0] += 1
        elif item.status == "closed":
            done_day = item.done_at.astimezone(zone).date() if item.done_at else None
            row[2 if done_day is not None and done_day <= item.due_date else 3] += 1
    return [
        ReportRow(key=key, label=labels[key], open=v[0], overdue=v[1], closed_on_time=v[2], closed_late=v[3])
        for key, v in sorted(counts.items(), key=lambda pair: (-pair[1][1], pair[0]))
    ]


def _cells(item: ActionItemRead) -> list[object]:
    return [
        str(item.id), str(item.meeting_id), item.resolution_number, item.title, item.owner_email,
        ", ".join(item.co_owner_emails), item.due_date, item.status, item.progress, item.overdue_working_days,
        item.result, item.done_at, item.closed_at,
    ]


def export_csv(items: list[ActionItemRead]) -> bytes:
    """Return UTF-8 CSV with a BOM (so spreadsheet programs read Chinese correctly); every
    text cell is neutralised against formula injection."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for item in items:
        writer.writerow(safe_row(_cells(item)))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def export_xlsx(items: list[ActionItemRead]) -> bytes:
    """Return an .xlsx workbook of one sheet; text cells are stored as text, never formulas."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "action items"
    sheet.append(list(EXPORT_COLUMNS))
    for item in items:
        row = safe_row(_cells(item))
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
