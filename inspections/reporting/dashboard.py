"""Selectors of the county dashboard and of the town rankings (红黑榜 of towns).

The dashboard reads all three apps, so it lives here, in the most downstream one. Its cost is a
fixed number of aggregate queries whatever the number of tickets, sites and assessments:
1. the towns in scope;
2. rectification tickets grouped by (town, state, source);
3. overdue tickets per town (RectificationTicket.objects.overdue, on its partial index);
4. toilet tickets grouped by (state, kind);
5. tickets opened in the 12 months, grouped by (town, month), closed / still open counted;
6. tickets closed in the 12 months, grouped by month;
7. the median time to close per town (percentile_cont on PostgreSQL; on SQLite a window query
   returning the middle row(s) per town);
8–9. this month's patrol coverage (inspections.sites.coverage: site rows, patrol counts);
10–11. the latest published round and its grades grouped by (town, grade).
Python only adds up those few hundred rows.

Scope: the task force sees the county, a town officer his town(s). The dashboard's own scope is
the town-level part of those two roles' memberships, applied to every query by town code, so a
town officer sees exactly his town's numbers, on every panel.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    Count,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone

from core.dates import local_midnight, months_ending
from inspections.grading.grades import GRADES, Tally
from inspections.models import Assessment, AssessmentState, Round, RoundMode, RoundState
from inspections.sites import coverage as coverage_selectors
from villages import access
from villages.models import Town
from workflows.models import (
    RECTIFICATION_OPEN_STATES,
    RectificationState,
    RectificationTicket,
    Source,
    ToiletState,
    ToiletTicket,
)

MONTHS = 12
# Share of A+B counts as "good" in the rankings' grade measure.
GOOD_GRADES = ("A", "B")
# How many towns head the red list and close the black list.
LIST_SIZE = 3


# --- scope -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardScope:
    county_wide: bool
    town_codes: tuple[str, ...] = ()

    def q(self, path: str = "town_id") -> Q:
        return Q() if self.county_wide else Q(**{f"{path}__in": self.town_codes})


COUNTY = DashboardScope(county_wide=True)


def dashboard_scope(user) -> DashboardScope | None:
    """The towns whose numbers the user may see here; None: none at all (→ 403)."""
    scope = access.scope(user, "dashboard.view")
    if scope.county_wide:
        return COUNTY
    if scope.town_codes:
        return DashboardScope(county_wide=False, town_codes=tuple(sorted(scope.town_codes)))
    return None


# --- rows --------------------------------------------------------------------------------------


@dataclass(slots=True)
class TownStats:
    """One town's numbers; the rankings rank towns on these."""

    town: Town
    tickets: int = 0  # every rectification ticket, any time
    open: int = 0  # open now
    overdue: int = 0  # overdue now
    opened: int = 0  # opened in the 12 months
    window_closed: int = 0  # of those, closed now
    window_open: int = 0  # of those, still open (cancelled ones count in neither)
    closed_in_window: int = 0  # closed in the 12 months (the median is over these)
    median_days: float | None = None
    sites_listed: int = 0
    sites_done: int = 0
    grades: dict[str, int] = field(default_factory=lambda: dict.fromkeys(GRADES, 0))

    @property
    def closure_rate(self) -> float | None:
        """closed / (closed + open) of the tickets opened in the 12 months."""
        counted = self.window_closed + self.window_open
        return self.window_closed / counted if counted else None

    @property
    def graded(self) -> int:
        return sum(self.grades.values())

    @property
    def good_share(self) -> float | None:
        """Share of A+B among the town's villages graded in the round."""
        good = sum(self.grades[g] for g in GOOD_GRADES)
        return good / self.graded if self.graded else None

    @property
    def coverage_rate(self) -> float | None:
        return self.sites_done / self.sites_listed if self.sites_listed else None


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class MonthPoint:
    month: date
    opened: int
    closed: int


@dataclass(frozen=True)
class Dashboard:
    as_of: date
    scope: DashboardScope
    months: list[date]
    towns: list[TownStats]
    rect_total: int
    rect_by_state: list[Bucket]
    rect_by_source: list[Bucket]
    toilet_total: int
    toilet_by_state: list[Bucket]
    toilet_by_kind: list[Bucket]
    trend: list[MonthPoint]
    coverage_month: date
    grade_round: Round | None
    grade_county: Tally
    grade_towns: list[Tally]

    @property
    def overdue(self) -> int:
        return sum(t.overdue for t in self.towns)

    @property
    def sites_listed(self) -> int:
        return sum(t.sites_listed for t in self.towns)

    @property
    def sites_done(self) -> int:
        return sum(t.sites_done for t in self.towns)

    @property
    def window_closed(self) -> int:
        return sum(t.window_closed for t in self.towns)

    @property
    def window_open(self) -> int:
        return sum(t.window_open for t in self.towns)

    @property
    def closure_rate(self) -> float | None:
        counted = self.window_closed + self.window_open
        return self.window_closed / counted if counted else None


