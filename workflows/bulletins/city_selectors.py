"""City bulletins (市级通报): the reads behind their pages — the list, the tickets a draft may
name, the receipts. Writes, the text and the follow-up are city_services'."""

from __future__ import annotations

from datetime import date

from django.db.models import F, Prefetch, QuerySet
from django.utils import timezone

from villages import access
from villages.models import County
from workflows.bulletins.city_services import NAMEABLE_STATES
from workflows.bulletins.selectors import _count
from workflows.models import (
    RECTIFICATION_DONE_STATES,
    CityBulletin,
    CityBulletinItem,
    CityBulletinReceipt,
    RectificationTicket,
)


def city_bulletin_list(user) -> QuerySet[CityBulletin]:
    """The city bulletins `user` sees, newest first, with their item, closed and receipt counts
    and (in `my_receipts`) the receipts of the counties whose task force he is."""
    counties = access.scope(user, "city_bulletin.acknowledge").county_codes
    mine = CityBulletinReceipt.objects.filter(county_id__in=sorted(counties)).select_related(
        "county"
    )
    return (
        CityBulletin.objects.visible_to(user)
        .select_related("city")
        .annotate(
            item_count=_count(CityBulletinItem.objects),
            closed_count=_count(
                CityBulletinItem.objects.filter(ticket__state__in=RECTIFICATION_DONE_STATES)
            ),
            receipt_count=_count(CityBulletinReceipt.objects),
            acknowledged_count=_count(CityBulletinReceipt.objects.exclude(acknowledged_at=None)),
        )
        .prefetch_related(
            Prefetch("receipts", queryset=mine.defer("county__boundary"), to_attr="my_receipts")
        )
        .order_by("-year", F("batch").desc(nulls_first=True), "-created_at", "-pk")
    )


def city_counties(bulletin: CityBulletin) -> QuerySet[County]:
    """The counties of the bulletin's city stored here (a county's code begins with its city's
    first 4 digits: villages.models.city_code_of)."""
    return (
        County.objects.filter(code__startswith=bulletin.city_id[:4])
        .only("code", "name")
        .order_by("code")
    )


def city_bulletin_candidates(
    *,
    bulletin: CityBulletin,
    user,
    county: County | str | None = None,
    state: str = "",
    overdue: bool = False,
    as_of: date | None = None,
) -> QuerySet[RectificationTicket]:
    """The tickets `bulletin` may name, for `user`: of the city's counties, being rectified or
    awaiting review, not on the bulletin yet; by county, state, overdue on `as_of`."""
    tickets = (
        RectificationTicket.objects.visible_to(user)
        .filter(state__in=NAMEABLE_STATES, town__county__in=city_counties(bulletin))
        .exclude(pk__in=bulletin.items.values("ticket_id"))
        .select_related("town", "town__county", "village")
        .defer("town__boundary", "town__county__boundary", "village__boundary")
    )
    if county:
        tickets = tickets.filter(town__county=county)
    if state:
        tickets = tickets.filter(state=state)
    if overdue:
        as_of = as_of or timezone.localdate()
        tickets = tickets.overdue(as_of=as_of)
    return tickets.order_by("town__county_id", "town_id", "number")


def draft_items(bulletin: CityBulletin) -> QuerySet[CityBulletinItem]:
    """A draft's items in order, with their tickets' places (the compose page)."""
    return (
        bulletin.items.select_related("ticket", "ticket__town", "ticket__town__county")
        .select_related("ticket__village")
        .defer("ticket__town__boundary", "ticket__town__county__boundary")
        .defer("ticket__village__boundary")
        .order_by("position")
    )


def city_bulletin_receipts(bulletin: CityBulletin) -> list[CityBulletinReceipt]:
    return list(
        bulletin.receipts.select_related("county", "acknowledged_by")
        .defer("county__boundary")
        .order_by("county_id")
    )
