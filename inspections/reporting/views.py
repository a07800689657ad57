"""The county dashboard and the town rankings (红黑榜 of towns), with its Excel export.

Who: the task force (the county) and town officers (their town); anyone else gets 403 with the
reason. Every number links to the list behind it, filtered the same way: the ticket lists take
the parameters of workflows.tickets.filtersets (state, source_kind, town_id, overdue, kind),
coverage and the grade pages their own (?town=, ?grade=).

Charts are inline SVG drawn on the server from the numbers (core.charts; no JavaScript, nothing
from a CDN), each with a table of the same numbers beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from core.charts import Bar, BarChart, bar_chart, nice_ceiling
from core.xlsx import XLSX, Column, ledger_write
from inspections.grading.grades import GRADES, grade_label
from inspections.reporting import city as city_selectors
from inspections.reporting import dashboard as selectors
from inspections.reporting.city import CityTable, CountyStats
from inspections.reporting.dashboard import Dashboard, DashboardScope, RankRow, TownStats
from villages import access
from villages.models import County
from workflows.models import RECTIFICATION_OPEN_STATES, RectificationState, ToiletState

# --- access ------------------------------------------------------------------------------------


def _scope(request) -> tuple[DashboardScope, County | None]:
    """The viewer's dashboard scope; with ?county=, one county he holds whole (the city
    dashboard's drill-down: 404 for any other), and that county."""
    access.require(request.user, "dashboard.view", action=_("see the dashboard"))
    scope = selectors.dashboard_scope(request.user)
    if scope is None:
        raise PermissionDenied(_("Your membership names no town whose dashboard you may see."))
    if "county" in request.GET:
        return _one_county(scope, request.GET["county"])
    return scope, None


# --- links -------------------------------------------------------------------------------------


def _url(name: str, *args, **params) -> str:
    url = reverse(name, args=args)
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")}, doseq=True)
    return f"{url}?{query}" if query else url


def tickets_url(**params) -> str:
    # Any parameter replaces the list's defaults (open tickets only), so "state" is always
    # given explicitly where the number counts some states only.
    return _url("ticket_list", **params)


def all_states() -> list[str]:
    return [value for value, _label in RectificationState.choices]


# --- charts ------------------------------------------------------------------------------------

TREND_W, TREND_H = 640, 240
TREND_LEFT, TREND_RIGHT, TREND_TOP, TREND_BOTTOM = 48, 16, 16, 36


@dataclass(frozen=True)
class TrendPoint:
    month: str
    opened: int
    closed: int
    x: float
    y_opened: float
    y_closed: float


@dataclass(frozen=True)
class TrendChart:
    points: list[TrendPoint]
    opened_line: str
    closed_line: str
    ticks: list[tuple[float, int]]  # (y, value) of the horizontal grid
    width: int = TREND_W
    height: int = TREND_H
    left: int = TREND_LEFT
    right: int = TREND_W - TREND_RIGHT
    label_y: int = TREND_H - 12
    bottom: int = TREND_H - TREND_BOTTOM


