"""The JSON API's city bulletins (市级通报) (config/api.py, under /city-bulletins): those the caller
may read, as on their pages (CityBulletin.objects.visible_to: the city supervisor his city's,
drafts too; the task force of a named county and the officers of a named ticket's town the
issued ones), and the named county's receipt (回执). The county bulletins' API
(workflows/bulletins/api.py) is the model.

- GET /city-bulletins: newest first, with their counts and whether the caller's county
  acknowledged.
- GET /city-bulletins/{id}: the document — an issued bulletin's frozen text, a draft's preview —
  its items with the state now of the tickets in the caller's jurisdiction, and the receipts.
- POST /city-bulletins/{id}/acknowledge: the page's button
  (city_services.city_bulletin_acknowledge): the caller's named county confirms receipt; again
  changes nothing (200 both times); a role that does not acknowledge for a county 403 with the
  reason.
"""

from __future__ import annotations

import datetime

from ninja import Router, Schema
from pydantic import Field

from core.api import ERRORS, READ_ERRORS, Page, cursor_page
from villages import access
from villages.scope import get_visible_or_404
from workflows.bulletins import city_selectors as selectors
from workflows.bulletins import city_services as svc
from workflows.bulletins.api import AcknowledgementOut, SeriesCounts
from workflows.bulletins.selectors import mark_all_closed
from workflows.bulletins.services import official_number
from workflows.models import (
    BulletinState,
    CityBulletin,
    CityBulletinReceipt,
    RectificationState,
)

router = Router(tags=["city bulletins"])


class CityReceiptOut(AcknowledgementOut):
    county_code: str
    county_name: str

    @staticmethod
    def resolve_county_code(receipt) -> str:
        return receipt.county_id

    @staticmethod
    def resolve_county_name(receipt) -> str:
        return receipt.county.name


class CityBulletinOut(SeriesCounts):
    id: int
    year: int
    city_code: str = Field(description="The city whose bulletin it is (12 digits)")
    batch: int | None = Field(description="第N批 of its city and year, given at issue")
    number: str = Field(description="e.g. 2026年第3批; empty for a draft")
    state: BulletinState
    title: str
    issuer: str = Field(description="发文机关")
    issued_at: datetime.datetime | None
    deadline: datetime.date | None = Field(
        description="By when the named counties report their problems rectified"
    )
    items: int = Field(description="How many problems it names")
    closed: int = Field(description="How many of them are closed (销号) or cancelled")
    all_closed: bool = Field(description="已全部销号: every problem closed")
    receipts: int = Field(description="One per named county")
    acknowledged: int = Field(description="Receipts acknowledged, of every named county")
    acknowledged_by_my_county: bool | None = Field(
        description="Whether the caller's county acknowledged it; null if it does not name it"
    )

    @staticmethod
    def resolve_city_code(bulletin) -> str:
        return bulletin.city_id

    @staticmethod
    def resolve_acknowledged_by_my_county(bulletin) -> bool | None:
        mine = bulletin.my_receipts
        return all(r.acknowledged_at for r in mine) if mine else None


class CityItemOut(Schema):
    position: int
    ticket: str = Field(description="The rectification ticket's number")
    county: str
    town: str
    village: str
    site: str
    text: str = Field(description="The wording printed")
    deadline: datetime.date | None = Field(description="The ticket's own deadline, as printed")
    state: RectificationState | None = Field(
        description="The ticket's state now; null for a ticket outside the caller's jurisdiction"
    )
    follow_up: str | None = Field(
        description="closed, in_progress or overdue now; null like state",
        json_schema_extra={"enum": ["closed", "in_progress", "overdue", None]},
    )


class CityBulletinDetailOut(Schema):
    id: int
    year: int
    city_code: str
    batch: int | None
    number: str = Field(description="As printed: 2026年第3批; empty for a draft")
    official_number: str
    state: BulletinState
    title: str
    issuer: str
    intro: str
    issued_on: datetime.date | None
    deadline: datetime.date | None
    counties: list[str] = Field(description="The counties it is addressed to (named)")
    all_closed: bool = Field(
        description="已全部销号 of the problems the caller follows (the city: every one)"
    )
    items: list[CityItemOut]
    receipts: list[CityReceiptOut]
    may_acknowledge: bool = Field(description="The caller's county has a receipt to acknowledge")


