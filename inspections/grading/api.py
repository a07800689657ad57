"""The JSON API's rounds and grades (config/api.py), read only, for those who see them on the
pages (grade.view: the task force, inspectors and town officers; anyone else 403 with the
reason).

- GET /rounds, /rounds/{id}: the campaigns' rounds (a round is the county's: no jurisdiction
  of its own), as the rounds pages list them.
- GET /rounds/{id}/grades: a round's published grades, one per village of the caller's
  jurisdiction, with the page's `town` and `grade` filters and the distribution per town — the
  same selector as the grade page (inspections.grading.grades), so nothing unpublished: a round
  whose grades are not published answers 404, as its page does.
"""

from __future__ import annotations

import datetime
import re
from typing import Annotated

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from pydantic import Field

from core.api import Error, Page, cursor_page
from core.errors import ApplicationError, Forbidden
from inspections.grading import grades as selectors
from inspections.grading.grades import GRADES
from inspections.models import Grade, Round, RoundMode, RoundState
from villages import access

router = Router(tags=["rounds and grades"])

TOWN_CODE = re.compile(r"\d{12}")
# Reads of a county-wide thing: 403 for a role that sees no grades, besides the usual.
RESPONSES = {400: Error, 401: Error, 403: Error, 404: Error, 429: Error}


class RoundOut(Schema):
    id: int
    campaign_id: int
    campaign: str
    year: int
    number: int
    mode: RoundMode
    state: RoundState
    starts_on: datetime.date
    ends_on: datetime.date
    published_at: datetime.datetime | None = Field(description="When its grades were published")
    checklist: str | None = Field(description="The checklist version it is scored by")

    @staticmethod
    def resolve_campaign(round) -> str:
        return round.campaign.name

    @staticmethod
    def resolve_year(round) -> int:
        return round.campaign.year

    @staticmethod
    def resolve_checklist(round) -> str | None:
        return str(round.template) if round.template_id else None


class GradeOut(Schema):
    village_code: str
    village_name: str
    town_code: str
    town_name: str
    score: float
    veto: bool = Field(description="A veto item was hit (一票否决): graded 薄弱 whatever the score")
    grade: Grade
    deductions: int
    previous_grade: Grade | None = Field(
        description="Its grade in the campaign's previous published round"
    )
    change: str = Field(json_schema_extra={"enum": ["up", "down", "same", "new"]})

    @staticmethod
    def resolve_previous_grade(row) -> str | None:
        return row.previous


class TallyOut(Schema):
    town_code: str | None = Field(description="null: the whole of the caller's jurisdiction")
    town_name: str
    A: int
    B: int
    C: int
    weak: int
    total: int


class RoundGradesOut(Schema):
    round: RoundOut
    distribution: list[TallyOut]
    grades: list[GradeOut]


def _require_viewer(user) -> None:
    # The pages' words (views_grades), as a 403 of the API rather than Django's page.
    if access.scope(user, "grade.view").is_empty:
        raise Forbidden(_("Your role may not %(action)s.") % {"action": _("see village grades")})


def _rounds(user):
    """Rounds of the counties the caller works in (another county's: 404)."""
    return Round.objects.visible_to(user).select_related("campaign", "template")


@router.get(
    "/rounds",
    response={200: Page[RoundOut], **RESPONSES},
    summary="Rounds",
    url_name="api_round_list",
)
def round_list(
    request,
    campaign: int | None = Query(None, description="A campaign's id"),
    state: RoundState | None = None,
    cursor: str | None = None,
    page_size: int | None = None,
):
    """Every campaign's rounds of village inspection (村村到) in the caller's county, newest
    first."""
    _require_viewer(request.user)
    rounds = _rounds(request.user)
    if campaign is not None:
        rounds = rounds.filter(campaign_id=campaign)
    if state is not None:
        rounds = rounds.filter(state=state)
    return cursor_page(rounds, cursor=cursor, size=page_size)


@router.get(
    "/rounds/{pk}",
    response={200: RoundOut, **RESPONSES},
    summary="One round",
    url_name="api_round_detail",
)
def round_detail(request, pk: int):
    _require_viewer(request.user)
    return get_object_or_404(_rounds(request.user), pk=pk)


@router.get(
    "/rounds/{pk}/grades",
    response={200: RoundGradesOut, **RESPONSES},
    summary="A round's published grades",
    url_name="api_round_grades",
)
def round_grades(
    request,
    pk: int,
    town: str | None = Query(None, description="A town's 12-digit code"),
    grade: Annotated[Grade | None, Query(description="Only the villages with this grade")] = None,
):
    """The round's published grades of the villages in the caller's jurisdiction, by village
    code, with the movement since the campaign's previous published round; `distribution` counts
    every grade the caller may see (a town each, then the whole), whatever the filters. 404
    until the round's grades are published."""
    _require_viewer(request.user)
    if town is not None and not TOWN_CODE.fullmatch(town):
        raise ApplicationError(_("town must be one 12-digit division code."))
    round = selectors.round_published_or_404(pk, user=request.user)
    results = selectors.round_results(round=round, user=request.user, town=town, grade=grade)
    return {
        "round": round,
        "distribution": [_tally(tally) for tally in [*results.towns, results.county]],
        "grades": results.shown,
    }


def _tally(tally: selectors.Tally) -> dict:
    counts = {str(grade): tally.counts[grade] for grade in GRADES}
    return counts | {
        "town_code": tally.town_code,
        "town_name": tally.town_name,
        "total": tally.total,
    }
