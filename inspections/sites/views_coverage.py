"""Monthly patrol coverage of the water sites, and the map of the sites.

Who: the task force and inspectors (county-wide) and town officers (their town); anyone else
gets 403 with the reason. Bad input (a month that is not YYYY-MM, a month not begun yet, a town
not in the user's scope) → 400, shown on the page with the filter form.
"""

from __future__ import annotations

import re
from datetime import date
from html import escape
from urllib.parse import quote

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.db.models.functions import Coalesce
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from core.dates import add_months, month_start
from inspections.grading.grades import GRADES, grade_label
from inspections.models import Assessment, AssessmentState, Presence, SiteState
from inspections.sites import coverage as selectors
from inspections.sites.coverage import CellStatus
from villages import access
from villages.models import Town, Village
from workflows.models import RectificationTicket

MONTH_RE = re.compile(r"([0-9]{4})-([0-9]{2})")
FIRST_YEAR = 2000  # nothing was patrolled with this system before; keeps date() in range


class CoverageFilter(forms.Form):
    month = forms.CharField(required=False)
    town = forms.ChoiceField(
        required=False,
        error_messages={"invalid_choice": gettext_lazy("Unknown town: %(value)s.")},
    )

    def __init__(self, data, *, towns: list[Town], today: date):
        super().__init__(data)
        self.today = today
        self.towns = {town.code: town for town in towns}
        self.fields["town"].choices = [("", _("All towns"))] + [
            (town.code, town.name) for town in towns
        ]

    def clean_month(self) -> date:
        value = self.cleaned_data["month"].strip()
        current = month_start(self.today)
        if not value:
            return current
        month = _parse_month(value)
        if month is None:
            raise forms.ValidationError(
                _("Give the month as YYYY-MM, for example %(example)s.")
                % {"example": current.strftime("%Y-%m")}
            )
        if month > current:
            raise forms.ValidationError(
                _("%(month)s has not begun yet: coverage runs up to the current month.")
                % {"month": value}
            )
        return month

    def clean_town(self) -> Town | None:
        code = self.cleaned_data["town"]
        return self.towns[code] if code else None


def _parse_month(value: str) -> date | None:
    match = MONTH_RE.fullmatch(value)
    if not match:
        return None
    year, month = int(match[1]), int(match[2])
    if year < FIRST_YEAR or not 1 <= month <= 12:
        return None
    return date(year, month, 1)


@login_required
def coverage(request):
    access.require(request.user, "coverage.view", action=_("see the patrol coverage"))
    today = timezone.localdate()
    towns = selectors.coverage_towns(user=request.user)
    form = CoverageFilter(request.GET, towns=towns, today=today)
    context = {"form": form, "today": today}
    if not form.is_valid():
        return render(request, "inspections/coverage.html", context, status=400)
    month, town = form.cleaned_data["month"], form.cleaned_data["town"]
    result = selectors.site_coverage(
        user=request.user,
        month=month,
        today=today,
        towns=towns,
        town=town,
        page=request.GET.get("page"),
    )
    context |= {
        "coverage": result,
        "town": town,
        "is_current": month == month_start(today),
        "previous_month": add_months(month, -1),
        "next_month": add_months(month, 1) if result.month_over else None,
        "query": _query_without_page(request),
        "legend": _legend(),
        "matrix": _matrix(result),
        "doubts": [(code, Presence(code).label, n) for code, n in result.doubts],
    }
    return render(request, "inspections/coverage.html", context)


class CellWords:
    """The words of the matrix's cells, translated once per page: a page has 200 × 12 cells,
    and rendering each through the template and gettext took most of the page's time."""

    PROBLEM_MARK = '<b class="cov-problem">!</b>'

    def __init__(self):
        self.labels = {status: str(label) for status, label in CellStatus.LABELS.items()}
        self.valid = _("valid %(valid)d/%(required)d")
        self.flagged = _("flagged %(n)d")
        self.problem = _("problem reported")
        self._seen: dict[selectors.Cell, str] = {}

    def title(self, cell: selectors.Cell) -> str:
        """The cell in words: its tooltip, beside the symbol that stands in for its colour."""
        parts = [f"{cell.month:%Y-%m} {self.labels[cell.status]}"]
        counts = cell.counts
        if counts.valid or counts.flagged:
            parts.append(self.valid % {"valid": counts.valid, "required": cell.required})
        if counts.flagged:
            parts.append(self.flagged % {"n": counts.flagged})
        if cell.problem:
            parts.append(self.problem)
        return " · ".join(parts)

    def row(self, cells: list[selectors.Cell]) -> SafeString:
        # Safe: every td comes from _td, whose one variable part (the title) is escaped.
        return mark_safe("".join(map(self.td, cells)))

    def td(self, cell: selectors.Cell) -> str:
        # Most cells repeat one seen before (same month, status and counts): render each once.
        html = self._seen.get(cell)
        if html is None:
            html = self._seen[cell] = self._td(cell)
        return html

    def _td(self, cell: selectors.Cell) -> str:
        # Plain string building: format_html's lazy-aware escaping cost ~40 µs a cell. The
        # title is escaped; status and symbol are constants of inspections.sites.coverage.
        mark = self.PROBLEM_MARK if cell.problem else ""
        title = escape(self.title(cell))
        return f'<td class="cov cov-{cell.status}" title="{title}">{cell.symbol}{mark}</td>'


