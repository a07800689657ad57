"""Every notice document opens, as a page and as a PDF, whatever state its tickets are in when
it is read: an SLA notice on a job not yet dispatched (no worker) was a 500, page and PDF."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.workflows.ladder import ladder  # noqa: F401 (autouse fixture)
from tests.workflows.pages import RECTIFICATION_STATES, TOILET_STATES, rectification_in, toilet_in
from workflows.models import NoticeDocument, NoticeKind, RectificationTicket, ToiletTicket
from workflows.notices.services import overdue_notices_issue, sla_notices_issue

pytestmark = pytest.mark.django_db


def opens(client, user, document) -> None:
    client.force_login(user)
    page = client.get(reverse("notice_detail", args=[document.pk]))
    pdf = client.get(reverse("notice_pdf", args=[document.pk]))
    assert page.status_code == 200, (document.kind, page.status_code)
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf", document.kind


def test_an_sla_notice_opens_with_its_jobs_in_every_state(
    client, household, hj_officer, huji_worker, task_force
):
    tickets = [
        toilet_in(state, household=household, officer=hj_officer, worker=huji_worker)
        for state in TOILET_STATES
    ]
    breached = timezone.now() - timedelta(hours=2)
    ToiletTicket.objects.filter(pk__in=[t.pk for t in tickets]).update(sla_due_at=breached)
    sla_notices_issue(as_of=timezone.localdate())
    document = NoticeDocument.objects.get(kind=NoticeKind.SLA)
    # Listed while pending; then moved on to every state, the notice still opens.
    for ticket, state in zip(tickets, TOILET_STATES, strict=True):
        ToiletTicket.objects.filter(pk=ticket.pk).update(state=state)
    ToiletTicket.objects.filter(state="reported").update(assigned_worker=None)

    for user in (task_force, hj_officer):
        opens(client, user, document)


def test_every_ladder_notice_opens_with_its_tickets_in_every_state(
    client, huji, huji_village, inspector, task_force, hj_officer
):
    tickets = [
        rectification_in(
            state,
            town=huji,
            village=huji_village,
            inspector=inspector,
            task_force=task_force,
            officer=hj_officer,
        )
        for state in RECTIFICATION_STATES
    ]
    ids = [ticket.pk for ticket in tickets]
    past = timezone.localdate() - timedelta(days=30)
    RectificationTicket.objects.filter(pk__in=ids).update(deadline=past, state="assigned")
    for days in (1, 3, 7):  # each step of the ladder reached in turn
        overdue_notices_issue(as_of=past + timedelta(days=days))
    for ticket, state in zip(tickets, RECTIFICATION_STATES, strict=True):
        RectificationTicket.objects.filter(pk=ticket.pk).update(state=state)

    documents = list(NoticeDocument.objects.all())
    assert {d.kind for d in documents} >= {NoticeKind.REMINDER, NoticeKind.SUPERVISION}
    for document in documents:
        for user in (task_force, hj_officer):
            opens(client, user, document)
