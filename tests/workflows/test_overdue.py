"""The overdue ladder, SLA notices, documents, notifications and their pages.

The clock is frozen by passing `as_of` (a local date) to the jobs: deadlines come from the
fixtures (today + 10), and every run names the day it runs for.
"""

from __future__ import annotations

import importlib
from datetime import date, datetime, time, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from tests.factories import make_household
from tests.workflows.ladder import DEFAULT_LADDER, ladder  # noqa: F401 (autouse fixture)
from villages.models import County
from workflows.models import (
    JobLock,
    NoticeDocument,
    Notification,
    OverdueNotice,
    OverdueStep,
    RectificationState,
    RectificationTicket,
    SlaNotice,
    TicketCounter,
    ToiletState,
    ToiletTicket,
)
from workflows.notices.services import overdue_notices_issue, sla_notices_issue
from workflows.tickets import services

pytestmark = pytest.mark.django_db


def steps_issued(ticket) -> list[tuple[int, str, object]]:
    rows = OverdueNotice.objects.filter(ticket=ticket).order_by("step")
    return list(rows.values_list("step", "kind", "issued_on"))


def make_assigned(town, by_inspector, task_force, *, deadline, village=None, text="沟渠黑臭"):
    ticket = services.rectification_create(
        by=by_inspector, town=town, village=village, description=text, source_kind="patrol"
    )
    return services.rectification_assign(ticket=ticket, by=task_force, deadline=deadline)


# --- the ladder -------------------------------------------------------------------------------


def test_the_default_ladder_is_seeded():
    # The ladder the migration seeded is the default each county is given (ladder fixture).
    seed = importlib.import_module("workflows.migrations.0004_seed_overdue_steps")
    assert seed.DEFAULT_LADDER == DEFAULT_LADDER
    assert list(OverdueStep.objects.values_list("county_id", "number", "days_past", "kind")) == [
        ("370828000000", 1, 1, "reminder"),
        ("370828000000", 2, 3, "supervision"),
        ("370828000000", 3, 7, "bulletin"),
    ]


def test_a_new_county_gets_the_default_ladder_and_keeps_its_own(huji, inspector, task_force):
    OverdueStep.objects.filter(county_id="370828000000", number=3).delete()  # its own ladder
    OverdueStep.objects.filter(number=2).update(days_past=2)
    new = County.objects.create(code="370829000000", name="嘉祥县")
    assert overdue_notices_issue(as_of=timezone.localdate())["notices"] == 0
    ladders = OverdueStep.objects.values_list("county_id", "number", "days_past")
    assert sorted(ladders) == [
        ("370828000000", 1, 1),
        ("370828000000", 2, 2),
        (new.code, 1, 1),
        (new.code, 2, 3),
        (new.code, 3, 7),
    ]
    # The county's own ladder is what the job climbs: its step 2 two days on.
    d = timezone.localdate()
    ticket = make_assigned(huji, inspector, task_force, deadline=d)
    overdue_notices_issue(as_of=d + timedelta(days=2))
    assert set(OverdueNotice.objects.filter(ticket=ticket).values_list("step", flat=True)) == {
        1,
        2,
    }


def test_each_step_fires_on_its_local_day_and_only_once(assigned):
    d = assigned.deadline
    expected_new = {0: 0, 1: 1, 2: 0, 3: 1, 7: 1, 8: 0}

    for days, new in expected_new.items():
        assert overdue_notices_issue(as_of=d + timedelta(days))["notices"] == new, days
        assert overdue_notices_issue(as_of=d + timedelta(days))["notices"] == 0  # same day again

    assert steps_issued(assigned) == [
        (1, "reminder", d + timedelta(1)),
        (2, "supervision", d + timedelta(3)),
        (3, "bulletin", d + timedelta(7)),
    ]


def test_the_deadline_day_itself_is_not_overdue(assigned):
    assert overdue_notices_issue(as_of=assigned.deadline)["notices"] == 0
    assert not OverdueNotice.objects.exists()


