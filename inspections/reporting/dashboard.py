"""Selectors of the county dashboard and of the town rankings (红黑榜 of towns).

The dashboard reads all three apps, so it lives here, in the most downstream one. Its ticket
numbers come from the rollup tables (inspections/reporting/models.py: counts kept exact by
database triggers, inspections/reporting/rollups.py), never from the tickets themselves, so its
cost does not grow with the number of tickets — a few hundred rollup rows per query:
1. the towns in scope;
2. rectification tickets by (town, state, source): RectificationMonthCount, all months;
3. overdue tickets per town: RunningDeadlineCount, deadlines before today (the rule of
   RectificationTicket.objects.overdue);
4. toilet tickets by (state, kind): ToiletCount;
5. tickets opened in the 12 months by (town, month), closed / still open: RectificationMonthCount;
6. tickets closed in the 12 months by month: ClosedDaysCount;
7. the median time to close per town, to the minute: ClosedDaysCount, ClosedHoursCount and
   ClosedMinutesCount (days, then hours, then minutes to close, per town) locate the middle
   ticket(s) — counts only, at most a day's 24 hours and an hour's 60 minutes per month read
   past the day histogram;
8–9. this month's patrol coverage (inspections.sites.coverage: site rows, patrol counts);
10–11. the latest published round and its grades grouped by (town, grade).
Python only adds up those rows. The months are local (Asia/Shanghai) months, as the triggers
bucket them: a ticket opened at 01:00 on 1 June, Beijing time, counts in June.

Scope: the task force sees the county, a town officer his town(s). The dashboard's own scope is
the town-level part of those two roles' memberships, applied to every query by town code, so a
town officer sees exactly his town's numbers, on every panel, and reads his towns' rows only.
The rankings rank every town of the county, so they read the county's rollup rows (a few
hundred), whoever asks.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db import connection
from django.db.models import (
    Case,
    Count,
    IntegerField,
    Q,
    Sum,
    Value,
    When,
)
from django.utils import timezone

from core.dates import month_start, months_ending
from inspections.grading.grades import GRADES, Tally
from inspections.models import (
    Assessment,
    AssessmentState,
    ClosedDaysCount,
    ClosedHoursCount,
    ClosedMinutesCount,
    RectificationMonthCount,
    Round,
    RoundMode,
    RoundState,
    RunningDeadlineCount,
    ToiletCount,
)
from inspections.sites import coverage as coverage_selectors
from villages import access
from villages.models import Town
from workflows.models import (
    RECTIFICATION_OPEN_STATES,
    RectificationState,
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
    # County-wide: the counties whose towns count (the tenant); None: every county of the
    # database (a superuser's, and the tests' whole-database figures).
    county_codes: tuple[str, ...] | None = None

    def q(self, path: str = "town_id") -> Q:
        if not self.county_wide:
            return Q(**{f"{path}__in": self.town_codes})
        if self.county_codes is None:
            return Q()
        # A subquery, not a list: the page's queries stay as many as for one town.
        towns = Town.objects.filter(county_id__in=self.county_codes).values("code")
        return Q(**{f"{path}__in": towns})

    def counties(self) -> tuple[str, ...] | None:
        """The counties this scope lies in (a town's is told by its code's first 6 digits);
        None: every county of the database."""
        if self.county_wide:
            return self.county_codes
        return tuple(sorted({f"{town[:6]}000000" for town in self.town_codes}))

    def one_county(self, code: str) -> DashboardScope | None:
        """This scope narrowed to the county `code`, which it must hold whole (a city
        supervisor's drill-down from the city dashboard); None otherwise (→ 404)."""
        if not self.county_wide:
            return None
        if self.county_codes is not None and code not in self.county_codes:
            return None
        return DashboardScope(county_wide=True, county_codes=(code,))

    def whole_counties(self) -> DashboardScope:
        """The counties this scope lies in, whole: what a town is ranked among."""
        if self.county_wide:
            return self
        counties = Town.objects.filter(code__in=self.town_codes).values_list("county_id", flat=True)
        return DashboardScope(county_wide=True, county_codes=tuple(sorted(set(counties))))


COUNTY = DashboardScope(county_wide=True)


def dashboard_scope(user) -> DashboardScope | None:
    """The towns whose numbers the user may see here; None: none at all (→ 403). A county-wide
    user sees his county's towns (a superuser every county's)."""
    scope = access.scope(user, "dashboard.view")
    if scope.everywhere:
        return COUNTY
    if scope.county_wide:
        return DashboardScope(county_wide=True, county_codes=tuple(sorted(scope.county_codes)))
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


# --- queries -----------------------------------------------------------------------------------


def scope_towns(scope: DashboardScope) -> list[Town]:
    return list(Town.objects.filter(scope.q("code")).only("code", "name").order_by("code"))


def _labelled(counts: dict[str, int], choices) -> list[Bucket]:
    """Every choice in its declared order, zeros included (a chart keeps its shape)."""
    return [Bucket(value, str(label), counts.get(value, 0)) for value, label in choices]


def _sum(value: int | None) -> int:
    return value or 0


def rectification_counts(scope: DashboardScope, stats: dict[str, TownStats]) -> tuple[dict, dict]:
    """Counts by state and by source; adds tickets and open counts to each town's stats."""
    by_state: dict[str, int] = defaultdict(int)
    by_source: dict[str, int] = defaultdict(int)
    rows = (
        RectificationMonthCount.objects.filter(scope.q())
        .values_list("town_id", "state", "source_kind")
        .annotate(n=Sum("n"))
        .order_by()
    )
    for town, state, source, n in rows:
        by_state[state] += n
        by_source[source] += n
        if town in stats:
            stats[town].tickets += n
            if state in RECTIFICATION_OPEN_STATES:
                stats[town].open += n
    return by_state, by_source


def state_counts(condition: Q, states: tuple[str, ...]) -> dict[str, int]:
    """The rectification tickets in each of `states` of the towns `condition` (a filter on
    town_id) names, from the rollup: workflows' inbox tabs and list counts read these
    (workflows.tickets.selectors.state_counts; registered by InspectionsConfig.ready())."""
    rows = (
        RectificationMonthCount.objects.filter(condition, state__in=states)
        .values_list("state")
        .annotate(n=Sum("n"))
        .order_by()
    )
    return dict(rows)


def overdue_by_town(scope: DashboardScope, *, as_of: date) -> dict[str, int]:
    """RectificationTicket.objects.overdue(as_of) per town: the running tickets whose deadline
    is before as_of (the rollup counts running tickets per deadline)."""
    rows = (
        RunningDeadlineCount.objects.filter(scope.q(), deadline__lt=as_of)
        .values_list("town_id")
        .annotate(n=Sum("n"))
        .order_by()
    )
    return dict(rows)


def toilet_counts(scope: DashboardScope) -> tuple[dict, dict]:
    by_state: dict[str, int] = defaultdict(int)
    by_kind: dict[str, int] = defaultdict(int)
    rows = (
        ToiletCount.objects.filter(scope.q())
        .values_list("state", "kind")
        .annotate(n=Sum("n"))
        .order_by()
    )
    for state, kind, n in rows:
        by_state[state] += n
        by_kind[kind] += n
    return by_state, by_kind


def month_position(month: date, months: list[date]) -> int:
    """The index of a rollup's (local) month in the window. A month after the window (a day
    after as_of's month, when as_of is in the past) counts in the last one, as "from the first
    month on" always has: the window has no end."""
    return min(bisect_right(months, month) - 1, len(months) - 1)


def opened_by_town_and_month(
    scope: DashboardScope, months: list[date], stats: dict[str, TownStats]
) -> list[int]:
    """Tickets opened per month (the trend); per town, how many of them are closed or open."""
    rows = (
        RectificationMonthCount.objects.filter(scope.q(), month__gte=months[0])
        .values_list("town_id", "month")
        .annotate(
            opened=Sum("n"),
            closed=Sum("n", filter=Q(state=RectificationState.CLOSED)),
            open=Sum("n", filter=Q(state__in=RECTIFICATION_OPEN_STATES)),
        )
        .order_by()
    )
    opened = [0] * len(months)
    for town, month, n, closed, still_open in rows:
        opened[month_position(month, months)] += n
        if town in stats:
            stats[town].opened += n
            stats[town].window_closed += _sum(closed)
            stats[town].window_open += _sum(still_open)
    return opened


def closed_by_month(scope: DashboardScope, months: list[date]) -> list[int]:
    rows = (
        ClosedDaysCount.objects.filter(scope.q(), month__gte=months[0])
        .values_list("month")
        .annotate(n=Sum("n"))
        .order_by()
    )
    closed = [0] * len(months)
    for month, n in rows:
        closed[month_position(month, months)] += n
    return closed


def median_days_by_town(scope: DashboardScope, months: list[date]) -> dict[str, tuple[float, int]]:
    """{town: (median days from opening to closing, tickets closed)} over the tickets closed in
    the 12 months (from the first month's local midnight on), the median being the middle
    ticket's time (odd count) or the mean of the middle two (even count) — to the minute: the
    middle minute bucket's midpoint, within half a minute of the exact median.

    One query, narrowing down in three steps over counts only, never a ticket: the histogram of
    whole days to close (ClosedDaysCount) tells, per town, which day bucket(s) hold the middle
    position(s) — `before` tickets in lower buckets, `total` in all; within those days, the
    histogram of whole hours (ClosedHoursCount) which hour(s); within those hours, that of whole
    minutes (ClosedMinutesCount) which minute(s). Position p (1-based) is a middle one when
    2p ∈ {total, total + 1, total + 2}, i.e. p is `low` = (total + 1) div 2 or `high` =
    total div 2 + 1 (the same for an odd count), and a bucket holds one when
    2·before ≤ total ≤ 2·(before + n)."""
    sql, params = median_sql(scope, months)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {town: (float(days), int(total)) for town, days, total in cursor.fetchall()}


def median_sql(scope: DashboardScope, months: list[date]) -> tuple[str, list]:
    """median_days_by_town's query and its parameters (the benchmark times it too, and counts
    the rollup rows each step reads: the `rows` columns)."""
    towns, codes = _town_filter(scope)
    middle = "2 * before <= total AND 2 * (before + n) >= total"
    # PostgreSQL sums bigints into numeric: back to integers, for `div` to be one.
    integer = "BIGINT"
    sql = f"""
        WITH days AS (
            SELECT town_id, days, SUM(n) AS n, COUNT(*) AS rows
            FROM {ClosedDaysCount._meta.db_table}
            WHERE month >= %s {towns} GROUP BY town_id, days
        ), days_placed AS (
            SELECT town_id, days, n,
                CAST(SUM(n) OVER (PARTITION BY town_id ORDER BY days) - n AS {integer}) AS before,
                CAST(SUM(n) OVER (PARTITION BY town_id) AS {integer}) AS total
            FROM days
        ), middle_days AS (
            SELECT town_id, days, before, total FROM days_placed WHERE {middle}
        ), hours AS (
            SELECT h.town_id, h.days, h.hours, SUM(h.n) AS n, COUNT(*) AS rows
            FROM {ClosedHoursCount._meta.db_table} h
            JOIN middle_days d ON d.town_id = h.town_id AND d.days = h.days
            WHERE h.month >= %s GROUP BY h.town_id, h.days, h.hours
        ), hours_placed AS (
            SELECT h.town_id, h.hours, h.n, d.total, CAST(d.before + SUM(h.n) OVER (
                PARTITION BY h.town_id, h.days ORDER BY h.hours
            ) - h.n AS {integer}) AS before
            FROM hours h JOIN middle_days d ON d.town_id = h.town_id AND d.days = h.days
        ), middle_hours AS (
            SELECT town_id, hours, before, total FROM hours_placed WHERE {middle}
        ), minutes AS (
            SELECT m.town_id, m.hours, m.minutes, SUM(m.n) AS n, COUNT(*) AS rows
            FROM {ClosedMinutesCount._meta.db_table} m
            JOIN middle_hours h ON h.town_id = m.town_id AND h.hours = m.hours
            WHERE m.month >= %s GROUP BY m.town_id, m.hours, m.minutes
        ), minutes_placed AS (
            SELECT m.town_id, m.minutes, m.n, h.total, CAST(h.before + SUM(m.n) OVER (
                PARTITION BY m.town_id, m.hours ORDER BY m.minutes
            ) - m.n AS {integer}) AS before
            FROM minutes m JOIN middle_hours h ON h.town_id = m.town_id AND h.hours = m.hours
        ), middle_minutes AS (
            SELECT town_id, minutes, before, n, total,
                (total + 1) / 2 AS low, total / 2 + 1 AS high
            FROM minutes_placed WHERE {middle}
        )
        SELECT town_id, (
            SUM(CASE WHEN before < low AND low <= before + n THEN minutes END)
            + SUM(CASE WHEN before < high AND high <= before + n THEN minutes END) + 1
        ) / 2880.0, MAX(total)
        FROM middle_minutes GROUP BY town_id
    """
    start = connection.ops.adapt_datefield_value(months[0])
    return sql, [start, *codes, start, start]


def _town_filter(scope: DashboardScope) -> tuple[str, list[str]]:
    if scope.county_wide and scope.county_codes is None:
        return "", []
    if scope.county_wide:
        marks = ", ".join(["%s"] * len(scope.county_codes))
        towns = f"SELECT code FROM {Town._meta.db_table} WHERE county_id IN ({marks})"
        return f"AND town_id IN ({towns})", list(scope.county_codes)
    marks = ", ".join(["%s"] * len(scope.town_codes))
    return f"AND town_id IN ({marks})", list(scope.town_codes)


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
    """This month's coverage from inspections.sites.coverage (the same numbers as the town
    totals of /sites/coverage/), counted per town by the database."""
    for line in coverage_selectors.town_tallies(user=user, month=as_of, today=as_of, towns=towns):
        if line.town.code in stats:
            stats[line.town.code].sites_listed = line.tally.listed
            stats[line.town.code].sites_done = line.tally.done
    return month_start(as_of)


def latest_published_round(
    scope: DashboardScope, *, acceptance_first: bool = False
) -> Round | None:
    """The latest round of the scope's counties whose grades are published (campaigns are
    each county's: another county's round is never named); with acceptance_first, the latest
    acceptance (验收) round if there is one."""
    rounds = Round.objects.filter(state=RoundState.PUBLISHED).select_related("campaign")
    if scope.counties() is not None:
        rounds = rounds.filter(campaign__county_id__in=scope.counties())
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
    round = latest_published_round(scope)
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
    county = scope.whole_counties()
    stats = {town.code: TownStats(town) for town in scope_towns(county)}
    for town, n in overdue_by_town(county, as_of=as_of).items():
        if town in stats:
            stats[town].overdue = n
    opened_by_town_and_month(county, months, stats)
    _add_medians(county, months, stats)
    round = latest_published_round(county, acceptance_first=True)
    grade_counts(county, round, stats)
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
