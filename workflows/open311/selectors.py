"""Reads of service requests: the rectification tickets the api_key's account may see (the same
`visible_to` as the pages), with what a request shows, and the status mapping."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, QuerySet

from workflows.models import (
    RECTIFICATION_DONE_STATES,
    RECTIFICATION_OPEN_STATES,
    EvidencePhoto,
    RectificationTicket,
)
from workflows.tickets.selectors import GEOMETRY

# GeoReport's two statuses: open while the ticket is (待交办, 整改中, 待复核, 退回, 延期申请),
# closed once it is done with (已销号 or 已撤销).
STATUSES: dict[str, tuple[str, ...]] = {
    "open": tuple(RECTIFICATION_OPEN_STATES),
    "closed": tuple(RECTIFICATION_DONE_STATES),
}
# "Default query limit is a span of 90 days or first 1000 requests returned, whichever is
# smallest" (GeoReport v2, GET Service Requests).
MAX_REQUESTS = 1000


def status_of(state: str) -> str:
    return "open" if state in STATUSES["open"] else "closed"


@dataclass(frozen=True)
class RequestQuery:
    """A GET requests.json, parsed: either the ids (which override the rest, as the standard
    says) or a window of requested_datetime with optional codes and statuses."""

    ids: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None


def requests_visible(*, user) -> QuerySet[RectificationTicket]:
    """Every ticket `user` may see, with its town, county and village and the id of its first
    photo before rectification: a constant number of queries however many rows."""
    first_photo = EvidencePhoto.objects.only("pk").order_by("pk")
    return (
        RectificationTicket.objects.visible_to(user)
        .select_related("town__county", "village")
        .defer(*GEOMETRY, "town__county__boundary")
        .prefetch_related(Prefetch("before_photos", queryset=first_photo, to_attr="photos"))
    )


def request_list(*, user, query: RequestQuery) -> list[RectificationTicket]:
    """The newest MAX_REQUESTS requests matching `query` that `user` may see."""
    tickets = requests_visible(user=user)
    # The ids "override all other arguments", the 90-day window too.
    tickets = tickets.filter(number__in=query.ids) if query.ids else _filtered(tickets, query)
    return list(tickets.order_by("-created_at", "-id")[:MAX_REQUESTS])


def _filtered(tickets, query: RequestQuery):
    if query.start is not None:
        tickets = tickets.filter(created_at__gte=query.start)
    if query.end is not None:
        tickets = tickets.filter(created_at__lte=query.end)
    if query.codes:
        tickets = tickets.filter(category__in=query.codes)
    if query.statuses:
        tickets = tickets.filter(state__in=_states(query.statuses))
    return tickets


def _states(statuses: Collection[str]) -> list[str]:
    return [str(state) for status in statuses for state in STATUSES[status]]


def request_one(*, user, number: str) -> RectificationTicket | None:
    """The request with this id (the ticket's number) if `user` may see it."""
    return requests_visible(user=user).filter(number=number).first()
