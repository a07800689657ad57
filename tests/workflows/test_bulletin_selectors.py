"""Bulletin reads: the preview is the snapshot issuing freezes; which tickets a bulletin may name
(candidate pools: scope, states, the ladder's "into the next bulletin, once"); the list's counts.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.workflows.ladder import ladder  # noqa: F401 (autouse fixture)
from workflows.bulletins import selectors as sel
from workflows.bulletins import services as svc
from workflows.models import (
    RECTIFICATION_DONE_STATES,
    RECTIFICATION_OPEN_STATES,
    Bulletin,
    BulletinItem,
    OverdueNotice,
    RectificationState,
    RectificationTicket,
)
from workflows.notices.services import overdue_notices_issue
from workflows.tickets import services

pytestmark = pytest.mark.django_db


def test_every_ticket_state_is_either_open_or_done():
    assert not set(RECTIFICATION_OPEN_STATES) & set(RECTIFICATION_DONE_STATES)
    assert set(RECTIFICATION_OPEN_STATES) | set(RECTIFICATION_DONE_STATES) == set(
        RectificationState
    )


def _ticket(by, town, village=None, *, source="patrol", text="坑塘漂浮物", photos=()):
    return services.rectification_create(
        by=by,
        town=town,
        village=village,
        description=text,
        source_kind=source,
        site_label="坑塘",
        before_photos=list(photos),
    )


def _bulletin(task_force, title="通报", deadline=None):
    return svc.bulletin_create(
        by=task_force, kind="problems", title=title, default_deadline=deadline
    )


def _numbers(tickets) -> set[str]:
    return {t.number for t in tickets}


# --- the preview is the snapshot --------------------------------------------------------------


def test_a_draft_previews_exactly_what_issuing_freezes(
    task_force, inspector, huji, huji_village, jishu, jishu_village, make_photo, deadline
):
    photos = [make_photo(inspector) for _ in range(3)]
    new = _ticket(inspector, huji, huji_village, photos=photos)  # three photos: two printed
    other = _ticket(inspector, jishu, jishu_village, text="沟渠黑臭")
    running = services.rectification_assign(
        ticket=_ticket(inspector, huji, text="垃圾堆放"),
        by=task_force,
        deadline=deadline + timedelta(days=5),  # its own deadline, not the bulletin's
    )
    draft = svc.bulletin_create(
        by=task_force,
        kind="problems",
        title="关于农村人居环境问题的通报",
        intro="经巡查发现以下问题。",
        default_deadline=deadline,
    )
    svc.bulletin_items_set(
        bulletin=draft, by=task_force, tickets=[new, running, other], wordings={new.pk: "漂浮物"}
    )

    follow_up = svc.bulletin_follow_up(bulletin=draft, user=task_force)
    preview = sel.bulletin_document(draft, items=follow_up.items)
    assert (preview["number"], preview["issued_on"]) == ("", "")
    assert [item["deadline"] for item in preview["items"]] == [
        deadline.isoformat(),  # issuing assigns the draft tickets with the bulletin's deadline
        (deadline + timedelta(days=5)).isoformat(),
        deadline.isoformat(),
    ]
    assert len(preview["items"][0]["photos"]) == svc.PHOTOS_PER_ITEM

    issued = svc.bulletin_issue(bulletin=draft, by=task_force)
    assert issued.snapshot == preview | {
        "number": f"{issued.year}年第1批",
        "issued_on": timezone.localdate().isoformat(),
    }


def test_an_issued_bulletin_prints_its_snapshot_not_the_tickets_now(
    task_force, inspector, huji, huji_village, deadline
):
    ticket = _ticket(inspector, huji, huji_village)
    draft = _bulletin(task_force, deadline=deadline)
    svc.bulletin_items_set(bulletin=draft, by=task_force, tickets=[ticket])
    issued = svc.bulletin_issue(bulletin=draft, by=task_force)
    RectificationTicket.objects.filter(pk=ticket.pk).update(site_label="改过的地点")
    BulletinItem.objects.filter(ticket=ticket).update(wording="改过的措辞")
    issued.refresh_from_db()

    follow_up = svc.bulletin_follow_up(bulletin=issued, user=task_force)
    assert sel.bulletin_document(issued, items=follow_up.items) == issued.snapshot
    assert issued.snapshot["items"][0]["text"] == ticket.description


# --- the tickets a bulletin may name: scope and states ----------------------------------------


@pytest.fixture
def pool(task_force, inspector, huji, huji_village, jishu, jishu_village, deadline):
    """Tickets in every situation a candidate can be in, and a draft bulletin listing one."""
    tickets = {
        "huji_finding": _ticket(inspector, huji, huji_village),
        "jishu_finding": _ticket(inspector, jishu, jishu_village, source="assessment"),
        "revisit": _ticket(inspector, huji, huji_village, source="revisit"),  # not a finding
        "running": services.rectification_assign(
            ticket=_ticket(inspector, huji), by=task_force, deadline=deadline
        ),
        "cancelled": services.rectification_cancel(
            ticket=_ticket(inspector, huji), by=task_force, reason="重复"
        ),
        "listed": _ticket(inspector, huji, huji_village, source="report"),
    }
    bulletin = _bulletin(task_force, deadline=deadline)
    svc.bulletin_items_set(bulletin=bulletin, by=task_force, tickets=[tickets["listed"]])
    return bulletin, {name: ticket.number for name, ticket in tickets.items()}


@pytest.mark.parametrize(
    ("pool_name", "expected"),
    [
        ("", {"huji_finding", "jishu_finding"}),
        ("suggested", {"huji_finding", "jishu_finding"}),
        ("drafts", {"huji_finding", "jishu_finding"}),
        ("ladder", set()),
        ("open", {"huji_finding", "jishu_finding", "revisit", "running"}),
    ],
)
def test_the_pools_name_open_tickets_not_yet_on_the_bulletin(task_force, pool, pool_name, expected):
    bulletin, numbers = pool
    candidates = sel.bulletin_candidates(bulletin=bulletin, user=task_force, pool=pool_name)
    assert _numbers(candidates) == {numbers[name] for name in expected}
    assert not any(ticket.for_bulletin for ticket in candidates)


def test_the_pools_keep_to_the_users_jurisdiction_and_filters(
    task_force, hj_officer, other_officer, huji, jishu, pool
):
    bulletin, numbers = pool
    mine = sel.bulletin_candidates(bulletin=bulletin, user=hj_officer, pool="open")
    assert _numbers(mine) == {numbers[n] for n in ("huji_finding", "revisit", "running")}
    theirs = sel.bulletin_candidates(bulletin=bulletin, user=other_officer, pool="open")
    assert _numbers(theirs) == {numbers["jishu_finding"]}

    by_town = sel.bulletin_candidates(bulletin=bulletin, user=task_force, town=jishu)
    assert _numbers(by_town) == {numbers["jishu_finding"]}
    assert _numbers(
        sel.bulletin_candidates(bulletin=bulletin, user=task_force, town=huji.code, pool="open")
    ) == {numbers[n] for n in ("huji_finding", "revisit", "running")}
    by_source = sel.bulletin_candidates(bulletin=bulletin, user=task_force, source_kind="patrol")
    assert _numbers(by_source) == {numbers["huji_finding"]}


def test_an_unknown_pool_is_refused(task_force, pool):
    bulletin, _ = pool
    with pytest.raises(ValueError):
        sel.bulletin_candidates(bulletin=bulletin, user=task_force, pool="closed")


# --- the ladder: into the next bulletin, once -------------------------------------------------


@pytest.fixture
def laddered(assigned):
    """A running ticket the ladder's last step (7 days overdue) sent to the next bulletin."""
    overdue_notices_issue(as_of=assigned.deadline + timedelta(days=7))
    assert OverdueNotice.objects.filter(ticket=assigned, kind="bulletin").exists()
    return assigned