def test_a_run_after_missed_days_catches_up_every_step_reached(assigned):
    d = assigned.deadline

    assert overdue_notices_issue(as_of=d + timedelta(8))["notices"] == 3
    assert [step for step, _kind, _day in steps_issued(assigned)] == [1, 2, 3]


def test_an_approved_extension_resets_the_ladder(assigned, hj_officer, task_force):
    d = assigned.deadline
    overdue_notices_issue(as_of=d + timedelta(1))
    services.rectification_request_extension(
        ticket=assigned, by=hj_officer, new_deadline=d + timedelta(10), reason="雨季施工困难"
    )
    services.rectification_approve_extension(ticket=assigned, by=task_force)

    for days in (2, 3, 7, 10):
        assert overdue_notices_issue(as_of=d + timedelta(days))["notices"] == 0, days
    assert overdue_notices_issue(as_of=d + timedelta(11))["notices"] == 1

    new = OverdueNotice.objects.get(ticket=assigned, deadline=d + timedelta(10))
    assert (new.step, new.issued_on) == (1, d + timedelta(11))
    assert OverdueNotice.objects.filter(ticket=assigned).count() == 2  # the old one stays


def test_the_ladder_goes_on_when_a_request_waited_past_the_hold(assigned, hj_officer):
    # Requested before the deadline: the hold (EXTENSION_HOLD_DAYS from the request) is over
    # long before the ticket is 3 days overdue (tests/workflows/test_extension_requests.py).
    d = assigned.deadline
    services.rectification_request_extension(
        ticket=assigned, by=hj_officer, new_deadline=d + timedelta(10), reason="雨季施工困难"
    )

    assert overdue_notices_issue(as_of=d + timedelta(3))["notices"] == 2


def test_submitted_closed_cancelled_and_draft_tickets_never_get_notices(
    submitted, huji, inspector, task_force, hj_officer, make_photo
):
    d = submitted.deadline
    closed = make_assigned(huji, inspector, task_force, deadline=d)
    services.rectification_submit(
        ticket=closed, by=hj_officer, note="已整改", photos=[make_photo(hj_officer)]
    )
    services.rectification_close(ticket=closed, by=task_force)
    cancelled = make_assigned(huji, inspector, task_force, deadline=d)
    services.rectification_cancel(ticket=cancelled, by=task_force, reason="重复立案")
    services.rectification_create(by=inspector, town=huji, description="草稿")

    counts = overdue_notices_issue(as_of=d + timedelta(30))

    assert counts == {"notices": 0, "documents": 0, "notifications": 0, "outbox": 0}
    assert not NoticeDocument.objects.exists()


def test_documents_group_by_town_and_day_and_are_numbered_per_kind_and_year(
    huji, jishu, inspector, task_force
):
    d = timezone.localdate() + timedelta(5)
    huji_tickets = [make_assigned(huji, inspector, task_force, deadline=d) for _ in range(2)]
    jishu_ticket = make_assigned(jishu, inspector, task_force, deadline=d)

    assert overdue_notices_issue(as_of=d + timedelta(1)) == {
        "notices": 3,
        "documents": 2,
        "notifications": 0,
        "outbox": 0,
    }
    overdue_notices_issue(as_of=d + timedelta(3))

    year = (d + timedelta(1)).year
    documents = NoticeDocument.objects.order_by("issued_on", "town_id")
    assert [(doc.number, doc.town_id, doc.kind) for doc in documents] == [
        (f"逾提〔{year}〕第1号", huji.code, "reminder"),
        (f"逾提〔{year}〕第2号", jishu.code, "reminder"),
        (f"督〔{year}〕第1号", huji.code, "supervision"),
        (f"督〔{year}〕第2号", jishu.code, "supervision"),
    ]
    first = documents[0]
    assert {n.ticket for n in first.overdue_notices.all()} == set(huji_tickets)
    assert documents[1].overdue_notices.get().ticket == jishu_ticket
    assert TicketCounter.objects.get(prefix="NREM", year=year).value == 2


