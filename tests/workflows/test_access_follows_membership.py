"""Access follows the current membership, never a user column (who was notified, who the job
was dispatched to, who submitted): each test is the attack, made after the person's roles were
taken away or moved to another town.

- a user whose memberships were all removed opens a notice he was sent: 404, page and PDF, and
  it is gone from his notifications and badge;
- a service worker moved from 胡集镇 to 鸡黍镇: his 胡集镇 jobs are out of his list and ledger,
  their pages and actions are 404 (and the services refuse him); his 鸡黍镇 jobs he sees and
  works; the SLA notice about his old jobs is 404;
- a notice listing tickets of two towns shows a town officer moved between them only the rows
  of his town now;
- a town officer moved away no longer acknowledges his old town's bulletin.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from core.errors import Forbidden
from tests.factories import make_household
from tests.workflows.conftest import jpeg_upload
from tests.workflows.ladder import ladder  # noqa: F401 (autouse fixture)
from villages import access
from villages.models import Membership
from workflows.bulletins import services as bulletins
from workflows.models import (
    BulletinReceipt,
    NoticeDocument,
    NoticeKind,
    Notification,
    RectificationTicket,
    ToiletTicket,
)
from workflows.notices import services as notices
from workflows.tickets import selectors, services

pytestmark = pytest.mark.django_db


def move(user, town):
    """The person now works for `town` only (what the people pages do, in one statement); the
    user as a new request loads him (a user object caches its scope)."""
    Membership.objects.filter(user=user).update(town=town, village=None)
    return type(user).objects.get(pk=user.pk)


def page(client, user, name: str, *args, **params):
    client.force_login(user)
    return client.get(reverse(name, args=args), params)


def text(response) -> str:
    return response.content.decode()


def overdue(ticket: RectificationTicket) -> None:
    RectificationTicket.objects.filter(pk=ticket.pk).update(
        deadline=timezone.localdate() - timedelta(days=2)
    )


def breach(ticket: ToiletTicket) -> None:
    ToiletTicket.objects.filter(pk=ticket.pk).update(sla_due_at=timezone.now() - timedelta(hours=1))


def assigned_in(town, village, *, inspector, task_force, text="沟渠黑臭"):
    deadline = timezone.localdate() + timedelta(days=10)
    ticket = services.rectification_create(
        by=inspector, town=town, village=village, description=text, source_kind="patrol"
    )
    return services.rectification_assign(ticket=ticket, by=task_force, deadline=deadline)


def ledger_numbers(response) -> set[str]:
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    return {str(cell) for row in workbook.worksheets[0].iter_rows(values_only=True) for cell in row}


# --- no membership left -----------------------------------------------------------------------


@pytest.fixture
def notice(assigned, hj_officer):
    overdue(assigned)
    notices.overdue_notices_issue(as_of=timezone.localdate())
    document = NoticeDocument.objects.get()
    assert Notification.objects.filter(user=hj_officer, document=document).exists()
    return document


def test_a_user_with_every_membership_removed_cannot_open_a_notice_he_was_sent(
    client, notice, hj_officer
):
    assert page(client, hj_officer, "notice_detail", notice.pk).status_code == 200
    Notification.objects.update(read_at=None)
    Membership.objects.filter(user=hj_officer).delete()
    hj_officer = type(hj_officer).objects.get(pk=hj_officer.pk)  # its scope as a request sees it

    assert page(client, hj_officer, "notice_detail", notice.pk).status_code == 404
    assert page(client, hj_officer, "notice_pdf", notice.pk).status_code == 404
    listing = text(page(client, hj_officer, "notification_list"))
    assert notice.number not in listing
    assert "data-unread" not in listing  # the badge counts nothing he may not open
    assert notices.unread_count(hj_officer) == 0
    assert not NoticeDocument.objects.visible_to(hj_officer).exists()


def test_a_user_with_every_membership_removed_sees_no_ticket(
    client, assigned, dispatched, hj_officer, huji_worker
):
    for user in (hj_officer, huji_worker):
        Membership.objects.filter(user=user).delete()
    assert page(client, hj_officer, "ticket_detail", assigned.number).status_code == 404
    assert assigned.number not in text(page(client, hj_officer, "ticket_list"))
    assert page(client, huji_worker, "toilet_detail", dispatched.number).status_code == 404
    assert dispatched.number not in text(page(client, huji_worker, "toilet_list"))
    fresh = type(huji_worker).objects.get(pk=huji_worker.pk)  # a user object caches its scope
    assert not ToiletTicket.objects.visible_to(fresh).exists()


# --- a service worker moved to another town ---------------------------------------------------


@pytest.fixture
def old_jobs(household, hj_officer, huji_worker, make_photo):
    """胡集镇 jobs dispatched to the worker: one waiting, one in service."""
    waiting = services.toilet_report(
        by=hj_officer, household=household, kind="pumping", channel="phone"
    )
    services.toilet_dispatch(ticket=waiting, by=hj_officer, worker=huji_worker)
    working = services.toilet_report(
        by=hj_officer, household=household, kind="repair", channel="phone"
    )
    services.toilet_dispatch(ticket=working, by=hj_officer, worker=huji_worker)
    services.toilet_accept(ticket=working, by=huji_worker)
    services.toilet_start(ticket=working, by=huji_worker)
    return waiting, working


@pytest.fixture
def moved_worker(jishu, huji_worker, old_jobs):
    """The worker, moved to 鸡黍镇 after his 胡集镇 jobs were dispatched to him."""
    return move(huji_worker, jishu)


@pytest.fixture
def new_job(jishu_village, other_officer, moved_worker):
    """A 鸡黍镇 job dispatched to him there."""
    household = make_household(jishu_village, head_name="李秀英", phone="13900005678")
    job = services.toilet_report(
        by=other_officer, household=household, kind="unblocking", channel="phone"
    )
    return services.toilet_dispatch(ticket=job, by=other_officer, worker=moved_worker)


def test_a_moved_worker_no_longer_lists_his_old_towns_jobs(client, old_jobs, new_job, moved_worker):
    waiting, working = old_jobs
    for params in ({}, {"mine": "true"}, {"mine": "false"}, {"state": "dispatched"}):
        listing = text(page(client, moved_worker, "toilet_list", **params))
        assert waiting.number not in listing and working.number not in listing, params
        assert "13800001234" not in listing
    assert new_job.number in text(page(client, moved_worker, "toilet_list"))
    ledger = ledger_numbers(page(client, moved_worker, "toilet_export", mine="true"))
    assert new_job.number in ledger
    assert waiting.number not in ledger and working.number not in ledger
    assert set(ToiletTicket.objects.visible_to(moved_worker)) == {new_job}


def test_a_moved_worker_gets_404_for_his_old_jobs_and_cannot_act_on_them(
    client, old_jobs, new_job, huji_worker
):
    waiting, working = old_jobs
    for job in (waiting, working):
        assert page(client, huji_worker, "toilet_detail", job.number).status_code == 404
    attempts = [
        (waiting, "accept", {}),
        (waiting, "return", {"reason": "不去了"}),
        (working, "complete", {"parts_used": "无", "photos": [jpeg_upload()]}),
    ]
    for job, action, data in attempts:
        url = reverse("toilet_action", args=[job.number, action])
        assert client.post(url, data).status_code == 404, action
    assert ToiletTicket.objects.get(pk=waiting.pk).state == "dispatched"
    assert ToiletTicket.objects.get(pk=working.pk).state == "in_service"


def test_the_services_refuse_a_moved_worker_his_old_jobs(old_jobs, moved_worker):
    waiting, working = old_jobs
    with pytest.raises(Forbidden):
        services.toilet_accept(ticket=waiting, by=moved_worker)
    with pytest.raises(Forbidden):
        services.toilet_return(ticket=waiting, by=moved_worker, reason="不去了")
    with pytest.raises(Forbidden):
        services.toilet_complete(
            ticket=working, by=moved_worker, photos=[], parts_used="无", disposal_site=""
        )
    assert not selectors.may_see_full_phone(user=moved_worker, ticket=working)
    rule = selectors.action_rules(waiting)["accept"]
    assert selectors.action_refusal(user=moved_worker, ticket=waiting, rule=rule)
    assert not selectors.available_actions(user=moved_worker, ticket=working)


def test_names_and_named_select_the_same_jobs(old_jobs, new_job, moved_worker):
    """access.names (one job: its actions, the phone) and ScopedQuerySet.named (lists) are one
    rule: both keep the new town's job and drop the old town's."""
    rule = {"field": "assigned_worker_id", "perm": "toilet.work"}
    place = {"town": "town_id", "village": ("village_id", "village__parent_id")}
    listed = set(ToiletTicket.objects.named(moved_worker, **rule, **place))
    one_by_one = {
        job for job in ToiletTicket.objects.all() if access.names(moved_worker, job, **rule)
    }
    assert ToiletTicket.objects.count() == 3
    assert listed == one_by_one == {new_job}


def test_a_moved_worker_sees_and_works_his_new_towns_jobs(client, new_job, huji_worker):
    response = page(client, huji_worker, "toilet_detail", new_job.number)
    assert response.status_code == 200
    assert "13900005678" in text(response)  # he calls the household
    url = reverse("toilet_action", args=[new_job.number, "accept"])
    assert client.post(url, {"state": "dispatched"}).status_code == 303
    assert ToiletTicket.objects.get(pk=new_job.pk).state == "accepted"


def test_a_moved_worker_cannot_open_the_sla_notice_of_his_old_jobs(
    client, old_jobs, huji_worker, hj_officer, jishu
):
    waiting, _working = old_jobs
    breach(waiting)
    notices.sla_notices_issue(as_of=timezone.localdate())
    document = NoticeDocument.objects.get(kind=NoticeKind.SLA)
    assert page(client, huji_worker, "notice_detail", document.pk).status_code == 200
    Notification.objects.update(read_at=None)

    move(huji_worker, jishu)

    assert page(client, huji_worker, "notice_detail", document.pk).status_code == 404
    assert page(client, huji_worker, "notice_pdf", document.pk).status_code == 404
    listing = text(page(client, huji_worker, "notification_list"))
    assert document.number not in listing and "data-unread" not in listing
    # The town's officer, still there, reads it as before.
    assert page(client, hj_officer, "notice_detail", document.pk).status_code == 200


# --- a notice whose tickets lie in two towns --------------------------------------------------


@pytest.fixture
def two_town_notice(huji, huji_village, jishu, jishu_village, inspector, task_force, hj_officer):
    """胡集镇's notice, issued while both tickets were 胡集镇's; one was then found to lie in
    鸡黍镇 and moved there; then the officer moved to 鸡黍镇 too."""
    stays = assigned_in(huji, huji_village, inspector=inspector, task_force=task_force)
    moves = assigned_in(huji, huji_village, inspector=inspector, task_force=task_force)
    overdue(stays)
    overdue(moves)
    notices.overdue_notices_issue(as_of=timezone.localdate())
    document = NoticeDocument.objects.get()
    RectificationTicket.objects.filter(pk=moves.pk).update(town=jishu, village=jishu_village)
    move(hj_officer, jishu)
    return document, stays, moves


def test_a_notice_shows_a_moved_officer_only_the_rows_of_his_town_now(
    client, two_town_notice, hj_officer, task_force
):
    document, stays, moves = two_town_notice

    response = page(client, hj_officer, "notice_detail", document.pk)

    assert response.status_code == 200
    assert moves.number in text(response)
    assert stays.number not in text(response)
    rows = notices.notice_rows(document, user=hj_officer)
    assert [row.ticket_id for row in rows] == [moves.pk]
    assert page(client, hj_officer, "notice_pdf", document.pk).status_code == 200
    # The county sees every row.
    county = [row.ticket_id for row in notices.notice_rows(document, user=task_force)]
    assert sorted(county) == sorted([stays.pk, moves.pk])


# --- notifications ----------------------------------------------------------------------------


def test_notifications_list_only_what_the_user_may_open_now(
    client, huji, huji_village, jishu, jishu_village, inspector, task_force, hj_officer
):
    old = assigned_in(huji, huji_village, inspector=inspector, task_force=task_force)
    overdue(old)
    notices.overdue_notices_issue(as_of=timezone.localdate())
    old_document = NoticeDocument.objects.get()
    move(hj_officer, jishu)
    new = assigned_in(jishu, jishu_village, inspector=inspector, task_force=task_force)
    overdue(new)
    notices.overdue_notices_issue(as_of=timezone.localdate())
    new_document = NoticeDocument.objects.get(town=jishu)
    assert Notification.objects.filter(user=hj_officer).count() == 2

    listing = text(page(client, hj_officer, "notification_list"))

    assert new_document.number in listing and old_document.number not in listing
    assert 'data-unread="1"' in listing
    assert list(notices.notifications_of(hj_officer)) == [
        Notification.objects.get(user=hj_officer, document=new_document)
    ]


def test_the_notification_list_costs_the_same_queries_with_hidden_rows(
    client, huji, huji_village, jishu, jishu_village, inspector, task_force, hj_officer
):
    Membership.objects.create(
        user=hj_officer, role="town_officer", county_id=jishu.county_id, town=jishu
    )
    client.force_login(hj_officer)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("notification_list")).status_code == 200
        return len(captured)

    def overdue_by(days: int, town, village) -> None:
        ticket = assigned_in(town, village, inspector=inspector, task_force=task_force)
        RectificationTicket.objects.filter(pk=ticket.pk).update(
            deadline=timezone.localdate() - timedelta(days=days)
        )

    overdue_by(2, huji, huji_village)
    notices.overdue_notices_issue(as_of=timezone.localdate())
    one = queries()
    overdue_by(8, huji, huji_village)  # every step at once: two more 胡集镇 documents
    overdue_by(8, jishu, jishu_village)  # and three 鸡黍镇 ones
    notices.overdue_notices_issue(as_of=timezone.localdate())
    Membership.objects.filter(user=hj_officer, town=jishu).delete()

    assert Notification.objects.filter(user=hj_officer).count() == 6
    assert len(notices.notifications_of(hj_officer)) == 3
    assert queries() == one


# --- bulletin receipts ------------------------------------------------------------------------


def test_a_town_officer_moved_away_no_longer_acknowledges_his_old_towns_bulletin(
    client, huji, huji_village, jishu, inspector, task_force, hj_officer, deadline
):
    draft = services.rectification_create(
        by=inspector,
        town=huji,
        village=huji_village,
        description="坑塘漂浮物",
        source_kind="patrol",
    )
    bulletin = bulletins.bulletin_create(
        by=task_force, kind="problems", title="通报", default_deadline=deadline
    )
    bulletins.bulletin_items_set(bulletin=bulletin, by=task_force, tickets=[draft])
    bulletins.bulletin_issue(bulletin=bulletin, by=task_force)
    assert bulletins.unacknowledged_count(hj_officer) == 1
    hj_officer = move(hj_officer, jishu)

    client.force_login(hj_officer)
    response = client.post(reverse("bulletin_acknowledge", args=[bulletin.pk]))

    assert response.status_code == 404
    assert bulletins.bulletin_acknowledge(bulletin=bulletin, by=hj_officer) == 0
    assert BulletinReceipt.objects.get(bulletin=bulletin).acknowledged_at is None
    assert bulletins.unacknowledged_count(hj_officer) == 0
