"""Scores and grades of village assessments — set-based, whatever the number of villages.

Score = the template's total points − Σ over deductions of min(count × deduction, cap).
Grade = 薄弱 on any veto hit, else the band of the policy (A ≥ a_min, B ≥ b_min, C ≥ c_min,
else 薄弱). `scores_refresh` is one UPDATE for a whole round (a correlated SUM per assessment);
`round_grades_publish` is one UPDATE writing grade and bands. A band edge is inclusive: 90.00 is
an A, 89.99 a B (scores are exact decimals, never floats).
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import (
    Case,
    DecimalField,
    Exists,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Least

from inspections.models import (
    Assessment,
    AssessmentState,
    ChecklistTemplate,
    Deduction,
    Grade,
    GradingPolicy,
    Round,
)

SCORE = DecimalField(max_digits=6, decimal_places=2)


def template_total(template: ChecklistTemplate) -> Decimal:
    return template.items.aggregate(total=Sum("max_points"))["total"] or Decimal(0)


def deducted_points():
    """min(count × deduction, cap) of one deduction row, as a database expression."""
    return Least(F("count") * F("item__deduction"), F("item__cap"), output_field=SCORE)


def scores_refresh(*, assessments: QuerySet[Assessment], total: Decimal) -> int:
    """Recompute score and veto of `assessments` (all on one template) in one UPDATE."""
    per_assessment = (
        Deduction.objects.filter(assessment=OuterRef("pk"))
        .order_by()
        .values("assessment")
        .annotate(points=Sum(deducted_points()))
        .values("points")
    )
    vetoed = Deduction.objects.filter(assessment=OuterRef("pk"), item__veto=True)
    return assessments.update(
        score=Value(total, output_field=SCORE)
        - Coalesce(
            Subquery(per_assessment, output_field=SCORE), Value(Decimal(0)), output_field=SCORE
        ),
        veto=Exists(vetoed),
    )


def round_scores_refresh(*, round: Round) -> int:
    return scores_refresh(
        assessments=Assessment.objects.filter(round=round), total=template_total(round.template)
    )


def grade_of(*, score: Decimal, veto: bool, policy: GradingPolicy) -> str:
    """The grade a score and veto give under `policy` (for drafts and previews)."""
    if veto:
        return Grade.WEAK
    if score >= policy.a_min:
        return Grade.A
    if score >= policy.b_min:
        return Grade.B
    if score >= policy.c_min:
        return Grade.C
    return Grade.WEAK


def grade_expression(policy: GradingPolicy) -> Case:
    """grade_of as SQL, for set-based publishing."""
    return Case(
        When(veto=True, then=Value(Grade.WEAK)),
        When(score__gte=policy.a_min, then=Value(Grade.A)),
        When(score__gte=policy.b_min, then=Value(Grade.B)),
        When(score__gte=policy.c_min, then=Value(Grade.C)),
        default=Value(Grade.WEAK),
    )


def round_grades_publish(*, round: Round, policy: GradingPolicy) -> int:
    """Freeze grade and bands of the round's approved assessments, in one UPDATE."""
    return Assessment.objects.filter(round=round, state=AssessmentState.APPROVED).update(
        grade=grade_expression(policy),
        graded_by=Value(policy.bands(), output_field=Assessment._meta.get_field("graded_by")),
        state=AssessmentState.PUBLISHED,
    )
