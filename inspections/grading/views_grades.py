"""Grade pages: campaigns with published rounds, a round's results (distribution, 红黑榜,
movement since the previous round, PDF and Excel), a campaign's grades (the latest acceptance
round decides) and one village's history.

Who: the task force county-wide, inspectors and town officers their jurisdiction; anyone else
gets 403 with the reason. A round whose grades are not published, or a village outside the
user's jurisdiction: 404. A malformed filter (`?town=` not a 12-digit code, `?grade=` not
A/B/C/weak): 400.
"""

from __future__ import annotations

import io
import re
from itertools import groupby

from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.http import FileResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from core.pdf import cached_pdf
from core.xlsx import XLSX, Column, ledger_write
from inspections.grading import grades as selectors
from inspections.grading.grades import GRADES, GradeRow, Tally
from villages import access

TOWN_CODE = re.compile(r"\d{12}")


def _require_viewer(request) -> None:
    access.require(request.user, "grade.view", action=_("see village grades"))


def _filters(query) -> tuple[str | None, str | None]:
    town = query.get("town") or None
    grade = query.get("grade") or None
    if town is not None and not TOWN_CODE.fullmatch(town):
        raise BadRequest(_("town must be one 12-digit division code."))
    if grade is not None and grade not in GRADES:
        raise BadRequest(_("grade must be one of A, B, C or weak."))
    return town, grade


@login_required
@require_safe
def grades_home(request):
    _require_viewer(request)
    campaigns = selectors.campaigns_published(user=request.user)
    return render(request, "inspections/grades_home.html", {"campaigns": campaigns})


@login_required
@require_safe
def campaign_grades(request, pk: int):
    _require_viewer(request)
    town, grade = _filters(request.GET)
    campaign = selectors.campaign_or_404(pk, user=request.user)
    results = selectors.campaign_results(
        campaign=campaign, user=request.user, town=town, grade=grade
    )
    context = _page_context(results, town=town, grade=grade) | {"campaign": campaign}
    return render(request, "inspections/grades_campaign.html", context)


@login_required
@require_safe
def round_grades(request, pk: int):
    _require_viewer(request)
    town, grade = _filters(request.GET)
    round = selectors.round_published_or_404(pk, user=request.user)
    results = selectors.round_results(round=round, user=request.user, town=town, grade=grade)
    context = _page_context(results, town=town, grade=grade) | {
        "round": round,
        "title": _round_title(round),
    }
    return render(request, "inspections/grades_round.html", context)


@login_required
@require_safe
def round_grades_pdf(request, pk: int):
    round, results = _round_all_results(request, pk)
    # A published round cannot change: made once per jurisdiction (and language), as its rows.
    # What can is in the key too: the campaign's name (the title) and the lists' lengths.
    rows = selectors.round_rows_key(round=round, before=results.previous_round, user=request.user)
    lists = (results.policy.top_n, results.policy.bottom_n)
    pdf = cached_pdf(
        template_name="inspections/grades_print.html",
        key=(rows, _round_title(round), lists),
        context=lambda: {
            "round": round,
            "title": _round_title(round),
            "issued_on": timezone.localdate(round.published_at),
            "results": results,
            "by_town": _by_town(results.rows),
        },
        request=request,
    )
    return FileResponse(
        io.BytesIO(pdf), filename=f"{_round_title(round)}.pdf", content_type="application/pdf"
    )


@login_required
@require_safe
def round_grades_xlsx(request, pk: int):
    round, results = _round_all_results(request, pk)
    # Every result the user may see, unfiltered: the title row says so (全部).
    handle = ledger_write(
        title=_round_title(round), columns=_xlsx_columns(), rows=map(_xlsx_row, results.rows)
    )
    return FileResponse(handle, filename=f"{_round_title(round)}.xlsx", content_type=XLSX)


@login_required
@require_safe
def village_grades(request, code: str):
    _require_viewer(request)
    village = selectors.village_or_404(user=request.user, code=code)
    history = selectors.village_history(user=request.user, village=village)
    context = {
        "village": village,
        "history": history,
        "campaign_grades": selectors.campaign_grades_of(history),
    }
    return render(request, "inspections/grades_village.html", context)


# --- helpers -------------------------------------------------------------------------------------


