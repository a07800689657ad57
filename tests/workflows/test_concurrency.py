"""Real concurrency on PostgreSQL: threads with their own connections act at the same moment.

SQLite serialises every writer (IMMEDIATE transactions), so the races run only when the suite
runs on PostgreSQL (DATABASE_URL set), where row locks decide who wins. Whatever the
interleaving, each race must end in one of its serial outcomes: one side wins, the loser is told
the ticket or bulletin changed (a 409 on a page), nothing is half done and nothing is counted
twice. The serial orders a race can fall into are checked without threads, on both databases.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import gettext, override

from core.errors import Conflict
from tests.factories import make_user, membership
from tests.workflows.conftest import jpeg_upload
from tests.workflows.pages import body, fresh, media_files, post_action
from villages.models import Role
from workflows.bulletins import services as bulletin_svc
from workflows.models import (
    BulletinReceipt,
    EvidencePhoto,
    RectificationTicket,
    TicketCounter,
    TicketEvent,
)
from workflows.tickets import services

pytestmark = pytest.mark.django_db(transaction=True)
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)"
)

TICKET_CHANGED = "This ticket was changed by someone else. Reload it; what you typed is kept below."


def together(count: int, action):
    """Run action(i) in `count` threads released at the same instant; results or exceptions."""
    barrier = threading.Barrier(count)

    def run(i):
        try:
            barrier.wait()
            return action(i)
        except Exception as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def logged_in(*users) -> list[Client]:
    """A browser per user, logged in before the race (the session rows are committed)."""
    clients = []
    for user in users:
        client = Client()
        client.force_login(user)
        clients.append(client)
    return clients


def zh(msgid: str, **params) -> str:
    """The Chinese text of `msgid` as a page prints it (HTML-escaped)."""
    with override("zh-hans"):
        text = gettext(msgid)
    return escape(text % params if params else text)


def second_task_force():
    return make_user("task_force_2", membership(Role.TASK_FORCE))


def events(ticket, action: str) -> int:
    return TicketEvent.objects.filter(rectification=ticket, action=action).count()


def batch_counter_value(year: int) -> int | None:
    counter = TicketCounter.objects.filter(prefix=bulletin_svc.COUNTER, year=year).first()
    return counter.value if counter else None


def files_match_photo_rows(settings) -> bool:
    """Every stored file belongs to a photo row and every photo row has its files: a refused
    action removed what it had stored."""
    root = settings.MEDIA_ROOT
    on_disk = {str(path.relative_to(root)) for path in media_files(settings)}
    named = set()
    for photo in EvidencePhoto.objects.all():
        files = (photo.display, photo.thumbnail, photo.print_copy, photo.original)
        named |= {f.name for f in files if f}
    return on_disk == named


# --- tickets ----------------------------------------------------------------------------------


@postgres_only
def test_ticket_numbers_are_unique_under_concurrency(huji, inspector):
    results = together(
        8,
        lambda i: services.rectification_create(by=inspector, town=huji, description=f"问题{i}"),
    )
    assert not [r for r in results if isinstance(r, Exception)]
    numbers = sorted(int(t.number.rsplit("-", 1)[1]) for t in results)
    assert numbers == list(range(1, 9))


@postgres_only
def test_two_closes_at_once_one_wins(submitted, task_force):
    copies = [RectificationTicket.objects.get(pk=submitted.pk) for _ in range(2)]
    results = together(2, lambda i: services.rectification_close(ticket=copies[i], by=task_force))
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(conflicts) == 1, results
    assert TicketEvent.objects.filter(rectification=submitted, action="close").count() == 1


@postgres_only
def test_submit_against_cancel_one_wins(assigned, hj_officer, task_force, make_photo):
    photo = make_photo(hj_officer)
    copies = [RectificationTicket.objects.get(pk=assigned.pk) for _ in range(2)]

    def act(i):
        if i == 0:
            return services.rectification_submit(
                ticket=copies[0], by=hj_officer, note="已整改", photos=[photo]
            )
        return services.rectification_cancel(ticket=copies[1], by=task_force, reason="重复")

    results = together(2, act)
    assert sum(isinstance(r, Conflict) for r in results) == 1, results
    final = RectificationTicket.objects.get(pk=assigned.pk).state
    assert final in {"submitted", "cancelled"}
    actions = list(
        TicketEvent.objects.filter(rectification=assigned).values_list("action", flat=True)
    )
    assert actions.count("submit") + actions.count("cancel") == 1


# --- the same on the pages: the loser gets a 409 that says why --------------------------------


@postgres_only
def test_two_task_force_members_close_on_the_page_at_once(submitted, task_force):
    browsers = logged_in(task_force, second_task_force())
    responses = together(
        2, lambda i: post_action(browsers[i], submitted, "close", {"note": f"核验合格{i}"})
    )
    assert not [r for r in responses if isinstance(r, Exception)], responses
    won, lost = sorted(responses, key=lambda r: r.status_code)
    assert (won.status_code, lost.status_code) == (303, 409)
    assert won["Location"] == reverse("ticket_detail", args=[submitted.number])
    assert zh(TICKET_CHANGED) in body(lost)
    assert fresh(submitted).state == "closed"
    (close,) = TicketEvent.objects.filter(rectification=submitted, action="close")
    loser_note = "核验合格0" if close.note == "核验合格1" else "核验合格1"
    assert close.note != loser_note and loser_note in body(lost)  # what the loser typed is kept


@postgres_only
def test_submit_against_cancel_on_the_pages(assigned, hj_officer, task_force, settings):
    officer, county = logged_in(hj_officer, task_force)
    photos_before = EvidencePhoto.objects.count()

    def act(i):
        if i == 0:
            data = {"note": "已清理垃圾", "photos": [jpeg_upload("after.jpg")]}
            return post_action(officer, assigned, "submit", data)
        return post_action(county, assigned, "cancel", {"reason": "重复立案"})

    submit, cancel = together(2, act)
    assert not [r for r in (submit, cancel) if isinstance(r, Exception)], (submit, cancel)
    assert sorted([submit.status_code, cancel.status_code]) == [303, 409]
    lost, typed = (submit, "已清理垃圾") if submit.status_code == 409 else (cancel, "重复立案")
    assert zh(TICKET_CHANGED) in body(lost) and typed in body(lost)
    state = fresh(assigned).state
    assert state == ("cancelled" if lost is submit else "submitted")
    assert events(assigned, "submit") + events(assigned, "cancel") == 1
    # The losing submit's photo went again; the winning one's stays, with its files.
    assert EvidencePhoto.objects.count() == photos_before + (state == "submitted")
    assert files_match_photo_rows(settings)


# --- bulletins: issuing against edits of its tickets and of itself -----------------------------


@pytest.fixture
def on_bulletin(huji, huji_village, jishu, jishu_village, inspector, make_photo):
    """Three draft tickets for the bulletin (two of 胡集镇, one of 鸡黍镇) and a fourth draft
    not on it."""
    places = [(huji, huji_village), (huji, huji_village), (jishu, jishu_village)]
    places.append((huji, huji_village))
    return [
        services.rectification_create(
            by=inspector,
            town=town,
            village=village,
            description=f"问题{n}",
            source_kind="patrol",
            before_photos=[make_photo(inspector)],
        )
        for n, (town, village) in enumerate(places)
    ]


@pytest.fixture
def bulletin(on_bulletin, task_force, deadline):
    draft = bulletin_svc.bulletin_create(
        by=task_force, kind="problems", title="关于环境问题的通报", default_deadline=deadline
    )
    bulletin_svc.bulletin_items_set(bulletin=draft, by=task_force, tickets=on_bulletin[:3])
    return draft


# The ticket acted on during the issue is its last: by the time the issue reaches it, it has
# assigned the two before it in its transaction, and a refusal must undo those too.
LAST = 2
ISSUE_STOPPED = (
    "Ticket %(number)s was changed by someone else meanwhile; nothing was issued. "
    "Reload the bulletin and issue it again."
)
DONE_LISTED = "Closed or cancelled tickets cannot be put on a bulletin: %(numbers)s"


def assert_issued(bulletin, tickets):
    """Issued once, numbered 第1批, listing `tickets` in its items and in its frozen text, a
    receipt for each of their towns."""
    bulletin = fresh(bulletin)
    assert (bulletin.state, bulletin.batch) == ("issued", 1)
    assert batch_counter_value(bulletin.year) == 1
    listed = [item.ticket.number for item in bulletin.items.order_by("position")]
    assert [item["ticket"] for item in bulletin.snapshot["items"]] == listed
    assert listed == [t.number for t in tickets]
    receipts = BulletinReceipt.objects.filter(bulletin=bulletin).values_list("town", flat=True)
    assert sorted(receipts) == sorted({t.town_id for t in tickets})
    return bulletin


def assert_still_a_draft(bulletin, tickets):
    """Refused: nothing of the issue happened (no number taken, no receipt, `tickets` still
    drafts that no one assigned)."""
    bulletin = fresh(bulletin)
    assert (bulletin.state, bulletin.batch, bulletin.snapshot) == ("draft", None, {})
    assert batch_counter_value(bulletin.year) is None
    assert not BulletinReceipt.objects.filter(bulletin=bulletin).exists()
    for ticket in tickets:
        assert fresh(ticket).state == "draft" and events(ticket, "assign") == 0


@pytest.mark.django_db  # serial: no threads, so no need to commit
def test_a_ticket_cancelled_before_the_issue_stops_it(bulletin, on_bulletin, task_force):
    """The serial order "cancel, then issue": the bulletin would list a ticket it cannot
    assign, so the issue is refused and nothing of it happens."""
    target = on_bulletin[LAST]
    services.rectification_cancel(ticket=target, by=task_force, reason="重复立案")
    with pytest.raises(Conflict) as refused:
        bulletin_svc.bulletin_issue(bulletin=bulletin, by=task_force)
    assert target.number in refused.value.message
    assert_still_a_draft(bulletin, on_bulletin[:LAST])


@pytest.mark.django_db  # serial: no threads, so no need to commit
def test_a_composition_saved_from_a_copy_read_before_the_issue_is_refused(
    bulletin, on_bulletin, task_force
):
    """The serial order "issue, then save the page read before it": the save is refused and
    the issued bulletin keeps the items its text was frozen with."""
    stale = fresh(bulletin)
    bulletin_svc.bulletin_issue(bulletin=bulletin, by=task_force)
    with pytest.raises(Conflict):
        bulletin_svc.bulletin_items_set(bulletin=stale, by=task_force, tickets=on_bulletin[2:])
    assert_issued(bulletin, on_bulletin[:3])


@postgres_only
def test_a_cancel_committed_while_the_issue_runs_undoes_the_whole_issue(
    bulletin, on_bulletin, task_force, monkeypatch
):
    """Pinned interleaving: the issue has read its tickets and assigned the first two when the
    third is cancelled on its page (another connection, committed). The issue's compare-and-set
    on the third fails; its whole transaction goes, the first two assignments with it."""
    target = on_bulletin[LAST]
    real_assign = services.rectification_assign

    def assign_after_a_rival_cancel(*, ticket, **kwargs):
        if ticket.pk == target.pk:
            (cancelled,) = together(
                1,
                lambda i: services.rectification_cancel(
                    ticket=fresh(target), by=task_force, reason="重复立案"
                ),
            )
            assert fresh(target).state == "cancelled", cancelled
        return real_assign(ticket=ticket, **kwargs)

    monkeypatch.setattr(services, "rectification_assign", assign_after_a_rival_cancel)
    with pytest.raises(Conflict) as refused:
        bulletin_svc.bulletin_issue(bulletin=bulletin, by=task_force)
    assert refused.value.message == gettext(ISSUE_STOPPED) % {"number": target.number}
    assert_still_a_draft(bulletin, on_bulletin[:LAST])


@postgres_only
def test_issue_against_cancelling_one_of_its_tickets(bulletin, on_bulletin, task_force):
    target = fresh(on_bulletin[LAST])  # the copy the ticket page showed

    def act(i):
        if i == 0:
            return bulletin_svc.bulletin_issue(bulletin=fresh(bulletin), by=task_force)
        return services.rectification_cancel(ticket=target, by=task_force, reason="重复立案")

    issued, cancelled = together(2, act)
    losers = [r for r in (issued, cancelled) if isinstance(r, Exception)]
    assert len(losers) == 1 and isinstance(losers[0], Conflict), losers
    if isinstance(cancelled, Conflict):  # the issue won: the ticket went to its town
        assert_issued(bulletin, on_bulletin[:3])
        ticket = fresh(target)
        assert (ticket.state, ticket.deadline) == ("assigned", bulletin.default_deadline)
    else:  # the cancel won: the bulletin is the draft it was, its other tickets untouched
        assert issued.message in (
            gettext(ISSUE_STOPPED) % {"number": target.number},
            gettext(DONE_LISTED) % {"numbers": target.number},
        )
        assert fresh(target).state == "cancelled"
        assert_still_a_draft(bulletin, on_bulletin[:LAST])
    assert events(target, "assign") + events(target, "cancel") == 1


@postgres_only
def test_issue_against_assigning_one_of_its_tickets_on_its_page(
    bulletin, on_bulletin, task_force, deadline
):
    own_deadline = deadline + timedelta(days=20)
    target = fresh(on_bulletin[LAST])

    def act(i):
        if i == 0:
            return bulletin_svc.bulletin_issue(bulletin=fresh(bulletin), by=task_force)
        return services.rectification_assign(ticket=target, by=task_force, deadline=own_deadline)

    issued, assigned = together(2, act)
    losers = [r for r in (issued, assigned) if isinstance(r, Exception)]
    assert all(isinstance(r, Conflict) for r in losers), losers
    (assign,) = TicketEvent.objects.filter(rectification=target, action="assign")  # only one
    ticket = fresh(target)
    assert ticket.state == "assigned"
    assert ticket.deadline.isoformat() == assign.data["deadline"]
    if isinstance(issued, Conflict):  # the page's assign slipped in while it was issuing
        assert ticket.deadline == own_deadline
        assert_still_a_draft(bulletin, on_bulletin[:LAST])
        return
    issued = assert_issued(bulletin, on_bulletin[:3])
    if isinstance(assigned, Conflict):  # the bulletin assigned it
        assert ticket.deadline == bulletin.default_deadline
    else:  # assigned on its page first: the bulletin found it assigned and printed its deadline
        assert ticket.deadline == own_deadline
    assert issued.snapshot["items"][LAST]["deadline"] == ticket.deadline.isoformat()


@postgres_only
def test_issue_against_saving_its_composition(bulletin, on_bulletin, task_force):
    recomposed = [on_bulletin[3], on_bulletin[1]]  # one ticket out, another in

    def act(i):
        copy = fresh(bulletin)  # each page read the draft before the race
        if i == 0:
            return bulletin_svc.bulletin_issue(bulletin=copy, by=task_force)
        return bulletin_svc.bulletin_items_set(bulletin=copy, by=task_force, tickets=recomposed)

    issued, saved = together(2, act)
    assert not isinstance(issued, Exception), issued  # issuing what was saved last always works
    if isinstance(saved, Exception):  # issued first: the save came too late
        assert isinstance(saved, Conflict), saved
        assert_issued(bulletin, on_bulletin[:3])
        assert fresh(on_bulletin[3]).state == "draft"
    else:  # saved first: the issue took the new composition
        assert_issued(bulletin, recomposed)
        assert fresh(on_bulletin[0]).state == "draft"
    for ticket in fresh(bulletin).items.values_list("ticket", flat=True):
        assert RectificationTicket.objects.get(pk=ticket).state == "assigned"


@postgres_only
def test_two_task_force_members_issue_one_bulletin_on_its_page_at_once(
    bulletin, on_bulletin, task_force
):
    browsers = logged_in(task_force, second_task_force())
    url = reverse("bulletin_issue", args=[bulletin.pk])
    confirm = {"confirm": bulletin_svc.bulletin_issue_terms(bulletin).token}  # both saw it
    responses = together(2, lambda i: browsers[i].post(url, confirm))
    assert not [r for r in responses if isinstance(r, Exception)], responses
    won, lost = sorted(responses, key=lambda r: r.status_code)
    assert (won.status_code, lost.status_code) == (303, 409)
    assert won["Location"] == reverse("bulletin_detail", args=[bulletin.pk])
    said = body(lost)
    assert (
        zh("The bulletin was already issued.") in said
        or zh("The bulletin was issued; it can no longer be changed.") in said
    )
    assert_issued(bulletin, on_bulletin[:3])
    for ticket in on_bulletin[:3]:
        assert events(ticket, "assign") == 1


@postgres_only
def test_issue_against_cancel_on_the_pages(bulletin, on_bulletin, task_force):
    issuer, canceller = logged_in(task_force, second_task_force())
    target = on_bulletin[LAST]
    confirm = {"confirm": bulletin_svc.bulletin_issue_terms(bulletin).token}

    def act(i):
        if i == 0:
            return issuer.post(reverse("bulletin_issue", args=[bulletin.pk]), confirm)
        return post_action(canceller, target, "cancel", {"reason": "重复立案"})

    issue, cancel = together(2, act)
    assert not [r for r in (issue, cancel) if isinstance(r, Exception)], (issue, cancel)
    assert sorted([issue.status_code, cancel.status_code]) == [303, 409]
    if cancel.status_code == 409:
        assert zh(TICKET_CHANGED) in body(cancel) and "重复立案" in body(cancel)
        assert_issued(bulletin, on_bulletin[:3])
        assert fresh(target).state == "assigned"
    else:
        said = body(issue)
        assert (
            zh(ISSUE_STOPPED, number=target.number) in said
            or zh(DONE_LISTED, numbers=target.number) in said
        )
        assert fresh(target).state == "cancelled"
        assert_still_a_draft(bulletin, on_bulletin[:LAST])
