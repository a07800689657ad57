"""Real concurrency on PostgreSQL: threads with their own connections act at the same moment.

SQLite serialises every writer (IMMEDIATE transactions), so these run only when the suite runs
on PostgreSQL (DATABASE_URL set), where row locks decide who wins.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from workflows import services
from workflows.models import RectificationTicket, TicketEvent
from workflows.services import TicketConflict

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)"
    ),
]


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


def test_ticket_numbers_are_unique_under_concurrency(huji, inspector):
    results = together(
        8,
        lambda i: services.rectification_create(by=inspector, town=huji, description=f"问题{i}"),
    )
    assert not [r for r in results if isinstance(r, Exception)]
    numbers = sorted(int(t.number.rsplit("-", 1)[1]) for t in results)
    assert numbers == list(range(1, 9))


def test_two_closes_at_once_one_wins(submitted, task_force):
    copies = [RectificationTicket.objects.get(pk=submitted.pk) for _ in range(2)]
    results = together(
        2, lambda i: services.rectification_close(ticket=copies[i], by=task_force)
    )
    conflicts = [r for r in results if isinstance(r, TicketConflict)]
    assert len(conflicts) == 1, results
    assert TicketEvent.objects.filter(rectification=submitted, action="close").count() == 1


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
    assert sum(isinstance(r, TicketConflict) for r in results) == 1, results
    final = RectificationTicket.objects.get(pk=assigned.pk).state
    assert final in {"submitted", "cancelled"}
    actions = list(
        TicketEvent.objects.filter(rectification=assigned).values_list("action", flat=True)
    )
    assert actions.count("submit") + actions.count("cancel") == 1