# --- months ------------------------------------------------------------------------------------


def window_months(as_of: date) -> list[date]:
    """The first days of the 12 months ending with as_of's month, oldest first."""
    return months_ending(as_of, MONTHS)


def _month_of(field_name: str, months: list[date]) -> Case:
    # Local midnights: a ticket opened at 01:00 on 1 June (Beijing) counts in June.
    return coverage_selectors.month_index(field_name, [local_midnight(m) for m in months])


# --- queries -----------------------------------------------------------------------------------


def scope_towns(scope: DashboardScope) -> list[Town]:
    return list(Town.objects.filter(scope.q("code")).only("code", "name").order_by("code"))


def _tickets(scope: DashboardScope) -> QuerySet[RectificationTicket]:
    return RectificationTicket.objects.filter(scope.q()).order_by()


def _labelled(counts: dict[str, int], choices) -> list[Bucket]:
    """Every choice in its declared order, zeros included (a chart keeps its shape)."""
    return [Bucket(value, str(label), counts.get(value, 0)) for value, label in choices]


def rectification_counts(scope: DashboardScope, stats: dict[str, TownStats]) -> tuple[dict, dict]:
    """Counts by state and by source; adds tickets and open counts to each town's stats."""
    by_state: dict[str, int] = defaultdict(int)
    by_source: dict[str, int] = defaultdict(int)
    rows = _tickets(scope).values_list("town_id", "state", "source_kind").annotate(n=Count("pk"))
    for town, state, source, n in rows:
        by_state[state] += n
        by_source[source] += n
        if town in stats:
            stats[town].tickets += n
            if state in RECTIFICATION_OPEN_STATES:
                stats[town].open += n
    return by_state, by_source


def overdue_by_town(scope: DashboardScope, *, as_of: date) -> dict[str, int]:
    rows = (
        RectificationTicket.objects.overdue(as_of=as_of)
        .filter(scope.q())
        .order_by()
        .values_list("town_id")
        .annotate(n=Count("pk"))
    )
    return dict(rows)


def toilet_counts(scope: DashboardScope) -> tuple[dict, dict]:
    by_state: dict[str, int] = defaultdict(int)
    by_kind: dict[str, int] = defaultdict(int)
    rows = (
        ToiletTicket.objects.filter(scope.q())
        .order_by()
        .values_list("state", "kind")
        .annotate(n=Count("pk"))
    )
    for state, kind, n in rows:
        by_state[state] += n
        by_kind[kind] += n
    return by_state, by_kind


def opened_by_town_and_month(
    scope: DashboardScope, months: list[date], stats: dict[str, TownStats]
) -> list[int]:
    """Tickets opened per month (the trend); per town, how many of them are closed or open."""
    rows = (
        _tickets(scope)
        .filter(created_at__gte=local_midnight(months[0]))
        .annotate(month=_month_of("created_at", months))
        .values_list("town_id", "month")
        .annotate(
            opened=Count("pk"),
            closed=Count("pk", filter=Q(state=RectificationState.CLOSED)),
            open=Count("pk", filter=Q(state__in=RECTIFICATION_OPEN_STATES)),
        )
    )
    opened = [0] * len(months)
    for town, month, n, closed, still_open in rows:
        opened[month] += n
        if town in stats:
            stats[town].opened += n
            stats[town].window_closed += closed
            stats[town].window_open += still_open
    return opened


def closed_by_month(scope: DashboardScope, months: list[date]) -> list[int]:
    rows = (
        _closed_in_window(scope, months)
        .annotate(month=_month_of("closed_at", months))
        .values_list("month")
        .annotate(n=Count("pk"))
    )
    closed = [0] * len(months)
    for month, n in rows:
        closed[month] += n
    return closed


def _closed_in_window(scope: DashboardScope, months: list[date]) -> QuerySet:
    return _tickets(scope).filter(
        state=RectificationState.CLOSED, closed_at__gte=local_midnight(months[0])
    )


class DaysBetween(Func):
    """(end - start) in days, as a float: julianday() on SQLite (Django's own duration
    arithmetic there calls a Python function per row), epoch seconds on PostgreSQL."""

    output_field = FloatField()
    arity = 2

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="(julianday(%(end)s) - julianday(%(start)s))", **extra
        )

    def as_postgresql(self, compiler, connection, **extra):
        template = "CAST(EXTRACT(EPOCH FROM (%(end)s - %(start)s)) / 86400.0 AS double precision)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sql(self, compiler, connection, template=None, **extra):
        start, end = (compiler.compile(e) for e in self.get_source_expressions())
        sql = (template or "(%(end)s - %(start)s)") % {"start": start[0], "end": end[0]}
        return sql, (*start[1], *end[1])


