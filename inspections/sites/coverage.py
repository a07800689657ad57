"""Selectors of the coverage page and the map: for each listed water site, was it patrolled as
often as it must be, month by month, and how does each town stand this month ("本月已巡
128/133"); and the sites and the county outline as GeoJSON for the map.

The coverage page costs four queries whatever the number of sites and months:
1. the towns in scope (names for the summary, and the choices of the town filter);
2. every listed site in scope, as light tuples (a join to the village for its name): the totals
   cover all of them, the matrix only the page shown;
3. one aggregate of patrols grouped by (site, month);
4. the flags of the chosen month's flagged patrols in scope (a few percent of the patrols), so
   the page says which doubts they were (photo reused, position from a computer, …) — read
   only when asked for (Coverage.doubts): the dashboard, which shows the totals alone, does not.
Everything else — statuses, totals, pages — is computed in Python from those rows.

A patrol's month is the calendar month of Patrol.local_date (Asia/Shanghai), so no time-zone
arithmetic happens in SQL; months are compared as plain dates on both SQLite and PostgreSQL.

Which months a site owes patrols for is inspections.sites.rules.owes_patrols (from the first
full month after its registration; the 漏巡 job applies the same rule): the site rows carry it
as the index of the first month owed, computed in SQL from that rule.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import NamedTuple
from urllib.parse import quote

import numpy as np
import shapely
import shapely.geometry
from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core.dates import add_months, month_start, months_ending
from inspections.models import Patrol, PatrolResult, Presence, WaterSite
from inspections.sites.rules import first_month_owed, owes_patrols
from villages.geo import geometry_wgs84_to_gcj02, wgs84_to_gcj02
from villages.models import County, Town

MONTHS = 12
PAGE_SIZE = 200


class CellStatus:
    """A site's coverage in one month. Plain strings (used as CSS class suffixes too)."""

    DONE = "done"
    PARTIAL = "partial"
    FLAGGED = "flagged"
    MISSED = "missed"
    DUE = "due"
    UNLISTED = "unlisted"

    LABELS = {
        DONE: _("patrolled"),
        PARTIAL: _("fewer valid patrols than required"),
        FLAGGED: _("flagged patrols only"),
        MISSED: _("missed"),
        DUE: _("not patrolled yet"),
        UNLISTED: _("not on the list yet"),
    }
    # What a cell shows besides its colour, so that the status is not told by colour alone.
    SYMBOLS = {DONE: "✓", PARTIAL: "◐", FLAGGED: "⚑", MISSED: "✗", DUE: "…", UNLISTED: "—"}
    LEGEND = (DONE, PARTIAL, FLAGGED, MISSED, DUE, UNLISTED)


# --- months ------------------------------------------------------------------------------------


def month_index(field: str, starts: Sequence) -> Case:
    """The largest i with `field` >= starts[i] (`starts` ascending), else 0.

    Comparisons against the boundaries, newest first, rather than TruncMonth: plain SQL on both
    backends (on SQLite TruncMonth is a Python function called once per row), and the result is
    a small integer to group on. Rows before starts[0] get 0 too: callers filter them out, or
    mean "from the first month on"."""
    newest_first = reversed(list(enumerate(starts)))
    return Case(
        *[When(**{f"{field}__gte": start}, then=Value(i)) for i, start in newest_first if i],
        default=Value(0),
        output_field=IntegerField(),
    )


# --- rows --------------------------------------------------------------------------------------


# Rows and cells are named tuples: a page builds one per site in scope and one per site and
# month shown, and a tuple is built several times faster than a frozen dataclass.


class SiteRow(NamedTuple):
    id: int
    code: str
    name: str
    town_code: str
    village_name: str | None
    patrols_per_month: int
    # Index of the first of the 12 months the site owes patrols for (rules.first_month_owed;
    # 12: none of them): a site registered on 20 May is first due in June.
    first_index: int


class Counts(NamedTuple):
    valid: int = 0
    flagged: int = 0
    problems: int = 0


NO_PATROLS = Counts()


class Cell(NamedTuple):
    month: date
    status: str
    counts: Counts
    required: int

    @property
    def problem(self) -> bool:
        """A patrol this month reported a problem or a suspected rebound."""
        return self.counts.problems > 0

    @property
    def symbol(self) -> str:
        return CellStatus.SYMBOLS[self.status]


