"""Every write of rounds and village assessments goes through one of these functions.

Roles: the task force plans, starts, closes and publishes rounds and approves assessments;
inspectors (and the task force) assess villages of their jurisdiction while the round is
active. Scores are recomputed on the server after each change of deductions (grading.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.errors import ApplicationError, Forbidden
from inspections.grading import scoring as grading
from inspections.grading.actions import ASSESSMENT_ACTIONS, ROUND_ACTIONS
from inspections.models import (
    Assessment,
    AssessmentState,
    ChecklistItem,
    Deduction,
    GradingPolicy,
    Round,
    RoundState,
)
from villages import access
from villages.models import Village
from workflows.models import EvidencePhoto, RectificationTicket, Source
from workflows.tickets import services as tickets

MAX_COUNT = 99


def _act(table, obj, action: str, *, by, args: dict | None = None):
    """Check the action's table (inspections.sites.actions) and run it through the one runner."""
    table.require(by, obj, action)
    return table.run(obj, action, args=args)


def may_assess(user, village: Village) -> bool:
    return access.allows(user, "assessment.make", village)


# --- rounds -----------------------------------------------------------------------------------


def round_start(*, round: Round, by) -> Round:
    """The round takes the campaign's checklist version and keeps it."""
    return _act(ROUND_ACTIONS, round, "start", by=by, args={"template": round.campaign.template})


def round_close(*, round: Round, by) -> Round:
    return _act(ROUND_ACTIONS, round, "close", by=by)


def round_publish(*, round: Round, by) -> int:
    """Publish the grades of the round's approved assessments (frozen with today's bands)."""
    with transaction.atomic():
        _act(ROUND_ACTIONS, round, "publish", by=by)
        grading.round_scores_refresh(round=round)
        policy = GradingPolicy.current(round.campaign.county_id)
        return grading.round_grades_publish(round=round, policy=policy)


# --- assessments ------------------------------------------------------------------------------


def assessment_open(
    *, round: Round, village: Village, by, position: tuple[float, float] | None = None
) -> Assessment:
    """The village's assessment in this round (a new draft, or the one already open)."""
    if not may_assess(by, village):
        raise Forbidden(_("You may not assess this village."))
    if village.town.county_id != round.campaign.county_id:
        raise ApplicationError(_("This village lies in another county than the round."))
    if round.state != RoundState.ACTIVE:
        raise ApplicationError(_("The round is not active."))
    try:
        with transaction.atomic():
            return Assessment.objects.create(
                round=round,
                village=village,
                inspector=by,
                lat=position[0] if position else None,
                lng=position[1] if position else None,
            )
    except IntegrityError:
        return Assessment.objects.get(round=round, village=village)


def _require_draft(assessment: Assessment, by) -> None:
    if not may_assess(by, assessment.village):
        raise Forbidden(_("You may not assess this village."))
    if assessment.state != AssessmentState.DRAFT:
        raise ApplicationError(_("The assessment was submitted; it can no longer be changed."))


def deduction_record(
    *,
    assessment: Assessment,
    item: ChecklistItem,
    by,
    count: int,
    note: str = "",
    photos: Sequence[EvidencePhoto] = (),
) -> Deduction | None:
    """Set the item's deduction (count 0 removes it) and recompute the score."""
    _require_draft(assessment, by)
    if item.template_id != assessment.round.template_id:
        raise ApplicationError(_("This item is not on the round's checklist."))
    if not 0 <= count <= MAX_COUNT:
        raise ApplicationError(_("Count between 0 and %(max)d.") % {"max": MAX_COUNT})
    with transaction.atomic():
        existing = Deduction.objects.filter(assessment=assessment, item=item).first()
        if count == 0:
            if existing and existing.ticket_id:
                raise ApplicationError(_("A ticket was opened for it; it cannot be removed."))
            if existing:
                existing.delete()
            deduction = None
        else:
            has_photos = bool(photos) or (existing is not None and existing.photos.exists())
            if item.photos_required and not has_photos:
                raise ApplicationError(_("This item needs a photo as evidence."))
            deduction, _new = Deduction.objects.update_or_create(
                assessment=assessment, item=item, defaults={"count": count, "note": note.strip()}
            )
            if photos:
                deduction.photos.add(*photos)
        _refresh(assessment)
    return deduction


def _refresh(assessment: Assessment) -> None:
    total = grading.template_total(assessment.round.template)
    grading.scores_refresh(assessments=Assessment.objects.filter(pk=assessment.pk), total=total)
    assessment.refresh_from_db(fields=["score", "veto"])


def assessment_submit(*, assessment: Assessment, by) -> Assessment:
    return _act(ASSESSMENT_ACTIONS, assessment, "submit", by=by)


def assessment_send_back(*, assessment: Assessment, by) -> Assessment:
    return _act(ASSESSMENT_ACTIONS, assessment, "send_back", by=by)


def assessment_approve(*, assessment: Assessment, by) -> Assessment:
    return _act(ASSESSMENT_ACTIONS, assessment, "approve", by=by, args={"by": by})


def deduction_open_ticket(*, deduction: Deduction, by) -> RectificationTicket:
    """One tap: a rectification ticket for the village's town, the deduction's photos before."""
    if deduction.ticket_id:
        return deduction.ticket
    village = deduction.assessment.village
    if not may_assess(by, village):
        raise Forbidden(_("You may not assess this village."))
    item = deduction.item
    description = _("%(round)s: %(item)s (%(count)d×). %(note)s") % {
        "round": deduction.assessment.round,
        "item": item.title,
        "count": deduction.count,
        "note": deduction.note,
    }
    with transaction.atomic():
        deduction = Deduction.objects.select_for_update().get(pk=deduction.pk)
        if deduction.ticket_id:
            return deduction.ticket
        ticket = tickets.rectification_create(
            by=by,
            town=village.town,
            village=village,
            description=description.strip(),
            source_kind=Source.ASSESSMENT,
            source=deduction,
            category=item.dimension,
            before_photos=list(deduction.photos.all()),
        )
        deduction.ticket = ticket
        deduction.save(update_fields=["ticket"])
    return ticket
