"""Reads for the ticket pages: scoped lists, one ticket with its timeline, and which actions a
user may take on a ticket now. Scope and select_related live here, once.

Which actions a page offers is decided by the ticket's action table (workflows.tickets.actions), the
one its services enforce: the FSM says what the state allows, the table's permission (or "the
assigned worker") whether this user may. The pages and the action endpoints both ask
`action_refusal`, so a button is shown exactly when its POST would pass the services' checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.contrib.auth import get_user_model
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, Prefetch, Q, QuerySet
from django.db.models.sql.where import WhereNode
from django.utils.functional import Promise, cached_property
from django.utils.translation import gettext_lazy, pgettext_lazy

from villages import access
from villages.actions import Action, ActionTable
from villages.models import Household, Membership, Town, Village
from workflows.models import (
    RECTIFICATION_OPEN_STATES,
    EvidencePhoto,
    RectificationTicket,
    TicketEvent,
    ToiletState,
    ToiletTicket,
)
from workflows.tickets.actions import RECTIFICATION_ACTIONS, TOILET_ACTIONS, WORKER

# --- lists ------------------------------------------------------------------------------------


# Town and village boundaries are GeoJSON documents of many kilobytes: a row needs the names.
GEOMETRY = ("town__boundary", "village__boundary")


def rectification_list(*, user) -> QuerySet[RectificationTicket]:
    """Tickets the user may see, with what a list row shows (town, village)."""
    return (
        RectificationTicket.objects.visible_to(user)
        .select_related("town", "village")
        .defer(*GEOMETRY)
    )


def toilet_list(*, user) -> QuerySet[ToiletTicket]:
    return (
        ToiletTicket.objects.visible_to(user)
        .select_related("town", "village", "household", "assigned_worker")
        .defer(*GEOMETRY)
    )


def overdue_days(ticket: RectificationTicket, *, as_of: date) -> int:
    """Days past the deadline in local dates (0 when not overdue)."""
    return (as_of - ticket.deadline).days if ticket.is_overdue(as_of=as_of) else 0


def mark_overdue(tickets: Iterable[RectificationTicket], *, as_of: date) -> None:
    """Sets `overdue_days` on each ticket of a page (a page is 50 rows: no query, no loop cost)."""
    for ticket in tickets:
        ticket.overdue_days = overdue_days(ticket, as_of=as_of)


def mark_sla(tickets: Iterable[ToiletTicket], *, now: datetime) -> None:
    for ticket in tickets:
        ticket.sla_breached = ticket.is_sla_breached(now=now)


# --- one ticket -------------------------------------------------------------------------------


def rectification_page_queryset() -> QuerySet[RectificationTicket]:
    """For get_visible_or_404, which applies the scope."""
    return RectificationTicket.objects.select_related(
        "town", "village", "created_by", "previous"
    ).defer(*GEOMETRY)


def toilet_page_queryset() -> QuerySet[ToiletTicket]:
    return ToiletTicket.objects.select_related(
        "town", "village", "household", "assigned_worker", "created_by"
    ).defer(*GEOMETRY)


EVENT_LABELS = {
    "create": pgettext_lazy("ticket event", "Opened"),
    "report": pgettext_lazy("ticket event", "Reported"),
    "assign": pgettext_lazy("ticket event", "Assigned"),
    "submit": pgettext_lazy("ticket event", "Submitted for review"),
    "reject": pgettext_lazy("ticket event", "Sent back"),
    "close": pgettext_lazy("ticket event", "Closed"),
    "request_extension": pgettext_lazy("ticket event", "Extension requested"),
    "approve_extension": pgettext_lazy("ticket event", "Extension approved"),
    "refuse_extension": pgettext_lazy("ticket event", "Extension refused"),
    "withdraw_extension": pgettext_lazy("ticket event", "Extension request withdrawn"),
    "cancel": pgettext_lazy("ticket event", "Cancelled"),
    "dispatch": pgettext_lazy("ticket event", "Dispatched"),
    "accept": pgettext_lazy("ticket event", "Accepted"),
    "start": pgettext_lazy("ticket event", "Work started"),
    "complete": pgettext_lazy("ticket event", "Completed"),
    "confirm": pgettext_lazy("ticket event", "Callback: confirmed"),
    "reopen": pgettext_lazy("ticket event", "Callback: not done, reopened"),
    "return_for_redispatch": pgettext_lazy("ticket event", "Returned for re-dispatch"),
    "city_bulletin": pgettext_lazy("ticket event", "Named in a city bulletin"),
}


def ticket_timeline(ticket) -> list[TicketEvent]:
    """The ticket's events, oldest first, each with `action_label`, `from_label`, `to_label`
    and its photos prefetched: three queries however long the history."""
    labels = dict(type(ticket)._meta.get_field("state").choices)
    field = "rectification" if isinstance(ticket, RectificationTicket) else "toilet"
    events = list(
        TicketEvent.objects.filter(**{field: ticket})
        .select_related("actor")
        .prefetch_related(Prefetch("photos", queryset=EvidencePhoto.objects.order_by("id")))
        .order_by("at", "id")
    )
    for event in events:
        event.action_label = EVENT_LABELS.get(event.action, event.action)
        event.from_label = labels.get(event.from_state, event.from_state)
        event.to_label = labels.get(event.to_state, event.to_state)
        event.details = _event_details(event.data)
    return events


def _event_details(data: dict) -> list[tuple[Promise, str]]:
    """The recorded values of a step (new deadline, worker, volume…), labelled for display."""
    labels = {
        "deadline": gettext_lazy("Deadline"),
        "requested_deadline": gettext_lazy("Requested deadline"),
        "requested_deadline_lapsed": gettext_lazy("Extension request ended by this submission"),
        "worker": gettext_lazy("Service worker"),
        "volume_m3": gettext_lazy("Pumped volume (m³)"),
        "disposal_site": gettext_lazy("Disposal site"),
        "parts_used": gettext_lazy("Parts used"),
        "satisfaction": gettext_lazy("Satisfaction"),
    }
    satisfaction = dict(ToiletTicket.Satisfaction.choices)
    details = []
    for key, label in labels.items():
        value = (data or {}).get(key)
        if value:
            details.append(
                (label, satisfaction.get(value, value) if key == "satisfaction" else value)
            )
    return details


def latest_photos(timeline: list[TicketEvent], action: str) -> list[EvidencePhoto]:
    """Photos of the latest `action` event (a resubmission replaces the after-photos)."""
    for event in reversed(timeline):
        if event.action == action:
            return list(event.photos.all())
    return []


def may_see_full_phone(*, user, ticket: ToiletTicket) -> bool:
    """The assigned worker calls the household (while he still works there: access.names);
    town and county officers call back (回访). Everyone else — a village admin included — sees
    the masked number."""
    worker = access.names(user, ticket, field=WORKER, perm="toilet.work")
    return worker or access.allows(user, "toilet.full_phone", ticket)


def service_workers_for(ticket: ToiletTicket) -> QuerySet:
    """Users a ticket may be dispatched to: the rule of services.toilet_dispatch, as a query."""
    parent = getattr(ticket.village, "parent_id", None)
    village_codes = [code for code in (ticket.village_id, parent) if code]
    # A county-wide worker serves his own county's towns only (the tenant).
    county = Town.objects.filter(code=ticket.town_id).values("county_id")
    serving = Membership.objects.filter(access.holders("toilet.work")).filter(
        Q(town__isnull=True, village__isnull=True, county_id__in=county)
        | Q(town_id=ticket.town_id)
        | Q(village_id__in=village_codes)
    )
    return (
        get_user_model()
        .objects.filter(is_active=True, pk__in=serving.values("user_id"))
        .order_by("last_name", "first_name", "username")
    )


# --- which actions a user may take now --------------------------------------------------------


def action_rules(ticket) -> ActionTable:
    """The ticket's action table (workflows.tickets.actions), which its services enforce."""
    return RECTIFICATION_ACTIONS if isinstance(ticket, RectificationTicket) else TOILET_ACTIONS