def _ladder_pool(bulletin, user, ticket, *, pool="ladder", days=8) -> set[str]:
    as_of = ticket.deadline + timedelta(days=days)
    return _numbers(sel.bulletin_candidates(bulletin=bulletin, user=user, pool=pool, as_of=as_of))


def test_the_ladder_sends_an_overdue_ticket_to_the_next_bulletin(task_force, assigned, deadline):
    draft = _bulletin(task_force, deadline=deadline)
    overdue_notices_issue(as_of=assigned.deadline + timedelta(days=3))  # supervision: not yet
    assert _ladder_pool(draft, task_force, assigned, days=3) == set()

    overdue_notices_issue(as_of=assigned.deadline + timedelta(days=7))
    for pool in ("ladder", "suggested", "open"):
        assert _ladder_pool(draft, task_force, assigned, pool=pool) == {assigned.number}
    [candidate] = sel.bulletin_candidates(
        bulletin=draft, user=task_force, pool="ladder", as_of=assigned.deadline + timedelta(8)
    )
    assert candidate.for_bulletin
    assert _ladder_pool(draft, task_force, assigned, pool="drafts") == set()


def test_a_bulletin_carries_a_laddered_ticket_once(task_force, laddered, deadline):
    carrying = _bulletin(task_force, title="督办通报", deadline=deadline)
    svc.bulletin_items_set(bulletin=carrying, by=task_force, tickets=[laddered])
    assert _ladder_pool(carrying, task_force, laddered, pool="open") == set()  # on it already
    next_draft = _bulletin(task_force, title="下一期", deadline=deadline)
    assert _ladder_pool(next_draft, task_force, laddered) == {laddered.number}  # a draft: not yet

    svc.bulletin_issue(bulletin=carrying, by=task_force)
    assert _ladder_pool(next_draft, task_force, laddered) == set()
    assert _ladder_pool(next_draft, task_force, laddered, pool="open") == {laddered.number}


