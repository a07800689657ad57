"""The actions a ticket page shows are exactly those its user may take: for every named user and
every state, each action shown succeeds through its POST, and each one not shown, POSTed anyway,
is refused with 403 and the reason, leaving the ticket as it was."""

from __future__ import annotations

import pytest

from tests.workflows.pages import (
    RECTIFICATION_STATES,
    TOILET_STATES,
    page_url,
    post_action,
    rectification_in,
    rectification_post_data,
    toilet_in,
    toilet_post_data,
)
from workflows.models import RectificationTicket, TicketEvent, ToiletTicket
from workflows.tickets.actions import RECTIFICATION_ACTIONS, TOILET_ACTIONS

pytestmark = pytest.mark.django_db

RECTIFICATION_USERS = [
    "task_force",
    "hj_officer",
    "other_officer",
    "inspector",
    "town_inspector",
    "village_admin",
    "service_worker",
    "nobody",
]
# Who does what (docs/architecture.md §5): the town rectifies and asks for time, the task force
# does the rest. Everyone else who may see the ticket may only read it.
RECTIFICATION_EXPECTED = {
    "draft": {"task_force": {"assign", "cancel"}},
    "assigned": {"task_force": {"cancel"}, "hj_officer": {"submit", "request_extension"}},
    "submitted": {"task_force": {"close", "reject"}},
    "rejected": {"hj_officer": {"submit", "request_extension"}},
    # Asked for time, the town may still submit the fix or take the request back
    # (tests/workflows/test_extension_requests.py).
    "extension_requested": {
        "task_force": {"approve_extension", "refuse_extension"},
        "hj_officer": {"submit", "withdraw_extension"},
    },
    "closed": {},
    "cancelled": {},
}
RECTIFICATION_BLIND = {"other_officer", "service_worker", "nobody"}

TOILET_USERS = [
    "task_force",
    "hj_officer",
    "other_officer",
    "village_admin",
    "huji_worker",
    "service_worker",
    "inspector",
    "nobody",
]
OFFICERS = ("task_force", "hj_officer")
TOILET_EXPECTED = {
    "reported": dict.fromkeys(OFFICERS, frozenset({"dispatch", "cancel"})),
    "dispatched": dict.fromkeys(OFFICERS, frozenset({"return", "cancel"}))
    | {"huji_worker": {"accept", "return"}},
    "accepted": dict.fromkeys(OFFICERS, frozenset({"return"}))
    | {"huji_worker": {"start", "return"}},
    "in_service": {"huji_worker": {"complete"}},
    "done": dict.fromkeys(OFFICERS, frozenset({"confirm", "reopen"})),
    "confirmed": {},
    "returned": dict.fromkeys(OFFICERS, frozenset({"dispatch", "cancel"})),
    "cancelled": {},
}
# The worker sees the jobs dispatched to him; one returned for re-dispatch is no longer his.
WORKER_SEES = {"dispatched", "accepted", "in_service", "done", "confirmed"}


def fresh(ticket):
    return type(ticket).objects.get(pk=ticket.pk)


def last_event(ticket) -> TicketEvent:
    field = "rectification" if isinstance(ticket, RectificationTicket) else "toilet"
    return TicketEvent.objects.filter(**{field: ticket}).order_by("at", "id").last()


def check_user(client, user, make, rules, post_data, expected: set[str]) -> None:
    ticket = make()
    client.force_login(user)
    response = client.get(page_url(ticket))
    assert response.status_code == 200
    shown = {panel.name for panel in response.context["actions"]}
    assert shown == expected, (user.username, ticket.state, shown)
    for action in sorted(shown):
        target = make()
        response = post_action(client, target, action, post_data(action, target))
        assert response.status_code == 303, (user.username, action, response.status_code)
        assert response["Location"] == page_url(target)
        assert last_event(target).action == rules[action].transition
        assert last_event(target).actor == user
    for action in sorted(set(rules) - shown):
        state = ticket.state
        response = post_action(client, ticket, action, post_data(action, ticket))
        assert response.status_code == 403, (user.username, state, action)
        assert response.context["action_error"], action  # the reason, shown on the page
        assert response.context["action_error"] in response.content.decode()
        assert fresh(ticket).state == state


@pytest.mark.parametrize("state", RECTIFICATION_STATES)
def test_rectification_actions_shown_are_exactly_the_allowed_ones(
    state, client, request, huji, huji_village, inspector, task_force, hj_officer
):
    def make():
        return rectification_in(
            state,
            town=huji,
            village=huji_village,
            inspector=inspector,
            task_force=task_force,
            officer=hj_officer,
        )

    for name in RECTIFICATION_USERS:
        user = request.getfixturevalue(name)
        if name in RECTIFICATION_BLIND:
            client.force_login(user)
            ticket = make()
            assert client.get(page_url(ticket)).status_code == 404, name
            for action in RECTIFICATION_ACTIONS:
                data = rectification_post_data(action, ticket)
                assert post_action(client, ticket, action, data).status_code == 404
            continue
        expected = RECTIFICATION_EXPECTED[state].get(name, set())
        check_user(client, user, make, RECTIFICATION_ACTIONS, rectification_post_data, expected)


@pytest.mark.parametrize("state", TOILET_STATES)
def test_toilet_actions_shown_are_exactly_the_allowed_ones(
    state, client, request, household, hj_officer, huji_worker
):
    def make():
        return toilet_in(state, household=household, officer=hj_officer, worker=huji_worker)

    def post_data(action, ticket):
        return toilet_post_data(action, ticket, worker=huji_worker)

    for name in TOILET_USERS:
        user = request.getfixturevalue(name)
        sees = name in ("task_force", "hj_officer", "village_admin") or (
            name == "huji_worker" and state in WORKER_SEES
        )
        if not sees:
            client.force_login(user)
            ticket = make()
            assert client.get(page_url(ticket)).status_code == 404, name
            for action in TOILET_ACTIONS:
                assert (
                    post_action(client, ticket, action, post_data(action, ticket)).status_code
                    == 404
                )
            continue
        expected = TOILET_EXPECTED[state].get(name, set())
        check_user(client, user, make, TOILET_ACTIONS, post_data, expected)


def test_redispatch_is_labelled_as_such(client, household, hj_officer, huji_worker):
    ticket = toilet_in("returned", household=household, officer=hj_officer, worker=huji_worker)
    client.force_login(hj_officer)
    html = client.get(page_url(ticket)).content.decode()
    assert "重派" in html
    response = post_action(client, ticket, "dispatch", {"worker": huji_worker.pk})
    assert response.status_code == 303
    assert fresh(ticket).state == "dispatched"


def test_every_action_has_a_form_and_a_service():
    from workflows.tickets import forms, views

    assert set(RECTIFICATION_ACTIONS) == set(forms.RECTIFICATION_FORMS)
    assert set(RECTIFICATION_ACTIONS) == set(views.RECTIFICATION_SERVICES)
    assert set(TOILET_ACTIONS) == set(forms.TOILET_FORMS) == set(views.TOILET_SERVICES)
    for rule in [*RECTIFICATION_ACTIONS.values(), *TOILET_ACTIONS.values()]:
        model = RectificationTicket if rule in RECTIFICATION_ACTIONS.values() else ToiletTicket
        assert hasattr(getattr(model, rule.transition), "_django_fsm"), rule.name
