"""The city dashboard (市级督导): the counties of a city side by side, read-only (issue 20).

One row per county the viewer holds `city.dashboard` in (a city supervisor: every county of his
city stored now; a superuser: every county, grouped by city), whatever the number of counties in
a fixed number of queries:
1. the counties, 2. the cities' names (a city whose row was never imported is named by its
   code: villages.models.City.label);
3. tickets closed on time and late (the ClosedLateCount rollup, grouped by the town's county);
4. tickets open now (RectificationMonthCount) and 5. overdue now (RunningDeadlineCount), rollups
   grouped by the town's county, the county dashboard's rules;
6–8. this month's patrol coverage (inspections.sites.coverage, the county dashboard's numbers);
9–10. each county's latest published round (the round with the latest publication among those
   holding published grades in the county) and its grade distribution.
Each county's name links to its county dashboard (/dashboard/?county=…), the drill-down.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, Sum
from django.utils import timezone

from inspections.grading.grades import GRADES
from inspections.models import (
    Assessment,
    AssessmentState,
    ClosedLateCount,
    RectificationMonthCount,
    Round,
    RunningDeadlineCount,
)
from inspections.sites import coverage as coverage_selectors
from villages import access
from villages.models import City, County, Town, city_code_of
from workflows.models import RECTIFICATION_OPEN_STATES


@dataclass(slots=True)
class CountyStats:
    county: County
    closed_on_time: int = 0  # closed on or before the deadline's day (or without a deadline)
    closed_late: int = 0  # closed after it
    open: int = 0
    overdue: int = 0
    sites_listed: int = 0
    sites_done: int = 0
    round: Round | None = None  # the county's latest published round
    grades: dict[str, int] = field(default_factory=lambda: dict.fromkeys(GRADES, 0))

    @property
    def on_time_rate(self) -> float | None:
        closed = self.closed_on_time + self.closed_late
        return self.closed_on_time / closed if closed else None

    @property
    def coverage_rate(self) -> float | None:
        return self.sites_done / self.sites_listed if self.sites_listed else None

    @property
    def graded(self) -> int:
        return sum(self.grades.values())


@dataclass(frozen=True)
class CityTable:
    code: str
    name: str
    counties: list[CountyStats]


def city_counties(user) -> list[County]:
    """The counties whose numbers `user` may compare here, by code."""
    granted = access.scope(user, "city.dashboard")
    counties = County.objects.only("code", "name", "parent_code").order_by("code")
    if granted.everywhere:
        return list(counties)
    return list(counties.filter(code__in=sorted(granted.county_codes)))


def city_dashboard(*, user, as_of: date | None = None) -> list[CityTable]:
    as_of = as_of or timezone.localdate()
    counties = city_counties(user)
    stats = {county.code: CountyStats(county) for county in counties}
    codes = sorted(stats)
    _closed_on_time(codes, stats)
    _open_and_overdue(codes, stats, as_of=as_of)
    _coverage(user, codes, stats, as_of=as_of)
    _grades(codes, stats)
    return _by_city(list(stats.values()))


def _by_city(rows: list[CountyStats]) -> list[CityTable]:
    grouped: dict[str, list[CountyStats]] = defaultdict(list)
    for row in rows:
        grouped[city_code_of(row.county.code)].append(row)
    names = dict(City.objects.filter(code__in=sorted(grouped)).values_list("code", "name"))
    return [CityTable(code, City.label(code, names), grouped[code]) for code in sorted(grouped)]


def _closed_on_time(codes: list[str], stats: dict[str, CountyStats]) -> None:
    """On time: closed on a local day no later than the deadline; a ticket without a deadline
    is never late (as it is never overdue: workflows.tickets.models.rectification_is_overdue).
    Read from the rollup (ClosedLateCount), a few rows per town and month."""
    rows = (
        ClosedLateCount.objects.filter(town__county_id__in=codes)
        .values_list("town__county_id", "late")
        .annotate(n=Sum("n"))
        .order_by()
    )
    for county, late, n in rows:
        if late:
            stats[county].closed_late += n
        else:
            stats[county].closed_on_time += n


def _open_and_overdue(codes: list[str], stats: dict[str, CountyStats], *, as_of: date) -> None:
    open_rows = (
        RectificationMonthCount.objects.filter(
            town__county_id__in=codes, state__in=RECTIFICATION_OPEN_STATES
        )
        .values_list("town__county_id")
        .annotate(n=Sum("n"))
        .order_by()
    )
    for county, n in open_rows:
        stats[county].open = n
    overdue_rows = (
        RunningDeadlineCount.objects.filter(town__county_id__in=codes, deadline__lt=as_of)
        .values_list("town__county_id")
        .annotate(n=Sum("n"))
        .order_by()
    )
    for county, n in overdue_rows:
        stats[county].overdue = n


def _coverage(user, codes: list[str], stats: dict[str, CountyStats], *, as_of: date) -> None:
    """This month's coverage as the county dashboard counts it, town by town, added up."""
    towns = list(Town.objects.filter(county_id__in=codes).only("code", "name", "county_id"))
    for line in coverage_selectors.town_tallies(user=user, month=as_of, today=as_of, towns=towns):
        row = stats[line.town.county_id]
        row.sites_listed += line.tally.listed
        row.sites_done += line.tally.done


def _grades(codes: list[str], stats: dict[str, CountyStats]) -> None:
    """Per county, the published grades of its latest published round."""
    rows = (
        Assessment.objects.filter(
            state=AssessmentState.PUBLISHED, village__town__county_id__in=codes
        )
        .values_list("village__town__county_id", "round_id", "round__published_at", "grade")
        .annotate(n=Count("pk"))
        .order_by()
    )
    latest: dict[str, tuple] = {}
    counts: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for county, round_id, published_at, grade, n in rows:
        counts[county, round_id][grade] += n
        key = (published_at.timestamp() if published_at else 0.0, round_id)
        if county not in latest or key > latest[county]:
            latest[county] = key
    rounds = Round.objects.filter(pk__in=[key[1] for key in latest.values()])
    rounds = {r.pk: r for r in rounds.select_related("campaign")}
    for county, (_published, round_id) in latest.items():
        stats[county].round = rounds[round_id]
        for grade, n in counts[county, round_id].items():
            if grade in stats[county].grades:
                stats[county].grades[grade] = n
