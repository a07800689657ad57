"""The evidence photos inspections' objects hold: a patrol's and an assessment deduction's.

workflows.evidence.holders decides who may see a photo by what holds it; workflows may not import
inspections, so InspectionsConfig.ready() registers these kinds there (like import_templates).
A photo of a patrol is seen by whoever sees the patrol (site.view), one of a deduction by whoever
sees its assessment (grade.view) — the rules of the pages that show them.
"""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet

from inspections.models import Assessment, Patrol
from workflows.evidence import holders


def _patrols(user) -> QuerySet:
    return Patrol.objects.visible_to(user).filter(photos=OuterRef("pk"))


def _deductions(user) -> QuerySet:
    return Assessment.objects.visible_to(user).filter(deductions__photos=OuterRef("pk"))


def register() -> None:
    holders.register("patrol", _patrols)
    holders.register("deduction", _deductions)
