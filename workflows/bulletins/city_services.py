"""City bulletins (市级通报): compose, issue, acknowledge, follow up — the city's own series.

The city supervisor (市级督导) names rectification tickets of his city's counties, each with the
wording printed, and issues the bulletin as a county's task force issues its own
(workflows/bulletins/services.py, whose IssueTerms, counter and official number it shares):
the page states the number and the item count, the service issues only on those terms; the
number 第N批 counts the city's bulletins of the year (the counter row keyed by the city's
code, locked by its UPDATE until commit: two issues at once get consecutive numbers, a
rollback returns its number); the text is frozen into `snapshot`.

Issuing writes nothing into a county but, on each named ticket, an event row saying it was
named in 市级通报 YYYY年第N批 (tickets.services.rectification_named): no state, deadline or
assignment changes. Each named county gets a receipt its task force acknowledges (回执). The
follow-up reads the tickets live: the city follows what the counties do with them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core.counters import counter_take
from core.errors import ApplicationError, Conflict, Forbidden, NotFound
from villages import access
from villages.models import City, County, city_code_of
from workflows.bulletins.actions import CITY_BULLETIN_ACTIONS
from workflows.bulletins.services import IssueTerms, follow_up_status, issue_confirmation
from workflows.models import (
    RECTIFICATION_OPEN_STATES,
    BulletinState,
    CityBulletin,
    CityBulletinItem,
    CityBulletinReceipt,
    RectificationState,
    RectificationTicket,
    TicketCounter,
)
from workflows.tickets.services import rectification_named

COUNTER = "CB"  # TicketCounter prefix of city bulletin batch numbers, per city and year
# What a city bulletin may name: tickets a town is working on or that await review. A draft is
# its county's own finding, not yet assigned (the county assigns it, not the city); a closed
# or cancelled ticket is done.
NAMEABLE_STATES = tuple(s for s in RECTIFICATION_OPEN_STATES if s != RectificationState.DRAFT)


def default_issuer(city: City) -> str:
    """发文机关 when the supervisor writes none: 济宁市农村人居环境整治工作专班."""
    return f"{city.name}农村人居环境整治工作专班"


# --- whose city -------------------------------------------------------------------------------


def composing_cities(user) -> QuerySet[City]:
    """The cities whose bulletins `user` composes: the city of his supervisor's membership
    (its counties stored here tell it), a superuser's every city."""
    granted = access.scope(user, "city_bulletin.compose")
    cities = City.objects.order_by("code")
    if granted.everywhere:
        return cities
    return cities.filter(code__in=sorted({city_code_of(c) for c in granted.county_codes}))


def _require_composer(user, bulletin: CityBulletin | None = None) -> None:
    """403 for anyone who composes no city's bulletins; 404 for another city's bulletin."""
    if not access.allows(user, "city_bulletin.compose"):
        raise Forbidden(_("Only the city supervisor may compose and issue city bulletins."))
    if bulletin is not None and not composing_cities(user).filter(pk=bulletin.city_id).exists():
        raise NotFound(_("Not found, or outside your jurisdiction."))


def _bulletin_city(by, city: City | str | None) -> City:
    cities = composing_cities(by)
    if city is not None:
        code = city.pk if isinstance(city, City) else city
        found = cities.filter(code=code).first()
        if found is None:
            raise NotFound(_("Not found, or outside your jurisdiction."))
        return found
    reachable = list(cities[:2])
    if len(reachable) != 1:
        raise ApplicationError(_("Choose the city the bulletin is for."))
    return reachable[0]


def _require_draft(bulletin: CityBulletin) -> None:
    if bulletin.state != BulletinState.DRAFT:
        raise Conflict(_("The bulletin was issued; it can no longer be changed."))


def _refusals(bulletin: CityBulletin, tickets: Sequence[RectificationTicket]) -> str:
    """Why these tickets may not be on the city's bulletin ("" when they may)."""
    foreign = [t.number for t in tickets if city_code_of(t.town_id) != bulletin.city_id]
    if foreign:
        return _("A city bulletin names only its own city's tickets: %(numbers)s") % {
            "numbers": ", ".join(foreign)
        }
    unnameable = [t.number for t in tickets if t.state not in NAMEABLE_STATES]
    if unnameable:
        return _(
            "A city bulletin names tickets being rectified or awaiting review, not drafts, "
            "closed or cancelled ones: %(numbers)s"
        ) % {"numbers": ", ".join(unnameable)}
    return ""


# --- composing --------------------------------------------------------------------------------