def test_a_bulletin_issued_before_the_notice_did_not_carry_it(task_force, laddered, deadline):
    earlier = _bulletin(task_force, title="早些时候", deadline=deadline)
    svc.bulletin_items_set(bulletin=earlier, by=task_force, tickets=[laddered])
    svc.bulletin_issue(bulletin=earlier, by=task_force)
    notice = OverdueNotice.objects.select_related("document").get(ticket=laddered, kind="bulletin")
    Bulletin.objects.filter(pk=earlier.pk).update(
        issued_at=notice.document.created_at - timedelta(minutes=1)  # the same day, earlier
    )
    draft = _bulletin(task_force, deadline=deadline)
    assert _ladder_pool(draft, task_force, laddered) == {laddered.number}


def test_a_notice_for_an_earlier_deadline_does_not_count(
    task_force, hj_officer, laddered, deadline
):
    old = laddered.deadline
    services.rectification_request_extension(
        ticket=laddered, by=hj_officer, new_deadline=old + timedelta(days=2), reason="雨季"
    )
    services.rectification_approve_extension(ticket=laddered, by=task_force)
    draft = _bulletin(task_force, deadline=deadline)
    # Overdue again on old + 8, but the ladder has not reached its last step for the new deadline.
    assert _ladder_pool(draft, task_force, laddered, days=8) == set()


# --- the list ---------------------------------------------------------------------------------


def test_the_list_counts_closed_and_cancelled_items_as_done(
    task_force, hj_officer, inspector, huji, huji_village, make_photo, deadline
):
    first, second = (_ticket(inspector, huji, huji_village) for _ in range(2))
    draft = _bulletin(task_force, deadline=deadline)
    svc.bulletin_items_set(bulletin=draft, by=task_force, tickets=[first, second])
    issued = svc.bulletin_issue(bulletin=draft, by=task_force)

    def row():
        [bulletin] = sel.bulletin_list(hj_officer)
        sel.mark_all_closed([bulletin])
        return bulletin

    listed = row()
    assert (listed.item_count, listed.closed_count, listed.all_closed) == (2, 0, False)
    assert (listed.receipt_count, len(listed.my_receipts)) == (1, 1)
    first.refresh_from_db()
    services.rectification_cancel(ticket=first, by=task_force, reason="重复")
    assert (row().closed_count, row().all_closed) == (1, False)
    second.refresh_from_db()
    services.rectification_submit(
        ticket=second, by=hj_officer, note="已清理", photos=[make_photo(hj_officer)]
    )
    services.rectification_close(ticket=second, by=task_force)
    assert (row().closed_count, row().all_closed) == (2, True)
    assert svc.bulletin_follow_up(bulletin=issued, user=hj_officer).all_closed


def test_a_draft_is_addressed_to_the_towns_issuing_will_address(
    task_force, inspector, huji, jishu, deadline
):
    draft = _bulletin(task_force, deadline=deadline)
    svc.bulletin_items_set(bulletin=draft, by=task_force, tickets=[_ticket(inspector, huji)])
    draft.recipients.set([jishu])  # chosen on the draft besides the items' town

    printed_before = sel.recipient_names(draft)
    issued = svc.bulletin_issue(bulletin=draft, by=task_force)

    assert printed_before == [huji.name, jishu.name]  # the item's town was missing before
    assert sel.recipient_names(issued) == printed_before
