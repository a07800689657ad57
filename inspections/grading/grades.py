"""Selectors of the grade pages: published grades of a round and of a campaign, their
distribution per town, the red and black lists (红黑榜), movement between rounds, and the grade
history of one village.

Only published assessments count, with the grade stored when they were published: nothing here
grades a score again, so a later change of the grading policy changes no grade shown.

Every page costs a fixed number of queries whatever the number of villages: the rounds involved
(one or two queries), one query for the assessments (village and town joined, deductions counted
in a subquery) and, for movement, one for the previous round's grades. Distribution, rankings
and filtering are one pass in Python over those rows (at most a few hundred per round).

A published round cannot change (publishing is its last transition and freezes its grades), so
its rows — the 558-village table the page, the PDF and the Excel file are made from — are kept
in the "documents" cache per round and jurisdiction (round_rows_key); the round's PDF is cached
under the same key (views_grades). A village renamed later still shows its old name there until
the entry ages out (settings.DOCUMENT_CACHE_SECONDS), as the PDF printed that day did.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.cache import caches
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils.translation import gettext as _

from inspections.models import (
    Assessment,
    AssessmentState,
    Campaign,
    Deduction,
    Grade,
    GradingPolicy,
    Round,
    RoundMode,
    RoundState,
)
from villages import access
from villages.models import Village

GRADES = (Grade.A, Grade.B, Grade.C, Grade.WEAK)
# Higher is better: movement between rounds compares these.
RANK = {Grade.A: 4, Grade.B: 3, Grade.C: 2, Grade.WEAK: 1}


class Change:
    UP = "up"
    DOWN = "down"
    SAME = "same"
    NEW = "new"  # not assessed (or not published) in the previous round
    SYMBOLS = {UP: "↑", DOWN: "↓", SAME: "=", NEW: "—"}


def grade_label(grade: str | None) -> str:
    return str(Grade(grade).label) if grade else ""


# --- rows --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GradeRow:
    """One village's published grade in one round."""

    village_code: str
    village_name: str
    town_code: str
    town_name: str
    round_id: int
    round_number: int
    score: Decimal
    veto: bool
    grade: str
    deductions: int
    previous: str | None = None  # its grade in the previous published round, if any

    @property
    def change(self) -> str:
        if not self.previous:
            return Change.NEW
        now, before = RANK[self.grade], RANK[self.previous]
        return Change.UP if now > before else Change.DOWN if now < before else Change.SAME

    @property
    def change_symbol(self) -> str:
        return Change.SYMBOLS[self.change]

    @property
    def grade_label(self) -> str:
        return grade_label(self.grade)

    @property
    def previous_label(self) -> str:
        return grade_label(self.previous)


@dataclass(slots=True)
class Tally:
    """Counts of A/B/C/薄弱 of one town (town_code None: the county)."""

    town_code: str | None
    town_name: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(GRADES, 0))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def cells(self) -> list[tuple[str, str, int]]:
        """(grade, label, count) in band order, for the table and the chart."""
        return [(grade, grade_label(grade), self.counts[grade]) for grade in GRADES]


@dataclass(frozen=True, slots=True)
class TownRanking:
    town_code: str
    town_name: str
    red: list[GradeRow]
    black: list[GradeRow]


@dataclass(frozen=True)
class Results:
    rows: list[GradeRow]  # every published grade in the user's scope
    shown: list[GradeRow]  # those passing the town/grade filter
    towns: list[Tally]
    county: Tally
    rankings: list[TownRanking]
    policy: GradingPolicy


@dataclass(frozen=True)
class RoundResults(Results):
    round: Round
    previous_round: Round | None


@dataclass(frozen=True)
class CampaignResults(Results):
    campaign: Campaign
    rounds: list[Round]  # the campaign's published rounds, in order
    acceptance_rounds: list[Round]


# --- queries -----------------------------------------------------------------------------------


def published_rounds(*, user) -> QuerySet[Round]:
    """Rounds whose grades are published, of the counties the user works in."""
    return (
        Round.objects.visible_to(user).filter(state=RoundState.PUBLISHED).select_related("campaign")
    )


def campaigns_published(*, user) -> list[Campaign]:
    """Campaigns with at least one published round, each with `published` (its rounds)."""
    rounds = published_rounds(user=user).order_by("-campaign__year", "campaign__name", "number")
    rounds = list(rounds)
    campaigns: dict[int, Campaign] = {}
    for round in rounds:
        campaign = campaigns.setdefault(round.campaign_id, round.campaign)
        campaign.__dict__.setdefault("published", []).append(round)
    return list(campaigns.values())


