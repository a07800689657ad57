"""Registers kept in spreadsheets (.xlsx or CSV) read into rows, and the rows upserted in bulk.

The mechanism every register import shares: the file read as (line, cells) whatever its format
or encoding, the header found by the names offices give each column, each row parsed with its
errors kept by line, and the parsed rows written in batches. What a row means (a household, a
water site, a checklist item) belongs to the app that imports it.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils.translation import gettext as _
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

HEADER_SEARCH_ROWS = 10  # registers often carry a title row or two above the header
MAX_REPORTED_ERRORS = 20
BATCH = 500
# The sheet of explanations an import template carries next to its data (its title in each
# language the templates are written in): never the data, even when it was left active.
NOTES_SHEET_TITLES = ("说明", "Notes")
# What Excel shows for a code of 12+ digits in a General cell, and writes into a CSV it saves:
# 3.70828E+11. Written out, the digits after the sixth are gone; no code can be recovered.
# (A General number cell of an .xlsx still holds every digit below 15, and is read whole.)
SCIENTIFIC_TEXT = re.compile(r"[0-9]+(?:\.[0-9]+)?e\+[0-9]+", re.IGNORECASE)
SCIENTIFIC_FORMAT = re.compile(r"e[+-]", re.IGNORECASE)
QUOTED = re.compile(r'"[^"]*"')
# Excel keeps 15 significant digits of a number: a longer one (an 18-digit ID number) has
# already had its last digits replaced by zeros when the file was saved.
EXCEL_DIGITS = 15
# Spaces, dots and dashes that people type into labels ("已验收·管护中", "GCJ-02").
LABEL_NOISE = re.compile(r"[\s·・.\-_/]")

Table = list[tuple[int, list[Any]]]  # (line as the office sees it, cells) per row


class TableImportError(Exception):
    """Rows of a register kept in Excel that cannot be imported; `errors` holds one message
    per bad line."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("\n".join(errors))


class RowError(ValueError):
    """A bad cell; the caller adds the line number."""


class ScientificNumber(float):
    """A number cell formatted in scientific notation (0.00E+00). Excel gives a cell that
    format when it reads text such as 3.70828E+11 — from a CSV it saved, or pasted — so its
    value is a code already cut to 6 digits (370828000000), however plausible it looks."""


@dataclass(frozen=True)
class TableLayout:
    """How a register kept in Excel is recognised: each column's names as offices write them
    (the first is the one messages show; the internal name is accepted too), the columns that
    mark the header row, and the error its import raises."""

    aliases: dict[str, tuple[str, ...]]
    required: tuple[str, ...]
    error: type[TableImportError]

    @cached_property
    def header_of(self) -> dict[str, str]:
        return {alias: name for name, names in self.aliases.items() for alias in (name, *names)}


@dataclass
class Problems:
    """Errors as (line, message), reported in line order whichever check found them."""

    error: type[TableImportError]
    items: list[tuple[int, str]] = field(default_factory=list)

    def add(self, line: int, message: str) -> None:
        self.items.append((line, message))

    def raise_if_any(self) -> None:
        if self.items:
            ordered = sorted(self.items, key=lambda item: item[0])[:MAX_REPORTED_ERRORS]
            raise self.error(
                [_("Line %(line)d: %(error)s") % {"line": n, "error": m} for n, m in ordered]
            )


# --- files ---------------------------------------------------------------------------------