def test_notifications_go_to_the_towns_officers_only(assigned, hj_officer, other_officer):
    counts = overdue_notices_issue(as_of=assigned.deadline + timedelta(1))

    assert counts["notifications"] == 1
    assert Notification.objects.get().user == hj_officer
    assert not Notification.objects.filter(user=other_officer).exists()


def test_the_job_costs_the_same_few_queries_for_2_or_12_tickets(huji, inspector, task_force):
    d = timezone.localdate()
    # Rows the very first run creates once and for all (its lock, the year's counter).
    JobLock.objects.create(name="overdue_notices")
    TicketCounter.objects.create(prefix="NREM", year=(d + timedelta(1)).year, county=huji.county_id)

    def queries_for(tickets: int, as_of) -> int:
        for _ in range(tickets):
            make_assigned(huji, inspector, task_force, deadline=d)
        with CaptureQueriesContext(connection) as captured:
            overdue_notices_issue(as_of=as_of)
        return len(captured)

    few = queries_for(2, d + timedelta(1))
    many = queries_for(10, d + timedelta(2))  # 12 running tickets; step 1 for the 10 new ones
    assert many == few


def test_run_job_runs_the_overdue_job_for_a_date(assigned, hj_officer):
    out = StringIO()
    day = (assigned.deadline + timedelta(1)).isoformat()
    with translation.override("en"):
        call_command("run_job", "issue_overdue_notices", "--as-of", day, stdout=out)

    assert "1 notices in 1 new documents" in out.getvalue()
    assert OverdueNotice.objects.get().issued_on.isoformat() == day


# --- toilet SLA -------------------------------------------------------------------------------


def breach(ticket, hours: int = 1):
    type(ticket).objects.filter(pk=ticket.pk).update(
        sla_due_at=timezone.now() - timedelta(hours=hours)
    )


def test_an_sla_breach_notifies_the_town_and_the_worker_once(
    dispatched, hj_officer, huji_worker, other_officer
):
    breach(dispatched)

    counts = sla_notices_issue(as_of=timezone.localdate())
    again = sla_notices_issue(as_of=timezone.localdate())

    assert (counts["notices"], counts["documents"], counts["notifications"]) == (1, 1, 2)
    assert again["notices"] == again["notifications"] == 0
    assert SlaNotice.objects.get().ticket == dispatched
    assert set(Notification.objects.values_list("user__username", flat=True)) == {
        "hj_officer",
        "huji_worker",
    }
    assert NoticeDocument.objects.get().number.startswith("管督〔")


def test_tickets_within_their_sla_or_done_are_not_noticed(done, reported):
    breach(done)  # done: the service is no longer owed

    assert sla_notices_issue(as_of=timezone.localdate())["notices"] == 0  # reported: not yet due
    assert not SlaNotice.objects.exists()


def test_an_sla_run_for_a_past_day_counts_only_what_was_due_by_its_end(reported):
    breach(reported, hours=1)
    yesterday = timezone.localdate() - timedelta(1)

    # Due an hour ago; due by the end of yesterday only if it is now past 01:00 local. Either
    # way a second run adds nothing.
    first = sla_notices_issue(as_of=yesterday)["notices"]
    assert sla_notices_issue(as_of=yesterday)["notices"] == 0
    assert first in (0, 1)


# --- pages ------------------------------------------------------------------------------------


@pytest.fixture
def notice(assigned, hj_officer):
    overdue_notices_issue(as_of=assigned.deadline + timedelta(1))
    return NoticeDocument.objects.get()


def test_the_notice_page_lists_the_tickets_and_prints(client, notice, assigned, hj_officer):
    client.force_login(hj_officer)

    response = client.get(reverse("notice_detail", args=[notice.pk]))

    assert response.status_code == 200
    body = response.content.decode()
    assert notice.number in body
    assert assigned.number in body
    assert "css/documents.css" in body  # its print layout (@media print)


