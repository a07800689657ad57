"""The task force's desk as the user-testing report saw it (zh-hans): the dashboard's headline
and trend read once and say counts where they show counts; /jobs/ names jobs and counters in
Chinese; an Excel ledger says what it is, which filter chose its rows and when it was exported,
and carries an autofilter and frozen panes."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from core.xlsx import Column, ledger_write
from tests.workflows.conftest import _media, assigned, deadline, draft, make_photo  # noqa: F401
from workflows.models import JobRun

pytestmark = pytest.mark.django_db


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


def page(client, user, name: str, **params) -> str:
    client.force_login(user)
    response = client.get(reverse(name), params)
    assert response.status_code == 200
    return response.content.decode()


# --- the dashboard -------------------------------------------------------------------------------


def test_the_coverage_headline_reads_once(client, task_force):
    html = page(client, task_force, "dashboard")

    headline = re.search(r'<li><a href="[^"]*"><strong data-stat="coverage">.*?</li>', html)
    assert text_of(headline.group(0)) == "0/0 本月已巡水体"
    assert "(本月已巡)" not in html


def test_the_trend_labels_its_counts_as_counts(client, task_force):
    html = page(client, task_force, "dashboard")

    trend = re.search(r'<figure class="dash-chart dash-wide" id="trend">.*?</figure>', html, re.S)
    trend = trend.group(0)
    assert '<th scope="row">立案数</th>' in trend
    assert '<th scope="row">销号数</th>' in trend
    assert "时间" not in trend  # 立案时间 / 销号时间 are dates, not these numbers


# --- the job runs --------------------------------------------------------------------------------


def test_the_job_runs_show_the_job_and_its_counters_in_chinese(client, task_force):
    counts = {"notices": 2, "documents": 1, "notifications": 3, "outbox": 0, "mystery": 5}
    JobRun.objects.create(
        name="issue_overdue_notices",
        as_of=date(2025, 3, 1),
        finished_at=timezone.now(),
        counts=counts,
    )

    html = page(client, task_force, "job_run_list")

    row = re.search(r'<tr class="" data-job="issue_overdue_notices">.*?</tr>', html, re.S)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)
    assert text_of(cells[0]) == "发出逾期整改通知"
    assert [text_of(line) for line in cells[4].split("<br>")] == [
        "发出通知：2",
        "新建文书：1",
        "站内消息：3",
        "待发送消息：0",
        "mystery：5",  # a counter nobody named yet: shown as it is
    ]


def test_a_job_not_in_the_registry_keeps_its_name(client, task_force):
    JobRun.objects.create(name="overdue_sweep", as_of=date(2025, 3, 1))

    html = page(client, task_force, "job_run_list")

    assert re.search(r'<td title="overdue_sweep">overdue_sweep</td>', html)


# --- the Excel ledgers ---------------------------------------------------------------------------


def workbook_of(response):
    assert response.status_code == 200
    return load_workbook(io.BytesIO(b"".join(response.streaming_content)))


def test_a_ledger_names_its_filter_and_time_and_filters_its_rows(
    client,
    task_force,
    assigned,  # noqa: F811
):
    client.force_login(task_force)
    before = timezone.localtime()
    sheet = workbook_of(
        client.get(reverse("ticket_export"), {"town_id": assigned.town_id, "state": "assigned"})
    ).worksheets[0]
    after = timezone.localtime()

    title = sheet["A1"].value
    assert title.startswith("整改单台账")
    assert "筛选条件：乡镇：胡集镇；状态：整改中" in title
    exported = re.search(r"导出时间：(\d{4}-\d\d-\d\d \d\d:\d\d)$", title).group(1)
    assert exported in {f"{before:%Y-%m-%d %H:%M}", f"{after:%Y-%m-%d %H:%M}"}
    header = [cell.value for cell in sheet[2]]
    assert header[:3] == ["编号", "乡镇", "村"]
    assert sheet["A3"].value == assigned.number
    last = get_column_letter(len(header))
    assert sheet.auto_filter.ref == f"A2:{last}3"  # the header and the one data row
    assert sheet.freeze_panes == "A3"  # title and header stay in view
    assert f"A1:{last}1" in {str(cells) for cells in sheet.merged_cells.ranges}


def test_a_ledger_without_filters_says_all_and_the_time_in_beijing():
    columns = [Column(lambda: "编号", "number"), Column(lambda: "乡镇", "town")]
    now = datetime(2025, 1, 1, 16, 30, tzinfo=UTC)  # 2025-01-02 00:30 in Beijing

    with ledger_write(title="乡镇排名", columns=columns, rows=iter([[1, "胡集镇"]]), now=now) as f:
        sheet = load_workbook(f).worksheets[0]

    assert sheet["A1"].value == "乡镇排名　筛选条件：全部　导出时间：2025-01-02 00:30"
    assert sheet.auto_filter.ref == "A2:B3"
    assert sheet.freeze_panes == "A3"


def test_an_empty_ledger_filters_its_header(client, task_force):
    client.force_login(task_force)
    since = (timezone.localdate() + timedelta(days=400)).isoformat()

    sheet = workbook_of(client.get(reverse("ticket_export"), {"deadline_after": since}))
    sheet = sheet.worksheets[0]

    assert f"筛选条件：整改时限起：{since}　" in sheet["A1"].value
    assert sheet.max_row == 2
    assert sheet.auto_filter.ref.startswith("A2:") and sheet.auto_filter.ref.endswith("2")