@dataclass(frozen=True, slots=True)
class SiteLine:
    site: SiteRow
    cells: list[Cell]


@dataclass(slots=True)
class Tally:
    listed: int = 0
    done: int = 0
    partial: int = 0
    flagged: int = 0
    missed: int = 0
    due: int = 0

    def add(self, status: str, n: int = 1) -> None:
        """Count `n` sites that owe patrols in the month (the caller leaves the others out)."""
        self.listed += n
        setattr(self, status, getattr(self, status) + n)

    @property
    def not_patrolled(self) -> int:
        return self.missed + self.due

    @property
    def rate(self) -> float | None:
        return self.done / self.listed if self.listed else None


@dataclass(slots=True)
class TownTally:
    town: Town
    tally: Tally = field(default_factory=Tally)


@dataclass(frozen=True, slots=True)
class TownGroup:
    """The page's sites of one town, for the matrix's town headings."""

    town: Town
    lines: list[SiteLine]


@dataclass(frozen=True)
class Coverage:
    month: date
    months: list[date]
    month_over: bool
    county: Tally
    towns: list[TownTally]
    page: Page
    groups: list[TownGroup]
    # (site_id, flags) of the chosen month's flagged patrols in scope: flagged_patrols_query,
    # run the first time the doubts are asked for.
    flagged: QuerySet | None = None

    @cached_property
    def _doubt_counts(self) -> tuple[Counter, dict[int, Counter]]:
        return doubt_counts(self.flagged if self.flagged is not None else ())

    @property
    def doubts(self) -> list[tuple[str, int]]:
        """The chosen month's flagged patrols in scope by kind of doubt: (Presence code,
        patrols), most frequent first. A patrol with two kinds of doubt counts under both."""
        return _most_common(self._doubt_counts[0])

    def site_doubts(self, site_id: int) -> list[tuple[str, int]]:
        """The same for one site."""
        return _most_common(self._doubt_counts[1].get(site_id))


# --- queries -----------------------------------------------------------------------------------


def coverage_towns(*, user) -> list[Town]:
    """Towns whose sites the user may see here: the summary's rows and the filter's choices.
    Scoped with the site viewers' roles, like WaterSite.objects.visible_to, so a town appears
    exactly when its sites could."""
    return list(_towns_in_scope(user).only("code", "name").order_by("code"))


def _towns_in_scope(user) -> QuerySet[Town]:
    return Town.objects.scoped(user, town="code", village="villages__code", perm="site.view")


def coverage_sites(*, user, town: Town | None = None) -> QuerySet[WaterSite]:
    """Listed sites the user may see (移出清单 excluded), in the matrix's order."""
    sites = WaterSite.objects.visible_to(user).listed()
    if town is not None:
        sites = sites.filter(town=town)
    return sites.order_by("town_id", "code")


def _site_rows(sites: QuerySet[WaterSite], months: Sequence[date]) -> list[SiteRow]:
    # The first month owed as an index computed in SQL: reading 5,000 created_at values and
    # converting each to a local date cost more than the rest of the page.
    rows = sites.annotate(first_index=first_month_owed(months)).values_list(
        "pk", "code", "name", "town_id", "village__name", "patrols_per_month", "first_index"
    )
    return list(map(SiteRow._make, _raw_rows(rows)))


COUNTS = {
    "valid": Count("pk", filter=Q(flagged=False)),
    "flagged_count": Count("pk", filter=Q(flagged=True)),
    "problems": Count("pk", filter=~Q(result=PatrolResult.NORMAL)),
}
COUNT_FIELDS = ("site_id", "month_index", "valid", "flagged_count", "problems")


