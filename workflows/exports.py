"""Excel ledgers (台账) of the ticket lists, as the offices keep them.

openpyxl's write-only workbook streams each row to a temporary file as it is appended, and the
rows come from the database in chunks (`values_list(...).iterator()`), so a 100,000-row ledger
never sits in memory; the finished file is streamed to the browser from disk. Personal data is
masked: a ledger leaves the system and is forwarded by e-mail and WeChat.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from villages.models import mask_phone
from workflows.models import (
    RECTIFICATION_RUNNING_STATES,
    RectificationTicket,
    Source,
    ToiletTicket,
)

CHUNK = 2000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    header: Callable[[], str]  # translated at export time, in the user's language
    field: str  # values_list() path
    width: int = 14
    render: Callable[[object, tuple], object] | None = None  # (value, whole row) -> cell


def _local(value: datetime | None) -> datetime | None:
    # Excel has no time zones: write Beijing wall-clock time without tzinfo.
    return timezone.localtime(value).replace(tzinfo=None) if value else None


def _label(choices) -> Callable[[object, tuple], str]:
    labels = dict(choices)
    return lambda value, _row: str(labels.get(value, value or ""))


def rectification_columns(as_of: date) -> list[Column]:
    def overdue_days(deadline, row):
        state = row[state_at]
        if deadline and state in RECTIFICATION_RUNNING_STATES and deadline < as_of:
            return (as_of - deadline).days
        return None

    columns = [
        Column(lambda: _("Number"), "number", 16),
        Column(lambda: _("Town"), "town__name", 12),
        Column(lambda: _("Village"), "village__name", 18),
        Column(lambda: _("Site"), "site_label", 16),
        Column(lambda: _("Source"), "source_kind", 10, _label(Source.choices)),
        Column(lambda: _("Problem"), "description", 40),
        Column(
            lambda: _("State"),
            "state",
            12,
            _label(RectificationTicket._meta.get_field("state").choices),
        ),
        Column(lambda: _("Deadline"), "deadline", 12),
        Column(lambda: _("Days overdue"), "deadline", 10, overdue_days),
        Column(lambda: _("Created"), "created_at", 18, lambda v, _r: _local(v)),
        Column(lambda: _("Assigned"), "assigned_at", 18, lambda v, _r: _local(v)),
        Column(lambda: _("Submitted"), "submitted_at", 18, lambda v, _r: _local(v)),
        Column(lambda: _("Closed"), "closed_at", 18, lambda v, _r: _local(v)),
        Column(lambda: _("Rectification note"), "rectification_note", 40),
    ]
    state_at = [column.field for column in columns].index("state")
    return columns


def toilet_columns() -> list[Column]:
    return [
        Column(lambda: _("Number"), "number", 16),
        Column(lambda: _("Town"), "town__name", 12),
        Column(lambda: _("Village"), "village__name", 18),
        Column(lambda: _("Household number"), "household__number", 14),
        Column(lambda: _("Head of household"), "household__head_name", 10),
        Column(lambda: _("Phone"), "household__phone", 14, lambda v, _r: mask_phone(v or "")),
        Column(lambda: _("Kind"), "kind", 10, _label(ToiletTicket.Kind.choices)),
        Column(lambda: _("Channel"), "channel", 10, _label(ToiletTicket.Channel.choices)),
        Column(
            lambda: _("State"), "state", 10, _label(ToiletTicket._meta.get_field("state").choices)
        ),
        Column(lambda: _("Reported"), "created_at", 18, lambda v, _r: _local(v)),
        Column(lambda: _("Due (SLA)"), "sla_due_at", 18, lambda v, _r: _local(v)),
        Column(lambda: _("Service worker"), "assigned_worker__first_name", 12),
        Column(lambda: _("Pumped volume (m³)"), "pumped_volume_m3", 10),
        Column(lambda: _("Disposal site"), "disposal_site", 16),
        Column(lambda: _("Parts used"), "parts_used", 16),
        Column(
            lambda: _("Satisfaction"), "satisfaction", 10, _label(ToiletTicket.Satisfaction.choices)
        ),
        Column(lambda: _("Completed"), "completed_at", 18, lambda v, _r: _local(v)),
    ]


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
    sheet = workbook.create_sheet(title=title[:31])
    for index, column in enumerate(columns):
        sheet.column_dimensions[_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column.header())
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    # Returned open to the caller, who streams it and closes it (FileResponse does).
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115
    workbook.save(handle)
    handle.seek(0)
    return handle


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def rectification_ledger(*, queryset: QuerySet, as_of: date | None = None):
    columns = rectification_columns(as_of or timezone.localdate())
    rows = ledger_rows(queryset, columns)
    return ledger_write(title=_("Rectification tickets"), columns=columns, rows=rows)


def toilet_ledger(*, queryset: QuerySet):
    columns = toilet_columns()
    return ledger_write(
        title=_("Toilet service tickets"), columns=columns, rows=ledger_rows(queryset, columns)
    )


def ledger_filename(kind: str) -> str:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return f"{kind}-{stamp}.xlsx"