def _round_all_results(request, pk: int):
    """A published round and all its results the user may see, unfiltered: what the PDF and
    the Excel file carry."""
    _require_viewer(request)
    round = selectors.round_published_or_404(pk, user=request.user)
    return round, selectors.round_results(round=round, user=request.user)


def _round_title(round) -> str:
    return _("%(campaign)s round %(number)s grade results") % {
        "campaign": round.campaign.name,
        "number": round.number,
    }


def _page_context(results, *, town: str | None, grade: str | None) -> dict:
    towns = results.towns + ([results.county] if len(results.towns) > 1 else [])
    return {
        "results": results,
        "town": town,
        "grade": grade,
        "grade_label": selectors.grade_label(grade),
        "town_name": next((t.town_name for t in results.towns if t.town_code == town), town),
        "distribution": [_tally_links(tally) for tally in towns],
        "chart": _chart(towns),
        "by_town": _by_town(results.shown),
        "Change": selectors.Change,
    }


def _filter_url(town: str | None = None, grade: str | None = None) -> str:
    params = {key: value for key, value in (("town", town), ("grade", grade)) if value}
    return f"?{urlencode(params)}#villages" if params else "?#villages"


def _tally_links(tally: Tally) -> dict:
    """A row of the distribution table: every number with the URL of the villages it counts."""
    return {
        "tally": tally,
        "cells": [
            (label, count, _filter_url(tally.town_code, grade))
            for grade, label, count in tally.cells()
        ],
        "total_url": _filter_url(tally.town_code),
    }


# The chart: one horizontal bar per town (and the county), split into A/B/C/薄弱, drawn as
# inline SVG on the server (no chart library, nothing fetched). Units are the viewBox's.
CHART_WIDTH = 640
LABEL_WIDTH = 120
TOTAL_WIDTH = 44
BAR_HEIGHT = 22
BAR_GAP = 8


def _chart(tallies: list[Tally]) -> dict:
    most = max((tally.total for tally in tallies), default=0) or 1
    scale = (CHART_WIDTH - LABEL_WIDTH - TOTAL_WIDTH) / most
    bars = []
    for index, tally in enumerate(tallies):
        y = index * (BAR_HEIGHT + BAR_GAP)
        x = LABEL_WIDTH
        segments = []
        for grade, label, count in tally.cells():
            width = count * scale
            if count:
                segments.append(
                    {
                        "grade": grade,
                        "label": label,
                        "count": count,
                        "x": round(x, 1),
                        "width": round(width, 1),
                        "text_x": round(x + width / 2, 1),
                        "show_count": width >= 16,
                        "url": _filter_url(tally.town_code, grade),
                    }
                )
            x += width
        bars.append(
            {
                "tally": tally,
                "y": y,
                "text_y": y + BAR_HEIGHT / 2 + 5,
                "segments": segments,
                "total_x": round(x + 6, 1),
                "url": _filter_url(tally.town_code),
            }
        )
    return {
        "bars": bars,
        "width": CHART_WIDTH,
        "height": max(len(bars) * (BAR_HEIGHT + BAR_GAP) - BAR_GAP, 1),
        "bar_height": BAR_HEIGHT,
        "label_x": LABEL_WIDTH - 6,
    }


def _by_town(rows: list[GradeRow]) -> list[tuple[str, list[GradeRow]]]:
    ordered = sorted(rows, key=lambda row: (row.town_code, row.village_code))
    return [
        (town_rows[0].town_name, town_rows)
        for town_rows in (list(group) for _code, group in groupby(ordered, lambda r: r.town_code))
    ]


def _xlsx_columns() -> list[Column]:
    # `field` is unused here: the rows come from the selector, not from values_list().
    return [
        Column(lambda: _("Town"), "town", 12),
        Column(lambda: _("Village"), "village", 18),
        Column(lambda: _("Code"), "code", 15),
        Column(lambda: _("Score"), "score", 8),
        Column(lambda: _("Grade"), "grade", 10),
        Column(lambda: _("Veto hit"), "veto", 8),
        Column(lambda: _("Previous grade"), "previous", 12),
        Column(lambda: _("Movement"), "change", 10),
    ]


def _xlsx_row(row: GradeRow) -> list:
    return [
        row.town_name,
        row.village_name,
        row.village_code,
        row.score,
        row.grade_label,
        _("yes") if row.veto else "",
        row.previous_label,
        row.change_symbol if row.previous else "",
    ]
