"""Scores and grades: caps, veto, band edges, version freeze, published grades frozen."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.errors import ApplicationError, Forbidden
from inspections.grading import services as svc
from inspections.grading.scoring import grade_of, round_scores_refresh
from inspections.models import (
    Assessment,
    ChecklistItem,
    ChecklistTemplate,
    GradingPolicy,
    RoundState,
)


def item(template, code) -> ChecklistItem:
    return template.items.get(code=code)


@pytest.fixture
def assessment(active_round, huji_village, inspector):
    return svc.assessment_open(round=active_round, village=huji_village, by=inspector)


def test_a_deduction_is_capped(assessment, checklist, inspector, make_photo):
    photo = make_photo(inspector)
    svc.deduction_record(
        assessment=assessment, item=item(checklist, "G1"), by=inspector, count=2, photos=[photo]
    )
    assert assessment.score == Decimal("96.00")
    svc.deduction_record(assessment=assessment, item=item(checklist, "G1"), by=inspector, count=7)
    assert assessment.score == Decimal("94.00")  # 7 × 2 = 14, capped at 6
    svc.deduction_record(assessment=assessment, item=item(checklist, "T1"), by=inspector, count=1)
    assert assessment.score == Decimal("89.00")
    svc.deduction_record(assessment=assessment, item=item(checklist, "T1"), by=inspector, count=0)
    assert assessment.score == Decimal("94.00")


def test_an_item_needing_a_photo_refuses_without_one(assessment, checklist, inspector):
    with pytest.raises(ApplicationError):
        svc.deduction_record(
            assessment=assessment, item=item(checklist, "G1"), by=inspector, count=1
        )
    assert not assessment.deductions.exists()


def test_a_veto_hit_grades_weak_whatever_the_score(assessment, checklist, inspector, make_photo):
    svc.deduction_record(
        assessment=assessment,
        item=item(checklist, "V1"),
        by=inspector,
        count=1,
        photos=[make_photo(inspector)],
    )
    assert assessment.veto and assessment.score == Decimal("90.00")
    assert (
        grade_of(score=assessment.score, veto=True, policy=GradingPolicy.current("370828000000"))
        == "weak"
    )


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        ("100", "A"),
        ("90.01", "A"),
        ("90", "A"),
        ("89.99", "B"),
        ("80", "B"),
        ("79.99", "C"),
        ("60", "C"),
        ("59.99", "weak"),
        ("0", "weak"),
    ],
)
def test_band_edges(score, grade):
    # The default bands, as a county's policy has them until edited.
    assert grade_of(score=Decimal(score), veto=False, policy=GradingPolicy()) == grade


def test_a_round_keeps_its_checklist_version(active_round, checklist, campaign):
    newer = ChecklistTemplate.objects.create(
        county_id="370828000000", name=checklist.name, version=2
    )
    campaign.template = newer
    campaign.save()
    active_round.refresh_from_db()
    assert active_round.template == checklist  # frozen at start


def test_only_the_task_force_runs_rounds(campaign, inspector, hj_officer):
    from datetime import date

    from inspections.models import Round

    round = Round.objects.create(
        campaign=campaign,
        number=2,
        mode="acceptance",
        starts_on=date(2024, 5, 1),
        ends_on=date(2024, 5, 31),
    )
    for who in (inspector, hj_officer):
        with pytest.raises(Forbidden):
            svc.round_start(round=round, by=who)


def test_a_published_grade_does_not_change_with_the_policy(
    assessment, active_round, checklist, inspector, task_force
):
    svc.deduction_record(
        assessment=assessment, item=item(checklist, "T1"), by=inspector, count=2
    )  # 90.00
    svc.assessment_submit(assessment=assessment, by=inspector)
    svc.assessment_approve(assessment=assessment, by=task_force)
    svc.round_close(round=active_round, by=task_force)
    assert svc.round_publish(round=active_round, by=task_force) == 1
    published = Assessment.objects.get(pk=assessment.pk)
    assert (published.grade, published.graded_by["A"]) == ("A", "90.00")
    assert active_round.state == RoundState.PUBLISHED

    policy = GradingPolicy.current("370828000000")
    policy.a_min = Decimal(95)
    policy.save()
    round_scores_refresh(round=active_round)
    assert Assessment.objects.get(pk=assessment.pk).grade == "A"


def test_a_submitted_assessment_is_frozen_for_the_inspector(assessment, checklist, inspector):
    svc.assessment_submit(assessment=assessment, by=inspector)
    with pytest.raises(ApplicationError):
        svc.deduction_record(
            assessment=assessment, item=item(checklist, "T1"), by=inspector, count=1
        )


def test_scope_a_town_inspector_assesses_his_town_only(
    active_round, huji_village, jishu_village, town_inspector
):
    assert svc.assessment_open(round=active_round, village=huji_village, by=town_inspector)
    with pytest.raises(Forbidden):
        svc.assessment_open(round=active_round, village=jishu_village, by=town_inspector)


def test_a_deduction_opens_a_ticket_in_one_tap(assessment, checklist, inspector, huji):
    deduction = svc.deduction_record(
        assessment=assessment, item=item(checklist, "T1"), by=inspector, count=1, note="3户"
    )
    ticket = svc.deduction_open_ticket(deduction=deduction, by=inspector)
    assert ticket.town == huji and ticket.source == deduction
    assert ticket.source_kind == "assessment"
    assert ticket.category == "toilets"  # T1's dimension in the checklist
    assert svc.deduction_open_ticket(deduction=deduction, by=inspector) == ticket


def test_round_scores_refresh_is_one_update(
    active_round, huji, inspector, django_assert_num_queries
):
    villages = list(huji.villages.administrative()[:5])
    for village in villages:
        svc.assessment_open(round=active_round, village=village, by=inspector)
    with django_assert_num_queries(2):  # the template's total, then one UPDATE
        assert round_scores_refresh(round=active_round) == 5