def trend_chart(dashboard: Dashboard) -> TrendChart:
    top = max([max(p.opened, p.closed) for p in dashboard.trend] + [1])
    top = nice_ceiling(top)
    plot_h = TREND_H - TREND_TOP - TREND_BOTTOM
    step = (TREND_W - TREND_LEFT - TREND_RIGHT) / max(len(dashboard.trend) - 1, 1)

    def y(value: int) -> float:
        return round(TREND_TOP + plot_h * (1 - value / top), 1)

    points = [
        TrendPoint(
            f"{p.month:%Y-%m}",
            p.opened,
            p.closed,
            round(TREND_LEFT + i * step, 1),
            y(p.opened),
            y(p.closed),
        )
        for i, p in enumerate(dashboard.trend)
    ]
    return TrendChart(
        points=points,
        opened_line=" ".join(f"{p.x},{p.y_opened}" for p in points),
        closed_line=" ".join(f"{p.x},{p.y_closed}" for p in points),
        ticks=[(y(top * k // 4), top * k // 4) for k in range(5)],
    )


# --- formatting --------------------------------------------------------------------------------


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def days(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


# --- the dashboard -----------------------------------------------------------------------------


@login_required
@require_safe
def dashboard(request):
    scope, county = _scope(request)
    data = selectors.county_dashboard(user=request.user, scope=scope)
    # Drilled down into one county (?county=, a user of several counties): the lists its
    # numbers link to show that county's rows only.
    where = {"county": county.code} if county else {}
    context = {
        "county": county,
        "data": data,
        "charts": _ticket_charts(data, where),
        "town_charts": _town_charts(data),
        "towns": [_town_line(t) for t in data.towns],
        "trend": trend_chart(data),
        "coverage": _coverage(data),
        "grades": _grades(data),
        "closure_rate": percent(data.closure_rate),
        "links": {
            "all": tickets_url(**where, state=all_states()),
            "open": tickets_url(**where, state=list(RECTIFICATION_OPEN_STATES)),
            "overdue": tickets_url(**where, overdue="true"),
            "closed": tickets_url(**where, state=RectificationState.CLOSED),
            "toilet_all": _url("toilet_list", **where, state=_toilet_states()),
        },
    }
    return render(request, "inspections/dashboard.html", context)


def _one_county(scope: DashboardScope, code: str) -> tuple[DashboardScope, County]:
    # A 12-digit code or nothing: a stray value (NUL included) never reaches the query.
    valid = len(code) == 12 and code.isascii() and code.isdigit()
    narrowed = scope.one_county(code) if valid else None
    county = County.objects.filter(code=code).first() if narrowed else None
    if county is None:
        raise Http404(_("Not found, or outside your jurisdiction."))
    return narrowed, county


def _toilet_states() -> list[str]:
    return [value for value, _label in ToiletState.choices]


def _ticket_charts(data: Dashboard, where: dict) -> list[BarChart]:
    def bars(buckets, url):
        return [Bar(b.label, b.count, str(b.count), url(b.key)) for b in buckets]

    return [
        bar_chart(
            "rect-state",
            _("Rectification tickets by state"),
            _("Tickets"),
            bars(data.rect_by_state, lambda k: tickets_url(**where, state=k)),
        ),
        bar_chart(
            "rect-source",
            _("Rectification tickets by source"),
            _("Tickets"),
            bars(
                data.rect_by_source,
                lambda k: tickets_url(**where, state=all_states(), source_kind=k),
            ),
        ),
        bar_chart(
            "toilet-state",
            _("Toilet service tickets by state"),
            _("Tickets"),
            bars(data.toilet_by_state, lambda k: _url("toilet_list", **where, state=k)),
        ),
        bar_chart(
            "toilet-kind",
            _("Toilet service tickets by kind"),
            _("Tickets"),
            bars(
                data.toilet_by_kind,
                lambda k: _url("toilet_list", **where, state=_toilet_states(), kind=k),
            ),
        ),
    ]


def _town_charts(data: Dashboard) -> list[BarChart]:
    def closed(code: str) -> str:
        return tickets_url(town_id=code, state=RectificationState.CLOSED)

    return [
        _town_chart(
            "town-overdue",
            _("Overdue tickets by town"),
            _("Overdue"),
            data.towns,
            value=lambda t: t.overdue,
            text=lambda t: str(t.overdue),
            url=lambda code: tickets_url(town_id=code, overdue="true"),
        ),
        _town_chart(
            "town-closure",
            _("Closure rate by town (tickets opened in the last 12 months)"),
            _("Closure rate"),
            data.towns,
            value=lambda t: t.closure_rate,
            text=lambda t: percent(t.closure_rate),
            url=closed,
        ),
        _town_chart(
            "town-median",
            _("Median days to close by town (closed in the last 12 months)"),
            _("Median days"),
            data.towns,
            value=lambda t: t.median_days,
            text=lambda t: days(t.median_days),
            url=closed,
        ),
    ]


def _town_chart(chart_id, title, heading, towns: list[TownStats], *, value, text, url) -> BarChart:
    """A bar per town: its `value` (none counts as 0) shown as `text`, linked to the list it
    counts (`url` of the town's code). No table: the towns' table beside it has the numbers."""
    bars = [Bar(t.town.name, value(t) or 0, text(t), url(t.town.code)) for t in towns]
    return bar_chart(chart_id, title, heading, bars, table=False)


@dataclass(frozen=True)
class TownLine:
    stats: TownStats
    overdue_url: str
    open_url: str
    closed_url: str
    coverage_url: str
    closure: str
    median: str


def _town_line(stats: TownStats) -> TownLine:
    code = stats.town.code
    return TownLine(
        stats=stats,
        overdue_url=tickets_url(town_id=code, overdue="true"),
        open_url=tickets_url(town_id=code, state=list(RECTIFICATION_OPEN_STATES)),
        closed_url=tickets_url(town_id=code, state=RectificationState.CLOSED),
        coverage_url=_url("site_coverage", town=code),
        closure=percent(stats.closure_rate),
        median=days(stats.median_days),
    )


def _coverage(data: Dashboard) -> dict:
    town = data.towns[0].town.code if len(data.towns) == 1 else None
    return {
        "done": data.sites_done,
        "listed": data.sites_listed,
        "rate": percent(data.sites_done / data.sites_listed if data.sites_listed else None),
        "url": _url("site_coverage", town=town),
        "chart": _town_chart(
            "town-coverage",
            _("Water sites patrolled this month, by town"),
            _("Patrolled"),
            data.towns,
            value=lambda t: t.coverage_rate,
            text=lambda t: f"{t.sites_done}/{t.sites_listed}",
            url=lambda code: _url("site_coverage", town=code),
        ),
    }


def _grades(data: Dashboard) -> dict | None:
    round = data.grade_round
    if round is None:
        return None
    single = data.towns[0].town.code if len(data.towns) == 1 else None

    def url(town=None, grade=None) -> str:
        return _url("round_grades", round.pk, town=town or single, grade=grade)

    return {
        "round": round,
        "url": url(),
        "total": data.grade_county.total,
        "chart": bar_chart(
            "grades",
            _("Villages per grade"),
            _("Villages"),
            [
                Bar(
                    grade_label(g),
                    data.grade_county.counts[g],
                    str(data.grade_county.counts[g]),
                    url(grade=g),
                )
                for g in GRADES
            ],
        ),
        "labels": [grade_label(g) for g in GRADES],
        "towns": [
            {
                "name": tally.town_name,
                "url": url(town=tally.town_code),
                "total": tally.total,
                "cells": [(tally.counts[g], url(town=tally.town_code, grade=g)) for g in GRADES],
            }
            for tally in data.grade_towns
        ],
    }


# --- the rankings ------------------------------------------------------------------------------


@login_required
@require_safe
def town_rankings(request):
    scope, county = _scope(request)
    rankings = selectors.town_rankings(scope=scope)
    context = {
        "rankings": rankings,
        "rows": [_rank_line(r, rankings.round) for r in rankings.shown],
        "red": [_rank_line(r, rankings.round) for r in rankings.red],
        "black": [_rank_line(r, rankings.round) for r in rankings.black],
        "list_size": selectors.LIST_SIZE,
        "county_wide": scope.county_wide,
        "county": county,
    }
    return render(request, "inspections/town_rankings.html", context)


@dataclass(frozen=True)
class RankLine:
    row: RankRow
    closure: str
    good_share: str
    median: str
    overdue_url: str
    closed_url: str
    grades_url: str | None


def _rank_line(row: RankRow, round) -> RankLine:
    code = row.stats.town.code
    return RankLine(
        row=row,
        closure=percent(row.stats.closure_rate),
        good_share=percent(row.stats.good_share),
        median=days(row.stats.median_days),
        overdue_url=tickets_url(town_id=code, overdue="true"),
        closed_url=tickets_url(town_id=code, state=RectificationState.CLOSED),
        grades_url=_url("round_grades", round.pk, town=code) if round else None,
    )


def _xlsx_columns() -> list[Column]:
    return [
        Column(lambda: _("Place"), "position", 8),
        Column(lambda: _("Town"), "town", 14),
        Column(lambda: _("Closure rate (%)"), "closure", 14),
        Column(lambda: _("Closure rank"), "closure_rank", 12),
        Column(lambda: _("Overdue tickets"), "overdue", 12),
        Column(lambda: _("Overdue rank"), "overdue_rank", 12),
        Column(lambda: _("A+B share (%)"), "good", 12),
        Column(lambda: _("Grade rank"), "grade_rank", 12),
        Column(lambda: _("Sum of ranks"), "rank_sum", 12),
        Column(lambda: _("Opened in 12 months"), "opened", 14),
        Column(lambda: _("Closed of those"), "closed", 14),
        Column(lambda: _("Median days to close"), "median", 14),
        Column(lambda: _("Villages graded"), "graded", 12),
    ]


def _xlsx_row(row: RankRow) -> list:
    stats = row.stats

    def pct(rate):
        return None if rate is None else round(rate * 100, 1)

    return [
        row.position,
        stats.town.name,
        pct(stats.closure_rate),
        row.closure_rank,
        stats.overdue,
        row.overdue_rank,
        pct(stats.good_share),
        row.grade_rank,
        row.rank_sum,
        stats.opened,
        stats.window_closed,
        None if stats.median_days is None else round(stats.median_days, 1),
        stats.graded,
    ]


@login_required
@require_safe
def town_rankings_xlsx(request):
    scope, _county = _scope(request)
    rankings = selectors.town_rankings(scope=scope)
    handle = ledger_write(
        title=_("Town rankings"),
        columns=_xlsx_columns(),
        rows=map(_xlsx_row, rankings.shown),
    )
    stamp = timezone.localtime().strftime("%Y%m%d")
    return FileResponse(
        handle, as_attachment=True, filename=f"town-rankings-{stamp}.xlsx", content_type=XLSX
    )


# --- the city dashboard ------------------------------------------------------------------------


@login_required
@require_safe
def city_dashboard(request):
    """The counties of the viewer's city side by side (市级督导), each linking to its county
    dashboard; read-only."""
    access.require(request.user, "city.dashboard", action=_("see the city dashboard"))
    cities = city_selectors.city_dashboard(user=request.user)
    context = {"cities": [_city_table(city) for city in cities], "labels": _grade_labels()}
    return render(request, "inspections/city_dashboard.html", context)


@dataclass(frozen=True)
class CountyLine:
    stats: CountyStats
    url: str
    open_url: str
    overdue_url: str
    on_time_rate: str
    coverage_rate: str
    grades: list[int]


def _city_table(city: CityTable) -> dict:
    lines = [
        CountyLine(
            stats=row,
            url=_url("dashboard", county=row.county.code),
            open_url=tickets_url(county=row.county.code, state=list(RECTIFICATION_OPEN_STATES)),
            overdue_url=tickets_url(county=row.county.code, overdue="true"),
            on_time_rate=percent(row.on_time_rate),
            coverage_rate=percent(row.coverage_rate),
            grades=[row.grades[g] for g in GRADES],
        )
        for row in city.counties
    ]
    return {"code": city.code, "name": city.name, "counties": lines}


def _grade_labels() -> list[str]:
    return [grade_label(g) for g in GRADES]
