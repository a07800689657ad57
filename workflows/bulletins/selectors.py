"""Bulletins (通报): the reads behind the bulletin pages — the list, the tickets a draft may name
(its candidate pools, the overdue ladder's "into the next bulletin, once" among them), the text a
page or PDF prints, receipts and photos.

Writes, the issued text and the follow-up are workflows/bulletins/services.py's. A draft's
preview is built here by `services.bulletin_text`, the code that freezes the snapshot at issue,
so the task force previews exactly what issuing prints.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from villages import access
from villages.configuration import county_config
from villages.models import Town
from workflows.bulletins.services import PHOTOS_PER_ITEM, addressed_town_codes, bulletin_text
from workflows.models import (
    RECTIFICATION_DONE_STATES,
    RECTIFICATION_OPEN_STATES,
    Bulletin,
    BulletinItem,
    BulletinReceipt,
    BulletinState,
    EvidencePhoto,
    NoticeKind,
    OverdueNotice,
    RectificationState,
    RectificationTicket,
    Source,
    TicketEvent,
)
from workflows.tickets import selectors

# Findings that come to the task force as drafts and go out to the towns through a bulletin
# (a hotline complaint forwarded through Open311 is one).
FINDING_SOURCES = (Source.PATROL, Source.ASSESSMENT, Source.REPORT, Source.HOTLINE)
# The candidate pools of bulletin_candidates; the first is the default.
CANDIDATE_POOLS = ("suggested", "drafts", "ladder", "open")


# --- the list ---------------------------------------------------------------------------------


def _count(queryset) -> Coalesce:
    """Per-bulletin count as a subquery: two joined counts would multiply each other's rows."""
    counted = (
        queryset.filter(bulletin=OuterRef("pk"))
        .order_by()
        .values("bulletin")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def bulletin_list(user) -> QuerySet[Bulletin]:
    """The bulletins the user sees, newest first, with their item, closed, receipt and
    acknowledged counts and (in `my_receipts`) the receipts of the user's towns."""
    towns = access.scope(user, "bulletin.acknowledge").town_codes
    mine = BulletinReceipt.objects.filter(town_id__in=towns).select_related("town")
    return (
        Bulletin.objects.visible_to(user)
        .annotate(
            item_count=_count(BulletinItem.objects),
            closed_count=_count(
                BulletinItem.objects.filter(ticket__state__in=RECTIFICATION_DONE_STATES)
            ),
            receipt_count=_count(BulletinReceipt.objects),
            acknowledged_count=_count(BulletinReceipt.objects.exclude(acknowledged_at=None)),
        )
        .prefetch_related(
            Prefetch("receipts", queryset=mine.defer("town__boundary"), to_attr="my_receipts")
        )
        .order_by("-year", F("batch").desc(nulls_first=True), "-created_at", "-pk")
    )


def mark_all_closed(bulletins: Iterable[Bulletin]) -> None:
    """Sets `all_closed` (已全部销号) on each row of bulletin_list, from its counts: every item's
    ticket closed or cancelled (bulletins.FollowUp.all_closed, for a page of rows)."""
    for bulletin in bulletins:
        bulletin.all_closed = bool(bulletin.item_count) and (
            bulletin.closed_count == bulletin.item_count
        )


# --- the tickets a bulletin may name ----------------------------------------------------------


def awaiting_next_bulletin() -> Exists:
    """For a ticket queryset: the overdue ladder's last step reached for the ticket's current
    deadline, and no bulletin issued since that notice has carried it yet ("into the next
    bulletin", once). Compared with the notice document's time, not its date: a bulletin issued
    earlier the same day did not carry it."""
    carried = BulletinItem.objects.filter(
        ticket=OuterRef("ticket"),
        bulletin__state=BulletinState.ISSUED,
        bulletin__issued_at__gte=OuterRef("document__created_at"),
    )
    notices = OverdueNotice.objects.filter(
        ticket=OuterRef("pk"), kind=NoticeKind.BULLETIN, deadline=OuterRef("deadline")
    ).exclude(Exists(carried))
    return Exists(notices)


def bulletin_candidates(
    *,
    bulletin: Bulletin,
    user,
    pool: str = "",
    town: Town | str | None = None,
    source_kind: str = "",
    as_of: date | None = None,
) -> QuerySet[RectificationTicket]:
    """The tickets `bulletin` may name, for `user`: open, in the user's jurisdiction and the
    bulletin's county, not on the bulletin yet; by town and number. `pool` narrows them:

    - "suggested" (the default): the new findings and the ladder's;
    - "drafts": new findings (draft tickets from patrols, assessments and reports);
    - "ladder": overdue on `as_of` (default today) and sent to the next bulletin by the ladder;
    - "open": every one.

    Each row has `for_bulletin`: the ladder sent it to the next bulletin (awaiting_next_bulletin).
    """
    pool = pool or CANDIDATE_POOLS[0]
    if pool not in CANDIDATE_POOLS:
        raise ValueError(f"unknown candidate pool {pool!r}")
    as_of = as_of or timezone.localdate()
    tickets = (
        selectors.rectification_list(user=user)
        .filter(state__in=RECTIFICATION_OPEN_STATES, town__county_id=bulletin.county_id)
        .exclude(pk__in=bulletin.items.values("ticket_id"))
        .annotate(for_bulletin=awaiting_next_bulletin())
    )
    findings = Q(state=RectificationState.DRAFT, source_kind__in=FINDING_SOURCES)
    ladder = Q(for_bulletin=True, pk__in=RectificationTicket.objects.overdue(as_of=as_of))
    if pool == "suggested":
        tickets = tickets.filter(findings | ladder)
    elif pool == "drafts":
        tickets = tickets.filter(findings)
    elif pool == "ladder":
        tickets = tickets.filter(ladder)
    if town:
        tickets = tickets.filter(town=town)
    if source_kind:
        tickets = tickets.filter(source_kind=source_kind)
    return tickets.order_by("town_id", "number")


def draft_items(bulletin: Bulletin) -> QuerySet[BulletinItem]:
    """A draft's items in order, with their tickets' places (the compose page)."""
    return (
        bulletin.items.select_related("ticket", "ticket__town", "ticket__village")
        .defer("ticket__town__boundary", "ticket__village__boundary")
        .order_by("position")
    )


# --- the document -----------------------------------------------------------------------------


def bulletin_document(bulletin: Bulletin, *, items: Iterable[BulletinItem]) -> dict:
    """The text a page or PDF prints: an issued bulletin's frozen snapshot, whatever its tickets
    say now; a draft's preview, built from `items` (its items as bulletin_follow_up loads them)
    by bulletin_text, the code that freezes the snapshot at issue."""
    if bulletin.state == BulletinState.ISSUED:
        # Issued before the 抄送 line was frozen into the text: printed with today's setting.
        return {"cc": county_config(bulletin.county_id).bulletin_cc, **bulletin.snapshot}
    return bulletin_text(bulletin, list(items))


def bulletin_receipts(bulletin: Bulletin) -> list[BulletinReceipt]:
    return list(
        bulletin.receipts.select_related("town", "acknowledged_by")
        .defer("town__boundary")
        .order_by("town_id")
    )


def recipient_names(bulletin: Bulletin) -> list[str]:
    """The towns the printed bulletin is addressed to: those with a receipt (issued), else those
    issuing would address (its items' towns and the recipients set on the draft)."""
    names = [receipt.town.name for receipt in bulletin_receipts(bulletin)]
    if names:
        return names
    codes = addressed_town_codes(bulletin)
    return list(Town.objects.filter(code__in=codes).order_by("code").values_list("name", flat=True))


def photo_pictures(document: dict) -> None:
    """Each item's `pictures`: (print URL, thumbnail URL) of its photos, which the snapshot
    names by display file (the page shows thumbnails, the PDF prints the print copies). One
    query for the whole document; the URLs are built from the photos' keys."""
    names = [name for item in document["items"] for name in item["photos"]]
    keys = dict(EvidencePhoto.objects.filter(display__in=names).values_list("display", "pk"))
    for item in document["items"]:
        photos = [EvidencePhoto(pk=keys[name]) for name in item["photos"] if name in keys]
        item["pictures"] = [(photo.print_url, photo.thumbnail_url) for photo in photos]


def after_photos(tickets) -> dict[int, list[EvidencePhoto]]:
    """Per ticket, the photos of its latest submission (selectors.latest_photos for many
    tickets at once: two queries)."""
    events = (
        TicketEvent.objects.filter(rectification__in=[t.pk for t in tickets], action="submit")
        .prefetch_related(Prefetch("photos", queryset=EvidencePhoto.objects.order_by("id")))
        .order_by("rectification_id", "at", "id")
    )
    latest = {event.rectification_id: event for event in events}  # the last one wins
    return {
        ticket_id: list(event.photos.all())[:PHOTOS_PER_ITEM] for ticket_id, event in latest.items()
    }