def patrol_counts_query(
    *, sites: QuerySet[WaterSite], months: Sequence[date], page_ids: Iterable[int]
) -> QuerySet:
    """(site_id, month index, valid, flagged, problems) per site and month, in one statement.

    The chosen (last) month is counted for every site in scope, for the totals; the earlier
    months only for the page's sites, which are all the matrix shows. Two range reads joined by
    UNION ALL rather than one read of all 12 months filtered with an OR: 5,000 sites read ~7,000
    patrols instead of ~60,000. The first part is served by patrol_month_site (local_date,
    site, flagged); the second by patrol_site_time (site, created_at), one short range per
    page site.
    """
    last = len(months) - 1
    chosen = _month_patrols(sites, months[-1], index=last)
    page_ids = list(page_ids)
    if not (page_ids and last):
        return _grouped(chosen)
    earlier = (
        Patrol.objects.filter(
            site_id__in=page_ids, local_date__gte=months[0], local_date__lt=months[-1]
        )
        .annotate(month_index=month_index("local_date", months[:-1]))
        .values("site_id", "month_index")
    )
    return _grouped(chosen).union(_grouped(earlier), all=True)


def _month_patrols(sites: QuerySet[WaterSite], month: date, *, index: int) -> QuerySet:
    """The patrols of `sites` in `month`, as (site_id, month_index=index) rows to group."""
    return (
        # site_id + 0, not site_id: SQLite rates the scope's IN (subquery) as selective and
        # reads all 12 months of every site through patrol_site_time; hiding the column from it
        # makes it read one month of patrol_month_site instead (5,000 sites: 57 → 26 ms).
        # PostgreSQL plans a hash semi-join either way.
        Patrol.objects.alias(site_key=F("site_id") + 0)
        .filter(
            local_date__gte=month,
            local_date__lt=add_months(month, 1),
            site_key__in=sites.values("pk"),
        )
        .annotate(month_index=Value(index))
        .values("site_id", "month_index")
    )


def _grouped(patrols: QuerySet) -> QuerySet:
    return patrols.annotate(**COUNTS).values_list(*COUNT_FIELDS).order_by()


def flagged_patrols_query(*, sites: QuerySet[WaterSite], month: date) -> QuerySet:
    """(site_id, flags) of the month's flagged patrols of `sites`: served by patrol_month_site
    (local_date, site, flagged), and few — flagged patrols are the exception."""
    return (
        Patrol.objects.alias(site_key=F("site_id") + 0)  # as in patrol_counts_query
        .filter(
            flagged=True,
            local_date__gte=month,
            local_date__lt=add_months(month, 1),
            site_key__in=sites.values("pk"),
        )
        .order_by()
        .values_list("site_id", "flags")
    )


def doubt_counts(rows: Iterable[tuple[int, list]]) -> tuple[Counter, dict[int, Counter]]:
    """Patrols per kind of doubt, over all the rows and per site; a patrol counts once per
    kind however many of its photos raised it."""
    total: Counter = Counter()
    by_site: dict[int, Counter] = {}
    for site_id, flags in rows:
        codes = {flag.get("code") for flag in flags or () if flag.get("code") in Presence.values}
        total.update(codes)
        by_site.setdefault(site_id, Counter()).update(codes)
    return total, by_site


def _most_common(counts: Counter | None) -> list[tuple[str, int]]:
    # Most frequent first, then in the order of the Presence choices: stable between pages.
    order = {code: n for n, code in enumerate(Presence.values)}
    return sorted((counts or {}).items(), key=lambda item: (-item[1], order[item[0]]))


def _patrol_counts(query: QuerySet) -> dict[tuple[int, int], Counts]:
    return {
        (site_id, index): Counts(valid, flagged, problems)
        for site_id, index, valid, flagged, problems in _raw_rows(query)
    }