def round_published_or_404(pk: int, *, user) -> Round:
    """The round if its grades are published; 404 otherwise (planned, active, closed, missing,
    another county's)."""
    try:
        return published_rounds(user=user).get(pk=pk)
    except Round.DoesNotExist:
        raise Http404(_("No published grades for this round.")) from None


def campaign_or_404(pk: int, *, user) -> Campaign:
    try:
        return Campaign.objects.visible_to(user).get(pk=pk)
    except Campaign.DoesNotExist:
        raise Http404(_("No such campaign.")) from None


def _deduction_count() -> Coalesce:
    # A correlated COUNT rather than annotate(Count("deductions")): a join would need GROUP BY
    # over every selected column of the assessment, its village and its town.
    per_assessment = (
        Deduction.objects.filter(assessment=OuterRef("pk"))
        .order_by()
        .values("assessment")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(per_assessment, output_field=IntegerField()), Value(0))


def published_assessments(*, user) -> QuerySet[Assessment]:
    """Published assessments the user may see, with village, town, round and deduction count."""
    return (
        Assessment.objects.visible_to(user)
        .filter(state=AssessmentState.PUBLISHED)
        .select_related("village__town", "round")
        .annotate(deduction_count=_deduction_count())
    )


def _row(assessment: Assessment, previous: str | None = None) -> GradeRow:
    village = assessment.village
    return GradeRow(
        village_code=village.code,
        village_name=village.short_name,
        town_code=village.town_id,
        town_name=village.town.name,
        round_id=assessment.round_id,
        round_number=assessment.round.number,
        score=assessment.score,
        veto=assessment.veto,
        grade=assessment.grade,
        deductions=assessment.deduction_count,
        previous=previous,
    )


def previous_round(round: Round) -> Round | None:
    """The campaign's published round numbered just before `round`."""
    return (
        Round.objects.filter(
            state=RoundState.PUBLISHED, campaign_id=round.campaign_id, number__lt=round.number
        )
        .order_by("-number")
        .first()
    )


def round_results(
    *, round: Round, user, town: str | None = None, grade: str | None = None
) -> RoundResults:
    before = previous_round(round)
    if round.state != RoundState.PUBLISHED:
        rows = _round_rows(round, before, user)
    else:
        cache = caches["documents"]
        key = round_rows_key(round=round, before=before, user=user)
        rows = cache.get(key)
        if rows is None:
            rows = _round_rows(round, before, user)
            cache.set(key, rows)
    return RoundResults(
        **_summary(rows, county=round.campaign.county_id, town=town, grade=grade),
        round=round,
        previous_round=before,
    )


def round_rows_key(*, round: Round, before: Round | None, user) -> str:
    """What a published round's rows depend on: the round, the previous published round they
    are compared with (a lower-numbered round published later becomes it), and the towns and
    villages where `user` may see grades — not the user: everyone of one jurisdiction shares."""
    scope = access.scope(user, "grade.view")
    previous = (before.pk, before.published_at.isoformat()) if before else None
    jurisdiction = (
        scope.everywhere,
        sorted(scope.county_codes),  # each county its own (the tenant)
        sorted(scope.town_codes),
        sorted(scope.village_codes),
    )
    parts = (round.published_at.isoformat(), previous, jurisdiction)
    return f"grades:round:{round.pk}:{hashlib.sha256(repr(parts).encode()).hexdigest()}"


def _round_rows(round: Round, before: Round | None, user) -> list[GradeRow]:
    previous: dict[str, str] = {}
    if before is not None:
        previous = dict(
            Assessment.objects.visible_to(user)
            .filter(round=before, state=AssessmentState.PUBLISHED)
            .values_list("village_id", "grade")
        )
    assessments = published_assessments(user=user).filter(round=round)
    return [_row(a, previous.get(a.village_id)) for a in assessments.order_by("village_id")]