def read_table(path: Path, *, error: type[TableImportError]) -> Table:
    """(line, cells) for each row of an .xlsx's active sheet (its first if the active one is an
    import template's notes) or of a CSV file; `error` is raised for a file that is neither."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, error)
    if suffix == ".csv":
        return _read_csv(path, error)
    raise error(
        [
            _("%(file)s: only .xlsx workbooks and CSV files are read (save an .xls as .xlsx).")
            % {"file": path.name}
        ]
    )


def _read_xlsx(path: Path, error: type[TableImportError]) -> Table:
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError):
        raise error(
            [_("%(file)s is not a readable .xlsx workbook.") % {"file": path.name}]
        ) from None
    try:
        sheet = workbook.active
        if sheet is None or sheet.title in NOTES_SHEET_TITLES:
            sheet = workbook.worksheets[0]  # a template saved while its notes were showing
        # Files saved by some tools declare a wrong sheet size, and read-only mode trusts it.
        sheet.reset_dimensions()
        # Read-only mode yields empty rows for gaps too, so the count is the Excel row number.
        return list(enumerate(([_value(c) for c in row] for row in sheet.iter_rows()), 1))
    finally:
        workbook.close()  # read-only mode keeps the file open until closed


def _value(cell) -> Any:
    """The cell's value; a number shown in scientific notation marked as such."""
    value = cell.value
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and SCIENTIFIC_FORMAT.search(QUOTED.sub("", cell.number_format or ""))
    ):
        return ScientificNumber(value)
    return value


def _read_csv(path: Path, error: type[TableImportError]) -> Table:
    reader = csv.reader(io.StringIO(read_csv_text(path, error=error)))
    # The reader's own line count: a quoted line break would otherwise shift every later line.
    return [(reader.line_num, row) for row in reader]


def read_csv_text(path: Path, *, error: Callable[[list[str]], Exception]) -> str:
    """Offices hand out UTF-8 and, saved from Excel, GB18030; accept both (and a BOM)."""
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise error([_("%(file)s is neither UTF-8 nor GB18030 text.") % {"file": path}])


# --- header and rows -----------------------------------------------------------------------


def find_header(table: Table, layout: TableLayout) -> tuple[int, dict[int, str]]:
    """The header's line and its columns (cell index → column name)."""
    for line, cells in table[:HEADER_SEARCH_ROWS]:
        columns = {
            i: layout.header_of[key]
            for i, cell in enumerate(cells)
            if (key := header_key(cell, layout.header_of))
        }
        if set(layout.required) <= set(columns.values()):
            _check_no_column_twice(line, columns, layout.error)
            return line, columns
    raise layout.error(
        [
            _("No header row in the first %(n)d lines: columns %(columns)s are required.")
            % {
                "n": HEADER_SEARCH_ROWS,
                "columns": ", ".join(layout.aliases[name][0] for name in layout.required),
            }
        ]
    )


def header_key(cell: Any, header_of: dict[str, str]) -> str:
    text = re.sub(r"[\s*]", "", unicodedata.normalize("NFKC", cell_text(cell))).lower()
    if text not in header_of:
        # "化粪池容积(m³)", "联系电话(手机)": the unit or note in brackets is not the name.
        text = re.sub(r"\(.*\)$", "", text)
    return text if text in header_of else ""


def _check_no_column_twice(
    line: int, columns: dict[int, str], error: type[TableImportError]
) -> None:
    names = list(columns.values())
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise error(
            [
                _("Line %(line)d: more than one column for %(columns)s.")
                % {"line": line, "columns": ", ".join(twice)}
            ]
        )


def parse_rows(
    table: Table,
    header_line: int,
    columns: dict[int, str],
    problems: Problems,
    parse: Callable[[int, dict[str, Any]], Any],
    *,
    codes: Iterable[str] = (),
) -> list:
    """parse(line, cells by column name) of each non-blank row below the header; a row whose
    parse raises RowError is reported on its line and left out. `codes` are the columns of
    digit codes (division codes, ID numbers): one whose cells Excel has turned into scientific
    notation is reported once, on its first such line, and those rows are left out — not one
    "malformed code" per line."""
    mangled = excel_mangled_lines(table, header_line, columns, set(codes), problems)
    rows = []
    for line, cells in table:
        if line <= header_line or line in mangled:
            continue
        by_name = {name: cells[i] for i, name in columns.items() if i < len(cells)}
        if all(cell_text(v) == "" for v in by_name.values()):
            continue
        try:
            rows.append(parse(line, by_name))
        except RowError as exc:
            problems.add(line, str(exc))
            if len(problems.items) >= MAX_REPORTED_ERRORS:
                break
    return rows


