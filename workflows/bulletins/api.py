"""The JSON API's bulletins (通报) (config/api.py): those the caller may read, as on the bulletin
pages (the task force every one, drafts included; a town the issued ones addressed to it), and
the town's receipt (回执).

- GET /bulletins: newest first, with their counts and whether the caller's towns acknowledged.
- GET /bulletins/{id}: the document — an issued bulletin's frozen text, a draft's preview —
  its items with the state now of the tickets in the caller's jurisdiction, and the receipts.
- POST /bulletins/{id}/acknowledge: the page's button (bulletins.services.bulletin_acknowledge):
  the caller's towns confirm receipt; again changes nothing (200 both times); a role that does
  not acknowledge for a town 403 with the reason.
"""

from __future__ import annotations

import datetime

from ninja import Router, Schema
from pydantic import Field

from core.api import ERRORS, READ_ERRORS, Page, cursor_page
from villages import access
from villages.people.services import display_name
from villages.scope import get_visible_or_404
from workflows.bulletins import selectors
from workflows.bulletins import services as svc
from workflows.bulletins.services import official_number
from workflows.models import (
    Bulletin,
    BulletinKind,
    BulletinReceipt,
    BulletinState,
    RectificationState,
)

router = Router(tags=["bulletins"])


class AcknowledgementOut(Schema):
    """A receipt (回执) of either series: when and by whom it was acknowledged."""

    acknowledged_at: datetime.datetime | None
    acknowledged_by: str | None

    @staticmethod
    def resolve_acknowledged_by(receipt) -> str | None:
        user = receipt.acknowledged_by
        return display_name(user) if user else None


class ReceiptOut(AcknowledgementOut):
    town_code: str
    town_name: str

    @staticmethod
    def resolve_town_code(receipt) -> str:
        return receipt.town_id

    @staticmethod
    def resolve_town_name(receipt) -> str:
        return receipt.town.name


class SeriesCounts(Schema):
    """The resolvers both bulletin series' list rows share (their selectors annotate the
    counts): the county's here, the city's in city_api."""

    @staticmethod
    def resolve_number(bulletin) -> str:
        return bulletin.number_label

    @staticmethod
    def resolve_items(bulletin) -> int:
        return bulletin.item_count

    @staticmethod
    def resolve_closed(bulletin) -> int:
        return bulletin.closed_count

    @staticmethod
    def resolve_receipts(bulletin) -> int:
        return bulletin.receipt_count

    @staticmethod
    def resolve_acknowledged(bulletin) -> int:
        return bulletin.acknowledged_count


class BulletinOut(SeriesCounts):
    id: int
    year: int
    county_code: str = Field(description="The county whose bulletin it is (12 digits)")
    batch: int | None = Field(description="第N批 of its county and year, given at issue")
    number: str = Field(description="e.g. 2026年第3批; empty for a draft")
    kind: BulletinKind
    state: BulletinState
    title: str
    issued_at: datetime.datetime | None
    default_deadline: datetime.date | None
    items: int = Field(description="How many problems it lists")
    closed: int = Field(description="How many of them are closed (销号) or cancelled")
    all_closed: bool = Field(description="已全部销号: every problem closed")
    receipts: int
    acknowledged: int = Field(description="Receipts acknowledged, of every town")
    acknowledged_by_my_towns: bool | None = Field(
        description="Whether the caller's towns acknowledged it; null if it is not theirs"
    )

    @staticmethod
    def resolve_county_code(bulletin) -> str:
        return bulletin.county_id

    @staticmethod
    def resolve_acknowledged_by_my_towns(bulletin) -> bool | None:
        mine = bulletin.my_receipts
        return all(r.acknowledged_at for r in mine) if mine else None


class PictureOut(Schema):
    print_url: str
    thumbnail_url: str


class ItemOut(Schema):
    position: int
    ticket: str = Field(description="The rectification ticket's number")
    town: str
    village: str
    site: str
    text: str
    deadline: datetime.date | None
    photos: list[PictureOut]
    state: RectificationState | None = Field(
        description="The ticket's state now; null for a ticket outside the caller's jurisdiction"
    )
    follow_up: str | None = Field(
        description="closed, in_progress or overdue now; null like state",
        json_schema_extra={"enum": ["closed", "in_progress", "overdue", None]},
    )


class SectionOut(Schema):
    """A part composed by another app (红黑榜, grade results), frozen as handed over."""

    title: str = ""
    text: str = ""
    columns: list[str] = []
    rows: list[list[str]] = []


