"""Separation of duties: the person who submitted a rectification, asked for an extension or did
a toilet job may not decide on it, even holding both roles (settings.SEPARATION_OF_DUTIES, on by
default) — neither through the service nor by the page's buttons or a forged POST."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from core.errors import Forbidden
from tests.factories import make_user, membership
from villages.models import Role
from workflows.models import RectificationTicket, ToiletTicket
from workflows.tickets import services
from workflows.tickets.actions import RECTIFICATION_ACTIONS, TOILET_ACTIONS

pytestmark = pytest.mark.django_db


@pytest.fixture
def both(huji):
    """A town officer of 胡集镇 who is also on the county task force (a small county does
    that): he may submit and, by role, close."""
    return make_user("both_roles", membership(Role.TOWN_OFFICER, huji), membership(Role.TASK_FORCE))


@pytest.fixture
def self_submitted(assigned, both, make_photo):
    return services.rectification_submit(
        ticket=assigned, by=both, note="已清理", photos=[make_photo(both)]
    )


def offered(table, user, ticket) -> set[str]:
    return {action.name for action in table.offered(user, ticket)}


@pytest.mark.parametrize("step", ["close", "reject"])
def test_who_submitted_may_not_review_it(self_submitted, both, step):
    with pytest.raises(Forbidden, match=r"separation of duties|职责分离"):
        if step == "close":
            services.rectification_close(ticket=self_submitted, by=both)
        else:
            services.rectification_reject(ticket=self_submitted, by=both, reason="不合格")

    assert RectificationTicket.objects.get(pk=self_submitted.pk).state == "submitted"
    assert not offered(RECTIFICATION_ACTIONS, both, self_submitted) & {"close", "reject"}


def test_another_task_force_member_closes_it(self_submitted, task_force):
    services.rectification_close(ticket=self_submitted, by=task_force)
    assert RectificationTicket.objects.get(pk=self_submitted.pk).state == "closed"


def test_the_page_hides_the_buttons_and_a_forged_post_changes_nothing(client, self_submitted, both):
    client.force_login(both)
    page = client.get(reverse("ticket_detail", args=[self_submitted.number]))
    assert page.status_code == 200
    assert 'id="action-close"' not in page.content.decode()

    forged = client.post(reverse("ticket_action", args=[self_submitted.number, "close"]))

    assert forged.status_code == 403
    assert RectificationTicket.objects.get(pk=self_submitted.pk).state == "submitted"


def test_who_asked_for_more_time_may_not_grant_it(assigned, both, task_force):
    later = assigned.deadline + timedelta(days=7)
    services.rectification_request_extension(
        ticket=assigned, by=both, new_deadline=later, reason="雨季无法施工"
    )
    ticket = RectificationTicket.objects.get(pk=assigned.pk)
    assert ticket.extension_requested_by == both

    for step in ("approve_extension", "refuse_extension"):
        assert step not in offered(RECTIFICATION_ACTIONS, both, ticket)
        assert RECTIFICATION_ACTIONS.refusal(both, ticket, step)
    with pytest.raises(Forbidden):
        services.rectification_approve_extension(ticket=ticket, by=both)

    services.rectification_approve_extension(ticket=ticket, by=task_force)
    assert RectificationTicket.objects.get(pk=assigned.pk).deadline == later


def test_the_worker_who_did_the_job_may_not_confirm_the_callback(in_service, huji, make_photo):
    worker = in_service.assigned_worker
    # The same man is also an officer of the town (who by role confirms callbacks).
    worker.memberships.create(role=Role.TOWN_OFFICER, county_id=huji.county_id, town=huji)
    services.toilet_complete(
        ticket=in_service,
        by=worker,
        photos=[make_photo(worker)],
        volume_m3=Decimal("2.5"),
        disposal_site="县污水处理厂",
    )
    job = ToiletTicket.objects.get(pk=in_service.pk)

    assert not offered(TOILET_ACTIONS, worker, job) & {"confirm", "reopen"}
    with pytest.raises(Forbidden):
        services.toilet_confirm(ticket=job, by=worker, satisfaction="satisfied")
    assert ToiletTicket.objects.get(pk=job.pk).state == "done"


def test_the_policy_switch_turns_it_off(settings, self_submitted, both):
    settings.SEPARATION_OF_DUTIES = False
    assert "close" in offered(RECTIFICATION_ACTIONS, both, self_submitted)
    services.rectification_close(ticket=self_submitted, by=both)
    assert RectificationTicket.objects.get(pk=self_submitted.pk).state == "closed"


def test_an_ordinary_review_is_untouched(submitted, hj_officer, task_force):
    # The usual case — the town submits, the county closes — has no one in two places.
    assert submitted.submitted_by == hj_officer
    assert {"close", "reject"} <= offered(RECTIFICATION_ACTIONS, task_force, submitted)
