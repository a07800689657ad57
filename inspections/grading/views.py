"""Campaigns and rounds (task force), the rounds × villages coverage matrix, and the phone page
on which an inspector assesses a village: one form per checklist item, the score computed on
the server after each change."""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from core.errors import ApplicationError
from inspections.grading import selectors
from inspections.grading import services as svc
from inspections.grading.actions import ASSESSMENT_ACTIONS, COUNTY_MESSAGES, ROUND_ACTIONS
from inspections.models import (
    Assessment,
    AssessmentState,
    Campaign,
    ChecklistItem,
    Deduction,
    Round,
    RoundState,
)
from villages import access
from villages.http import see_other
from villages.scope import get_visible_or_404
from workflows.evidence.services import EvidenceError, evidence_record
from workflows.tickets.forms import NOTE_MAX, PhotosField

TOWN_CODE = re.compile(r"\d{12}")
VILLAGE_CODE = re.compile(r"[0-9]{12}")  # also keeps NUL out of the query (PostgreSQL refuses it)


def _viewer(request) -> None:
    access.require(request.user, "grade.view", action=_("see inspection rounds"))


# --- campaigns and rounds ---------------------------------------------------------------------


@login_required
def campaign_list(request):
    _viewer(request)
    campaigns = (
        Campaign.objects.visible_to(request.user)
        .prefetch_related("rounds")
        .select_related("template")
    )
    return render(request, "inspections/campaign_list.html", {"campaigns": campaigns})


@login_required
def campaign_detail(request, pk: int):
    _viewer(request)
    campaign = get_visible_or_404(Campaign.objects.select_related("template"), request.user, pk=pk)
    town = request.GET.get("town") or None
    if town and not TOWN_CODE.fullmatch(town):
        town, status = None, 400
    else:
        status = 200
    missed_only = request.GET.get("missed") == "1"
    rounds, rows, page = selectors.coverage_matrix(
        campaign=campaign,
        user=request.user,
        town=town,
        missed_only=missed_only,
        page=request.GET.get("page"),
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "campaign": campaign,
        "rounds": rounds,
        "rows": rows,
        "page": page,
        "query": query.urlencode(),
        "missed_only": missed_only,
        "missed": selectors.missed_counts(campaign=campaign, user=request.user),
        "is_county": access.allows(request.user, "round.manage"),
        "error": _("Choose a town by its 12-digit code.") if status == 400 else "",
    }
    return render(request, "inspections/campaign_detail.html", context, status=status)


def _round(request, pk: int) -> Round:
    """The round if it is of a county the user works in; 404 otherwise."""
    rounds = Round.objects.select_related("campaign", "template")
    return get_visible_or_404(rounds, request.user, pk=pk)


@login_required
def round_detail(request, pk: int, *, status=200, error=""):
    _viewer(request)
    round = _round(request, pk)
    context = {
        "round": round,
        "assessments": selectors.round_assessments(round=round, user=request.user),
        "actions": ROUND_ACTIONS.offered(request.user, round),
        "can_assess": round.state == RoundState.ACTIVE
        and access.allows(request.user, "assessment.make"),
        "error": error,
    }
    return render(request, "inspections/round_detail.html", context, status=status)


ROUND_SERVICES = {
    "start": (svc.round_start, gettext_lazy("Round started.")),
    "close": (svc.round_close, gettext_lazy("Round closed.")),
    "publish": (svc.round_publish, gettext_lazy("Grades published.")),
}


@login_required
@require_POST
def round_action(request, pk: int, action: str):
    if action in ROUND_SERVICES and not access.allows(request.user, "round.manage"):
        # Not the task force of any county: refused (403) before the round is looked for in
        # his counties (404), as the action table refuses him in his own.
        raise PermissionDenied(COUNTY_MESSAGES.not_allowed)
    round = _round(request, pk)
    target = {"round": round}
    return _act(request, pk, ROUND_SERVICES, action, target, page=(round_detail, "round_detail"))


def _act(request, pk: int, services: dict, action: str, target: dict, *, page: tuple):
    """A button of a round's or an assessment's page (`page`: its view and URL name): an unknown
    action is a 404, a refusal shows the page again with its status and reason, success goes
    back to it (303) and says so."""
    view, url_name = page
    if action not in services:
        raise Http404(_("No such action."))
    service, done = services[action]
    try:
        service(**target, by=request.user)
    except ApplicationError as error:
        return view(request, pk, status=error.status, error=error.message)
    messages.success(request, done)
    return see_other(reverse(url_name, args=[pk]))


# --- assessing a village ----------------------------------------------------------------------