def median_days_by_town(scope: DashboardScope, months: list[date]) -> dict[str, tuple[float, int]]:
    """{town: (median days from opening to closing, tickets closed)} over the tickets closed in
    the 12 months, in one query returning one or two rows per town whatever the number of
    tickets: PostgreSQL has percentile_cont; SQLite has no median, so there each town's
    durations are numbered by a window function and only the middle one (odd count) or two
    (even count) come back, averaged here."""
    closed = _closed_in_window(scope, months)
    days = DaysBetween("created_at", "closed_at")
    if connection.vendor == "postgresql":
        rows = closed.values_list("town_id").annotate(median=Median(days), n=Count("pk"))
        return {town: (value, n) for town, value, n in rows}
    ranked = closed.annotate(
        days=days,
        position=Window(RowNumber(), partition_by=F("town_id"), order_by=[days.asc(), F("pk")]),
        total=Window(Count("pk"), partition_by=F("town_id")),
    )
    # Middle positions (1-based) of n rows: 2p ∈ {n, n + 1, n + 2}.
    middle = ranked.annotate(double=F("position") * 2).filter(
        double__gte=F("total"), double__lte=F("total") + 2
    )
    found: dict[str, list] = defaultdict(list)
    for town, value, total in middle.values_list("town_id", "days", "total"):
        found[town].append((value, total))
    return {
        town: (sum(v for v, _n in values) / len(values), values[0][1])
        for town, values in found.items()
    }


class Median(Aggregate):
    """PostgreSQL's exact median (the mean of the two middle values for an even count)."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def median(values: list[float]) -> float | None:
    """The plain median, for comparison in tests and the benchmark."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def coverage_by_town(user, towns: list[Town], *, as_of: date, stats: dict[str, TownStats]):
    """This month's coverage from inspections.sites.coverage (the same numbers as /sites/coverage/):
    one page of one site keeps its matrix to nothing; the town totals cover every site."""
    result = coverage_selectors.site_coverage(
        user=user, month=as_of, today=as_of, towns=towns, per_page=1
    )
    for line in result.towns:
        if line.town.code in stats:
            stats[line.town.code].sites_listed = line.tally.listed
            stats[line.town.code].sites_done = line.tally.done
    return result.month


