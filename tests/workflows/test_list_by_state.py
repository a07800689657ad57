"""A desk's default list — several states sorted by deadline then number — read as each
state's first rows merged by the database (selectors.ByStateByDeadline, PostgreSQL): every page
is the page the list's own query gives, in one query; SQLite and deep pages take the list's own
query."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from workflows.models import RectificationTicket
from workflows.tickets import selectors
from workflows.tickets.filtersets import RectificationFilterSet

pytestmark = pytest.mark.django_db

STATES = ["draft", "submitted", "extension_requested"]


@pytest.fixture
def county_list(huji, jishu, task_force):
    """Tickets of three states in two towns, many sharing a deadline (the number decides), the
    drafts without one (they come last), and tickets of other states that must not show."""
    rng = random.Random(7)
    today = timezone.localdate()
    tickets = []
    for n in range(90):
        state = rng.choice([*STATES, "assigned", "closed"])
        undated = state == "draft" and rng.random() < 0.7
        tickets.append(
            RectificationTicket(
                number=f"ZG-2026-{rng.randrange(10**6):06d}-{n}",
                town=rng.choice([huji, jishu]),
                description="坑塘漂浮物",
                state=state,
                source_kind="patrol",
                deadline=None if undated else today + timedelta(days=rng.randint(-3, 3)),
            )
        )
    RectificationTicket.objects.bulk_create(tickets)
    user = task_force
    data = {"state": STATES, "o": "deadline"}
    filterset = RectificationFilterSet(
        data, queryset=selectors.rectification_list(user=user), user=user
    )
    assert filterset.is_valid() and set(filterset.only_states()) == set(STATES)
    return filterset.qs


def pages(queryset, by_deadline_in, *, per_page):
    count = queryset.count()
    numbers = []
    for number in range(1, -(-count // per_page) + 1):
        page = selectors.paginate(
            queryset, number, per_page=per_page, count=count, by_deadline_in=by_deadline_in
        )
        numbers.append([ticket.number for ticket in page])
    return numbers


def test_every_page_is_the_lists_own(county_list):
    own = pages(county_list, None, per_page=7)
    assert sum(len(page) for page in own) == county_list.count() > 30
    assert pages(county_list, STATES, per_page=7) == own
    undated = [t.number for t in county_list if t.deadline is None]
    assert undated and own[-1][-1] == undated[-1]  # no deadline: last


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL merges the states")
def test_the_page_is_one_query_of_each_states_first_rows(county_list):
    count = county_list.count()
    with CaptureQueriesContext(connection) as captured:
        page = selectors.paginate(county_list, 2, per_page=5, count=count, by_deadline_in=STATES)
    assert len(page) == 5
    ids = [q["sql"] for q in captured if "UNION ALL" in q["sql"]]
    assert len(ids) == 1 and ids[0].count("LIMIT 10") == len(STATES), ids
    assert len(captured) == 2  # the ids, then the page's rows


def test_deep_pages_and_sqlite_take_the_lists_own_query(county_list, monkeypatch):
    monkeypatch.setattr(selectors.ByStateByDeadline, "MAX_DEPTH", 10)
    count = county_list.count()
    with CaptureQueriesContext(connection) as captured:
        page = selectors.paginate(county_list, 3, per_page=5, count=count, by_deadline_in=STATES)
    assert not [q for q in captured if "UNION" in q["sql"]]
    assert [t.number for t in page] == pages(county_list, None, per_page=5)[2]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL merges the states")
def test_the_county_desks_default_list_is_merged_by_state(client, county_list, task_force):
    client.force_login(task_force)
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/tickets/")
    assert response.status_code == 200
    assert [q for q in captured if "UNION ALL" in q["sql"]]
    shown = [t.number for t in response.context["page"]]
    assert shown == [t.number for t in response.context["filter"].qs[: len(shown)]]