def role_refusal(*, user, ticket, rule: Action) -> str | None:
    """Why `user` may never take `rule` on `ticket` (role, scope, not his job), or None."""
    return action_rules(ticket).role_refusal(user, ticket, rule)


def action_refusal(*, user, ticket, rule: Action) -> str | None:
    """Why `user` may not take `rule` on `ticket` now (the services' own wording), or None."""
    return action_rules(ticket).refusal(user, ticket, rule.name)


def available_actions(*, user, ticket) -> list[Action]:
    return action_rules(ticket).offered(user, ticket)


def action_label(ticket, rule: Action) -> Promise:
    """A dispatch after a return is a re-dispatch (重派)."""
    if rule.name == "dispatch" and ticket.state == ToiletState.RETURNED:
        return gettext_lazy("Re-dispatch")
    return rule.label


# --- creating tickets -------------------------------------------------------------------------


def towns_for_new_ticket(*, user) -> QuerySet[Town]:
    """Towns where the user may open a rectification ticket."""
    condition = access.scope(user, "ticket.open").q(town="code")
    if condition is None:
        return Town.objects.none()
    return Town.objects.filter(condition).only("code", "name").order_by("code")


def villages_for_new_ticket(*, user) -> QuerySet[Village]:
    condition = access.scope(user, "ticket.open").q(town="town_id")
    if condition is None:
        return Village.objects.none()
    return Village.objects.filter(condition).only("code", "name", "town_id").order_by("code")


