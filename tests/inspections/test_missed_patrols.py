"""漏巡: on the reminder day, sites short of valid patrols are notified to their towns once;
when the month is over its misses are recorded once."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from pypdfium2 import PdfDocument

from inspections.jobs import issue_missed_patrol_notices
from inspections.models import PatrolMiss
from inspections.sites.misses import missed_patrols_issue
from tests.inspections.conftest import JISHU_SITE, make_patrol, make_site
from workflows.models import JobRun, NoticeDocument, NoticeKind, Notification

REMINDER_DAY = date(2026, 10, 20)
LONG_AGO = timezone.make_aware(datetime(2025, 1, 1))


@pytest.fixture
def sites(huji, huji_village, jishu, jishu_village, settings):
    settings.PATROL_REMINDER_DAY = 20
    return {
        "patrolled": make_site(huji, huji_village, created_at=LONG_AGO),
        "unpatrolled": make_site(huji, huji_village, created_at=LONG_AGO),
        "flagged_only": make_site(huji, huji_village, created_at=LONG_AGO),
        "twice_needed": make_site(huji, huji_village, created_at=LONG_AGO, patrols_per_month=2),
        "new": make_site(huji, huji_village, created_at=timezone.now()),
        "delisted": make_site(huji, huji_village, created_at=LONG_AGO, state="delisted"),
        "jishu": make_site(jishu, jishu_village, position=JISHU_SITE, created_at=LONG_AGO),
    }


@pytest.fixture
def patrols(sites, inspector):
    make_patrol(sites["patrolled"], inspector, on=date(2026, 10, 3))
    make_patrol(sites["flagged_only"], inspector, on=date(2026, 10, 4), flagged=True)
    make_patrol(sites["twice_needed"], inspector, on=date(2026, 10, 5))
    make_patrol(sites["unpatrolled"], inspector, on=date(2026, 9, 12))  # last month's


def listed_codes(document) -> list[str]:
    return [line["code"] for line in document.lines]


def test_nothing_before_the_reminder_day(patrols):
    counts = missed_patrols_issue(as_of=date(2026, 10, 19))
    assert counts["reminded"] == 0 and not NoticeDocument.objects.exists()


def test_on_the_reminder_day_each_town_is_told_its_short_sites(
    patrols, sites, hj_officer, other_officer
):
    counts = missed_patrols_issue(as_of=REMINDER_DAY)
    assert counts["reminded"] == 4 and counts["documents"] == 2
    huji_doc = NoticeDocument.objects.get(town=sites["unpatrolled"].town, kind=NoticeKind.PATROL)
    assert listed_codes(huji_doc) == sorted(
        sites[name].code for name in ("unpatrolled", "flagged_only", "twice_needed")
    )
    line = next(x for x in huji_doc.lines if x["code"] == sites["unpatrolled"].code)
    assert "2026-09-12" in line["detail"]
    assert huji_doc.number.startswith("漏巡〔2026〕")
    assert Notification.objects.filter(user=hj_officer, document=huji_doc).exists()
    assert not Notification.objects.filter(user=other_officer, document=huji_doc).exists()


def test_running_again_adds_nothing(patrols):
    missed_patrols_issue(as_of=REMINDER_DAY)
    state = (
        NoticeDocument.objects.count(),
        Notification.objects.count(),
        PatrolMiss.objects.count(),
    )
    again = missed_patrols_issue(as_of=REMINDER_DAY)
    later = missed_patrols_issue(as_of=date(2026, 10, 25))
    assert again["reminded"] == later["reminded"] == 0
    assert state == (
        NoticeDocument.objects.count(),
        Notification.objects.count(),
        PatrolMiss.objects.count(),
    )


def test_a_site_first_short_after_the_reminder_is_added_later(patrols, sites, huji, huji_village):
    missed_patrols_issue(as_of=REMINDER_DAY)
    late = make_site(huji, huji_village, created_at=LONG_AGO)
    counts = missed_patrols_issue(as_of=date(2026, 10, 21))
    assert counts["reminded"] == 1
    document = NoticeDocument.objects.get(issued_on=date(2026, 10, 21), town=huji)
    assert listed_codes(document) == [late.code]


def test_when_the_month_is_over_its_misses_are_recorded_once(patrols, sites, inspector):
    make_patrol(sites["unpatrolled"], inspector, on=date(2026, 10, 28))  # caught up in time
    counts = missed_patrols_issue(as_of=date(2026, 11, 1))
    assert counts["recorded"] == 3
    missed = PatrolMiss.objects.filter(stage="missed", month=date(2026, 10, 1))
    assert {m.site_id for m in missed} == {
        sites[name].pk for name in ("flagged_only", "twice_needed", "jishu")
    }
    assert missed.get(site=sites["twice_needed"]).valid_patrols == 1
    assert missed_patrols_issue(as_of=date(2026, 11, 2))["recorded"] == 0


def test_the_notice_page_lists_the_sites_for_the_town_only(
    client, patrols, sites, hj_officer, other_officer
):
    missed_patrols_issue(as_of=REMINDER_DAY)
    document = NoticeDocument.objects.get(town=sites["unpatrolled"].town)
    client.force_login(hj_officer)
    page = client.get(reverse("notice_detail", args=[document.pk]))
    assert page.status_code == 200
    assert sites["unpatrolled"].code in page.content.decode()
    pdf = client.get(reverse("notice_pdf", args=[document.pk]))
    pages = PdfDocument(b"".join(pdf.streaming_content))
    text = "".join(p.get_textpage().get_text_range() for p in pages)
    # pdfium reports a line broken at a hyphen as U+FFFE plus a line end.
    text = text.replace("\r\n", "").replace("\ufffe", "-")
    assert sites["unpatrolled"].code in text and sites["unpatrolled"].name in text
    client.force_login(other_officer)
    assert client.get(reverse("notice_detail", args=[document.pk])).status_code == 404


def test_the_job_logs_its_run_and_runs_by_hand(patrols, capsys):
    issue_missed_patrol_notices(as_of=REMINDER_DAY)
    run = JobRun.objects.get(name="issue_missed_patrol_notices")
    assert run.counts["reminded"] == 4 and run.finished_at is not None
    call_command("run_job", "issue_missed_patrol_notices", as_of="2026-11-01")
    assert "4" in capsys.readouterr().out  # "unpatrolled" never caught up here
    assert PatrolMiss.objects.filter(stage="missed", month=date(2026, 10, 1)).count() == 4
