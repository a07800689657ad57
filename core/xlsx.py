"""Excel ledgers (台账) written as the offices keep them: one sheet, a bold header, set widths.

openpyxl's write-only workbook streams each row to a temporary file as it is appended, and the
rows come from the database in chunks (`values_list(...).iterator()`), so a 100,000-row ledger
never sits in memory; the finished file is streamed to the browser from disk. Which columns a
ledger has, and what they may show, is the exporting app's.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

CHUNK = 2000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    header: Callable[[], str]  # translated at export time, in the user's language
    field: str  # values_list() path
    width: int = 14
    render: Callable[[object, tuple], object] | None = None  # (value, whole row) -> cell


def excel_datetime(value: datetime | None) -> datetime | None:
    # Excel has no time zones: write Beijing wall-clock time without tzinfo.
    return timezone.localtime(value).replace(tzinfo=None) if value else None


def choice_label(choices) -> Callable[[object, tuple], str]:
    """A Column.render that shows a choice field's label instead of its stored value."""
    labels = dict(choices)
    return lambda value, _row: str(labels.get(value, value or ""))


def safe_row(sheet, values: Iterable) -> list:
    """A row whose texts are data, never formulas, and never break the file.

    Any text comes from people (a note, a problem description, a household name from an
    import): one starting with "=" would be stored as a live formula — `=HYPERLINK(...)` runs
    when the office opens the ledger (OWASP: CSV/formula injection) — so it is written as a
    string cell, shown exactly as typed. Control characters (\x0b, \x1b…), which the XML of an
    .xlsx cannot hold, are dropped instead of failing the whole export.
    """
    return [_safe(sheet, value) for value in values]


def _safe(sheet, value):
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if not value.startswith("="):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"  # text, not a formula
    return cell


def ledger_rows(queryset: QuerySet, columns: list[Column]) -> Iterator[list]:
    fields = [column.field for column in columns]
    # order_by("pk") keeps chunked iteration stable and cheap on either database.
    for row in queryset.order_by("pk").values_list(*fields).iterator(chunk_size=CHUNK):
        yield [
            column.render(value, row) if column.render else value
            for column, value in zip(columns, row, strict=True)
        ]


def ledger_write(*, title: str, columns: list[Column], rows: Iterable[list]):
    """Write the ledger to a temporary file and return it, rewound (caller closes it)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])  # Excel refuses longer sheet names
    for index, column in enumerate(columns, 1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column.header())
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        sheet.append(safe_row(sheet, row))
    # Returned open to the caller, who streams it and closes it (FileResponse does).
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115
    workbook.save(handle)
    handle.seek(0)
    return handle
