"""Demo campaign for `make demo`: 2024年村村到, ten rounds from March to August 2024 and the
acceptance round (验收) in September, all published, over 金乡县's administrative villages.

Assessments and deductions are bulk-inserted (4,000 assessments through the services would take
minutes and teach nothing). Scores are never written here: for each assessment a grade is drawn
first, then deductions (items and occurrence counts of the round's checklist) whose score falls
in that grade's band; grading.round_scores_refresh and round_grades_publish then compute and
publish them as for a real round. The acceptance round of 137 villages gives the county's
distribution, 30 A, 48 B, 56 C, 3 薄弱 (one of them by a veto hit whatever its score).

Sweep rounds miss a few villages each, so the coverage matrix shows gaps; unannounced visits
(四不两直) take a sample; the revisit (回头看) returns to the villages whose latest grade was
C or 薄弱. Grades improve over the six months, and a village tends to keep its grade.
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, Count, Value, When
from django.utils import timezone

from inspections.grading import scoring as grading
from inspections.grading.checklists import DEFAULT_NAME
from inspections.models import (
    Assessment,
    AssessmentState,
    Campaign,
    ChecklistItem,
    ChecklistTemplate,
    Deduction,
    Grade,
    GradingPolicy,
    Round,
    RoundMode,
    RoundState,
)
from villages.models import Village

CAMPAIGN = "2024年村村到"
CHECKLIST = DEFAULT_NAME  # made by `manage.py load_default_checklist`
SWEEP, UNANNOUNCED, REVISIT, ACCEPTANCE = (
    RoundMode.SWEEP,
    RoundMode.UNANNOUNCED,
    RoundMode.REVISIT,
    RoundMode.ACCEPTANCE,
)
ROUNDS = [
    (SWEEP, date(2024, 3, 1), date(2024, 3, 20)),
    (SWEEP, date(2024, 3, 21), date(2024, 4, 10)),
    (UNANNOUNCED, date(2024, 4, 11), date(2024, 4, 20)),
    (SWEEP, date(2024, 4, 21), date(2024, 5, 10)),
    (SWEEP, date(2024, 5, 11), date(2024, 5, 31)),
    (UNANNOUNCED, date(2024, 6, 1), date(2024, 6, 10)),
    (SWEEP, date(2024, 6, 11), date(2024, 6, 30)),
    (SWEEP, date(2024, 7, 1), date(2024, 7, 20)),
    (REVISIT, date(2024, 7, 21), date(2024, 7, 31)),
    (SWEEP, date(2024, 8, 1), date(2024, 8, 25)),
    (ACCEPTANCE, date(2024, 9, 2), date(2024, 9, 27)),
]
VETO = "veto"  # a drawn outcome: 薄弱 by a veto hit, with a score that alone would pass
# The acceptance round's result, exactly.
ACCEPTANCE_GRADES = [(Grade.A, 30), (Grade.B, 48), (Grade.C, 56), (Grade.WEAK, 2), (VETO, 1)]
SWEEP_COVERAGE = 0.95
UNANNOUNCED_VILLAGES = 80
KEEP_GRADE = 0.4
VETO_RATE = 0.005
COUNTS = (1, 1, 1, 2, 2, 3)
BATCH = 2_000


def demo_campaign_seed(
    *,
    rng: random.Random,
    county: str,
    task_force,
    inspector,
    template: ChecklistTemplate | None = None,
) -> dict:
    """Create and publish the demo campaign of `county` (a code; its checklist, villages and
    grading policy); {} if it exists already (or no checklist)."""
    checklists = ChecklistTemplate.objects.filter(county_id=county, name=CHECKLIST)
    template = template or checklists.order_by("-version").first()
    if template is None:
        return {}
    with transaction.atomic():
        campaign, created = Campaign.objects.get_or_create(
            county_id=county, name=CAMPAIGN, defaults={"year": 2024, "template": template}
        )
        if not created:
            return {}
        rounds = Round.objects.bulk_create(
            Round(
                campaign=campaign,
                number=n,
                mode=mode,
                starts_on=first,
                ends_on=last,
                template=template,
            )
            for n, (mode, first, last) in enumerate(ROUNDS, start=1)
        )
        villages = Village.objects.administrative().filter(town__county_id=county)
        villages = list(villages.values_list("code", flat=True))
        drawer = Drawer(template, GradingPolicy.current(county), rng)
        made = [
            _insert(round, plan, drawer, task_force, inspector)
            for round, plan in zip(rounds, _plans(rounds, villages, rng), strict=True)
        ]
        _publish(rounds, drawer.policy)
    return {
        "rounds": len(rounds),
        "assessments": sum(assessments for assessments, _deductions in made),
        "deductions": sum(deductions for _assessments, deductions in made),
        "acceptance": _grade_counts(rounds[-1]),
    }


# --- who is assessed, and the grade drawn for each ---------------------------------------------


def _plans(rounds: list[Round], villages: list[str], rng: random.Random) -> list[dict]:
    """Per round: {village code: drawn grade}, in round order."""
    latest: dict[str, str] = {}
    plans = []
    for round in rounds:
        if round.mode == ACCEPTANCE:
            grades = [grade for grade, n in ACCEPTANCE_GRADES for _ in range(n)]
            rng.shuffle(grades)
            plan = dict(zip(rng.sample(villages, len(grades)), grades, strict=True))
        else:
            visited = _visited(round, villages, latest, rng)
            plan = {v: _grade(round, latest.get(v), rng) for v in visited}
        latest.update(plan)
        plans.append(plan)
    return plans


def _visited(
    round: Round, villages: list[str], latest: dict[str, str], rng: random.Random
) -> list[str]:
    if round.mode == UNANNOUNCED:
        return rng.sample(villages, UNANNOUNCED_VILLAGES)
    if round.mode == REVISIT:
        return [v for v in villages if latest.get(v) in (Grade.C, Grade.WEAK, VETO)]
    return [v for v in villages if rng.random() < SWEEP_COVERAGE]


def _grade(round: Round, previous: str | None, rng: random.Random) -> str:
    if rng.random() < VETO_RATE:
        return VETO
    if previous in (Grade.A, Grade.B, Grade.C) and rng.random() < KEEP_GRADE:
        return previous
    if round.mode == REVISIT:
        weights = (20, 45, 30, 5)
    else:
        # Better month by month; unannounced visits find what a notified sweep would not.
        progress = (round.number - 1) / 9 - (0.3 if round.mode == UNANNOUNCED else 0)
        weights = (10 + 20 * progress, 30 + 10 * progress, 40 - 20 * progress, 20 - 10 * progress)
    return rng.choices((Grade.A, Grade.B, Grade.C, Grade.WEAK), weights=weights)[0]


# --- deductions that give the drawn grade -------------------------------------------------------


class Drawer:
    """Draws a village's deductions on `template` so that its score gets a wanted grade."""

    def __init__(self, template: ChecklistTemplate, policy: GradingPolicy, rng: random.Random):
        items = list(template.items.filter(deduction__gt=0).order_by("order", "code"))
        self.items = [item for item in items if not item.veto]
        self.vetoes = [item for item in items if item.veto]
        self.policy, self.rng = policy, rng
        self.total = grading.template_total(template)
        most = float(sum(item.cap for item in self.items))
        edges = [float(self.total - edge) for edge in (policy.a_min, policy.b_min, policy.c_min)]
        # Deducted points of each grade (the policy's bands seen from the full score).
        self.bands = {
            Grade.A: (0.0, edges[0]),
            Grade.B: (edges[0], edges[1]),
            Grade.C: (edges[1], edges[2]),
            Grade.WEAK: (edges[2], min(edges[2] + 25, most)),
        }

    def draw(self, grade: str) -> list[tuple[ChecklistItem, int]]:
        if grade == VETO and self.vetoes:
            passing = self.draw(self.rng.choice((Grade.A, Grade.B)))
            return [*passing, (self.rng.choice(self.vetoes), 1)]
        grade = Grade.WEAK if grade == VETO else grade
        low, high = self.bands[grade]
        for _attempt in range(200):
            picks = self._fill(Decimal(f"{self.rng.uniform(low, high):.2f}"))
            score = self.total - sum(_points(item, count) for item, count in picks)
            if grading.grade_of(score=score, veto=False, policy=self.policy) == grade:
                return picks
        raise ValueError(f"{grade}: the checklist cannot reach this grade")

    def _fill(self, wanted: Decimal) -> list[tuple[ChecklistItem, int]]:
        """Items in random order, each deducting no more than what is left of `wanted`."""
        picks, left = [], wanted
        for item in self.rng.sample(self.items, len(self.items)):
            most = int(left // item.deduction)
            if most < 1:
                continue
            if wanted > 20:  # a poor village: items hit up to their cap and beyond
                count = self.rng.randint(1, math.ceil(item.cap / item.deduction) + 1)
            else:
                count = self.rng.choice(COUNTS)
            count = min(count, most)
            picks.append((item, count))
            left -= _points(item, count)
        return picks


def _points(item: ChecklistItem, count: int) -> Decimal:
    return min(count * item.deduction, item.cap)


# --- writing -----------------------------------------------------------------------------------


def _insert(round: Round, plan: dict, drawer: Drawer, task_force, inspector) -> tuple[int, int]:
    days = (round.ends_on - round.starts_on).days
    rng = drawer.rng
    assessments = []
    for village in plan:
        day = round.starts_on + timedelta(days=rng.randint(0, days))
        at = timezone.make_aware(
            datetime.combine(day, time(rng.randint(8, 16), rng.randint(0, 59)))
        )
        assessments.append(
            Assessment(
                round=round,
                village_id=village,
                inspector=inspector,
                created_at=at,
                state=AssessmentState.APPROVED,
                submitted_at=at + timedelta(hours=1),
                approved_by=task_force,
            )
        )
    Assessment.objects.bulk_create(assessments, batch_size=BATCH)
    deductions = [
        Deduction(assessment=assessment, item=item, count=count)
        for assessment, grade in zip(assessments, plan.values(), strict=True)
        for item, count in drawer.draw(grade)
    ]
    Deduction.objects.bulk_create(deductions, batch_size=BATCH)
    return len(assessments), len(deductions)


def _publish(rounds: list[Round], policy: GradingPolicy) -> None:
    for round in rounds:
        grading.round_scores_refresh(round=round)
        grading.round_grades_publish(round=round, policy=policy)
    # Published three days after each round's end, in the morning.
    published = [
        When(pk=round.pk, then=Value(_morning(round.ends_on + timedelta(days=3))))
        for round in rounds
    ]
    # The state is FSM-protected on instances; the rounds never lived through their transitions.
    Round.objects.filter(pk__in=[r.pk for r in rounds]).update(
        state=RoundState.PUBLISHED, published_at=Case(*published)
    )


def _morning(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(9, 30)))


def _grade_counts(round: Round) -> dict[str, int]:
    rows = round.assessments.order_by().values("grade").annotate(n=Count("pk"))
    return {row["grade"]: row["n"] for row in rows}
