"""Helpers of the ticket-page tests: tickets built in any state through the services, and the
POST data each action needs to succeed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from tests.workflows.conftest import jpeg_upload
from workflows.evidence.services import evidence_photo_create
from workflows.tickets import services

RECTIFICATION_STATES = [
    "draft",
    "assigned",
    "submitted",
    "rejected",
    "extension_requested",
    "closed",
    "cancelled",
]
TOILET_STATES = [
    "reported",
    "dispatched",
    "accepted",
    "in_service",
    "done",
    "confirmed",
    "returned",
    "cancelled",
]


def photo(user=None):
    return evidence_photo_create(file=jpeg_upload(), uploaded_by=user)


def rectification_in(state: str, *, town, village, inspector, task_force, officer):
    """A 胡集镇 ticket moved to `state` by the people who would move it there."""
    ticket = services.rectification_create(
        by=inspector,
        town=town,
        village=village,
        description="河道岸边堆放生活垃圾",
        site_label="东沟",
        source_kind="patrol",
        before_photos=[photo(inspector)],
    )
    if state == "draft":
        return ticket
    if state == "cancelled":
        return services.rectification_cancel(ticket=ticket, by=task_force, reason="重复立案")
    deadline = timezone.localdate() + timedelta(days=10)
    services.rectification_assign(ticket=ticket, by=task_force, deadline=deadline)
    if state == "assigned":
        return ticket
    if state == "extension_requested":
        return services.rectification_request_extension(
            ticket=ticket, by=officer, new_deadline=deadline + timedelta(days=7), reason="雨季"
        )
    services.rectification_submit(ticket=ticket, by=officer, note="已清理", photos=[photo()])
    if state == "submitted":
        return ticket
    if state == "rejected":
        return services.rectification_reject(ticket=ticket, by=task_force, reason="照片不清晰")
    assert state == "closed", state
    return services.rectification_close(ticket=ticket, by=task_force)


def toilet_in(state: str, *, household, officer, worker, kind="pumping"):
    ticket = services.toilet_report(by=officer, household=household, kind=kind, channel="phone")
    if state == "reported":
        return ticket
    if state == "cancelled":
        return services.toilet_cancel(ticket=ticket, by=officer, reason="农户已自行处理")
    services.toilet_dispatch(ticket=ticket, by=officer, worker=worker)
    if state == "dispatched":
        return ticket
    if state == "returned":
        return services.toilet_return(ticket=ticket, by=worker, reason="车辆故障")
    services.toilet_accept(ticket=ticket, by=worker)
    if state == "accepted":
        return ticket
    services.toilet_start(ticket=ticket, by=worker)
    if state == "in_service":
        return ticket
    services.toilet_complete(
        ticket=ticket,
        by=worker,
        photos=[photo(worker)],
        volume_m3=Decimal("2.5"),
        disposal_site="县污水处理厂",
    )
    if state == "done":
        return ticket
    assert state == "confirmed", state
    return services.toilet_confirm(ticket=ticket, by=officer, satisfaction="satisfied")


def rectification_post_data(action: str, ticket) -> dict:
    """What a user fills in for `action` so that it succeeds."""
    later = (ticket.deadline or timezone.localdate()) + timedelta(days=15)
    return {
        "assign": {"deadline": later.isoformat(), "note": "请按期整改"},
        "submit": {"note": "已清理垃圾并设置警示牌", "photos": [jpeg_upload("after.jpg")]},
        "close": {"note": "现场核验合格"},
        "reject": {"reason": "照片不清晰"},
        "request_extension": {"new_deadline": later.isoformat(), "reason": "雨季施工困难"},
        "withdraw_extension": {"note": ""},
        "approve_extension": {"note": ""},
        "refuse_extension": {"reason": "理由不足"},
        "cancel": {"reason": "重复立案"},
    }[action]


def toilet_post_data(action: str, ticket, *, worker) -> dict:
    return {
        "dispatch": {"worker": worker.pk, "note": ""},
        "accept": {},
        "start": {},
        "complete": {
            "volume_m3": "2.5",
            "disposal_site": "县污水处理厂",
            "photos": [jpeg_upload("done.jpg")],
        },
        "confirm": {"satisfaction": "satisfied", "note": "农户满意"},
        "reopen": {"note": "农户反映仍有异味"},
        "return": {"reason": "车辆故障"},
        "cancel": {"reason": "农户已自行处理"},
    }[action]


def action_url(ticket, action: str) -> str:
    kind = "toilet" if ticket.number.startswith("GH") else "ticket"
    return reverse(f"{kind}_action", args=[ticket.number, action])


def page_url(ticket) -> str:
    kind = "toilet" if ticket.number.startswith("GH") else "ticket"
    return reverse(f"{kind}_detail", args=[ticket.number])


def post_action(client, ticket, action: str, data: dict, *, state: str | None = None):
    return client.post(action_url(ticket, action), {"state": state or ticket.state, **data})


def get(client, user, url, **params):
    client.force_login(user)
    return client.get(url, params)


def body(response) -> str:
    return response.content.decode()


def numbers(response) -> list[str]:
    return [ticket.number for ticket in response.context["page"]]


def fresh(ticket):
    return type(ticket).objects.get(pk=ticket.pk)


def media_files(settings) -> list:
    root = settings.MEDIA_ROOT
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