def _raw_rows(query: QuerySet) -> list[tuple]:
    """The rows of a values_list() query, fetched without Django's per-value converters: here
    they would only turn integers into integers, and at 5,000 sites that cost more than the
    query itself. (Only ints and strings are selected, which both backends return as such.)"""
    sql, params = query.query.sql_with_params()
    with connections[query.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# --- statuses ----------------------------------------------------------------------------------


def cell_status(*, counts: Counts, required: int, owed: bool, over: bool) -> str:
    """The status of one site in one month. `owed`: the site owes patrols in the month
    (rules.owes_patrols); `over`: the month has ended."""
    if counts.valid >= required:
        return CellStatus.DONE
    if counts.valid:
        return CellStatus.PARTIAL
    if counts.flagged:
        return CellStatus.FLAGGED
    # Before it owes patrols (up to its registration month) a site is neither missed nor due;
    # patrols recorded anyway (a site registered late, with its history) still show above.
    if not owed:
        return CellStatus.UNLISTED
    return CellStatus.MISSED if over else CellStatus.DUE


@dataclass(frozen=True)
class _Months:
    dates: list[date]
    current: int  # index of the month not over yet; len(dates) when all are over

    @staticmethod
    def owed(site: SiteRow, index: int) -> bool:
        return index >= site.first_index

    def status(self, site: SiteRow, index: int, counts: dict) -> str:
        return cell_status(
            counts=counts.get((site.id, index), NO_PATROLS),
            required=site.patrols_per_month,
            owed=self.owed(site, index),
            over=index < self.current,
        )

    def cell(self, site: SiteRow, index: int, counts: dict) -> Cell:
        found = counts.get((site.id, index), NO_PATROLS)
        status = self.status(site, index, counts)
        return Cell(self.dates[index], status, found, site.patrols_per_month)


def _tallies(
    rows: list[SiteRow], months: _Months, counts: dict, towns: list[Town]
) -> tuple[Tally, list[TownTally]]:
    """Totals of the chosen (last) month over every site in scope that owes patrols in it."""
    by_town = {town.code: TownTally(town) for town in towns}
    county = Tally()
    last = len(months.dates) - 1
    for site in rows:
        if not months.owed(site, last):
            continue
        status = months.status(site, last, counts)
        county.add(status)
        if site.town_code in by_town:
            by_town[site.town_code].tally.add(status)
    return county, list(by_town.values())


def town_tallies(*, user, month: date, today: date, towns: list[Town]) -> list[TownTally]:
    """The towns' totals of `month` exactly as site_coverage gives them (its `towns`), counted
    by the database: one row per town and status where site_coverage reads a row per site and
    one per site's patrol counts — for a page that shows the totals alone (the dashboard, where
    at 5,000 sites those 10,000 rows were most of its time).

    A site's status is cell_status for a site that owes patrols in the month, written as SQL:
    the CASE below takes its branches in the same order (tests compare the two on every
    status)."""
    month = month_start(month)
    over = month < month_start(today)
    sites = coverage_sites(user=user).filter(owes_patrols(month)).order_by()
    named = sites.values(site=F("pk"), town_code=F("town_id"), required=F("patrols_per_month"))
    site_sql, site_params = named.query.sql_with_params()
    counts = _grouped(_month_patrols(sites, month, index=0))
    count_sql, count_params = counts.query.sql_with_params()
    # The derived tables' columns are named as the queries select them: site, town_code,
    # required; site_id, month_index, valid, flagged_count, problems.
    sql = f"""
        SELECT site.town_code, CASE
            WHEN COALESCE(n.valid, 0) >= site.required THEN %s
            WHEN COALESCE(n.valid, 0) > 0 THEN %s
            WHEN COALESCE(n.flagged_count, 0) > 0 THEN %s
            ELSE %s END AS status, COUNT(*)
        FROM ({site_sql}) site LEFT JOIN ({count_sql}) n ON n.site_id = site.site
        GROUP BY 1, 2
    """
    statuses = [CellStatus.DONE, CellStatus.PARTIAL, CellStatus.FLAGGED]
    statuses.append(CellStatus.MISSED if over else CellStatus.DUE)
    by_town = {town.code: TownTally(town) for town in towns}
    with connections[sites.db].cursor() as cursor:
        cursor.execute(sql, [*statuses, *site_params, *count_params])
        for town_code, status, n in cursor.fetchall():
            if town_code in by_town:
                by_town[town_code].tally.add(status, n)
    return list(by_town.values())


def _groups(lines: list[SiteLine], towns: dict[str, Town]) -> list[TownGroup]:
    groups: list[TownGroup] = []
    for line in lines:
        code = line.site.town_code
        if not groups or groups[-1].town.code != code:
            # A site whose village lies in another town than its own (bad data) still shows.
            groups.append(TownGroup(towns.get(code) or Town(code=code, name=code), []))
        groups[-1].lines.append(line)
    return groups


# --- the page ----------------------------------------------------------------------------------


def site_coverage(
    *,
    user,
    month: date,
    today: date,
    towns: list[Town],
    town: Town | None = None,
    page: int | str | None = None,
    per_page: int | None = None,
) -> Coverage:
    """Coverage of the 12 months ending with `month` for the sites `user` may see (optionally
    one town's). `towns` is coverage_towns(user=user): fetched once by the caller, which also
    checks a town filter against it. `today` decides which month is not over yet."""
    dates = months_ending(month, MONTHS)
    current = month_start(today)
    months = _Months(dates, dates.index(current) if current in dates else len(dates))
    sites = coverage_sites(user=user, town=town)
    rows = _site_rows(sites, dates)
    paged = Paginator(rows, per_page or PAGE_SIZE).get_page(page)
    query = patrol_counts_query(
        sites=sites, months=dates, page_ids=[r.id for r in paged.object_list]
    )
    counts = _patrol_counts(query)
    county, town_tallies = _tallies(rows, months, counts, [town] if town else towns)
    lines = [
        SiteLine(row, [months.cell(row, i, counts) for i in range(len(dates))])
        for row in paged.object_list
    ]
    paged.object_list = lines
    return Coverage(
        month=dates[-1],
        months=dates,
        month_over=dates[-1] < current,
        county=county,
        towns=town_tallies,
        page=paged,
        groups=_groups(lines, {t.code: t for t in towns}),
        flagged=flagged_patrols_query(sites=sites, month=dates[-1]),
    )


# --- the map -----------------------------------------------------------------------------------

WGS84 = "wgs84"
GCJ02 = "gcj02"
COORD_DECIMALS = 6  # 1e-6 degree ≈ 0.1 m: finer than a phone's GPS, and keeps the JSON small


def site_features(*, user, crs: str = WGS84) -> dict:
    """Every site the user may see (移出清单 included: the map filters it out by default) as a
    GeoJSON FeatureCollection of points. Positions are stored in WGS-84; with crs=GCJ02 they
    are shifted for display on GCJ-02 tiles — the one place that conversion happens."""
    rows = list(
        WaterSite.objects.visible_to(user)
        .order_by("town_id", "code")
        .values_list("code", "name", "state", "town_id", "town__name", "lat", "lng")
    )
    lngs, lats = _display_positions([r[6] for r in rows], [r[5] for r in rows], crs)
    url = site_url_maker()
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lng, lat]},
            "properties": {
                "code": code,
                "name": name,
                "state": state,
                "town": town_name,
                "town_code": town_code,
                "url": url(code),
            },
        }
        for (code, name, state, town_code, town_name, _lat, _lng), lng, lat in zip(
            rows, lngs, lats, strict=True
        )
    ]
    return {"type": "FeatureCollection", "features": features}