def excel_mangled_lines(
    table: Table, header_line: int, columns: dict[int, str], codes: set[str], problems: Problems
) -> set[int]:
    """The lines below the header whose cell in one of the `codes` columns Excel has mangled,
    with one problem per such column, on its first mangled line."""
    headers = next((cells for line, cells in table if line == header_line), [])
    lines: set[int] = set()
    for index, name in columns.items():
        if name not in codes:
            continue
        found = [
            (line, cells[index])
            for line, cells in table
            if line > header_line and index < len(cells) and excel_mangled(cells[index])
        ]
        if not found:
            continue
        first_line, first = found[0]
        message = _(
            "Excel turned this column into scientific notation (%(value)s, %(count)d cells from "
            "this line on), which loses the last digits of a code. Format the cells as text, "
            "enter the codes again and save the file again."
        ) % {"value": scientific_text(first), "count": len(found)}
        problems.add(first_line, in_column(cell_text(headers[index]) or name, message))
        lines.update(line for line, _cell in found)
    return lines


def excel_mangled(cell: Any) -> bool:
    """A code Excel has put in scientific notation (text 3.70828E+11, or a number cell with that
    format), or a number too long for Excel to keep every digit of."""
    if isinstance(cell, ScientificNumber):
        return True
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        return abs(cell) >= 10**EXCEL_DIGITS
    return isinstance(cell, str) and bool(
        SCIENTIFIC_TEXT.fullmatch(unicodedata.normalize("NFKC", cell).strip())
    )


def scientific_text(cell: Any) -> str:
    """The cell as Excel shows it: 3.70828E+11."""
    if isinstance(cell, str):
        return cell.strip()
    return f"{float(cell):.5E}"


def in_column(header: str, message: str) -> str:
    """A cell's error prefixed with its column's header as the file writes it."""
    return _("%(column)s: %(error)s") % {"column": header, "error": message}


# --- cells ---------------------------------------------------------------------------------


def cell_text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))  # Excel keeps every number as a float: 1001 arrives as 1001.0
    return str(cell).strip()


def cell_plain(cell: Any) -> str:
    """Codes, numbers, phones: full-width characters from Chinese input methods made ASCII."""
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", cell_text(cell)))


def quantity(text: str, pattern: re.Pattern, step: Decimal) -> Decimal | None:
    """The number in `pattern`'s first group, rounded to `step` as its column keeps it (so a
    re-import compares equal); None if `text` is not one."""
    match = pattern.fullmatch(text)
    try:
        return Decimal(match[1]).quantize(step, rounding=ROUND_HALF_UP) if match else None
    except InvalidOperation:
        return None


def label_choice(labels: dict[str, str], message: str) -> Callable[[Any], str]:
    """A parser for a column of labels; `message` (marked with gettext_noop, with a
    %(value)s) refuses anything else."""

    def parse(cell: Any) -> str:
        if (value := labels.get(_label(cell))) is None:
            raise RowError(_(message) % {"value": cell_text(cell)})
        return value

    return parse


def _label(cell: Any) -> str:
    return LABEL_NOISE.sub("", unicodedata.normalize("NFKC", cell_text(cell))).lower()


# --- writing -------------------------------------------------------------------------------


def write_upserts(
    changed: list[Model],
    *,
    unique_fields: list[str],
    update_fields: list[str],
    progress,
    unchanged: int,
) -> None:
    """Inserts or updates `changed` (instances of one model) on their unique key, in one
    transaction; `progress` (tqdm-like or None) advances by `unchanged` first, then by batch."""
    if progress is not None:
        progress.update(unchanged)
    if not changed:
        return
    model = type(changed[0])
    with transaction.atomic():
        for start in range(0, len(changed), BATCH):
            batch = changed[start : start + BATCH]
            model.objects.bulk_create(
                batch,
                update_conflicts=True,
                unique_fields=unique_fields,
                update_fields=update_fields,
            )
            if progress is not None:
                progress.update(len(batch))
