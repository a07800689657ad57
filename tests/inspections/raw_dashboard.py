"""The dashboard's ticket numbers computed the way they were before the rollups: aggregates over
every ticket. Kept here, for the tests only, as the reference the rollups must equal.

- `raw_rollups()`: what each rollup table must hold, counted in Python from the ticket rows
  (local months by timezone.localtime, as core.dates and the pages count them);
- `raw_numbers()`: the dashboard's numbers per town and for the scope, by the old queries
  (grouping the tickets, RectificationTicket.objects.overdue, the 12-month window from the
  first month's local midnight with no end) and a plain median of the exact durations.

The median from the rollups is the middle minute's midpoint: within half a minute of the exact
one (MEDIAN_TOLERANCE).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from core.dates import local_midnight, month_start
from inspections.models import (
    ClosedDaysCount,
    ClosedHoursCount,
    ClosedLateCount,
    ClosedMinutesCount,
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


# Days. Half a minute, and SQLite's julianday() resolving a millisecond (each end rounded).
MEDIAN_TOLERANCE = 0.5 / 1440 + 2 / 86_400_000


def duration_days(created, closed) -> float:
    return (closed - created).total_seconds() / 86400


def whole_minutes(created, closed) -> int:
    """The minutes to close rounded down, as the triggers count them: from exact microseconds
    on PostgreSQL; on SQLite from each end rounded to the millisecond, as julianday() reads it."""
    if connection.vendor == "sqlite":
        start, end = ((_microseconds(moment) + 500) // 1000 for moment in (created, closed))
        return (end - start) // 60_000
    return (_microseconds(closed) - _microseconds(created)) // 60_000_000


def _microseconds(moment) -> int:
    delta = moment - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- the rollups' contents ----------------------------------------------------------------------


@dataclass
class Contents:
    rect_month: Counter
    running: Counter
    toilet: Counter
    closed_month: Counter  # (town, month of closing) → n, the day buckets summed
    closed_minutes: Counter  # (town, month of closing, whole minutes to close) → n
    closed_late: Counter  # (town, month of closing, closed after the deadline's local day) → n


def raw_rollups() -> Contents:
    rect_month, running, closed_month, closed = Counter(), Counter(), Counter(), Counter()
    closed_late = Counter()
    fields = ("town_id", "created_at", "state", "source_kind", "closed_at", "deadline")
    for (
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
            closed[(town, local_month(closed_at), whole_minutes(created, closed_at))] += 1
            late = deadline is not None and timezone.localdate(closed_at) > deadline
            closed_late[(town, local_month(closed_at), late)] += 1
    toilet = Counter(ToiletTicket.objects.values_list("town_id", "state", "kind"))
    return Contents(rect_month, running, toilet, closed_month, closed, closed_late)


def stored_rollups() -> Contents:
    """The rollup tables as they are, in the same shape, after checking that the three
    histograms of closed tickets nest: each day bucket's count is the sum of its hours', each
    hour's the sum of its minutes' (whole hours and days being the minutes' floor)."""
    minutes = _counter(ClosedMinutesCount, "town_id", "month", "hours", "minutes")
    hours, days = Counter(), Counter()
    closed_minutes = Counter()
    for (town, month, hour, minute), n in minutes.items():
        assert hour == minute // 60, (hour, minute)
        hours[(town, month, minute // 1440, hour)] += n
        closed_minutes[(town, month, minute)] += n
    assert _counter(ClosedHoursCount, "town_id", "month", "days", "hours") == hours
    for (town, month, day, _hour), n in hours.items():
        days[(town, month, day)] += n
    assert _counter(ClosedDaysCount, "town_id", "month", "days") == days
    closed_month = Counter()
    for (town, month, _day), n in days.items():
        closed_month[(town, month)] += n
    return Contents(
        rect_month=_counter(RectificationMonthCount, "town_id", "month", "state", "source_kind"),
        running=_counter(RunningDeadlineCount, "town_id", "deadline"),
        toilet=_counter(ToiletCount, "town_id", "state", "kind"),
        closed_month=closed_month,
        closed_minutes=closed_minutes,
        closed_late=_counter(ClosedLateCount, "town_id", "month", "late"),
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
    assert stored.closed_minutes == raw.closed_minutes
    assert stored.closed_late == raw.closed_late


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