def reportable_households(*, user) -> QuerySet[Household]:
    """Households the user may report a toilet request for."""
    condition = access.scope(user, "toilet.report").q(
        town="village__town_id", village=("village_id", "village__parent_id")
    )
    if condition is None:
        return Household.objects.none()
    return (
        Household.objects.filter(condition)
        .select_related("village")
        .defer("village__boundary")
        .order_by("village_id", "number")
    )


def household_search(queryset: QuerySet[Household], q: str) -> QuerySet[Household]:
    q = q.strip()
    if not q:
        return queryset
    return queryset.filter(
        Q(head_name__contains=q) | Q(number__icontains=q) | Q(village__name__contains=q)
    )


class CappedPaginator(Paginator):
    """Counts no further than `cap` rows (`capped` then says there are more): a search matching
    half a million tickets is shown as "1,000+", not counted to the last one."""

    def __init__(self, object_list, per_page, *, cap: int):
        super().__init__(object_list, per_page)
        self.cap = cap
        self.capped = False

    @cached_property
    def count(self) -> int:
        # A LIMIT inside the COUNT, without the list's order: the first cap + 1 rows found.
        counted = self.object_list.order_by()[: self.cap + 1].count()
        self.capped = counted > self.cap
        return min(counted, self.cap)


class ByStateByDeadline:
    """The ids of a list of several states sorted by deadline (then number), read as each
    state's first rows in that order, in one query (UNION ALL), merged by the database: a
    desk's default list. PostgreSQL otherwise gathers every row of the states (the county's
    list at 1,000,000 tickets: 130,000 index entries, top-N sorted, 40–45 ms) where an index on
    (state, deadline, number) gives each state's first rows in order (≤ 1 ms each). Only the
    databases that take ORDER BY and LIMIT inside a compound query (not SQLite, whose planner
    sorts each state's rows anyway: NULLS LAST is no index order there), and only for the first
    pages: a page deep in the list costs each state its rows up to there."""

    MAX_DEPTH = 1000  # rows before the page; deeper, the list's own query

    def __init__(self, queryset: QuerySet, states: Iterable[str]):
        self.queryset = queryset
        self.states = sorted(set(states))

    @classmethod
    def applies(cls, states: Iterable[str] | None) -> bool:
        return (
            states is not None
            and len(set(states)) > 1
            and connection.features.supports_slicing_ordering_in_compound
        )

    def __getitem__(self, page: slice) -> list[int]:
        if page.stop > self.MAX_DEPTH:
            return list(self.queryset.values_list("pk", flat=True)[page])
        if page.stop <= page.start or self.queryset.query.is_empty():
            return []  # an empty list's page; a user who may see no ticket (none())
        firsts = [
            self.queryset.filter(state=state).values_list("deadline", "number", "pk")[: page.stop]
            for state in self.states
        ]
        # ASC is NULLS LAST on the databases that get here (PostgreSQL): the list's own order.
        merged = firsts[0].union(*firsts[1:], all=True).order_by("deadline", "number")
        return [pk for _deadline, _number, pk in merged[page]]


def paginate(
    queryset: QuerySet,
    number,
    *,
    per_page: int,
    cap: int | None = None,
    count: int | None = None,
    by_deadline_in: Iterable[str] | None = None,
) -> Page:
    """One page of `queryset`, fetched as a deferred join.

    Counting and sorting run over the ids alone, which a covering index answers without
    touching the table (1,000,000 tickets: ~20 ms instead of ~700 ms for the county list, whose
    sort otherwise drags every matching row and its joins through a temporary B-tree); then
    only the page's rows are read, with their joins, by primary key. With a `cap`, the count
    stops there (CappedPaginator). A `count` known already (the list's states summed from the
    counts per state, state_counts) is taken as it is: no COUNT query. `by_deadline_in`: the
    list is these states alone, sorted by deadline then number (ByStateByDeadline).
    """
    ids = queryset.values_list("pk", flat=True)
    if count is not None and ByStateByDeadline.applies(by_deadline_in):
        ids = ByStateByDeadline(queryset, by_deadline_in)
    paginator = Paginator(ids, per_page) if cap is None else CappedPaginator(ids, per_page, cap=cap)
    if count is not None:
        paginator.count = count  # the cached_property's value, set before anything reads it
    page = paginator.get_page(number)
    ids = list(page.object_list)
    # The same queryset (joins, deferred columns) limited to the page's ids, which its filters
    # chose a moment ago: they are not applied again. Again they cost nothing on 50 rows by
    # primary key, except a search's: PostgreSQL's array of matches, which the planner joined to
    # the 50 ids in the index condition (5,000 probes for 50 rows, 32 ms), and SQLite's index
    # joined by extra(), whose MATCH drove the query through every match of the word (a third
    # of 1,000,000 tickets for 垃圾: 25 ms for 50 rows). So the extra() table, its condition and
    # its column go with the filters.
    rows = queryset.all()
    query = rows.query
    query.where = WhereNode()
    query.extra, query.extra_tables, query.extra_order_by = {}, (), ()
    query.extra_select_mask = None
    rows = rows.filter(pk__in=ids).order_by()
    by_id = {row.pk: row for row in rows}
    page.object_list = [by_id[pk] for pk in ids if pk in by_id]
    return page


