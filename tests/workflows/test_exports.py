"""Excel ledgers: Chinese headers, one row per ticket, masked phones, overdue days."""

from __future__ import annotations

from datetime import timedelta

import pytest
from openpyxl import load_workbook

from workflows.exports import rectification_ledger, toilet_ledger
from workflows.models import RectificationTicket, ToiletTicket

pytestmark = pytest.mark.django_db


def read(handle) -> list[tuple]:
    with handle:
        sheet = load_workbook(handle, read_only=True).worksheets[0]
        return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def test_rectification_ledger(assigned, submitted, draft):
    # `assigned` and `submitted` are the same ticket moved on; add an overdue one.
    late = RectificationTicket.objects.get(pk=assigned.pk)
    as_of = late.deadline + timedelta(days=4)
    rows = read(rectification_ledger(queryset=RectificationTicket.objects.all(), as_of=as_of))
    header, body = rows[0], rows[1:]
    assert header[:3] == ("编号", "乡镇", "村")
    assert len(body) == 1
    (row,) = body
    assert row[0] == late.number
    assert row[6] == "待复核"
    assert row[8] is None  # submitted: the town no longer owes work, not overdue


def test_overdue_days_for_a_running_ticket(assigned):
    as_of = assigned.deadline + timedelta(days=4)
    rows = read(rectification_ledger(queryset=RectificationTicket.objects.all(), as_of=as_of))
    assert rows[1][6] == "整改中"
    assert rows[1][8] == 4


def test_toilet_ledger_masks_the_phone(done, household):
    rows = read(toilet_ledger(queryset=ToiletTicket.objects.all()))
    header, (row,) = rows[0], rows[1:]
    phone_at = header.index("联系电话")
    assert row[phone_at] == "138****1234"
    assert household.phone not in [str(cell) for cell in row]
    assert row[header.index("抽运量（m³）")] in (2.5, "2.50")