def _matrix(result: selectors.Coverage) -> list[tuple[Town, list[tuple]]]:
    """(town, [(site, its page's URL, its cells as HTML, its doubts of the chosen month as
    [(code, label, patrols)])]) for the template."""
    words = CellWords()
    url = selectors.site_url_maker()
    labels = {code: str(label) for code, label in Presence.choices}  # translated once a page
    return [
        (
            group.town,
            [
                (
                    line.site,
                    url(line.site.code),
                    words.row(line.cells),
                    [(code, labels[code], n) for code, n in result.site_doubts(line.site.id)],
                )
                for line in group.lines
            ],
        )
        for group in result.groups
    ]


def _legend() -> list[tuple[str, str, object]]:
    return [
        (status, CellStatus.SYMBOLS[status], CellStatus.LABELS[status])
        for status in CellStatus.LEGEND
    ]


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


# --- the map ---------------------------------------------------------------------------------


def _tiles_gcj02() -> bool:
    # Tiles of Chinese providers (AMap/Gaode, Tencent) are drawn in GCJ-02: everything on top of
    # them must be shifted the same way, or it lands a few hundred metres off.
    return bool(settings.MAP_TILE_URL) and settings.MAP_TILE_GCJ02


@login_required
def site_map(request):
    access.require(request.user, "coverage.view", action=_("see the map of water sites"))
    crs = selectors.GCJ02 if _tiles_gcj02() else selectors.WGS84
    geojson_url = reverse("site_geojson")
    village_url = reverse("village_geojson")
    config = {
        "geojson": f"{geojson_url}?crs={crs}",
        "villageGeojson": f"{village_url}?crs={crs}",
        "gradeLabels": {grade: grade_label(grade) for grade in GRADES},
        "ticketBands": TICKET_BANDS,
        "noGrade": _("no published grade"),
        "openTickets": _("open rectification tickets: %(n)s"),
        "openVillage": _("Open the village's grades"),
        "shownVillages": _("Showing %(shown)s of %(total)s villages with a position."),
        "loadingVillages": _("Loading the villages…"),
        "failedVillages": _("The villages could not be loaded. Reload the page to try again."),
        "tileUrl": settings.MAP_TILE_URL,
        "attribution": settings.MAP_TILE_ATTRIBUTION,
        "labels": {state: str(label) for state, label in SiteState.choices},
        "openSite": _("Open the site page"),
        # Filled in by the script (%(name)s placeholders, as in the catalogue).
        "shown": _("Showing %(shown)s of %(total)s sites."),
        "loading": _("Loading the sites…"),
        "failed": _("The sites could not be loaded. Reload the page to try again."),
    }
    unplaced = _map_villages(request.user).filter(_NO_POSITION).count()
    context = {
        "config": config,
        "unplaced": unplaced,
        "unplaced_text": ngettext(
            "%(n)s village has no position yet: import its boundary to draw it.",
            "%(n)s villages have no position yet: import their boundaries to draw them.",
            unplaced,
        )
        % {"n": unplaced},
        "grades": [(grade, grade_label(grade)) for grade in GRADES],
        "ticket_bands": _ticket_bands(),
        "outline": selectors.county_outlines(user=request.user, crs=crs),
        "states": SiteState.choices,
        "towns": selectors.coverage_towns(user=request.user),
        "tiles": bool(config["tileUrl"]),
    }
    return render(request, "inspections/site_map.html", context)


@login_required
def site_geojson(request):
    """The sites the user may see as GeoJSON points. `?crs=gcj02` shifts them for display on
    GCJ-02 tiles; the default (and what the database stores) is WGS-84."""
    access.require(request.user, "coverage.view", action=_("see the map of water sites"))
    crs = request.GET.get("crs") or selectors.WGS84
    if crs not in (selectors.WGS84, selectors.GCJ02):
        message = _("Unknown coordinate system %(crs)s: use wgs84 or gcj02.") % {"crs": crs}
        return JsonResponse({"error": message}, status=400)
    collection = selectors.site_features(user=request.user, crs=crs)
    return JsonResponse(
        collection,
        content_type="application/geo+json",
        json_dumps_params={"ensure_ascii": False, "separators": (",", ":")},
    )


