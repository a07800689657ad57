"""Excel ledgers: Chinese headers, one row per ticket, masked phones, overdue days."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from workflows.models import RectificationTicket, ToiletTicket
from workflows.tickets.exports import rectification_ledger, toilet_ledger

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


def test_export_view_follows_the_filters_and_the_scope(client, assigned, hj_officer, other_officer):
    from django.urls import reverse

    client.force_login(hj_officer)
    response = client.get(reverse("ticket_export"), {"state": "assigned"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in response["Content-Disposition"]
    rows = read(io.BytesIO(b"".join(response.streaming_content)))
    assert [row[0] for row in rows[1:]] == [assigned.number]

    client.force_login(other_officer)  # another town: an empty ledger, not 胡集镇's tickets
    response = client.get(reverse("ticket_export"), {"state": "assigned"})
    assert len(read(io.BytesIO(b"".join(response.streaming_content)))) == 1


def test_export_refuses_a_bad_filter(client, task_force):
    from django.urls import reverse

    client.force_login(task_force)
    response = client.get(reverse("ticket_export"), {"deadline_after": "not-a-date"})
    assert response.status_code == 400


def test_toilet_export_masks_phones(client, done, hj_officer):
    from django.urls import reverse

    client.force_login(hj_officer)
    response = client.get(reverse("toilet_export"), {"state": "done"})
    rows = read(io.BytesIO(b"".join(response.streaming_content)))
    assert "138****1234" in rows[1]