def latest_published_round(*, acceptance_first: bool = False) -> Round | None:
    """The latest round whose grades are published; with acceptance_first, the latest
    acceptance (验收) round if there is one."""
    rounds = Round.objects.filter(state=RoundState.PUBLISHED).select_related("campaign")
    order = ["-published_at", "-pk"]
    if acceptance_first:
        acceptance = Case(
            When(mode=RoundMode.ACCEPTANCE, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
        order.insert(0, acceptance.asc())
    return rounds.order_by(*order).first()


def grade_counts(
    scope: DashboardScope, round: Round | None, stats: dict[str, TownStats]
) -> tuple[Tally, list[Tally]]:
    """The round's published grades per town and for the scope (grades.Tally, as on the grade
    pages), counted in SQL."""
    county = Tally(None, "")
    towns: dict[str, Tally] = {}
    if round is None:
        return county, []
    rows = (
        Assessment.objects.filter(scope.q("village__town_id"))
        .filter(round=round, state=AssessmentState.PUBLISHED)
        .order_by()
        .values_list("village__town_id", "grade")
        .annotate(n=Count("pk"))
    )
    for town, grade, n in rows:
        if grade not in county.counts:
            continue
        county.counts[grade] += n
        if town in stats:
            stats[town].grades[grade] += n
            name = stats[town].town.name
            towns.setdefault(town, Tally(town, name)).counts[grade] += n
    return county, [towns[code] for code in sorted(towns)]


# --- the dashboard -----------------------------------------------------------------------------


def county_dashboard(*, user, scope: DashboardScope, as_of: date | None = None) -> Dashboard:
    as_of = as_of or timezone.localdate()
    months = window_months(as_of)
    towns = scope_towns(scope)
    stats = {town.code: TownStats(town) for town in towns}
    rect_state, rect_source = rectification_counts(scope, stats)
    for town, n in overdue_by_town(scope, as_of=as_of).items():
        if town in stats:
            stats[town].overdue = n
    toilet_state, toilet_kind = toilet_counts(scope)
    opened = opened_by_town_and_month(scope, months, stats)
    closed = closed_by_month(scope, months)
    _add_medians(scope, months, stats)
    coverage_month = coverage_by_town(user, towns, as_of=as_of, stats=stats)
    round = latest_published_round()
    county, grade_towns = grade_counts(scope, round, stats)
    return Dashboard(
        as_of=as_of,
        scope=scope,
        months=months,
        towns=list(stats.values()),
        rect_total=sum(rect_state.values()),
        rect_by_state=_labelled(rect_state, RectificationState.choices),
        rect_by_source=_labelled(rect_source, Source.choices),
        toilet_total=sum(toilet_state.values()),
        toilet_by_state=_labelled(toilet_state, ToiletState.choices),
        toilet_by_kind=_labelled(toilet_kind, ToiletTicket.Kind.choices),
        trend=[MonthPoint(m, o, c) for m, o, c in zip(months, opened, closed, strict=True)],
        coverage_month=coverage_month,
        grade_round=round,
        grade_county=county,
        grade_towns=grade_towns,
    )


def _add_medians(scope: DashboardScope, months: list[date], stats: dict[str, TownStats]) -> None:
    for town, (days, closed) in median_days_by_town(scope, months).items():
        if town in stats:
            stats[town].median_days = days
            stats[town].closed_in_window = closed


# --- the rankings ------------------------------------------------------------------------------


@dataclass(slots=True)
class RankRow:
    stats: TownStats
    closure_rank: int = 0
    overdue_rank: int = 0
    grade_rank: int = 0
    position: int = 0  # 1 = best, by the combined order

    @property
    def rank_sum(self) -> int:
        return self.closure_rank + self.overdue_rank + self.grade_rank


@dataclass(frozen=True)
class Rankings:
    as_of: date
    months: list[date]
    round: Round | None
    rows: list[RankRow]  # every town of the county, best first
    shown: list[RankRow]  # the rows in the user's scope
    red: list[RankRow]  # 红榜: the best LIST_SIZE towns (in scope)
    black: list[RankRow]  # 黑榜: the worst LIST_SIZE towns (in scope), worst first

    @property
    def town_count(self) -> int:
        return len(self.rows)


def town_rankings(*, scope: DashboardScope, as_of: date | None = None) -> Rankings:
    """Every town ranked on three measures, then on their sum. Computed over the whole county
    (a rank means nothing among one town); the rows outside the user's scope are dropped
    afterwards, so a town officer sees his town's numbers and its place, no other town's."""
    as_of = as_of or timezone.localdate()
    months = window_months(as_of)
    stats = {town.code: TownStats(town) for town in scope_towns(COUNTY)}
    for town, n in overdue_by_town(COUNTY, as_of=as_of).items():
        if town in stats:
            stats[town].overdue = n
    opened_by_town_and_month(COUNTY, months, stats)
    _add_medians(COUNTY, months, stats)
    round = latest_published_round(acceptance_first=True)
    grade_counts(COUNTY, round, stats)
    rows = rank_towns(list(stats.values()))
    shown = [r for r in rows if scope.county_wide or r.stats.town.code in scope.town_codes]
    size = min(LIST_SIZE, len(rows) // 2)
    red = [r for r in rows[:size] if r in shown]
    black = [r for r in reversed(rows[len(rows) - size :]) if r in shown]
    return Rankings(as_of, months, round, rows, shown, red, black)


def rank_towns(towns: list[TownStats]) -> list[RankRow]:
    """Combined order: each town gets a rank (1 = best; equal values share a rank) on
    - closure rate over the 12 months (higher is better),
    - overdue tickets now (fewer is better),
    - share of A+B in the round (higher is better);
    a measure without data (no ticket opened, no village graded) counts as the last place
    (the number of towns): no data earns no credit. Towns are ordered by the sum of their
    three ranks, then by fewer overdue tickets, then by the higher closure rate, then by town
    code."""
    rows = [RankRow(stats) for stats in towns]
    _rank(rows, "closure_rank", lambda r: r.stats.closure_rate, higher_is_better=True)
    _rank(rows, "overdue_rank", lambda r: r.stats.overdue, higher_is_better=False)
    _rank(rows, "grade_rank", lambda r: r.stats.good_share, higher_is_better=True)
    rows.sort(
        key=lambda r: (
            r.rank_sum,
            r.stats.overdue,
            -(r.stats.closure_rate or 0),
            r.stats.town.code,
        )
    )
    for position, row in enumerate(rows, start=1):
        row.position = position
    return rows


def _rank(rows: list[RankRow], attribute: str, value, *, higher_is_better: bool) -> None:
    """Competition ranking (1, 2, 2, 4); None takes the last place, len(rows)."""
    known = [v for v in (value(r) for r in rows) if v is not None]
    for row in rows:
        v = value(row)
        if v is None:
            rank = len(rows)
        elif higher_is_better:
            rank = 1 + sum(1 for other in known if other > v)
        else:
            rank = 1 + sum(1 for other in known if other < v)
        setattr(row, attribute, rank)