def campaign_results(
    *, campaign: Campaign, user, town: str | None = None, grade: str | None = None
) -> CampaignResults:
    """The latest acceptance round decides: a village's campaign grade is its grade in the
    latest published acceptance (验收) round it was assessed in. Sweep, unannounced and revisit
    rounds never change it; a village with no published acceptance grade has none yet."""
    rounds = list(
        Round.objects.filter(state=RoundState.PUBLISHED, campaign=campaign).order_by("number")
    )
    acceptance = [r for r in rounds if r.mode == RoundMode.ACCEPTANCE]
    decisive: dict[str, GradeRow] = {}
    if acceptance:
        assessments = published_assessments(user=user).filter(round__in=[r.pk for r in acceptance])
        # Newest round first: the first row of each village is the one that decides.
        for assessment in assessments.order_by("village_id", "-round__number"):
            if assessment.village_id not in decisive:
                decisive[assessment.village_id] = _row(assessment)
    return CampaignResults(
        **_summary(list(decisive.values()), county=campaign.county_id, town=town, grade=grade),
        campaign=campaign,
        rounds=rounds,
        acceptance_rounds=acceptance,
    )


def village_or_404(*, user, code: str) -> Village:
    """The village if its grades are within the user's jurisdiction; 404 otherwise."""
    villages = Village.objects.scoped(user, town="town_id", perm="grade.view")
    try:
        return villages.select_related("town").get(code=code)
    except Village.DoesNotExist:
        raise Http404(_("Not found, or outside your jurisdiction.")) from None


def village_history(*, user, village: Village) -> list[Assessment]:
    """The village's published grades, newest round first, each with `deduction_count`."""
    return list(
        published_assessments(user=user)
        .filter(village=village)
        .select_related("round__campaign")
        .order_by("-round__campaign__year", "-round__campaign_id", "-round__number")
    )


def campaign_grades_of(history: list[Assessment]) -> list[tuple[Campaign, Assessment | None]]:
    """(campaign, the assessment deciding the village's campaign grade or None), from the
    village's history (newest first), by the same rule as campaign_results."""
    decided: dict[int, tuple[Campaign, Assessment | None]] = {}
    for assessment in history:
        campaign = assessment.round.campaign
        current = decided.get(campaign.pk)
        if assessment.round.mode != RoundMode.ACCEPTANCE:
            decided.setdefault(campaign.pk, (campaign, None))
        elif current is None or current[1] is None:
            decided[campaign.pk] = (campaign, assessment)
    return list(decided.values())


# --- one pass over the rows ---------------------------------------------------------------------


def _summary(rows: list[GradeRow], *, county: str, town: str | None, grade: str | None) -> dict:
    policy = GradingPolicy.current(county)  # the lists' lengths are the county's
    towns, county = tallies(rows)
    shown = [
        row
        for row in rows
        if (town is None or row.town_code == town) and (grade is None or row.grade == grade)
    ]
    return {
        "rows": rows,
        "shown": shown,
        "towns": towns,
        "county": county,
        "rankings": rankings(rows, top_n=policy.top_n, bottom_n=policy.bottom_n),
        "policy": policy,
    }


def tallies(rows: list[GradeRow]) -> tuple[list[Tally], Tally]:
    """Counts per town (in code order) and for the county."""
    county = Tally(None, _("County"))
    towns: dict[str, Tally] = {}
    for row in rows:
        tally = towns.get(row.town_code)
        if tally is None:
            tally = towns[row.town_code] = Tally(row.town_code, row.town_name)
        tally.counts[row.grade] += 1
        county.counts[row.grade] += 1
    return [towns[code] for code in sorted(towns)], county


def rankings(rows: list[GradeRow], *, top_n: int, bottom_n: int) -> list[TownRanking]:
    """红黑榜 per town. Red: the top_n best scores; black: the bottom_n worst of the others (so
    a small town never has a village on both lists). A veto hit (一票否决) keeps a village off
    the red list and heads the black list whatever its score. Ties go to the lower village
    code, on both lists, so the order never depends on the database."""
    by_town: dict[str, list[GradeRow]] = defaultdict(list)
    for row in rows:
        by_town[row.town_code].append(row)
    result = []
    for code in sorted(by_town):
        villages = by_town[code]
        candidates = [r for r in villages if not r.veto]
        red = sorted(candidates, key=lambda r: (-r.score, r.village_code))[:top_n]
        on_red = {r.village_code for r in red}
        rest = [r for r in villages if r.village_code not in on_red]
        black = sorted(rest, key=lambda r: (not r.veto, r.score, r.village_code))[:bottom_n]
        result.append(TownRanking(code, villages[0].town_name, red, black))
    return result
