"""A town officer's inbox: what the town must do (整改中, 退回, and 延期申请 — the fix is still
owed and may be submitted) apart from what waits for the county (待交办, 待复核), each with its
count at the top; the county desk's the other way round. One query for the counts."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.workflows.pages import rectification_in
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


def test_the_counts_cost_one_query(hj_officer, tickets):
    with CaptureQueriesContext(connection) as captured:
        selectors.inbox(user=hj_officer).mine_count  # noqa: B018
    assert len([q for q in captured if "rectification" in q["sql"].lower()]) == 1