def test_a_town_officer_gets_404_for_another_towns_notice(client, notice, other_officer):
    client.force_login(other_officer)

    assert client.get(reverse("notice_detail", args=[notice.pk])).status_code == 404


def test_the_task_force_sees_every_notice(client, notice, task_force):
    client.force_login(task_force)

    assert client.get(reverse("notice_detail", args=[notice.pk])).status_code == 200


def test_the_badge_counts_unread_and_opening_the_notice_marks_it_read(client, notice, hj_officer):
    client.force_login(hj_officer)
    listing = client.get(reverse("notification_list")).content.decode()
    assert 'data-unread="1"' in listing
    assert reverse("notice_detail", args=[notice.pk]) in listing

    client.get(reverse("notice_detail", args=[notice.pk]))

    assert Notification.objects.get(user=hj_officer).read_at is not None
    assert "data-unread" not in client.get(reverse("notification_list")).content.decode()


def test_other_officer_has_no_notifications(client, notice, other_officer):
    client.force_login(other_officer)

    body = client.get(reverse("notification_list")).content.decode()

    assert notice.number not in body
    assert "data-unread" not in body


def test_the_notification_list_costs_the_same_queries_for_1_or_4_rows(
    client, huji, inspector, task_force, hj_officer
):
    client.force_login(hj_officer)
    d = timezone.localdate()
    make_assigned(huji, inspector, task_force, deadline=d)
    url = reverse("notification_list")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    overdue_notices_issue(as_of=d + timedelta(1))
    one = queries()
    overdue_notices_issue(as_of=d + timedelta(7))  # steps 2 and 3: two more documents
    make_assigned(huji, inspector, task_force, deadline=d + timedelta(7))
    overdue_notices_issue(as_of=d + timedelta(8))
    assert Notification.objects.filter(user=hj_officer).count() == 4
    assert queries() == one


# --- two workers at once (PostgreSQL) ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)")
def test_two_overdue_jobs_at_once_issue_each_notice_once(
    huji, jishu, inspector, task_force, hj_officer
):
    from tests.workflows.test_concurrency import together

    d = timezone.localdate()
    for town in (huji, huji, jishu):
        make_assigned(town, inspector, task_force, deadline=d)

    results = together(4, lambda i: overdue_notices_issue(as_of=d + timedelta(8)))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r["notices"] for r in results) == 9 == OverdueNotice.objects.count()
    assert sum(r["documents"] for r in results) == 6 == NoticeDocument.objects.count()
    assert Notification.objects.count() == 3  # hj_officer: three kinds of 胡集镇 document
    numbers = list(NoticeDocument.objects.values_list("number", flat=True))
    assert len(set(numbers)) == 6
    year = (d + timedelta(8)).year
    assert TicketCounter.objects.get(prefix="NSUP", year=year).value == 2  # no gap


