"""Reads for campaigns, rounds and assessments: the rounds × villages coverage matrix and the
assessment page. A few queries whatever the number of villages."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet

from inspections.grading.scoring import grade_of
from inspections.models import (
    Assessment,
    Campaign,
    ChecklistItem,
    Deduction,
    GradingPolicy,
    Round,
    RoundState,
)
from villages.models import Village

MATRIX_PAGE = 100
# A round still running or over: a village without an assessment in it is "not yet" or missed.
STARTED = (RoundState.ACTIVE, RoundState.CLOSED, RoundState.PUBLISHED)
OVER = (RoundState.CLOSED, RoundState.PUBLISHED)


def villages_in_scope(user, *, county: str | None) -> QuerySet[Village]:
    """The administrative villages of `county` (a campaign's; None: of any county) in the
    user's jurisdiction."""
    villages = Village.objects.administrative().scoped(
        user, town="town_id", village="code", perm="grade.view"
    )
    if county is not None:
        villages = villages.filter(town__county_id=county)
    return (
        villages.select_related("town")
        .only("code", "name", "town__code", "town__name", "town__county_id")
        .order_by("town_id", "code")
    )


@dataclass
class Cell:
    state: str  # an AssessmentState, "missed", "due" or "" (round not started)
    assessment: Assessment | None = None


@dataclass
class MatrixRow:
    village: Village
    cells: list[Cell]
    missed: int


def coverage_matrix(*, campaign: Campaign, user, town: str | None, missed_only: bool, page):
    """Rounds × villages of the user's scope: who was assessed in which round, who missed."""
    rounds = list(campaign.rounds.order_by("number"))
    villages = villages_in_scope(user, county=campaign.county_id)
    if town:
        villages = villages.filter(town_id=town)
    over = [r.pk for r in rounds if r.state in OVER]
    if missed_only and over:
        assessed_all = (
            Assessment.objects.filter(round_id__in=over)
            .values("village_id")
            .annotate(n=Count("round", distinct=True))
            .filter(n=len(over))
            .values("village_id")
        )
        villages = villages.exclude(code__in=assessed_all)
    listing = Paginator(villages, MATRIX_PAGE).get_page(page)
    codes = [village.code for village in listing.object_list]
    found = {
        (a.round_id, a.village_id): a
        for a in Assessment.objects.filter(round__campaign=campaign, village_id__in=codes).only(
            "pk", "round_id", "village_id", "state", "score", "veto", "grade"
        )
    }
    rows = []
    for village in listing.object_list:
        cells = [_cell(found.get((r.pk, village.code)), r) for r in rounds]
        rows.append(MatrixRow(village, cells, sum(c.state == "missed" for c in cells)))
    return rounds, rows, listing


def _cell(assessment: Assessment | None, round: Round) -> Cell:
    if assessment is not None:
        return Cell(assessment.state, assessment)
    if round.state in OVER:
        return Cell("missed")
    return Cell("due" if round.state == RoundState.ACTIVE else "")


def missed_counts(*, campaign: Campaign, user) -> dict[int, int]:
    """Per round that is over: how many villages in scope have no assessment in it."""
    villages = villages_in_scope(user, county=campaign.county_id)
    total = villages.count()
    done = dict(
        Assessment.objects.filter(round__campaign=campaign, village__in=villages)
        .values("round_id")
        .annotate(n=Count("village", distinct=True))
        .values_list("round_id", "n")
    )
    return {r.pk: total - done.get(r.pk, 0) for r in campaign.rounds.all() if r.state in OVER}


def round_assessments(*, round: Round, user) -> QuerySet[Assessment]:
    return (
        Assessment.objects.visible_to(user)
        .filter(round=round)
        .select_related("village", "village__town", "inspector")
        .defer("village__boundary", "village__town__boundary")
        .annotate(deduction_count=Count("deductions"))
        .order_by("village__town_id", "village_id")
    )


@dataclass
class ItemLine:
    item: ChecklistItem
    deduction: Deduction | None


def assessment_lines(assessment: Assessment) -> list[ItemLine]:
    """Every item of the round's checklist with this assessment's deduction, if any."""
    deductions = {
        d.item_id: d
        for d in assessment.deductions.select_related("ticket").prefetch_related("photos")
    }
    items = assessment.round.template.items.order_by("order", "code")
    return [ItemLine(item, deductions.get(item.pk)) for item in items]


def provisional_grade(assessment: Assessment) -> str:
    """The grade the current score would get (published grades are stored, not this)."""
    if assessment.grade:
        return assessment.grade
    policy = GradingPolicy.current(assessment.round.campaign.county_id)
    return grade_of(score=assessment.score, veto=assessment.veto, policy=policy)


def villages_near(*, user, county: str, lat: float, lng: float) -> Village | None:
    """The village the GPS point lies in (or nearest), if the user may assess it."""
    from villages.lookup import locate

    found = locate(lng=lng, lat=lat)
    if found is None or found.village is None:
        return None
    return (
        villages_in_scope(user, county=county)
        .filter(Q(code=found.village.code) | Q(code=found.village.code[:12]))
        .first()
    )