def city_bulletin_create(
    *,
    by,
    title: str,
    intro: str = "",
    issuer: str = "",
    deadline: date | None = None,
    year: int | None = None,
    city: City | str | None = None,
) -> CityBulletin:
    """A draft of `city` (default: the one city `by` composes for); its issuer as written, else
    the city's task force (default_issuer)."""
    _require_composer(by)
    title = (title or "").strip()
    if not title:
        raise ApplicationError(_("Give the bulletin a title."))
    city = _bulletin_city(by, city)
    return CityBulletin.objects.create(
        city=city,
        year=year or timezone.localdate().year,
        title=title,
        issuer=(issuer or "").strip() or default_issuer(city),
        intro=(intro or "").strip(),
        deadline=deadline,
        created_by=by,
    )


def city_bulletin_items_set(
    *,
    bulletin: CityBulletin,
    by,
    tickets: Sequence[RectificationTicket],
    wordings: dict | None = None,
) -> list[CityBulletinItem]:
    """Replace the items: `tickets` in this order, each with its wording (default: the ticket's
    description). Tickets of the bulletin's city only, being rectified or awaiting review."""
    _require_composer(by, bulletin)
    wordings = wordings or {}
    if len({t.pk for t in tickets}) != len(tickets):
        raise ApplicationError(_("A ticket is listed twice."))
    if refusal := _refusals(bulletin, tickets):
        raise ApplicationError(refusal)
    with transaction.atomic():
        # The row lock city_bulletin_issue takes: a save and an issue run one after the other.
        _require_draft(CityBulletin.objects.select_for_update().get(pk=bulletin.pk))
        bulletin.items.all().delete()
        return CityBulletinItem.objects.bulk_create(
            CityBulletinItem(
                bulletin=bulletin,
                ticket=ticket,
                position=position,
                wording=(wordings.get(ticket.pk) or ticket.description).strip(),
            )
            for position, ticket in enumerate(tickets, start=1)
        )


# --- issuing ----------------------------------------------------------------------------------


def _counter_key(bulletin: CityBulletin) -> dict:
    """The counter of the bulletin's city and year (TicketCounter.county holds the city's
    code: 12 digits like a county's, ending in 8 zeros, and its own prefix)."""
    return {"prefix": COUNTER, "year": bulletin.year, "county": bulletin.city_id}


def city_bulletin_issue_terms(bulletin: CityBulletin) -> IssueTerms:
    """The terms issuing `bulletin` now would have (read without a lock, as for a county's)."""
    taken = (
        TicketCounter.objects.filter(**_counter_key(bulletin))
        .values_list("value", flat=True)
        .first()
    )
    return IssueTerms(year=bulletin.year, batch=(taken or 0) + 1, count=bulletin.items.count())


def city_bulletin_issue(
    *, bulletin: CityBulletin, by, confirmed: IssueTerms | None = None
) -> CityBulletin:
    """Issues the draft on the `confirmed` terms (None: no confirmation, for jobs and tests).
    Refused, nothing happens: the bulletin stays a draft, no number is taken, no event written."""
    CITY_BULLETIN_ACTIONS.require(by, bulletin, "issue")
    _require_composer(by, bulletin)
    with transaction.atomic():
        bulletin = CityBulletin.objects.select_for_update().get(pk=bulletin.pk)
        _require_draft(bulletin)
        items = list(_items(bulletin))
        if not items:
            raise ApplicationError(_("The bulletin lists no problem."))
        tickets = [item.ticket for item in items]
        if refusal := _refusals(bulletin, tickets):  # closed on its own page meanwhile
            raise Conflict(refusal)
        batch = counter_take(TicketCounter, key=_counter_key(bulletin))
        terms = IssueTerms(year=bulletin.year, batch=batch, count=len(items))
        if confirmed is not None and terms != confirmed:  # rolls back the number taken too
            raise Conflict(
                _(
                    "The bulletin changed since you confirmed it (another bulletin was issued, "
                    "or its items were changed); nothing was issued. Check it and confirm "
                    "again: %(terms)s"
                )
                % {"terms": issue_confirmation(terms)}
            )
        snapshot = city_bulletin_text(bulletin, items, batch=batch)
        CITY_BULLETIN_ACTIONS.run(
            bulletin, "issue", args={"batch": batch, "by": by, "snapshot": snapshot}
        )
        counties = sorted({t.town.county_id for t in tickets})
        CityBulletinReceipt.objects.bulk_create(
            CityBulletinReceipt(bulletin=bulletin, county_id=code) for code in counties
        )
        note = _("Named in the city bulletin %(number)s: %(title)s") % {
            "number": bulletin.number_label,
            "title": bulletin.title,
        }
        data = {"city_bulletin": bulletin.pk, "number": bulletin.number_label}
        if bulletin.deadline:
            data["city_deadline"] = bulletin.deadline.isoformat()
        rectification_named(tickets=tickets, by=by, note=note, data=data)
    return bulletin


