"""The ledgers' content cell by cell against what each ticket's own fields say (the labels its
model shows, Beijing wall-clock times), and their layout: title row across the columns, bold
header with the autofilter over every row, frozen below the header, the set widths, dates as
Excel dates. The rows are written by openpyxl's write-only workbook; this is what the offices
got before it was made faster, and must stay so."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from villages.models import mask_phone
from workflows.models import RectificationTicket, ToiletTicket
from workflows.tickets import services
from workflows.tickets.exports import (
    rectification_columns,
    rectification_ledger,
    toilet_columns,
    toilet_ledger,
)

pytestmark = pytest.mark.django_db


def local(value):
    return timezone.localtime(value).replace(tzinfo=None) if value else None


def workbook(handle):
    with handle:
        return load_workbook(handle)  # not read-only: the layout is read too


def toilet_expected(ticket: ToiletTicket) -> list:
    household, worker = ticket.household, ticket.assigned_worker
    return [
        ticket.number,
        ticket.town.name,
        ticket.village.name,
        household.number,
        household.head_name,
        mask_phone(household.phone),
        ticket.get_kind_display(),
        ticket.get_channel_display(),
        ticket.get_state_display(),
        local(ticket.created_at),
        local(ticket.sla_due_at),
        (worker.first_name or None) if worker else None,
        float(ticket.pumped_volume_m3) if ticket.pumped_volume_m3 is not None else None,
        ticket.disposal_site or None,
        ticket.parts_used or None,
        ticket.get_satisfaction_display() or None,
        local(ticket.completed_at),
    ]


def rectification_expected(ticket: RectificationTicket, as_of) -> list:
    overdue = ticket.is_overdue(as_of=as_of)
    return [
        ticket.number,
        ticket.town.name,
        ticket.village.name if ticket.village else None,
        ticket.site_label or None,
        ticket.get_source_kind_display(),
        ticket.description,
        ticket.get_state_display(),
        ticket.deadline,
        (as_of - ticket.deadline).days if overdue else None,
        local(ticket.created_at),
        local(ticket.assigned_at),
        local(ticket.submitted_at),
        local(ticket.closed_at),
        ticket.rectification_note or None,
    ]


def cells(sheet) -> list[list]:
    return [comparable(row) for row in sheet.iter_rows(min_row=3, values_only=True)]


def comparable(row) -> list:
    """Times to the millisecond, which is what an Excel date number keeps; a date column comes
    back from Excel as a datetime at midnight."""
    values = []
    for value in row:
        if isinstance(value, datetime):
            midnight = (value.hour, value.minute, value.second, value.microsecond) == (0,) * 4
            value = value.date() if midnight else round(value.timestamp(), 3)
        values.append(value)
    return values


def assert_layout(sheet, columns, rows: int, title: str) -> None:
    last = get_column_letter(len(columns))
    assert sheet["A1"].value.startswith(title) and sheet["A1"].font.bold
    assert f"A1:{last}1" in {str(merged) for merged in sheet.merged_cells.ranges}
    assert [cell.value for cell in sheet[2]] == [column.header() for column in columns]
    assert all(cell.font.bold for cell in sheet[2])
    assert sheet.freeze_panes == "A3"
    assert sheet.auto_filter.ref == f"A2:{last}{rows + 2}"
    widths = [
        sheet.column_dimensions[get_column_letter(n)].width for n in range(1, len(columns) + 1)
    ]
    assert widths == [column.width for column in columns]


@pytest.fixture
def more_toilet_jobs(household, village_admin):
    return [
        services.toilet_report(
            by=village_admin, household=household, kind=kind, channel="village_admin"
        )
        for kind in ("repair", "unblocking")
    ]


def test_the_toilet_ledger_says_what_each_ticket_says(done, more_toilet_jobs):
    with translation.override("zh-hans"):
        book = workbook(toilet_ledger(queryset=ToiletTicket.objects.all()))
        columns = toilet_columns()
        expected = [
            toilet_expected(ticket)
            for ticket in ToiletTicket.objects.order_by("pk").select_related(
                "town", "village", "household", "assigned_worker"
            )
        ]
        sheet = book.worksheets[0]

        assert cells(sheet) == [comparable(row) for row in expected]
        assert_layout(sheet, columns, len(expected), gettext("Toilet service ticket ledger"))
    assert sheet["J3"].is_date and sheet["J3"].number_format != "General"


def test_the_rectification_ledger_says_what_each_ticket_says(assigned, draft, huji, inspector):
    services.rectification_create(
        by=inspector,
        town=huji,
        village=None,
        description='=HYPERLINK("http://x")',
        source_kind="report",
    )
    as_of = RectificationTicket.objects.get(pk=assigned.pk).deadline + timedelta(days=3)
    with translation.override("zh-hans"):
        book = workbook(
            rectification_ledger(queryset=RectificationTicket.objects.all(), as_of=as_of)
        )
        columns = rectification_columns(as_of)
        tickets = RectificationTicket.objects.order_by("pk").select_related("town", "village")
        expected = [rectification_expected(ticket, as_of) for ticket in tickets]

        sheet = book.worksheets[0]
        assert cells(sheet) == [comparable(row) for row in expected]
        assert_layout(sheet, columns, len(expected), gettext("Rectification ticket ledger"))
