"""The dashboard's ticket numbers computed the way they were before the rollups: aggregates over
every ticket. Kept here, for the tests only, as the reference the rollups must equal.

- `raw_rollups()`: what each rollup table must hold, counted in Python from the ticket rows
  (local months by timezone.localtime, as core.dates and the pages count them);
- `raw_numbers()`: the dashboard's numbers per town and for the scope, by the old queries
  (grouping the tickets, RectificationTicket.objects.overdue, the 12-month window from the
  first month's local midnight with no end) and a plain median of the exact durations.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, Q
from django.utils import timezone

from core.dates import local_midnight, month_start
from inspections.models import (
    ClosedDaysCount,
    ClosedHoursCount,
    ClosedTicketDays,
    RectificationMonthCount,
    RunningDeadlineCount,
    ToiletCount,
)
from inspections.reporting import dashboard
from inspections.sites import coverage
from workflows.models import (
    RECTIFICATION_OPEN_STATES,
    RECTIFICATION_RUNNING_STATES,
    RectificationTicket,
    ToiletTicket,
)


def local_month(moment) -> date:
    return month_start(timezone.localdate(moment))


def duration_days(created, closed) -> float:
    return (closed - created).total_seconds() / 86400


# --- the rollups' contents ----------------------------------------------------------------------


@dataclass
class Contents:
    rect_month: Counter
    running: Counter
    toilet: Counter
    closed_month: Counter  # (town, month of closing) → n, the day buckets summed
    closed_tickets: dict  # ticket id → (town, month, exact days)


def raw_rollups() -> Contents:
    rect_month, running, closed_month, closed = Counter(), Counter(), Counter(), {}
    fields = ("pk", "town_id", "created_at", "state", "source_kind", "closed_at", "deadline")
    for (
        pk,
        town,
        created,
        state,
        source,
        closed_at,
        deadline,
    ) in RectificationTicket.objects.values_list(*fields):
        rect_month[(town, local_month(created), state, source)] += 1
        if state in RECTIFICATION_RUNNING_STATES and deadline is not None:
            running[(town, deadline)] += 1
        if state == "closed" and closed_at is not None:
            closed_month[(town, local_month(closed_at))] += 1
            closed[pk] = (town, local_month(closed_at), duration_days(created, closed_at))
    toilet = Counter(ToiletTicket.objects.values_list("town_id", "state", "kind"))
    return Contents(rect_month, running, toilet, closed_month, closed)


def stored_rollups() -> Contents:
    """The rollup tables as they are, in the same shape (after checking that each day and hour
    bucket's count is its tickets' and that each ticket sits in the bucket of its whole hours)."""
    buckets, hour_buckets = Counter(), Counter()
    closed = {}
    for ticket, town, month, hours, exact in ClosedTicketDays.objects.values_list(
        "ticket_id", "town_id", "month", "hours", "exact_days"
    ):
        assert hours == int(exact * 24), (ticket, hours, exact)
        buckets[(town, month, int(exact))] += 1
        hour_buckets[(town, month, int(exact), hours)] += 1
        closed[ticket] = (town, month, exact)
    rows = ClosedDaysCount.objects.values_list("town_id", "month", "days", "n")
    histogram = Counter({(t, m, d): n for t, m, d, n in rows})
    assert histogram == buckets
    rows = ClosedHoursCount.objects.values_list("town_id", "month", "days", "hours", "n")
    assert Counter({(t, m, d, h): n for t, m, d, h, n in rows}) == hour_buckets
    closed_month = Counter()
    for (town, month, _days), n in histogram.items():
        closed_month[(town, month)] += n
    return Contents(
        rect_month=_counter(RectificationMonthCount, "town_id", "month", "state", "source_kind"),
        running=_counter(RunningDeadlineCount, "town_id", "deadline"),
        toilet=_counter(ToiletCount, "town_id", "state", "kind"),
        closed_month=closed_month,
        closed_tickets=closed,
    )


def _counter(model, *keys) -> Counter:
    rows = list(model.objects.values_list(*keys, "n"))
    assert all(row[-1] > 0 for row in rows), "a rollup keeps no row of zero"
    counted = Counter({row[:-1]: row[-1] for row in rows})
    assert len(counted) == len(rows)
    return counted


def assert_rollups_exact() -> None:
    raw, stored = raw_rollups(), stored_rollups()
    assert stored.rect_month == raw.rect_month
    assert stored.running == raw.running
    assert stored.toilet == raw.toilet
    assert stored.closed_month == raw.closed_month
    assert stored.closed_tickets.keys() == raw.closed_tickets.keys()
    for ticket, (town, month, exact) in raw.closed_tickets.items():
        assert stored.closed_tickets[ticket][:2] == (town, month), ticket
        assert abs(stored.closed_tickets[ticket][2] - exact) < 1e-6, ticket


# --- the dashboard's numbers --------------------------------------------------------------------


@dataclass
class Numbers:
    by_state: Counter = field(default_factory=Counter)
    by_source: Counter = field(default_factory=Counter)
    toilet_state: Counter = field(default_factory=Counter)
    toilet_kind: Counter = field(default_factory=Counter)
    opened: list = field(default_factory=list)
    closed: list = field(default_factory=list)
    # town → (tickets, open, overdue, opened, window_closed, window_open, closed_in_window, median)
    towns: dict = field(default_factory=dict)


def raw_numbers(scope: dashboard.DashboardScope, *, as_of: date) -> Numbers:
    months = dashboard.window_months(as_of)
    start = local_midnight(months[0])
    tickets = RectificationTicket.objects.filter(scope.q()).order_by()
    numbers = Numbers(opened=[0] * len(months), closed=[0] * len(months))
    per_town: dict[str, list] = defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0, None])
    for town, state, source, n in tickets.values_list("town_id", "state", "source_kind").annotate(
        n=Count("pk")
    ):
        numbers.by_state[state] += n
        numbers.by_source[source] += n
        per_town[town][0] += n
        per_town[town][1] += n if state in RECTIFICATION_OPEN_STATES else 0
    overdue = RectificationTicket.objects.overdue(as_of=as_of).filter(scope.q()).order_by()
    for town, n in overdue.values_list("town_id").annotate(n=Count("pk")):
        per_town[town][2] = n
    for state, kind, n in (
        ToiletTicket.objects.filter(scope.q())
        .order_by()
        .values_list("state", "kind")
        .annotate(n=Count("pk"))
    ):
        numbers.toilet_state[state] += n
        numbers.toilet_kind[kind] += n
    starts = [local_midnight(m) for m in months]
    opened = (
        tickets.filter(created_at__gte=start)
        .annotate(month=coverage.month_index("created_at", starts))
        .values_list("town_id", "month")
        .annotate(
            n=Count("pk"),
            closed=Count("pk", filter=Q(state="closed")),
            open=Count("pk", filter=Q(state__in=RECTIFICATION_OPEN_STATES)),
        )
    )
    for town, month, n, closed, still_open in opened:
        numbers.opened[month] += n
        per_town[town][3] += n
        per_town[town][4] += closed
        per_town[town][5] += still_open
    closed_tickets = tickets.filter(state="closed", closed_at__gte=start)
    durations: dict[str, list[float]] = defaultdict(list)
    for town, created, closed_at in closed_tickets.values_list(
        "town_id", "created_at", "closed_at"
    ):
        numbers.closed[coverage_month(closed_at, starts)] += 1
        durations[town].append(duration_days(created, closed_at))
    for town, values in durations.items():
        per_town[town][6] = len(values)
        per_town[town][7] = dashboard.median(values)
    numbers.towns = {town: tuple(values) for town, values in per_town.items()}
    return numbers


def coverage_month(moment, starts) -> int:
    """coverage.month_index in Python: the largest i with moment >= starts[i]."""
    return max(i for i, s in enumerate(starts) if moment >= s)


def board_numbers(board: dashboard.Dashboard) -> Numbers:
    """The same numbers as the dashboard (from the rollups) shows them."""
    return Numbers(
        by_state=Counter({b.key: b.count for b in board.rect_by_state if b.count}),
        by_source=Counter({b.key: b.count for b in board.rect_by_source if b.count}),
        toilet_state=Counter({b.key: b.count for b in board.toilet_by_state if b.count}),
        toilet_kind=Counter({b.key: b.count for b in board.toilet_by_kind if b.count}),
        opened=[p.opened for p in board.trend],
        closed=[p.closed for p in board.trend],
        towns={
            t.town.code: (
                t.tickets,
                t.open,
                t.overdue,
                t.opened,
                t.window_closed,
                t.window_open,
                t.closed_in_window,
                t.median_days,
            )
            for t in board.towns
            if t.tickets or t.overdue
        },
    )
