"""Excel ledgers (台账) written as the offices keep them: one sheet, a title row saying what the
ledger is, which filter chose its rows and when it was exported (a forwarded file has to say so
itself), a bold header with an autofilter, frozen below the header, set widths.

openpyxl's write-only workbook streams each row to a temporary file as it is appended, and the
rows come from the database in chunks (`values_list(...).iterator()`), so a 100,000-row ledger
never sits in memory; the finished file is streamed to the browser from disk. Which columns a
ledger has, and what they may show, is the exporting app's.

Why a FileResponse over a temporary file rather than a StreamingHttpResponse: a write-only
workbook is a zip whose worksheet part is only complete once every row is written, so
openpyxl's save() makes the whole file at the end either way and the first byte cannot leave
sooner (measured: bench/bench_exports.py). A finished file gives the browser a Content-Length
(a progress bar), lets the server send it with sendfile, and an export that fails is a clean
error page rather than a download cut short.

Cost: openpyxl makes a Cell object per value and writes each through lxml's incremental writer,
~8 µs a cell — 100,000 rows × 17 columns took longer than the 10 s a ledger may take. The data
rows are therefore written by `_FastRows`: a row's XML is made as one string (the same elements
and attributes openpyxl writes for the same values: inline strings, numbers, dates as serial
numbers with openpyxl's own date styles) and written to the sheet's file as it is, after
openpyxl's incremental writer has flushed what it holds (`_StreamWriter`): no Cell, no element
to parse and serialise again. A row holding anything else (a Cell, a bool, a time…) goes
through openpyxl as before.
The title and header rows are openpyxl's. A cell's value is rendered with as little as possible
around it too — choice labels translated once per ledger, times converted with a zone looked up
once, and the rows read with values_list in chunks.
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from lxml.etree import xmlfile
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.xml.constants import SHEET_MAIN_NS

CHUNK = 2000
HEADER_ROW = 2  # below the title row
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


def local_datetime() -> Callable[[object, tuple], datetime | None]:
    """A Column.render of excel_datetime for a whole ledger: the current time zone is looked up
    once, when the columns are made, instead of once a cell (a context-local read each time)."""
    zone = timezone.get_current_timezone()
    return lambda value, _row: value.astimezone(zone).replace(tzinfo=None) if value else None


def choice_label(choices) -> Callable[[object, tuple], str]:
    """A Column.render that shows a choice field's label instead of its stored value.

    The labels are translated here, once: columns are made at export time in the user's
    language, and str() of a lazy label in every cell cost a tenth of a ledger's time."""
    labels = {key: str(label) for key, label in choices}
    return lambda value, _row: labels[value] if value in labels else str(value or "")


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


