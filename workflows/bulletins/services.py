"""Bulletins (通报): compose, issue, acknowledge, follow up — services and selectors.

Issuing cannot be undone, so the page states what it will do (IssueTerms: the batch number it
will get and the number of items) and the user confirms exactly that; the service issues only on
those terms, checked under its locks: another bulletin issued first, or items saved meanwhile,
refuse the issue (409) with the new terms to confirm.

Issuing is one transaction: the batch number comes from a counter row that stays locked until
commit (two task-force members issuing at once get consecutive numbers, never the same one);
each draft ticket is assigned through the ticket service (its checks and event rows); the text
is frozen; receipts and notifications are written. Anything refused rolls all of it back: the
bulletin stays a draft and every ticket is as it was. Saving the items takes the bulletin's row
lock too, and a ticket closed or cancelled since it was put on the draft refuses the issue: an
issued bulletin never lists what its frozen text does not, nor a ticket it could not assign.

The text is built by one function, `bulletin_text`: at issue it is frozen into `snapshot`; before
that it is the draft's preview (workflows/bulletins/selectors.py), so the task force previews
exactly what issuing prints. The bulletin pages' other reads are bulletin_selectors'.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core.counters import counter_take
from core.errors import ApplicationError, Conflict, Forbidden, NotFound
from villages import access
from villages.configuration import county_config
from villages.models import County, Town
from workflows.bulletins.actions import BULLETIN_ACTIONS
from workflows.models import (
    RECTIFICATION_DONE_STATES,
    RECTIFICATION_OPEN_STATES,
    Bulletin,
    BulletinItem,
    BulletinReceipt,
    BulletinState,
    CityBulletinReceipt,
    EvidencePhoto,
    RectificationState,
    RectificationTicket,
    TicketCounter,
)
from workflows.tickets import services

COUNTER = "TB"  # TicketCounter prefix of bulletin batch numbers, per county and year
PHOTOS_PER_ITEM = 2


def _require_county(user) -> None:
    if not access.allows(user, "bulletin.compose"):
        raise Forbidden(_("Only the county task force may compose and issue bulletins."))


def bulletin_counties(user) -> QuerySet[County]:
    """The counties where `user` composes bulletins (his county; a superuser's every one)."""
    granted = access.scope(user, "bulletin.compose")
    counties = County.objects.only("code", "name").order_by("code")
    return counties if granted.everywhere else counties.filter(code__in=granted.county_codes)


def _bulletin_county(by, county: County | str | None) -> County:
    """The county a new bulletin is `by`'s: the one named (within his reach: 404 otherwise), or
    the only one where he composes bulletins."""
    counties = bulletin_counties(by)
    if county is not None:
        code = county.pk if isinstance(county, County) else county
        found = counties.filter(code=code).first()
        if found is None:
            raise NotFound(_("Not found, or outside your jurisdiction."))
        return found
    reachable = list(counties[:2])
    if len(reachable) != 1:
        raise ApplicationError(_("Choose the county the bulletin is for."))
    return reachable[0]


def _require_own_county(bulletin: Bulletin, *, tickets=(), towns=()) -> None:
    """A bulletin names tickets and addresses towns of its own county only."""
    county = bulletin.county_id[:6]  # a town's code begins with its county's (villages.Town)
    foreign = [t.number for t in tickets if t.town_id[:6] != county]
    foreign += [code for code in towns if code[:6] != county]
    if foreign:
        raise ApplicationError(
            _("A bulletin names only its own county's tickets and towns: %(numbers)s")
            % {"numbers": ", ".join(foreign)}
        )


def _require_draft(bulletin: Bulletin) -> None:
    if bulletin.state != BulletinState.DRAFT:  # someone issued it meanwhile: a conflict (409)
        raise Conflict(_("The bulletin was issued; it can no longer be changed."))


def _done_numbers(tickets: Sequence[RectificationTicket]) -> str:
    return ", ".join(t.number for t in tickets if t.state not in RECTIFICATION_OPEN_STATES)


# --- composing --------------------------------------------------------------------------------


def bulletin_create(
    *,
    by,
    kind: str,
    title: str,
    year: int | None = None,
    default_deadline: date | None = None,
    intro: str = "",
    sections: list | None = None,
    county: County | str | None = None,
) -> Bulletin:
    """A draft of `county` (default: the one county where `by` composes bulletins), with the
    county's issuer (发文机关) as configured now; issuing renews it."""
    _require_county(by)
    title = (title or "").strip()
    if not title:
        raise ApplicationError(_("Give the bulletin a title."))
    county = _bulletin_county(by, county)
    return Bulletin.objects.create(
        county=county,
        issuer=county_config(county).bulletin_issuer,
        year=year or timezone.localdate().year,
        kind=kind,
        title=title,
        intro=intro.strip(),
        default_deadline=default_deadline,
        created_by=by,
        sections=sections or [],
    )


def bulletin_items_set(
    *, bulletin: Bulletin, by, tickets: Sequence[RectificationTicket], wordings: dict | None = None
) -> list[BulletinItem]:
    """Replace the items: `tickets` in this order, each printed with its wording (default: the
    ticket's description). Only open tickets can be put on a bulletin."""
    _require_county(by)
    wordings = wordings or {}
    closed = _done_numbers(tickets)
    if closed:
        raise ApplicationError(
            _("Closed or cancelled tickets cannot be put on a bulletin: %(numbers)s")
            % {"numbers": closed}
        )
    if len({t.pk for t in tickets}) != len(tickets):
        raise ApplicationError(_("A ticket is listed twice."))
    _require_own_county(bulletin, tickets=tickets)
    with transaction.atomic():
        # The row lock bulletin_issue takes: a save and an issue of one draft run one after the
        # other, so an issued bulletin's items are always those its text was frozen with.
        _require_draft(Bulletin.objects.select_for_update().get(pk=bulletin.pk))
        bulletin.items.all().delete()
        return BulletinItem.objects.bulk_create(
            BulletinItem(
                bulletin=bulletin,
                ticket=ticket,
                position=position,
                wording=(wordings.get(ticket.pk) or ticket.description).strip(),
            )
            for position, ticket in enumerate(tickets, start=1)
        )


# --- issuing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueTerms:
    """What the task force confirms before issuing: the batch number issuing will assign (第N批
    of the bulletin's year) and how many problems it lists (a bulletin of handed sections only,
    红黑榜 or grade results, counts its sections). `token` is the form's `confirm` value."""

    year: int
    batch: int
    count: int

    @property
    def number(self) -> str:
        return f"{self.year}年第{self.batch}批"

    @property
    def token(self) -> str:
        return f"{self.batch}:{self.count}"

    @classmethod
    def from_token(cls, token: str, *, year: int) -> IssueTerms | None:
        batch, sep, count = (token or "").partition(":")
        if not (sep and batch.isdigit() and count.isdigit()):
            return None
        return cls(year=year, batch=int(batch), count=int(count))


def bulletin_issue_terms(bulletin: Bulletin) -> IssueTerms:
    """The terms issuing `bulletin` now would have, as its page states them. A read without a
    lock: another bulletin issued first takes the number, which bulletin_issue then refuses."""
    taken = (
        TicketCounter.objects.filter(**_counter_key(bulletin))
        .values_list("value", flat=True)
        .first()
    )
    return _terms(bulletin, batch=(taken or 0) + 1, items=bulletin.items.count())


def _terms(bulletin: Bulletin, *, batch: int, items: int) -> IssueTerms:
    return IssueTerms(year=bulletin.year, batch=batch, count=items or len(bulletin.sections))


def bulletin_issue(*, bulletin: Bulletin, by, confirmed: IssueTerms | None = None) -> Bulletin:
    """Issues the draft. `confirmed`: the terms the user agreed to (the page's confirmation);
    if the issue would now differ (another bulletin took the number, the items changed
    meanwhile) it is refused and nothing happens. Jobs and the demo pass none."""
    BULLETIN_ACTIONS.require(by, bulletin, "issue")
    with transaction.atomic():
        bulletin = Bulletin.objects.select_for_update().get(pk=bulletin.pk)
        _require_draft(bulletin)
        items = list(_items(bulletin))
        if not items and not bulletin.sections:
            raise ApplicationError(_("The bulletin lists no problem."))
        closed = _done_numbers([item.ticket for item in items])
        if closed:  # closed or cancelled on its own page since the bulletin was composed
            raise Conflict(
                _("Closed or cancelled tickets cannot be put on a bulletin: %(numbers)s")
                % {"numbers": closed}
            )
        drafts = [item.ticket for item in items if item.ticket.state == RectificationState.DRAFT]
        if drafts and bulletin.default_deadline is None:
            raise ApplicationError(_("Set the deadline: the bulletin assigns its draft tickets."))
        towns = addressed_town_codes(bulletin)
        _require_own_county(bulletin, towns=towns)
        for ticket in drafts:
            _assign(ticket, by=by, bulletin=bulletin)
        batch = counter_take(TicketCounter, key=_counter_key(bulletin))
        terms = _terms(bulletin, batch=batch, items=len(items))
        if confirmed is not None and terms != confirmed:  # rolls back the number taken too
            raise Conflict(_not_as_confirmed(terms))
        bulletin.recipients.set(towns)
        snapshot = bulletin_text(bulletin, items, batch=batch)
        BULLETIN_ACTIONS.run(
            bulletin, "issue", args={"batch": batch, "by": by, "snapshot": snapshot}
        )
        BulletinReceipt.objects.bulk_create(
            BulletinReceipt(bulletin=bulletin, town_id=code) for code in towns
        )
    return bulletin


def issue_confirmation(terms: IssueTerms) -> str:
    """The sentence the task force confirms: 将印发为〔2025〕第3批，共5项，印发后不可撤回。"""
    return _(
        "To be issued as %(number)s; items: %(count)d. Once issued, it cannot be withdrawn."
    ) % {"number": official_number(terms.number), "count": terms.count}


def _not_as_confirmed(terms: IssueTerms) -> str:
    return _(
        "The bulletin changed since you confirmed it (another bulletin was issued, or its "
        "items were changed); nothing was issued. Check it and confirm again: %(terms)s"
    ) % {"terms": issue_confirmation(terms)}


def official_number(number: str) -> str:
    """2024年第3批 (the snapshot's number) → 〔2024〕第3批, as printed under the red header."""
    match = re.fullmatch(r"(\d{4})年(第\d+批)", number or "")
    return f"〔{match[1]}〕{match[2]}" if match else number


def _assign(ticket: RectificationTicket, *, by, bulletin: Bulletin) -> None:
    try:
        services.rectification_assign(
            ticket=ticket,
            by=by,
            deadline=bulletin.default_deadline,
            note=_("Assigned by bulletin: %(title)s") % {"title": bulletin.title},
        )
    except Conflict:  # acted on on its own page since this transaction read it
        raise Conflict(
            _(
                "Ticket %(number)s was changed by someone else meanwhile; nothing was issued. "
                "Reload the bulletin and issue it again."
            )
            % {"number": ticket.number}
        ) from None


def addressed_town_codes(bulletin: Bulletin) -> list[str]:
    """The towns a bulletin is addressed to when issued: every town with an item, and the
    recipients set on the draft. The draft's page and PDF print the same list."""
    with_items = bulletin.items.values_list("ticket__town_id", flat=True)
    chosen = bulletin.recipients.values_list("code", flat=True)
    return sorted(set(with_items) | set(chosen))


def _counter_key(bulletin: Bulletin) -> dict:
    """The counter of the bulletin's county and year (第N批 counts them). Taken at issue with
    counter_take: the row stays locked by its UPDATE until commit, so concurrent issues queue."""
    return {"prefix": COUNTER, "year": bulletin.year, "county": bulletin.county_id}


def _items(bulletin: Bulletin) -> QuerySet[BulletinItem]:
    photos = Prefetch("ticket__before_photos", queryset=EvidencePhoto.objects.order_by("id"))
    return (
        bulletin.items.select_related("ticket", "ticket__town", "ticket__village")
        .defer("ticket__town__boundary", "ticket__village__boundary")
        .prefetch_related(photos)
        .order_by("position")
    )


def bulletin_text(
    bulletin: Bulletin, items: Sequence[BulletinItem], *, batch: int | None = None
) -> dict:
    """The bulletin's text from `items` (as `_items` loads them) and their tickets as they are now.

    Issuing (with the batch) freezes it into `snapshot`: later edits of the tickets do not change
    the document. A draft's preview is this text without a batch: no number, no issue date. A
    draft ticket shows the bulletin's deadline, which issuing assigns it with."""
    deadline = bulletin.default_deadline.isoformat() if bulletin.default_deadline else ""
    config = county_config(bulletin.county_id)
    return {
        "title": bulletin.title,
        "number": f"{bulletin.year}年第{batch}批" if batch else "",
        "issuer": config.bulletin_issuer,
        "issued_on": timezone.localdate().isoformat() if batch else "",
        "intro": bulletin.intro,
        "deadline": deadline,
        "items": [
            {
                "position": item.position,
                "ticket": item.ticket.number,
                "town": item.ticket.town.name,
                "village": item.ticket.village.short_name if item.ticket.village else "",
                "site": item.ticket.site_label,
                "text": item.wording,
                "deadline": _item_deadline(item.ticket, default=deadline),
                "photos": [
                    photo.display.name
                    for photo in list(item.ticket.before_photos.all())[:PHOTOS_PER_ITEM]
                ],
            }
            for item in items
        ],
        "sections": bulletin.sections,
        "cc": config.bulletin_cc,  # 抄送, printed at the end
    }


def _item_deadline(ticket: RectificationTicket, *, default: str) -> str:
    if ticket.state == RectificationState.DRAFT:  # issuing assigns it with the bulletin's
        return default
    return ticket.deadline.isoformat() if ticket.deadline else ""


def bulletin_acknowledge(*, bulletin: Bulletin, by) -> int:
    """The user's towns confirm receipt (回执); returns how many receipts this acknowledged."""
    scope = access.scope(by, "bulletin.acknowledge")
    if not scope.town_codes:
        raise Forbidden(_("Only a town officer acknowledges a bulletin for his town."))
    return BulletinReceipt.objects.filter(
        bulletin=bulletin, town_id__in=scope.town_codes, acknowledged_at=None
    ).update(acknowledged_at=timezone.now(), acknowledged_by=by)


def unacknowledged_count(user) -> int:
    """The header's badge: the county bulletins the user's towns have not acknowledged, and the
    city bulletins his county (a task force) has not."""
    if user is None or not user.is_authenticated:
        return 0
    count = 0
    if towns := access.scope(user, "bulletin.acknowledge").town_codes:
        receipts = BulletinReceipt.objects.filter(town_id__in=sorted(towns), acknowledged_at=None)
        count += receipts.count()
    if counties := access.scope(user, "city_bulletin.acknowledge").county_codes:
        receipts = CityBulletinReceipt.objects.filter(
            county_id__in=sorted(counties), acknowledged_at=None
        )
        count += receipts.count()
    return count


# --- following up -----------------------------------------------------------------------------


@dataclass
class TownProgress:
    town: Town
    total: int = 0
    closed: int = 0
    overdue: int = 0
    in_progress: int = 0


@dataclass
class FollowUp:
    items: list[BulletinItem]
    towns: list[TownProgress] = field(default_factory=list)
    totals: Counter = field(default_factory=Counter)

    @property
    def all_closed(self) -> bool:
        """已全部销号: derived from the tickets, never stored."""
        return bool(self.items) and self.totals["closed"] == len(self.items)


def bulletin_follow_up(*, bulletin: Bulletin, user, as_of: date | None = None) -> FollowUp:
    """Each item's ticket as it is now, and per town: closed, overdue, in progress."""
    as_of = as_of or timezone.localdate()
    items = list(_items(bulletin))
    scope = access.scope(user, "bulletin.view")
    if not scope.county_wide:  # a town sees its own items' progress
        items = [item for item in items if item.ticket.town_id in scope.town_codes]
    progress: dict[str, TownProgress] = {}
    totals: Counter = Counter()
    for item in items:
        ticket = item.ticket
        row = progress.setdefault(ticket.town_id, TownProgress(ticket.town))
        status = follow_up_status(ticket, as_of)
        item.follow_up = status
        row.total += 1
        setattr(row, status, getattr(row, status) + 1)
        totals[status] += 1
    return FollowUp(items, sorted(progress.values(), key=lambda r: r.town.code), totals)


def follow_up_status(ticket: RectificationTicket, as_of: date) -> str:
    """closed (销号 or 撤销), overdue, or in_progress: a bulletin item's follow-up (a county's
    bulletin or a city's)."""
    if ticket.state in RECTIFICATION_DONE_STATES:
        return "closed"
    return "overdue" if ticket.is_overdue(as_of=as_of) else "in_progress"