class BulletinDetailOut(Schema):
    id: int
    year: int
    batch: int | None
    number: str = Field(description="As printed: 2026年第3批; empty for a draft")
    official_number: str
    kind: BulletinKind
    state: BulletinState
    title: str
    issuer: str
    intro: str
    issued_on: datetime.date | None
    deadline: datetime.date | None
    all_closed: bool
    items: list[ItemOut]
    sections: list[SectionOut]
    cc: str = Field(description="抄送")
    receipts: list[ReceiptOut]
    may_acknowledge: bool = Field(description="The caller's towns have a receipt to acknowledge")


class AcknowledgeOut(Schema):
    acknowledged: int = Field(description="Receipts this call acknowledged: 0 when done before")
    receipts: list[ReceiptOut] = Field(description="The caller's towns' receipts")


@router.get(
    "/bulletins",
    response={200: Page[BulletinOut], **READ_ERRORS},
    summary="Bulletins",
    url_name="api_bulletin_list",
)
def bulletin_list(request, cursor: str | None = None, page_size: int | None = None):
    """The bulletins the caller may read, newest first: the task force's its county's (drafts
    too), a town's the issued ones addressed to it."""
    page = cursor_page(selectors.bulletin_list(request.user), cursor=cursor, size=page_size)
    selectors.mark_all_closed(page["results"])
    return page


def _bulletin(request, pk: int) -> Bulletin:
    return get_visible_or_404(Bulletin.objects.all(), request.user, pk=pk)


@router.get(
    "/bulletins/{pk}",
    response={200: BulletinDetailOut, **READ_ERRORS},
    summary="One bulletin",
    url_name="api_bulletin_detail",
)
def bulletin_detail(request, pk: int):
    """The bulletin as printed (an issued one's frozen text; a draft's preview from its tickets
    now) and, item by item, the state now of the tickets in the caller's jurisdiction."""
    bulletin = _bulletin(request, pk)
    follow_up = svc.bulletin_follow_up(bulletin=bulletin, user=request.user)
    doc = selectors.bulletin_document(bulletin, items=follow_up.items)
    selectors.photo_pictures(doc)
    live = {item.ticket.number: item for item in follow_up.items}
    receipts = selectors.bulletin_receipts(bulletin)
    towns = access.scope(request.user, "bulletin.acknowledge").town_codes
    return {
        "id": bulletin.pk,
        "year": bulletin.year,
        "batch": bulletin.batch,
        "number": doc.get("number", ""),
        "official_number": official_number(doc.get("number", "")),
        "kind": bulletin.kind,
        "state": bulletin.state,
        "title": doc.get("title", bulletin.title),
        "issuer": doc.get("issuer", bulletin.issuer),
        "intro": doc.get("intro", ""),
        "issued_on": doc.get("issued_on") or None,
        "deadline": doc.get("deadline") or None,
        "all_closed": follow_up.all_closed,
        "items": [_item(request, printed, live.get(printed["ticket"])) for printed in doc["items"]],
        "sections": [_section(section) for section in doc.get("sections", [])],
        "cc": doc.get("cc", ""),
        "receipts": receipts,
        "may_acknowledge": any(r.town_id in towns and r.acknowledged_at is None for r in receipts),
    }


def _item(request, printed: dict, live) -> dict:
    absolute = request.build_absolute_uri
    return {
        **{key: printed.get(key, "") for key in ("position", "ticket", "town", "village", "site")},
        "text": printed.get("text", ""),
        "deadline": printed.get("deadline") or None,
        "photos": [
            {"print_url": absolute(printed_url), "thumbnail_url": absolute(thumbnail)}
            for printed_url, thumbnail in printed.get("pictures", [])
        ],
        "state": live.ticket.state if live else None,
        "follow_up": live.follow_up if live else None,
    }


def _section(section: dict) -> dict:
    return {
        "title": str(section.get("title") or ""),
        "text": str(section.get("text") or ""),
        "columns": [str(column) for column in section.get("columns") or []],
        "rows": [[str(cell) for cell in row] for row in section.get("rows") or []],
    }


@router.post(
    "/bulletins/{pk}/acknowledge",
    response={200: AcknowledgeOut, **ERRORS},
    summary="Acknowledge a bulletin's receipt",
    url_name="api_bulletin_acknowledge",
)
def bulletin_acknowledge(request, pk: int):
    """The caller's towns confirm they received the bulletin (回执), as the page's button does.
    Done before: 200 again, nothing changes. 403 for a role that does not acknowledge for a
    town (only a town officer does)."""
    bulletin = _bulletin(request, pk)
    count = svc.bulletin_acknowledge(bulletin=bulletin, by=request.user)
    towns = access.scope(request.user, "bulletin.acknowledge").town_codes
    mine = BulletinReceipt.objects.filter(bulletin=bulletin, town_id__in=towns)
    receipts = mine.select_related("town", "acknowledged_by").defer("town__boundary")
    return {"acknowledged": count, "receipts": list(receipts.order_by("town_id"))}