def ledger_write(
    *,
    title: str,
    columns: list[Column],
    rows: Iterable[list],
    filters: str = "",
    now: datetime | None = None,
):
    """Write the ledger to a temporary file and return it, rewound (caller closes it).

    Row 1 is the title (`title`, `filters` in words — empty means none — and the export time),
    row 2 the header, the data below it. The rows stream to disk as they come: the autofilter's
    range, which needs the last row, is set after them (openpyxl writes it after the rows)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_sheet_name(title))
    for index, column in enumerate(columns, 1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = f"A{HEADER_ROW + 1}"
    _FastRows(sheet)  # before the first row: it makes the sheet's writer
    sheet.append([_title_cell(sheet, title, filters, now)])
    sheet.append([_bold(sheet, column.header()) for column in columns])
    count = 0
    for row in rows:
        sheet.append(row)  # _FastRows makes its texts data, as safe_row does
        count += 1
    last = get_column_letter(max(len(columns), 1))
    sheet.auto_filter.ref = f"A{HEADER_ROW}:{last}{HEADER_ROW + count}"
    if len(columns) > 1:
        sheet.merged_cells.add(f"A1:{last}1")
    # Returned open to the caller, who streams it and closes it (FileResponse does).
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115
    workbook.save(handle)
    handle.seek(0)
    return handle


class _FastRows:
    """The rows appended to a write-only sheet from now on, written as openpyxl would write
    them, without a Cell object per value (see the module's docstring).

    openpyxl's write-only sheet turns each appended row into cells (`_values_to_row`) and
    hands them to its writer's `write_row(xf, cells, row_index)`; both are replaced on this
    sheet's objects (openpyxl 3.1's names; tests/workflows/test_exports.py compares the file
    with openpyxl's own writing of the same rows, value by value and style by style).

    Texts are always text (inline strings, as `safe_row` makes them): one starting with "="
    is never a formula, illegal control characters are dropped, and texts longer than Excel's
    32,767 characters are cut, as openpyxl cuts them."""

    FAST = (str, int, float, Decimal, datetime, date)

    def __init__(self, sheet) -> None:
        if sheet._writer is not None:
            raise ValueError("_FastRows must be set up before the sheet's first row")
        sheet._writer = _StreamWriter(sheet)  # what sheet._get_writer() does, with this writer
        sheet._writer.write_top()
        self.file = sheet._writer.file
        self.stream_pending = True  # lxml's stream may hold output not yet in self.file
        self.sheet = sheet
        self.slow_values_to_row = sheet._values_to_row
        self.slow_write_row = sheet._writer.write_row
        epoch = sheet.parent.epoch
        # openpyxl's style ids for a datetime and a date cell ("yyyy-mm-dd h:mm:ss",
        # "yyyy-mm-dd"), registered in the workbook by making one cell of each.
        self.date_styles = {
            kind: str(WriteOnlyCell(sheet, value=kind(2000, 1, 1)).style_id)
            for kind in (datetime, date)
        }
        self.to_excel = lambda value: to_excel(value, epoch)
        self.letters = [get_column_letter(n) for n in range(1, 16385)]
        sheet._values_to_row = lambda values, _row_index: values
        sheet._writer.write_row = self.write_row

    def write_row(self, xf, values, row_index: int) -> None:
        row = self.row_xml(values, row_index)
        if row is None:  # a value the fast path does not know: openpyxl's way
            cells = self.slow_values_to_row(safe_row(self.sheet, values), row_index)
            self.slow_write_row(xf, cells, row_index)
            self.stream_pending = True
            return
        if self.stream_pending:  # what lxml wrote before this row goes first
            xf.flush()
            self.stream_pending = False
        self.file.write(row.encode())

    def row_xml(self, values, row_index: int) -> str | None:
        parts = [f'<row r="{row_index}">']
        for letter, value in zip(self.letters, values, strict=False):
            if value is None:
                continue
            kind = type(value)
            ref = f"{letter}{row_index}"
            if kind is str:
                if value in ERROR_CODES:  # openpyxl writes "#N/A" as an error cell
                    return None
                parts.append(_text_cell(ref, value))
            elif kind is int or kind is Decimal or kind is float:
                if not math.isfinite(value):
                    return None
                # As openpyxl writes numbers ("%.16g" of the float): Decimal("2.50") → 2.5.
                parts.append(f'<c r="{ref}" t="n"><v>{float(value):.16g}</v></c>')
            elif kind is datetime or kind is date:
                if kind is datetime and value.tzinfo is not None:
                    return None  # openpyxl refuses it, and says why
                number = f"{self.to_excel(value):.16g}"
                style = self.date_styles[kind]
                parts.append(f'<c r="{ref}" s="{style}" t="n"><v>{number}</v></c>')
            else:
                return None
        parts.append("</row>")
        return "".join(parts)


class _StreamWriter(WorksheetWriter):
    """openpyxl's worksheet writer with its XML stream over a file this module holds (`file`),
    so that a data row made as text (_FastRows) is written to the file as it is, after the
    stream is flushed — not parsed into elements for lxml to serialise again, which had taken a
    quarter of a ledger's time. openpyxl's own stream is lxml's over the same temporary file
    (WorksheetWriter.get_stream); this one passes the same elements to it in the same way."""

    def get_stream(self):
        with (
            open(self.out, "wb") as self.file,
            xmlfile(self.file) as xf,
            xf.element("worksheet", xmlns=SHEET_MAIN_NS),
        ):
            try:
                while True:
                    sent = yield
                    if sent is True:  # the rows' writer asks for the stream itself
                        yield xf
                    elif sent is not None:
                        xf.write(sent)
            except GeneratorExit:
                pass


_XML_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
# What openpyxl drops from a text (ILLEGAL_CHARACTERS_RE: control characters) and what else XML
# 1.0 cannot hold: lone surrogates, U+FFFE and U+FFFF (lxml refuses them too; a text written as
# it is must not carry them). One pattern: a ledger applies it to a million texts.
_NOT_XML = re.compile(f"{ILLEGAL_CHARACTERS_RE.pattern}|[\ud800-\udfff\ufffe\uffff]")


def _text_cell(ref: str, value: str) -> str:
    value = _NOT_XML.sub("", value)[:32767]
    if value == "":
        return f'<c r="{ref}" t="inlineStr"/>'
    space = ' xml:space="preserve"' if value != value.strip() else ""
    return f'<c r="{ref}" t="inlineStr"><is><t{space}>{value.translate(_XML_TEXT)}</t></is></c>'


def _sheet_name(title: str) -> str:
    # Excel refuses longer sheet names and these characters (a campaign's name may have them).
    return re.sub(r"[\[\]:*?/\\]", "", title)[:31] or "Sheet"


def ledger_title(title: str, filters: str = "", now: datetime | None = None) -> str:
    """The title row, e.g. "整改单台账　筛选条件：乡镇：胡集镇；状态：整改中　导出时间：
    2025-06-01 09:30" (one line)."""
    # Beijing time whatever time zone a request may have activated: the offices read it so.
    at = timezone.localtime(now or timezone.now(), timezone.get_default_timezone())
    return _("%(ledger)s — filter: %(filters)s — exported at %(time)s") % {
        "ledger": title,
        "filters": filters or _("All"),
        "time": f"{at:%Y-%m-%d %H:%M}",
    }


def _title_cell(sheet, title: str, filters: str, now: datetime | None) -> WriteOnlyCell:
    cell = _bold(sheet, ILLEGAL_CHARACTERS_RE.sub("", ledger_title(title, filters, now)))
    cell.data_type = "s"  # text even if it starts with "=" (a campaign's name may)
    return cell


def _bold(sheet, value) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    cell.font = Font(bold=True)
    return cell


# --- a list's filters in words, for the title row ---------------------------------------------


def filters_in_words(form: forms.Form, *, skip: Iterable[str] = ()) -> str:
    """The filters of a validated list form as an office reads them: "乡镇：胡集镇；状态：整改中".

    Left out: empty fields, the fields named in `skip` (the sort order is no filter), and a
    multiple choice of every option (all states is no filter either). No filter → ""."""
    data = getattr(form, "cleaned_data", {})
    parts = []
    for name, field in form.fields.items():
        words = "" if name in skip else _value_words(field, data.get(name))
        if words:
            parts.append(f"{field.label}：{words}")
    return "；".join(parts)


def _value_words(field: forms.Field, value) -> str:
    if value in (None, "") or (isinstance(value, list | tuple | QuerySet) and not value):
        return ""
    if isinstance(value, bool):
        return _yes_no_words(field, value)
    if isinstance(field, forms.ModelMultipleChoiceField):
        return "、".join(str(item) for item in value)
    if isinstance(field, forms.ModelChoiceField):
        return str(value)
    if isinstance(field, forms.ChoiceField):
        return _choice_words(field, value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _yes_no_words(field: forms.Field, value: bool) -> str:
    # A yes/no select says what yes and no mean ("Overdue only" / "Not overdue").
    labels = dict(getattr(field.widget, "choices", ()))
    return str(labels.get("true" if value else "false") or (_("Yes") if value else _("No")))


def _choice_words(field: forms.ChoiceField, value) -> str:
    labels = {str(key): str(label) for key, label in field.choices if key not in (None, "")}
    values = [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
    if len(values) > 1 and set(values) >= set(labels):
        return ""
    return "、".join(labels.get(v, v) for v in values)
