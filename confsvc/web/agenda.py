"""The agenda editor form: rows as typed, the row operations and their errors.

The editor is one form with a row per item (``item-<i>-id``, ``-title``, ``-presenter``,
``-duration``, ``-materials``) and an empty row for a new item (``new-...``). The hidden
``id`` field carries the stored item's id through moves and removals, so the saved agenda
keeps each item, and the materials attached to it, whatever its new position. Each submit
names one operation in ``op``: ``save``, ``add``, ``up-<i>``, ``down-<i>`` or
``remove-<i>``. The operation is applied to the rows as typed and the result replaces
the stored agenda, so an edit typed before pressing "move up" is saved with the move.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from confsvc import validation
from confsvc.db.models import AgendaItem
from confsvc.errors import ValidationFailed
from confsvc.i18n import gettext as _
from confsvc.preparation.schemas import AgendaItemWrite
from confsvc.web.forms import FormErrors

MAX_ITEM_MINUTES = 1440
_OPERATION = re.compile(r"^(save|add|up-\d+|down-\d+|remove-\d+)$")
_SERVICE_PARAM = re.compile(r"^items\[(\d+)\]\.(id|title|presenter|duration_minutes)$")
_FORM_FIELD_OF = {"id": "title", "title": "title", "presenter": "presenter", "duration_minutes": "duration"}


@dataclass
class AgendaRow:
    """One agenda item as typed into the editor."""

    title: str = ""
    presenter: str = ""
    duration: str = ""
    needs_materials: bool = False
    id: str = ""
    """Id of the stored item; empty for an item not saved yet."""

    @property
    def blank(self) -> bool:
        return not (self.title or self.presenter or self.duration or self.needs_materials)


def rows_of(items: Sequence[AgendaItem]) -> list[AgendaRow]:
    """Return the stored items as editor rows, in agenda order."""
    return [
        AgendaRow(
            title=item.title,
            presenter=item.presenter or "",
            duration=str(item.duration_minutes) if item.duration_minutes else "",
            needs_materials=item.needs_materials,
            id=str(item.id),
        )
        for item in sorted(items, key=lambda entry: entry.position)
    ]


def _row(form: Any, prefix: str) -> AgendaRow:
    def one(name: str) -> str:
        value = form.get(f"{prefix}-{name}")
        return value.strip() if isinstance(value, str) else ""

    return AgendaRow(
        title=one("title"), presenter=one("presenter"), duration=one("duration"), needs_materials=bool(one("materials")), id=one("id")
    )


def rows_from_form(form: Any) -> tuple[list[AgendaRow], AgendaRow]:
    """Return the item rows and the new-item row of the editor form."""
    rows = []
    index = 0
    while f"item-{index}-title" in form:
        rows.append(_row(form, f"item-{index}"))
        index += 1
    new_row = _row(form, "new")
    new_row.id = ""
    return rows, new_row


def apply_operation(rows: list[AgendaRow], new_row: AgendaRow, operation: str) -> list[AgendaRow]:
    """Return the rows after ``operation``; ``save`` keeps a filled new row too.

    Raises:
        ValidationFailed: ``add`` without a title for the new item, or an unknown operation.
    """
    if not _OPERATION.match(operation):
        raise ValidationFailed.field("form", _("unknown agenda operation {value!r}", value=operation[:40]))
    result = list(rows)
    if operation == "add":
        if not new_row.title:
            raise ValidationFailed.field("new-title", _("give the title of the new item"))
        return [*result, new_row]
    if operation == "save":
        return [*result, new_row] if not new_row.blank else result
    action, _sep, raw_index = operation.partition("-")
    index = int(raw_index)
    if not 0 <= index < len(result):
        raise ValidationFailed.field("form", _("the agenda has no item {position}", position=index + 1))
    if action == "remove":
        del result[index]
    elif action == "up" and index > 0:
        result[index - 1], result[index] = result[index], result[index - 1]
    elif action == "down" and index < len(result) - 1:
        result[index + 1], result[index] = result[index], result[index + 1]
    return result


def items_from_rows(rows: Sequence[AgendaRow]) -> list[AgendaItemWrite]:
    """Check every row with the agenda service's rules and build the items.

    All problems are collected, each named after its form field (``item-2-duration``).

    Raises:
        ValidationFailed: at least one row is invalid.
    """
    problems: list[dict[str, str]] = []
    items = []
    for index, row in enumerate(rows):
        field = f"item-{index}"
        item_id = None
        if row.id:
            try:
                item_id = uuid.UUID(row.id)
            except ValueError:
                problems.append({"name": f"{field}-title", "reason": _("the agenda item id in the form is invalid; reload the page and try again")})
        try:
            title = validation.text(row.title, field=f"{field}-title", max_length=300)
        except ValidationFailed as exc:
            problems.extend(exc.invalid_params)
            title = row.title
        presenter = None
        if row.presenter:
            try:
                presenter = validation.email(row.presenter, field=f"{field}-presenter")
            except ValidationFailed as exc:
                problems.extend(exc.invalid_params)
        duration = None
        if row.duration:
            try:
                duration = int(row.duration)
            except ValueError:
                duration = 0
            if not 1 <= duration <= MAX_ITEM_MINUTES:
                problems.append(
                    {"name": f"{field}-duration", "reason": _("give the duration in whole minutes from 1 to {limit}", limit=MAX_ITEM_MINUTES)}
                )
                duration = None
        items.append(
            AgendaItemWrite(id=item_id, title=title, presenter=presenter, duration_minutes=duration, needs_materials=row.needs_materials)
        )
    if problems:
        raise ValidationFailed.fields(problems)
    return items


def agenda_errors(exc: ValidationFailed) -> FormErrors:
    """Spread a service or form error over the editor fields; the rest go to ``form``."""
    errors = FormErrors()
    for param in exc.invalid_params or [{"name": "form", "reason": str(exc)}]:
        name = param.get("name", "form")
        reason = param.get("reason", str(exc))
        match = _SERVICE_PARAM.match(name)
        if match:
            errors.add(f"item-{match.group(1)}-{_FORM_FIELD_OF[match.group(2)]}", reason)
        elif name.startswith(("item-", "new-")) or name == "form":
            errors.add(name, reason)
        else:
            errors.add("form", f"{name}: {reason}")
    return errors