class CityAcknowledgeOut(Schema):
    acknowledged: int = Field(description="Receipts this call acknowledged: 0 when done before")
    receipts: list[CityReceiptOut] = Field(description="The caller's county's receipts")


@router.get(
    "",
    response={200: Page[CityBulletinOut], **READ_ERRORS},
    summary="City bulletins",
    url_name="api_city_bulletin_list",
)
def city_bulletin_list(request, cursor: str | None = None, page_size: int | None = None):
    """The city bulletins the caller may read, newest first: the city supervisor's his city's
    (drafts too), a named county's task force and a named ticket's town the issued ones."""
    rows = selectors.city_bulletin_list(request.user)
    page = cursor_page(rows, cursor=cursor, size=page_size)
    mark_all_closed(page["results"])
    return page


def _bulletin(request, pk: int) -> CityBulletin:
    return get_visible_or_404(CityBulletin.objects.all(), request.user, pk=pk)


def _my_counties(user) -> list[str]:
    return sorted(access.scope(user, "city_bulletin.acknowledge").county_codes)


@router.get(
    "/{pk}",
    response={200: CityBulletinDetailOut, **READ_ERRORS},
    summary="One city bulletin",
    url_name="api_city_bulletin_detail",
)
def city_bulletin_detail(request, pk: int):
    """The bulletin as printed (an issued one's frozen text; a draft's preview from its tickets
    now) and, item by item, the state now of the tickets in the caller's jurisdiction."""
    bulletin = _bulletin(request, pk)
    follow_up = svc.city_bulletin_follow_up(bulletin=bulletin, user=request.user)
    doc = svc.city_bulletin_document(bulletin)
    live = {item.ticket.number: item for item in follow_up.items}
    receipts = selectors.city_bulletin_receipts(bulletin)
    counties = _my_counties(request.user)
    number = doc.get("number", "")
    return {
        "id": bulletin.pk,
        "year": bulletin.year,
        "city_code": bulletin.city_id,
        "batch": bulletin.batch,
        "number": number,
        "official_number": official_number(number),
        "state": bulletin.state,
        "title": doc.get("title", bulletin.title),
        "issuer": doc.get("issuer", bulletin.issuer),
        "intro": doc.get("intro", ""),
        "issued_on": doc.get("issued_on") or None,
        "deadline": doc.get("deadline") or None,
        "counties": doc.get("counties", []),
        "all_closed": follow_up.all_closed,
        "items": [_item(printed, live.get(printed["ticket"])) for printed in doc["items"]],
        "receipts": receipts,
        "may_acknowledge": any(
            r.county_id in counties and r.acknowledged_at is None for r in receipts
        ),
    }


def _item(printed: dict, live) -> dict:
    places = ("position", "ticket", "county", "town", "village", "site", "text")
    return {
        **{key: printed.get(key, "") for key in places},
        "deadline": printed.get("deadline") or None,
        "state": live.ticket.state if live else None,
        "follow_up": live.follow_up if live else None,
    }


@router.post(
    "/{pk}/acknowledge",
    response={200: CityAcknowledgeOut, **ERRORS},
    summary="Acknowledge a city bulletin's receipt",
    url_name="api_city_bulletin_acknowledge",
)
def city_bulletin_acknowledge(request, pk: int):
    """The caller's named county confirms it received the city's bulletin (回执), as the page's
    button does. Done before: 200 again, nothing changes. 403 for a role that does not
    acknowledge for a county (only a county's task force does)."""
    bulletin = _bulletin(request, pk)
    count = svc.city_bulletin_acknowledge(bulletin=bulletin, by=request.user)
    mine = CityBulletinReceipt.objects.filter(
        bulletin=bulletin, county_id__in=_my_counties(request.user)
    )
    receipts = mine.select_related("county", "acknowledged_by").defer("county__boundary")
    return {"acknowledged": count, "receipts": list(receipts.order_by("county_id"))}
