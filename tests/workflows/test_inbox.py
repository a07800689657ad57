"""A town officer's inbox: what the town must do (整改中, 退回, and 延期申请 — the fix is still
owed and may be submitted) apart from what waits for the county (待交办, 待复核), each with its
count at the top; the county desk's the other way round. One query for the counts."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import make_user, membership
from tests.workflows.pages import rectification_in
from villages.access import Role
from workflows.models import RectificationState, RectificationTicket
from workflows.tickets import selectors

pytestmark = pytest.mark.django_db


@pytest.fixture
def tickets(huji, huji_village, inspector, task_force, hj_officer):
    people = {
        "town": huji,
        "village": huji_village,
        "inspector": inspector,
        "task_force": task_force,
        "officer": hj_officer,
    }
    states = ["draft", "assigned", "assigned", "rejected", "submitted", "extension_requested"]
    return {state: rectification_in(state, **people) for state in states}


def numbers(response) -> set[str]:
    return set(re.findall(r'class="code"[^>]*>([A-Z]+-\d{4}-\d+)<', response.content.decode()))


def test_the_town_sees_its_work_apart_from_what_waits_for_the_county(client, tickets, hj_officer):
    client.force_login(hj_officer)
    response = client.get(reverse("ticket_list"))
    page = response.content.decode()
    inbox = response.context["inbox"]
    assert (inbox["mine"]["label"], inbox["mine"]["count"]) == ("待我办理", 4)
    assert (inbox["waiting"]["label"], inbox["waiting"]["count"]) == ("等待县里办理", 2)
    assert inbox["mine"]["current"] and not inbox["waiting"]["current"]
    assert "待我办理" in page and "等待县里办理" in page
    mine = numbers(response)
    assert tickets["submitted"].number not in mine and tickets["draft"].number not in mine
    assert tickets["extension_requested"].number in mine and tickets["rejected"].number in mine
    waiting = numbers(client.get(inbox["waiting"]["url"]))
    assert tickets["submitted"].number in waiting and tickets["draft"].number in waiting
    assert not waiting & mine


def test_the_county_desk_is_the_other_way_round(task_force, tickets):
    inbox = selectors.inbox(user=task_force)
    assert set(inbox.mine) == {"draft", "submitted", "extension_requested"}
    assert set(inbox.waiting) == {"assigned", "rejected"}
    assert (inbox.mine_count, inbox.waiting_count) == (3, 3)


def test_an_inspector_has_one_list(client, inspector, tickets):
    client.force_login(inspector)
    response = client.get(reverse("ticket_list"))
    assert response.context["inbox"] is None
    assert len(numbers(response)) == 6


def test_the_counts_cost_one_query_of_the_rollup_not_of_the_tickets(hj_officer, tickets):
    with CaptureQueriesContext(connection) as captured:
        inbox = selectors.inbox(user=hj_officer)
    read = [q["sql"] for q in captured if "rectification" in q["sql"] or "rollup" in q["sql"]]
    assert len(read) == 1 and "rollup_rect_month" in read[0], read
    assert "workflows_rectificationticket" not in read[0]
    assert (inbox.mine_count, inbox.waiting_count) == (4, 2)


def ticket_counts(user) -> dict[str, int]:
    """The tickets `user` sees, counted one by one: what the counts per state must equal."""
    counts: dict[str, int] = {}
    for state in RectificationTicket.objects.visible_to(user).values_list("state", flat=True):
        counts[state] = counts.get(state, 0) + 1
    return counts


def test_the_counts_per_state_follow_every_write_for_every_scope(
    tickets, hj_officer, other_officer, task_force, huji_village, jishu, inspector
):
    village_admin = make_user("va", membership(Role.VILLAGE_ADMIN, huji_village))
    people = [hj_officer, other_officer, task_force, village_admin]
    every = tuple(RectificationState.values)

    def check():
        for user in people:
            counts = selectors.state_counts(user=user, states=every)
            if user is village_admin:
                assert counts is None  # a village's grant: the counts are per town
                continue
            assert {k: v for k, v in counts.items() if v} == ticket_counts(user), user

    check()
    moved = tickets["assigned"]
    RectificationTicket.objects.filter(pk=moved.pk).update(state="closed")
    RectificationTicket.objects.filter(pk=tickets["draft"].pk).update(town=jishu, village=None)
    RectificationTicket.objects.filter(pk=tickets["rejected"].pk).delete()
    check()
    assert selectors.state_counts(user=other_officer, states=every) == {"draft": 1}
    # The village admin's inbox counts the tickets themselves, and agrees.
    inbox = selectors.inbox(user=village_admin)
    assert inbox.counts == {
        state: n for state, n in ticket_counts(village_admin).items() if state in inbox.counts
    }


def test_without_the_rollups_the_tickets_are_counted(hj_officer, tickets, monkeypatch):
    monkeypatch.setattr(selectors, "_state_count_reader", None)
    with CaptureQueriesContext(connection) as captured:
        inbox = selectors.inbox(user=hj_officer)
    assert (inbox.mine_count, inbox.waiting_count) == (4, 2)
    assert any("workflows_rectificationticket" in q["sql"] for q in captured)
    assert not any("rollup" in q["sql"] for q in captured)


def test_a_list_narrowed_by_states_alone_is_counted_from_the_counts(client, task_force, tickets):
    client.force_login(task_force)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("ticket_list"), {"state": ["assigned", "rejected"]})
    assert response.context["page"].paginator.count == 3
    over_tickets = [
        q["sql"]
        for q in captured
        if "COUNT(" in q["sql"].upper() and "workflows_rectificationticket" in q["sql"]
    ]
    assert not over_tickets, over_tickets
    # One read of the counts serves the tabs and the list's length.
    assert len([q for q in captured if "rollup_rect_month" in q["sql"]]) == 1
    assert len(numbers(response)) == 3
    # Another filter (the source) narrows it further: those rows are counted.
    with CaptureQueriesContext(connection) as captured:
        response = client.get(
            reverse("ticket_list"), {"state": ["assigned", "rejected"], "source_kind": "bulletin"}
        )
    assert response.context["page"].paginator.count == 0
    assert any(
        "COUNT(" in q["sql"].upper() and "workflows_rectificationticket" in q["sql"]
        for q in captured
    )
    # No state chosen: every state, closed ones too.
    response = client.get(reverse("ticket_list"), {"o": "number"})
    assert response.context["page"].paginator.count == 6 == len(numbers(response))