@login_required
def assessment_start(request, pk: int):
    """Pick the village (the phone's GPS suggests the one it stands in), then its page."""
    # The role first: someone who may assess nowhere is refused (403) before the round is
    # looked for in his counties (404).
    access.require(request.user, "assessment.make", action=_("assess villages"))
    round = _round(request, pk)
    county = round.campaign.county_id
    villages = selectors.villages_in_scope(request.user, county=county)
    suggested, status, error = None, 200, ""
    if request.method == "POST":
        code = request.POST.get("village", "")
        # Any village of his jurisdiction: one of another county is refused by the service,
        # with its reason.
        anywhere = selectors.villages_in_scope(request.user, county=None)
        village = anywhere.filter(code=code).first() if VILLAGE_CODE.fullmatch(code) else None
        if village is None:
            status, error = 400, _("Choose a village of your jurisdiction.")
        else:
            try:
                assessment = svc.assessment_open(
                    round=round, village=village, by=request.user, position=_position(request)
                )
            except ApplicationError as failure:
                status, error = failure.status, failure.message
            else:
                return see_other(reverse("assessment_detail", args=[assessment.pk]))
    position = _position(request, source=request.GET)
    if position:
        lat, lng = position
        suggested = selectors.villages_near(user=request.user, county=county, lat=lat, lng=lng)
    context = {
        "round": round,
        "villages": villages,
        "suggested": suggested,
        "error": error,
    }
    return render(request, "inspections/assessment_start.html", context, status=status)


def _position(request, source=None) -> tuple[float, float] | None:
    data = source if source is not None else request.POST
    try:
        lat, lng = float(data.get("lat", "")), float(data.get("lng", ""))
    except ValueError:
        return None
    if -90 <= lat <= 90 and -180 <= lng <= 180:
        return lat, lng
    return None


def _assessment(request, pk: int) -> Assessment:
    queryset = Assessment.objects.select_related(
        "round", "round__campaign", "round__template", "village", "village__town", "inspector"
    ).defer("village__boundary", "village__town__boundary")
    return get_visible_or_404(queryset, request.user, pk=pk)


@login_required
def assessment_detail(request, pk: int, *, status=200, error="", form_item=None, form=None):
    assessment = _assessment(request, pk)
    lines = selectors.assessment_lines(assessment)
    editable = assessment.state == AssessmentState.DRAFT and svc.may_assess(
        request.user, assessment.village
    )
    context = {
        "assessment": assessment,
        "lines": lines,
        "editable": editable,
        "is_county": access.allows(request.user, "assessment.review"),
        "actions": ASSESSMENT_ACTIONS.offered(request.user, assessment),
        "grade": selectors.provisional_grade(assessment),
        "error": error,
        "form_item": form_item,
        "form": form,
    }
    return render(request, "inspections/assessment_detail.html", context, status=status)


ASSESSMENT_SERVICES = {
    "submit": (svc.assessment_submit, gettext_lazy("Submitted to the task force.")),
    "approve": (svc.assessment_approve, gettext_lazy("Approved.")),
    "send_back": (svc.assessment_send_back, gettext_lazy("Sent back to the inspector.")),
}


@login_required
@require_POST
def assessment_action(request, pk: int, action: str):
    assessment = _assessment(request, pk)
    target = {"assessment": assessment}
    page = (assessment_detail, "assessment_detail")
    return _act(request, pk, ASSESSMENT_SERVICES, action, target, page=page)


class DeductionForm(forms.Form):
    count = forms.IntegerField(label=gettext_lazy("Occurrences"), min_value=0, max_value=99)
    note = forms.CharField(
        label=gettext_lazy("Note"),
        required=False,
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    photos = PhotosField(required=False, max_files=6)


@login_required
@require_POST
def deduction_save(request, pk: int, item: int):
    assessment = _assessment(request, pk)
    item_row = get_object_or_404(ChecklistItem, pk=item, template_id=assessment.round.template_id)
    form = DeductionForm(request.POST, request.FILES)
    if not form.is_valid():
        error = _("Please correct the form below.")
        return assessment_detail(request, pk, status=400, error=error, form_item=item, form=form)

    def record(photos):
        return svc.deduction_record(
            assessment=assessment,
            item=item_row,
            by=request.user,
            count=form.cleaned_data["count"],
            note=form.cleaned_data.get("note", ""),
            photos=photos,
        )

    files = form.cleaned_data.get("photos") or []
    try:
        # The photos and the deduction in one transaction: both or neither.
        evidence_record(files=files, uploaded_by=request.user, record=record)
    except EvidenceError as failure:
        message = " ".join(failure.messages)
        return assessment_detail(request, pk, status=400, error=message, form_item=item, form=form)
    except ApplicationError as failure:
        return assessment_detail(
            request, pk, status=failure.status, error=failure.message, form_item=item, form=form
        )
    return see_other(reverse("assessment_detail", args=[pk]) + f"#item-{item}")


@login_required
@require_POST
def deduction_ticket(request, pk: int):
    deduction = get_object_or_404(Deduction.objects.select_related("assessment"), pk=pk)
    assessment = _assessment(request, deduction.assessment_id)  # scope check
    try:
        ticket = svc.deduction_open_ticket(deduction=deduction, by=request.user)
    except ApplicationError as failure:
        return assessment_detail(
            request, assessment.pk, status=failure.status, error=failure.message
        )
    messages.success(request, _("Ticket %(number)s opened.") % {"number": ticket.number})
    return see_other(
        reverse("assessment_detail", args=[assessment.pk]) + f"#item-{deduction.item_id}"
    )
