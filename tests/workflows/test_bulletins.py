"""Bulletins: numbering, atomic issue, frozen text, receipts, follow-up, scope."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from core.errors import ApplicationError, Forbidden
from tests.workflows.test_concurrency import together
from workflows.bulletins import services as svc
from workflows.models import Bulletin, BulletinReceipt, RectificationTicket
from workflows.tickets import services


@pytest.fixture
def drafts(huji, jishu, huji_village, jishu_village, inspector, make_photo):
    return [
        services.rectification_create(
            by=inspector,
            town=town,
            village=village,
            description=f"问题{n}",
            source_kind="patrol",
            before_photos=[make_photo(inspector)],
        )
        for n, (town, village) in enumerate(
            [(huji, huji_village), (huji, huji_village), (jishu, jishu_village)]
        )
    ]


@pytest.fixture
def composed(drafts, task_force, deadline):
    bulletin = svc.bulletin_create(
        by=task_force,
        kind="problems",
        title="关于农村人居环境问题的通报",
        default_deadline=deadline,
    )
    svc.bulletin_items_set(
        bulletin=bulletin, by=task_force, tickets=drafts, wordings={drafts[0].pk: "坑塘漂浮物"}
    )
    return bulletin


def test_issuing_numbers_assigns_freezes_and_asks_for_receipts(composed, drafts, task_force):
    bulletin = svc.bulletin_issue(bulletin=composed, by=task_force)
    assert (bulletin.state, bulletin.batch) == ("issued", 1)
    assert bulletin.number_label == f"{bulletin.year}年第1批"
    for ticket in RectificationTicket.objects.filter(pk__in=[t.pk for t in drafts]):
        assert (ticket.state, ticket.deadline) == ("assigned", composed.default_deadline)
    assert [i["text"] for i in bulletin.snapshot["items"]][:1] == ["坑塘漂浮物"]
    assert BulletinReceipt.objects.filter(bulletin=bulletin).count() == 2  # 胡集镇, 鸡黍镇
    RectificationTicket.objects.filter(pk=drafts[0].pk).update(description="改过的描述")
    bulletin.refresh_from_db()
    assert bulletin.snapshot["items"][0]["text"] == "坑塘漂浮物"  # the document does not change


def test_the_next_bulletin_gets_the_next_number(composed, task_force, drafts, deadline):
    svc.bulletin_issue(bulletin=composed, by=task_force)
    second = svc.bulletin_create(
        by=task_force, kind="supervision", title="督办", default_deadline=deadline
    )
    svc.bulletin_items_set(bulletin=second, by=task_force, tickets=drafts[:1])
    assert svc.bulletin_issue(bulletin=second, by=task_force).batch == 2


def test_a_failure_leaves_the_bulletin_a_draft_and_every_ticket_unchanged(
    composed, drafts, task_force
):
    Bulletin.objects.filter(pk=composed.pk).update(
        default_deadline=timezone.localdate() - timedelta(days=1)
    )  # assigning with a past deadline is refused, half-way through the items
    composed.refresh_from_db()
    with pytest.raises(ApplicationError):
        svc.bulletin_issue(bulletin=composed, by=task_force)
    composed.refresh_from_db()
    assert (composed.state, composed.batch) == ("draft", None)
    assert set(RectificationTicket.objects.values_list("state", flat=True)) == {"draft"}
    assert not BulletinReceipt.objects.exists()


def test_only_the_task_force_composes_and_issues(composed, hj_officer, inspector):
    for user in (hj_officer, inspector):
        with pytest.raises(Forbidden):
            svc.bulletin_issue(bulletin=composed, by=user)


def test_closed_tickets_cannot_be_listed(composed, drafts, task_force):
    RectificationTicket.objects.filter(pk=drafts[0].pk).update(state="cancelled")
    drafts[0].refresh_from_db()
    with pytest.raises(ApplicationError):
        svc.bulletin_items_set(bulletin=composed, by=task_force, tickets=drafts)


def test_follow_up_counts_match_the_tickets(composed, drafts, task_force, hj_officer, make_photo):
    bulletin = svc.bulletin_issue(bulletin=composed, by=task_force)
    first = RectificationTicket.objects.get(pk=drafts[0].pk)
    services.rectification_submit(
        ticket=first, by=hj_officer, note="已清理", photos=[make_photo(hj_officer)]
    )
    services.rectification_close(ticket=first, by=task_force)
    late = bulletin.default_deadline + timedelta(days=1)
    follow = svc.bulletin_follow_up(bulletin=bulletin, user=task_force, as_of=late)
    assert (follow.totals["closed"], follow.totals["overdue"]) == (1, 2)
    assert not follow.all_closed
    huji_row = next(r for r in follow.towns if r.town.code == first.town_id)
    assert (huji_row.total, huji_row.closed, huji_row.overdue) == (2, 1, 1)
    mine = svc.bulletin_follow_up(bulletin=bulletin, user=hj_officer, as_of=late)
    assert {item.ticket.town_id for item in mine.items} == {first.town_id}


def test_a_town_sees_only_issued_bulletins_addressed_to_it(
    composed, task_force, hj_officer, other_officer, drafts, deadline
):
    assert not Bulletin.objects.visible_to(hj_officer).exists()  # a draft is the county's
    bulletin = svc.bulletin_issue(bulletin=composed, by=task_force)
    only_huji = svc.bulletin_create(
        by=task_force, kind="problems", title="胡集", default_deadline=deadline
    )
    svc.bulletin_items_set(bulletin=only_huji, by=task_force, tickets=drafts[:1])
    svc.bulletin_issue(bulletin=only_huji, by=task_force)
    assert set(Bulletin.objects.visible_to(hj_officer)) == {bulletin, only_huji}
    assert set(Bulletin.objects.visible_to(other_officer)) == {bulletin}
    assert Bulletin.objects.visible_to(task_force).count() == 2


def test_a_town_officer_acknowledges_for_his_town(composed, task_force, hj_officer, other_officer):
    bulletin = svc.bulletin_issue(bulletin=composed, by=task_force)
    assert svc.unacknowledged_count(hj_officer) == 1
    assert svc.bulletin_acknowledge(bulletin=bulletin, by=hj_officer) == 1
    assert svc.unacknowledged_count(hj_officer) == 0
    assert svc.unacknowledged_count(other_officer) == 1
    with pytest.raises(Forbidden):
        svc.bulletin_acknowledge(bulletin=bulletin, by=task_force)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)")
def test_two_bulletins_issued_at_once_get_different_numbers(drafts, task_force, deadline):
    pair = []
    for n in range(2):
        bulletin = svc.bulletin_create(
            by=task_force, kind="problems", title=f"通报{n}", default_deadline=deadline
        )
        svc.bulletin_items_set(bulletin=bulletin, by=task_force, tickets=[drafts[n]])
        pair.append(bulletin)
    results = together(2, lambda i: svc.bulletin_issue(bulletin=pair[i], by=task_force))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(b.batch for b in results) == [1, 2]