# --- villages on the map ---------------------------------------------------------------------

# A village is drawn at its centre; without one (no boundary imported yet) it is only counted.
_NO_POSITION = Q(centroid_lat__isnull=True) | Q(centroid_lng__isnull=True)
# Open tickets per village on the map: (css class suffix, lowest count) — highest band first.
TICKET_BANDS = (("t6", 6), ("t3", 3), ("t1", 1), ("t0", 0))


def _ticket_bands() -> list[tuple[str, str]]:
    """(band, label) for the legend, fewest tickets first."""
    labels = {
        "t0": _("none"),
        "t1": "1–2",
        "t3": "3–5",
        "t6": _("6 or more"),
    }
    return [(band, labels[band]) for band, _low in reversed(TICKET_BANDS)]


def _map_villages(user):
    """The administrative villages whose grades the user may see (the roles of the map and the
    village grades page). Grades, and so the map, are per administrative village."""
    return Village.objects.scoped(user, town="town_id", perm="grade.view").filter(
        level=Village.Level.ADMINISTRATIVE
    )


def _latest_grades(villages) -> dict[str, str]:
    """village code → its grade in the latest published round it was assessed in. One query:
    newest round first, the first row of each village decides (the order of village_history)."""
    rows = (
        Assessment.objects.filter(state=AssessmentState.PUBLISHED, village__in=villages)
        .order_by("village_id", "-round__campaign__year", "-round__campaign_id", "-round__number")
        .values_list("village_id", "grade")
    )
    grades: dict[str, str] = {}
    for code, grade in rows:
        grades.setdefault(code, grade)
    return grades


def _open_tickets(user, villages) -> dict[str, int]:
    """village code → its open rectification tickets (a natural village's count towards its
    administrative village). One aggregate query."""
    key = Coalesce("village__parent_id", "village_id")
    rows = (
        RectificationTicket.objects.visible_to(user)
        .open()
        .annotate(map_village=key)
        .filter(map_village__in=villages.values("code"))
        .order_by()
        .values("map_village")
        .annotate(n=Count("pk"))
        .values_list("map_village", "n")
    )
    return dict(rows)


def village_features(*, user, crs: str = selectors.WGS84, shape: bool = False) -> dict:
    """The villages with a position the user may see, as a FeatureCollection: a point at each
    centre or, with `shape`, the boundary where there is one. Three queries whatever the number
    of villages: the villages, their latest published grades, their open tickets."""
    villages = _map_villages(user).exclude(_NO_POSITION)
    fields = ["code", "name", "town_id", "town__name", "centroid_lat", "centroid_lng"]
    if shape:
        fields.append("boundary")
    rows = list(villages.order_by("code").values_list(*fields))
    grades = _latest_grades(villages)
    tickets = _open_tickets(user, villages)
    lngs, lats = selectors._display_positions([r[5] for r in rows], [r[4] for r in rows], crs)
    placeholder = "__code__"
    template = reverse("village_grades", args=[placeholder])
    features = []
    for row, lng, lat in zip(rows, lngs, lats, strict=True):
        code, name, town_code, town_name = row[:4]
        boundary = row[6] if shape else None
        if boundary:
            geometry = selectors._display_geometry(boundary, crs)
        else:
            geometry = {"type": "Point", "coordinates": [lng, lat]}
        features.append(
            {
                "type": "Feature",
                "geometry": geometry,
                "properties": {
                    "code": code,
                    "name": Village(name=name).short_name,
                    "town": town_name,
                    "town_code": town_code,
                    "grade": grades.get(code, ""),
                    "open_tickets": tickets.get(code, 0),
                    "url": template.replace(placeholder, quote(code, safe="")),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


@login_required
def village_geojson(request):
    """The villages the user may see, with a position, as GeoJSON: each with its latest published
    grade and its open tickets. `?crs=gcj02` as for the sites; `?shape=1` gives the boundaries
    (heavy) instead of the centre points."""
    access.require(request.user, "coverage.view", action=_("see the map of villages"))
    crs = request.GET.get("crs") or selectors.WGS84
    if crs not in (selectors.WGS84, selectors.GCJ02):
        message = _("Unknown coordinate system %(crs)s: use wgs84 or gcj02.") % {"crs": crs}
        return JsonResponse({"error": message}, status=400)
    shape = request.GET.get("shape") in ("1", "true")
    collection = village_features(user=request.user, crs=crs, shape=shape)
    return JsonResponse(
        collection,
        content_type="application/geo+json",
        json_dumps_params={"ensure_ascii": False, "separators": (",", ":")},
    )