def _display_positions(lngs: list[float], lats: list[float], crs: str):
    if crs == GCJ02 and lngs:
        # Vectorised over all sites at once: one numpy call instead of 5,000 Python ones.
        lngs, lats = (a.tolist() for a in wgs84_to_gcj02(np.array(lngs), np.array(lats)))
    return (
        [round(v, COORD_DECIMALS) for v in lngs],
        [round(v, COORD_DECIMALS) for v in lats],
    )


def site_url_maker():
    """code → the site page's URL. reverse() once with a placeholder: resolving the URL
    pattern for each of 5,000 sites costs more than the query that fetched them."""
    placeholder = "__code__"
    template = reverse("site_detail", args=[placeholder])
    return lambda code: template.replace(placeholder, quote(code, safe=""))


def county_outlines(*, user, crs: str = WGS84) -> dict:
    """The boundaries of the counties the user's towns belong to, as a FeatureCollection (empty
    when no boundary has been imported)."""
    counties = County.objects.filter(
        code__in=_towns_in_scope(user).values("county_id"), boundary__isnull=False
    ).values_list("code", "name", "boundary")
    features = [
        {
            "type": "Feature",
            "geometry": _display_geometry(boundary, crs),
            "properties": {"code": code, "name": name},
        }
        for code, name, boundary in counties
    ]
    return {"type": "FeatureCollection", "features": features}


def _display_geometry(geometry: dict, crs: str) -> dict:
    if crs != GCJ02:
        return geometry
    shifted = geometry_wgs84_to_gcj02(shapely.geometry.shape(geometry))
    shifted = shapely.transform(shifted, lambda coords: np.round(coords, COORD_DECIMALS + 1))
    return json.loads(shapely.to_geojson(shifted))