def _items(bulletin: CityBulletin) -> QuerySet[CityBulletinItem]:
    return (
        bulletin.items.select_related(
            "ticket", "ticket__town", "ticket__town__county", "ticket__village"
        )
        .defer(
            "ticket__town__boundary", "ticket__village__boundary", "ticket__town__county__boundary"
        )
        .order_by("position")
    )


def city_bulletin_text(
    bulletin: CityBulletin, items: Sequence[CityBulletinItem], *, batch: int | None = None
) -> dict:
    """The bulletin's text from `items` (as `_items` loads them): frozen at issue (with the
    batch), a draft's preview before (no number, no issue date)."""
    counties = {}
    for item in items:
        counties.setdefault(item.ticket.town.county_id, item.ticket.town.county.name)
    return {
        "title": bulletin.title,
        "number": f"{bulletin.year}年第{batch}批" if batch else "",
        "issuer": bulletin.issuer,
        "issued_on": timezone.localdate().isoformat() if batch else "",
        "intro": bulletin.intro,
        "deadline": bulletin.deadline.isoformat() if bulletin.deadline else "",
        "counties": [counties[code] for code in sorted(counties)],
        "items": [
            {
                "position": item.position,
                "ticket": item.ticket.number,
                "county": item.ticket.town.county.name,
                "town": item.ticket.town.name,
                "village": item.ticket.village.short_name if item.ticket.village else "",
                "site": item.ticket.site_label,
                "text": item.wording,
                "deadline": item.ticket.deadline.isoformat() if item.ticket.deadline else "",
            }
            for item in items
        ],
    }


def city_bulletin_document(bulletin: CityBulletin) -> dict:
    """What the page prints: the issued text as frozen, or a draft's preview of it now."""
    if bulletin.state == BulletinState.ISSUED:
        return bulletin.snapshot
    return city_bulletin_text(bulletin, list(_items(bulletin)))


# --- acknowledging ----------------------------------------------------------------------------


def city_bulletin_acknowledge(*, bulletin: CityBulletin, by) -> int:
    """The task force of the user's named counties confirms receipt (回执); how many receipts
    this acknowledged."""
    counties = access.scope(by, "city_bulletin.acknowledge").county_codes
    if not counties:
        raise Forbidden(_("Only a named county's task force acknowledges a city bulletin."))
    return CityBulletinReceipt.objects.filter(
        bulletin=bulletin, county_id__in=sorted(counties), acknowledged_at=None
    ).update(acknowledged_at=timezone.now(), acknowledged_by=by)


# --- following up -----------------------------------------------------------------------------


@dataclass
class CountyProgress:
    county: County
    total: int = 0
    closed: int = 0
    overdue: int = 0
    in_progress: int = 0


@dataclass
class CityFollowUp:
    items: list[CityBulletinItem]
    counties: list[CountyProgress] = field(default_factory=list)
    totals: Counter = field(default_factory=Counter)

    @property
    def all_closed(self) -> bool:
        return bool(self.items) and self.totals["closed"] == len(self.items)


def city_bulletin_follow_up(
    *, bulletin: CityBulletin, user, as_of: date | None = None
) -> CityFollowUp:
    """Each named ticket as it is now (closed, overdue or in progress: the county bulletins'
    rule), counted per county. The city sees every item; a county's task force and a town's
    officers the items of their jurisdiction."""
    as_of = as_of or timezone.localdate()
    items = list(_items(bulletin))
    if not composing_cities(user).filter(pk=bulletin.city_id).exists():
        readable = access.scope(user, "city_bulletin.view")
        items = [item for item in items if access.covers(readable, item.ticket)]
    progress: dict[str, CountyProgress] = {}
    totals: Counter = Counter()
    for item in items:
        county = item.ticket.town.county
        row = progress.setdefault(county.code, CountyProgress(county))
        status = follow_up_status(item.ticket, as_of)
        item.follow_up = status
        row.total += 1
        setattr(row, status, getattr(row, status) + 1)
        totals[status] += 1
    return CityFollowUp(items, [progress[code] for code in sorted(progress)], totals)
