"""An extension request does not freeze the town: while the county has not decided, the officer
can still submit the fix (which ends the request) or withdraw the request; the overdue ladder
holds its notices for EXTENSION_HOLD_DAYS after the request, then goes on; the message after
asking does not read as if it were granted."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.errors import ApplicationError
from tests.workflows.conftest import jpeg_upload
from villages.models import County, CountySettings
from workflows.models import OverdueNotice, RectificationTicket, TicketEvent
from workflows.notices.services import overdue_notices_issue
from workflows.tickets import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def requested(assigned, hj_officer):
    return services.rectification_request_extension(
        ticket=assigned,
        by=hj_officer,
        new_deadline=assigned.deadline + timedelta(10),
        reason="雨季施工困难",
    )


def test_a_fix_submitted_while_the_request_is_pending_ends_it(client, requested, hj_officer):
    client.force_login(hj_officer)
    page = client.get(reverse("ticket_detail", args=[requested.number])).content.decode()
    assert 'id="action-submit"' in page and 'id="action-withdraw_extension"' in page
    url = reverse("ticket_action", args=[requested.number, "submit"])
    asked = requested.requested_deadline
    data = {"state": "extension_requested", "note": "已清理完毕", "photos": [jpeg_upload()]}
    response = client.post(url, data)
    assert response.status_code == 303
    ticket = RectificationTicket.objects.get(pk=requested.pk)
    assert ticket.state == "submitted"
    assert ticket.requested_deadline is None and ticket.extension_requested_at is None
    step = TicketEvent.objects.get(rectification=ticket, action="submit")
    assert step.from_state == "extension_requested"
    assert step.data == {"requested_deadline_lapsed": asked.isoformat()}
    page = client.get(reverse("ticket_detail", args=[ticket.number])).content.decode()
    assert "本次提交结束了延期申请" in page


def test_the_request_can_be_withdrawn_and_the_deadline_stays(client, requested, hj_officer):
    deadline = requested.deadline
    client.force_login(hj_officer)
    url = reverse("ticket_action", args=[requested.number, "withdraw_extension"])
    response = client.post(url, {"state": "extension_requested"}, follow=True)
    assert "延期申请已撤回" in response.content.decode()
    ticket = RectificationTicket.objects.get(pk=requested.pk)
    assert (ticket.state, ticket.deadline, ticket.requested_deadline) == (
        "assigned",
        deadline,
        None,
    )
    assert TicketEvent.objects.filter(rectification=ticket, action="withdraw_extension").exists()


def test_only_the_town_withdraws(requested, task_force):
    with pytest.raises(ApplicationError):
        services.rectification_withdraw_extension(ticket=requested, by=task_force)


def test_asking_for_time_does_not_read_as_granted(client, assigned, hj_officer):
    client.force_login(hj_officer)
    url = reverse("ticket_action", args=[assigned.number, "request_extension"])
    new = (assigned.deadline + timedelta(7)).isoformat()
    response = client.post(
        url, {"state": "assigned", "new_deadline": new, "reason": "雨季"}, follow=True
    )
    text = response.content.decode()
    assert "已完成" not in text and "由县里审批" in text


@pytest.fixture
def clock(monkeypatch):
    class Clock:
        now = timezone.now()

    clock = Clock()
    monkeypatch.setattr(timezone, "now", lambda: clock.now)
    return clock


def test_the_ladder_holds_while_the_county_decides_then_goes_on(
    assigned, hj_officer, clock, settings
):
    settings.EXTENSION_HOLD_DAYS = 5
    d = assigned.deadline
    assert overdue_notices_issue(as_of=d + timedelta(1))["notices"] == 1  # 催办, before asking
    # Asked on day 2 after the deadline, at noon.
    clock.now = timezone.make_aware(datetime.combine(d + timedelta(2), time(12)))
    services.rectification_request_extension(
        ticket=assigned, by=hj_officer, new_deadline=d + timedelta(20), reason="雨季施工困难"
    )
    for days in (3, 4, 5, 6):  # the request's day and 4 more: no 督办, no 拟通报
        assert overdue_notices_issue(as_of=d + timedelta(days))["notices"] == 0, days
    # Not decided within 5 days: the ladder catches up (督办 and, at day 7, 拟通报).
    assert overdue_notices_issue(as_of=d + timedelta(7))["notices"] == 2
    assert sorted(OverdueNotice.objects.values_list("step", flat=True)) == [1, 2, 3]


def test_a_refused_request_lets_the_ladder_go_on_at_once(assigned, hj_officer, task_force, clock):
    d = assigned.deadline
    clock.now = timezone.make_aware(datetime.combine(d + timedelta(2), time(9)))
    services.rectification_request_extension(
        ticket=assigned, by=hj_officer, new_deadline=d + timedelta(20), reason="雨季施工困难"
    )
    assert overdue_notices_issue(as_of=d + timedelta(3))["notices"] == 0
    services.rectification_refuse_extension(ticket=assigned, by=task_force, reason="不同意")
    assert overdue_notices_issue(as_of=d + timedelta(3))["notices"] == 2


def test_the_hold_is_the_countys_own(assigned, hj_officer, clock, settings):
    """金乡县 holds 2 days (its configuration) while another county keeps the default 5."""
    settings.EXTENSION_HOLD_DAYS = 5
    County.objects.create(code="370829000000", name="嘉祥县")
    CountySettings.objects.create(county_id=assigned.town.county_id, extension_hold_days=2)
    d = assigned.deadline
    clock.now = timezone.make_aware(datetime.combine(d + timedelta(2), time(12)))
    services.rectification_request_extension(
        ticket=assigned, by=hj_officer, new_deadline=d + timedelta(20), reason="雨季施工困难"
    )
    assert overdue_notices_issue(as_of=d + timedelta(3))["notices"] == 0  # held
    # The county's 2 days are over (the default 5 would hold until day 6): 催办 and 督办.
    assert overdue_notices_issue(as_of=d + timedelta(4))["notices"] == 2