def test_the_notice_is_a_pdf_with_its_chinese_text(client, notice, assigned, hj_officer):
    import pypdfium2

    client.force_login(hj_officer)
    response = client.get(reverse("notice_pdf", args=[notice.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pdf = pypdfium2.PdfDocument(b"".join(response.streaming_content))
    text = "".join(page.get_textpage().get_text_range() for page in pdf)
    assert notice.number in text and assigned.number in text
    assert "胡集镇" in text and assigned.description[:6] in text  # real glyphs, not boxes
    assert Notification.objects.get(user=hj_officer).read_at is not None


def test_another_towns_officer_gets_no_pdf(client, notice, other_officer):
    client.force_login(other_officer)
    assert client.get(reverse("notice_pdf", args=[notice.pk])).status_code == 404


# --- one rule: the ORM, the jobs' raw SQL, the partial indexes and Python agree ---------------

AS_OF = date(2026, 3, 10)


def _index(model, name: str):
    return next(index for index in model._meta.indexes if index.name == name)


def test_overdue_is_one_rule_in_the_orm_the_jobs_sql_the_index_and_python(huji, huji_village):
    """Every state × deadline none / before / on / after as_of: RectificationTicket.objects
    .overdue, the overdue job's INSERT … SELECT (step 1, days_past 1: overdue as of today), the
    rows the partial index rect_running_deadline holds with a deadline before as_of, and
    is_overdue select the same tickets."""
    deadlines = [None, AS_OF - timedelta(1), AS_OF, AS_OF + timedelta(1)]
    tickets = RectificationTicket.objects.bulk_create(
        RectificationTicket(
            number=f"ZG-R-{i:06d}",
            town=huji,
            village=huji_village,
            description="沟渠黑臭",
            state=state,
            deadline=deadline,
        )
        for i, (state, deadline) in enumerate(
            (state, deadline)
            for state in RectificationState.values
            for deadline in deadlines
            # The check constraint: only a draft or a cancelled ticket may lack a deadline.
            if deadline is not None or state in ("draft", "cancelled")
        )
    )
    index = _index(RectificationTicket, "rect_running_deadline")

    orm = set(RectificationTicket.objects.overdue(as_of=AS_OF).values_list("pk", flat=True))
    overdue_notices_issue(as_of=AS_OF)
    job = set(OverdueNotice.objects.filter(step=1).values_list("ticket_id", flat=True))
    indexed = set(
        RectificationTicket.objects.filter(index.condition)
        .filter(**{f"{index.fields[0]}__lt": AS_OF})
        .values_list("pk", flat=True)
    )
    python = {t.pk for t in RectificationTicket.objects.all() if t.is_overdue(as_of=AS_OF)}

    expected = {
        t.pk
        for t in tickets
        if t.state in ("assigned", "rejected", "extension_requested")
        and t.deadline == AS_OF - timedelta(1)
    }
    assert len(tickets) == 23 and len(expected) == 3
    assert orm == job == indexed == python == expected
    assert not OverdueNotice.objects.exclude(step=1).exists()  # steps 2 and 3 not reached yet


def test_sla_breach_is_one_rule_in_the_orm_the_jobs_sql_the_index_and_python(huji_village):
    """Every toilet state × SLA due just before / at / just after the cutoff (a run for a past
    day counts what was due by the end of that day)."""
    cutoff = timezone.make_aware(datetime.combine(AS_OF + timedelta(1), time.min))
    dues = [cutoff - timedelta(seconds=1), cutoff, cutoff + timedelta(seconds=1)]
    tickets = ToiletTicket.objects.bulk_create(
        ToiletTicket(
            number=f"GH-R-{i:06d}",
            town_id=huji_village.town_id,
            village=huji_village,
            household=make_household(huji_village),
            description="化粪池满",
            kind="pumping",
            channel="phone",
            state=state,
            sla_due_at=due,
        )
        for i, (state, due) in enumerate(
            (state, due) for state in ToiletState.values for due in dues
        )
    )
    index = _index(ToiletTicket, "toilet_pending_sla")

    orm = set(ToiletTicket.objects.sla_breached(now=cutoff).values_list("pk", flat=True))
    sla_notices_issue(as_of=AS_OF)
    job = set(SlaNotice.objects.values_list("ticket_id", flat=True))
    indexed = set(
        ToiletTicket.objects.filter(index.condition)
        .filter(**{f"{index.fields[0]}__lt": cutoff})
        .values_list("pk", flat=True)
    )
    python = {t.pk for t in ToiletTicket.objects.all() if t.is_sla_breached(now=cutoff)}

    expected = {
        t.pk
        for t in tickets
        if t.state not in ("done", "confirmed", "cancelled") and t.sla_due_at < cutoff
    }
    assert len(expected) == 5
    assert orm == job == indexed == python == expected
