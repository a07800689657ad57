"""The JSON API's notices (config/api.py): 逾期整改通知书, 督办单, SLA and missed-patrol notices
the caller may read (NoticeDocument.visible_to, as their pages), and acknowledging one.

- GET /notices: newest first, each saying whether it was sent to the caller and when he read it.
- GET /notices/{id}: the notice and what it lists in the caller's jurisdiction now (tickets,
  or the water sites a missed-patrol notice froze). Reading it here marks nothing: another
  system's GET is no person having read it (the page marks it read when opened).
- POST /notices/{id}/acknowledge: the caller has read it (notices.services.notice_acknowledge,
  the mark the page makes when he opens it); again changes nothing; 403 with the reason for a
  caller it was not sent to.
"""

from __future__ import annotations

import datetime

from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Router, Schema
from pydantic import Field

from core.api import ERRORS, READ_ERRORS, Page, cursor_page
from villages.people.services import display_name
from workflows.models import NoticeDocument, NoticeKind
from workflows.notices import services as notices

router = Router(tags=["notices"])


class NoticeOut(Schema):
    id: int
    number: str
    kind: NoticeKind
    title: str
    town_code: str
    town_name: str
    issued_on: datetime.date
    sent_to_me: bool = Field(description="It was sent to the caller (his notification)")
    acknowledged_at: datetime.datetime | None = Field(
        description="When the caller read or acknowledged it; null if not yet, or not sent to him"
    )

    @staticmethod
    def resolve_title(document) -> str:
        return notices.document_title(document.kind)

    @staticmethod
    def resolve_town_code(document) -> str:
        return document.town_id

    @staticmethod
    def resolve_town_name(document) -> str:
        return document.town.name

    @staticmethod
    def resolve_acknowledged_at(document) -> datetime.datetime | None:
        return document.read_at


class NoticeItemOut(Schema):
    """One thing a notice lists: a ticket (overdue and SLA notices) or a water site (missed
    patrols)."""

    ticket: str | None = Field(description="The ticket's number")
    site_code: str | None = Field(description="The water site's code (missed patrols)")
    text: str = Field(description="The ticket's problem, or the site's name")
    village: str | None
    step: int | None = Field(description="The overdue ladder's step")
    deadline: datetime.date | None = Field(description="The deadline it was overdue from")
    days_overdue: int | None
    due_at: datetime.datetime | None = Field(description="A toilet ticket's service deadline")
    worker: str | None = Field(description="The service worker it is dispatched to")
    detail: str | None = Field(description="A site's patrols this month")


class NoticeDetailOut(NoticeOut):
    items: list[NoticeItemOut]


class AcknowledgedOut(Schema):
    acknowledged_at: datetime.datetime


@router.get(
    "/notices",
    response={200: Page[NoticeOut], **READ_ERRORS},
    summary="Notices",
    url_name="api_notice_list",
)
def notice_list(request, cursor: str | None = None, page_size: int | None = None):
    """The notices the caller may read, newest first."""
    return cursor_page(notices.notice_documents(request.user), cursor=cursor, size=page_size)


def _notice(request, pk: int) -> NoticeDocument:
    document = notices.notice_documents(request.user).filter(pk=pk).first()
    if document is None:
        raise Http404(_("Not found, or outside your jurisdiction."))
    return document


@router.get(
    "/notices/{pk}",
    response={200: NoticeDetailOut, **READ_ERRORS},
    summary="One notice",
    url_name="api_notice_detail",
)
def notice_detail(request, pk: int):
    """The notice and what it lists in the caller's jurisdiction now."""
    document = _notice(request, pk)
    rows = notices.notice_rows(document, user=request.user)
    document.items = [_item(document.kind, row) for row in rows]
    return document


def _item(kind: str, row) -> dict:
    blank = dict.fromkeys(NoticeItemOut.model_fields)
    if kind == NoticeKind.PATROL:  # a frozen line: {"code", "name", "place", "detail"}
        return blank | {
            "site_code": row.get("code"),
            "text": row.get("name") or "",
            "village": row.get("place") or None,
            "detail": row.get("detail"),
        }
    ticket = row.ticket
    village = ticket.village.short_name if ticket.village_id else None
    item = blank | {"ticket": ticket.number, "text": ticket.description, "village": village}
    if kind == NoticeKind.SLA:
        worker = ticket.assigned_worker
        name = display_name(worker) if worker else None
        return item | {"due_at": ticket.sla_due_at, "worker": name}
    return item | {"step": row.step, "deadline": row.deadline, "days_overdue": row.days_overdue}


@router.post(
    "/notices/{pk}/acknowledge",
    response={200: AcknowledgedOut, **ERRORS},
    summary="Acknowledge a notice",
    url_name="api_notice_acknowledge",
)
def notice_acknowledge(request, pk: int):
    """The caller has read the notice sent to him; again keeps the first time. 403 for a
    caller it was not sent to (it is the town's officers' and, on an SLA notice, the workers')."""
    document = _notice(request, pk)
    notification = notices.notice_acknowledge(user=request.user, document=document)
    return {"acknowledged_at": notification.read_at}