# --- the inbox: what is mine to do, what waits for the other desk ------------------------------


@dataclass(frozen=True)
class Inbox:
    """The open states split by who acts next, for `user`: `mine` — a state from which he may
    take a step forward (a primary action of the ticket's table: assign, submit, close,
    approve); `waiting` — the other open states, where the other desk acts. A ticket whose
    extension is requested is in both desks' `mine`: the town still owes the fix (it may
    submit it), the county owes the decision."""

    mine: tuple[str, ...]
    waiting: tuple[str, ...]
    counts: dict[str, int]

    @property
    def mine_count(self) -> int:
        return sum(self.counts.get(state, 0) for state in self.mine)

    @property
    def waiting_count(self) -> int:
        return sum(self.counts.get(state, 0) for state in self.waiting)


def inbox_states(*, user) -> tuple[tuple[str, ...], tuple[str, ...]]:
    model = RectificationTicket
    field = model._meta.get_field("state")
    actions = {
        rule.transition
        for rule in RECTIFICATION_ACTIONS.values()
        if rule.primary and rule.perm and not access.scope(user, rule.perm).is_empty
    }
    acting = {t.source for t in field.get_all_transitions(model) if t.name in actions}
    mine = tuple(state for state in RECTIFICATION_OPEN_STATES if state in acting)
    waiting = tuple(state for state in RECTIFICATION_OPEN_STATES if state not in acting)
    return mine, waiting


def inbox(*, user, counts: dict[str, int] | None = None) -> Inbox:
    """The split and the count of the user's visible open tickets in each state (one query;
    none when the page has read the user's `counts` per state already: state_counts)."""
    mine, waiting = inbox_states(user=user)
    if counts is None:
        counts = state_counts(user=user, states=RECTIFICATION_OPEN_STATES)
    if counts is not None:
        counts = {state: n for state, n in counts.items() if state in RECTIFICATION_OPEN_STATES}
    else:
        rows = (
            RectificationTicket.objects.visible_to(user)
            .filter(state__in=RECTIFICATION_OPEN_STATES)
            .order_by()
            .values_list("state")
            .annotate(n=Count("pk"))
        )
        counts = dict(rows)
    return Inbox(mine=mine, waiting=waiting, counts=counts)


# --- counts per state, kept elsewhere -----------------------------------------------------------

# Reads the rectification tickets per state of whole towns from counts kept exact by database
# triggers (the dashboard's rollups): `reader(condition, states)`, where `condition` is a filter
# on a `town_id` column, gives {state: count} of those states. InspectionsConfig.ready()
# registers inspections.reporting.dashboard.state_counts, as workflows may not import
# inspections; None: counted from the tickets. Counting a county's open tickets
# for the inbox's tabs read ~300,000 index entries at 1,000,000 tickets (53 ms on PostgreSQL,
# in every page of the task force's list); the rollups hold a few thousand rows.
StateCountReader = Callable[[Q, tuple[str, ...]], dict[str, int]]
_state_count_reader: StateCountReader | None = None


def register_state_counts(reader: StateCountReader | None) -> None:
    global _state_count_reader
    _state_count_reader = reader


def state_counts(*, user, states: Iterable[str]) -> dict[str, int] | None:
    """The rectification tickets `user` may see (ticket.view) in each of `states`, from the
    registered counts; None when there are none, or the user's scope is not whole towns (a
    village's grant: the counts are per town), and the caller counts the tickets."""
    if _state_count_reader is None:
        return None
    granted = access.scope(user, "ticket.view")
    if granted.village_codes:
        return None
    condition = granted.q(town="town_id")
    if condition is None:
        return {}
    return _state_count_reader(condition, tuple(sorted(set(states))))


def count_in_states(counts: dict[str, int] | None, states: Iterable[str] | None) -> int | None:
    """How many tickets are in `states`, by the `counts` per state (state_counts); None when
    `states` is None (the list is narrowed by more than states) or there are no counts: the
    caller counts the rows."""
    if counts is None or states is None:
        return None
    return sum(counts.get(state, 0) for state in set(states))
