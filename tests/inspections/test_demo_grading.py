"""The demo campaign looks like the county's 2024 村村到: eleven published rounds, gaps in the
sweeps, an acceptance round graded 30 A / 48 B / 56 C / 3 薄弱, every score the one its deductions
give; seeding twice adds nothing."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

import pytest

from inspections.demo_grading import CAMPAIGN, demo_campaign_seed
from inspections.grading import scoring as grading
from inspections.models import (
    Assessment,
    AssessmentState,
    Campaign,
    Deduction,
    GradingPolicy,
    Round,
    RoundMode,
    RoundState,
)
from villages.models import Village


@pytest.fixture
def seeded(checklist, task_force, inspector) -> dict:
    return demo_campaign_seed(
        county="370828000000",
        rng=random.Random(2024),
        task_force=task_force,
        inspector=inspector,
        template=checklist,
    )


def test_the_acceptance_round_grades_like_the_county(seeded):
    acceptance = Round.objects.get(campaign__name=CAMPAIGN, mode=RoundMode.ACCEPTANCE)
    grades = Counter(acceptance.assessments.values_list("grade", flat=True))
    assert grades == {"A": 30, "B": 48, "C": 56, "weak": 3}
    assert seeded["acceptance"] == dict(grades)
    policy = GradingPolicy.current("370828000000")
    # One village is 薄弱 by its veto hit alone: its score would pass.
    assert acceptance.assessments.filter(grade="weak", veto=True, score__gte=policy.c_min).exists()


def test_eleven_rounds_of_2024_all_published(seeded):
    rounds = list(Round.objects.filter(campaign__name=CAMPAIGN).order_by("number"))
    assert seeded["rounds"] == len(rounds) == 11
    assert {r.state for r in rounds} == {RoundState.PUBLISHED}
    assert all(r.published_at and r.published_at.date() > r.ends_on for r in rounds)
    modes = Counter(r.mode for r in rounds[:10])
    assert modes[RoundMode.SWEEP] > modes[RoundMode.UNANNOUNCED] >= 1
    assert modes[RoundMode.REVISIT] == 1 and rounds[-1].mode == RoundMode.ACCEPTANCE
    assert {r.starts_on.month for r in rounds[:10]} == {3, 4, 5, 6, 7, 8}
    assert not Assessment.objects.exclude(state=AssessmentState.PUBLISHED).exists()
    assert Assessment.objects.count() == seeded["assessments"]
    assert Deduction.objects.count() == seeded["deductions"]


def test_sweeps_cover_most_villages_with_gaps(seeded):
    villages = Village.objects.administrative().count()
    for round in Round.objects.filter(campaign__name=CAMPAIGN, mode=RoundMode.SWEEP):
        assert villages * 0.9 < round.assessments.count() < villages


def test_scores_are_the_ones_the_deductions_give(seeded, checklist):
    stored = {
        pk: (score, veto)
        for pk, score, veto in Assessment.objects.values_list("pk", "score", "veto")
    }
    Assessment.objects.update(score=Decimal(0), veto=False)
    for round in Round.objects.filter(campaign__name=CAMPAIGN).select_related("template"):
        grading.round_scores_refresh(round=round)
    rows = Assessment.objects.values_list("pk", "score", "veto")
    assert {pk: (score, veto) for pk, score, veto in rows} == stored
    policy = GradingPolicy.current("370828000000")
    for score, veto, grade in Assessment.objects.values_list("score", "veto", "grade"):
        assert grade == grading.grade_of(score=score, veto=veto, policy=policy)
    # And by hand, for the acceptance round: full marks less each capped deduction.
    total = grading.template_total(checklist)
    lost = Counter()
    deductions = Deduction.objects.filter(assessment__round__mode=RoundMode.ACCEPTANCE)
    for d in deductions.select_related("item"):
        lost[d.assessment_id] += min(d.count * d.item.deduction, d.item.cap)
    acceptance = Assessment.objects.filter(round__mode=RoundMode.ACCEPTANCE)
    assert {a.pk: a.score for a in acceptance} == {a.pk: total - lost[a.pk] for a in acceptance}


def test_seeding_again_adds_nothing(seeded, checklist, task_force, inspector):
    counts = (Campaign.objects.count(), Round.objects.count(), Assessment.objects.count())
    again = demo_campaign_seed(
        county="370828000000",
        rng=random.Random(2024),
        task_force=task_force,
        inspector=inspector,
        template=checklist,
    )
    assert again == {}
    assert (Campaign.objects.count(), Round.objects.count(), Assessment.objects.count()) == counts


def test_without_the_checklist_nothing_is_made(task_force, inspector):
    assert (
        demo_campaign_seed(
            county="370828000000", rng=random.Random(1), task_force=task_force, inspector=inspector
        )
        == {}
    )
    assert not Campaign.objects.exists()
