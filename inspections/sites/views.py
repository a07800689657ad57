"""The site register, a site's page, the scan → patrol page and a patrol's result.

The patrol POST stores nothing it does not keep: a bad form → 400; a retried submission (same
key) → the patrol already recorded; a refused patrol → its photos are removed again and the
reasons shown, with what was typed kept; a site removed from the list meanwhile → 409, saying so.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import ApplicationError, Conflict, StorageFull
from core.forms import error_list
from inspections.models import Patrol, PatrolCheck, PatrolPolicy, WaterSite
from inspections.sites import presence, scan_page, selectors, services
from inspections.sites.actions import SITE_ACTIONS
from inspections.sites.filtersets import WaterSiteFilterSet
from inspections.sites.forms import PatrolForm
from inspections.sites.services import PatrolRefused
from villages import access
from villages.http import json_done, json_refused, opens_result, see_other, wants_json
from villages.scope import get_visible_or_404
from workflows.evidence.services import (
    EvidenceError,
    evidence_photos_discard,
    evidence_record,
)
from workflows.tickets.selectors import paginate

PAGE_SIZE = 50


# --- scan → patrol ----------------------------------------------------------------------------


@login_required
def scan(request, token: str):
    """What a signboard's QR code opens (after login, login returns here)."""
    if "\x00" in token:  # no label has it, and PostgreSQL refuses it in a query (a 500)
        raise Http404(_("This QR code is not a label of this system."))
    site = selectors.scan_site(user=request.user, token=token)
    if site is None:
        return _not_visible(request, token)
    may_patrol = access.allows(request.user, "site.patrol", site)
    can_patrol = site.is_listed and may_patrol
    if request.method == "POST":
        if may_patrol and not site.is_listed:  # delisted while the form was open: 409, say so
            if wants_json(request):
                return json_refused([_("This site was removed from the list.")], status=409)
            return _scan_page(request, site, token, None, status=409)
        if not can_patrol:
            raise PermissionDenied(_("You may not record a patrol at this site."))
        return _record(request, site, token)
    return _scan_page(request, site, token, BLANK_FORM if can_patrol else None)


def _not_visible(request, token: str):
    """No site the user may see has this label: a site outside his scope (404, like every
    object there), a replaced label (410) or none of this system (404)."""
    if selectors.site_by_token(token) is not None:
        raise Http404(_("Not found, or outside your jurisdiction."))
    return _unknown_label(request, token)


def _unknown_label(request, token: str):
    retired = selectors.retired_token(token)
    if retired is None:
        raise Http404(_("This QR code is not a label of this system."))
    # That a label was replaced is no secret; which site it named is, outside its town.
    visible = WaterSite.objects.visible_to(request.user).filter(pk=retired.site_id).exists()
    context = {"retired": retired if visible else None}
    return render(request, "inspections/label_replaced.html", context, status=410)


# The empty patrol form, which the page takes from the cache (scan_page.patrol_form); a bound
# form (a refused patrol, shown again with what was typed) is rendered for its request.
BLANK_FORM = "blank"


def _scan_page(request, site, token, form, *, status=200, refusal=None):
    """`form`: BLANK_FORM, a bound PatrolForm to show again, or None (no form)."""
    policy = PatrolPolicy.cached(site.town.county_id)  # the site's county's
    blank = form == BLANK_FORM
    context = {
        "site": site,
        "token": token,
        "show_form": form is not None,
        "form": None if blank else form,
        "fields_html": scan_page.patrol_form_fields(request, policy=policy) if blank else "",
        "policy": policy,
        "parts": scan_page.scan_parts(site=site),
        "refusal": refusal,
    }
    return render(request, "inspections/scan.html", context, status=status)


def _record(request, site, token):
    form = PatrolForm(request.POST, request.FILES)
    if not form.is_valid():
        return _refused(request, site, token, form, error_list(form))
    done = Patrol.objects.filter(inspector=request.user, key=form.cleaned_data["key"]).first()
    if done is not None:  # a retried POST: the patrol is already there
        return _recorded(request, done, again=True)
    stored = []

    def record(photos):
        stored[:] = photos
        return services.patrol_record(
            by=request.user,
            site=site,
            key=form.cleaned_data["key"],
            observation=form.observation(),
            position=form.position(),
            photos=photos,
            user_agent=request.headers.get("User-Agent", ""),
            observed_at=form.cleaned_data.get("observed_at"),
        )

    files = form.cleaned_data.get("photos") or []
    try:
        # The photos and the patrol in one transaction: a refusal or a failing database leaves
        # no photo behind (workflows.evidence.services.evidence_record).
        patrol, created = evidence_record(files=files, uploaded_by=request.user, record=record)
    except EvidenceError as error:
        form.add_error("photos", error.messages)
        return _refused(request, site, token, form, error.messages)
    except ApplicationError as error:
        refusal = [presence.message(d.as_flag()) for d in getattr(error, "doubts", [])]
        if not isinstance(error, PatrolRefused):
            form.add_error(None, error.message)
        status = 507 if isinstance(error, StorageFull) else 400
        reasons = refusal or [error.message]
        return _refused(request, site, token, form, reasons, status=status, refusal=refusal)
    if not created:  # the same POST again: the patrol it recorded keeps its own photos
        evidence_photos_discard(stored)
    return _recorded(request, patrol, again=not created)


def _refused(request, site, token, form, reasons, *, status=400, refusal=None):
    if wants_json(request):
        return json_refused(reasons, status=status)
    return _scan_page(request, site, token, form, status=status, refusal=refusal)


def _recorded(request, patrol: Patrol, *, again: bool):
    url = reverse("patrol_detail", args=[patrol.pk])
    told = _told(patrol)
    if not again and opens_result(request):
        for level, text in told:
            messages.add_message(request, level, text)
    if wants_json(request):  # no page to read the doubts on: they come along
        doubts = [presence.message(flag) for flag in patrol.flags]
        return json_done(url, [text for _level, text in told] + doubts, again=again)
    return see_other(url)


def _told(patrol: Patrol) -> list[tuple[int, str]]:
    """What the inspector is told about the patrol just recorded."""
    if patrol.flagged:
        # The reasons are on the patrol's page the user lands on: said once, there.
        told = [(messages.WARNING, _("Patrol recorded, but its presence is in doubt (see below)."))]
    else:
        told = [(messages.SUCCESS, _("Patrol recorded."))]
    if patrol.ticket_id:
        number = patrol.ticket.number
        told.append((messages.INFO, _("Rectification ticket %(number)s.") % {"number": number}))
    return told


@login_required
def patrol_detail(request, pk: int):
    patrol = get_visible_or_404(selectors.patrol_page_queryset(), request.user, pk=pk)
    context = {
        "patrol": patrol,
        # The kinds of doubt at the top; each one's words once, beside its check below (a
        # patrol from before the checks were stored has only the words, shown at the top).
        "flags": list(dict.fromkeys(presence.doubt_label(flag) for flag in patrol.flags))
        if patrol.checks
        else [presence.message(flag) for flag in patrol.flags],
        "presence_checks": presence.check_lines(patrol.checks, patrol.flags),
        "sent_later": patrol.created_at - patrol.observed_at > presence.CLOCK_SKEW,
        "patrol_checks": [
            Patrol._meta.get_field(check).verbose_name
            for check in PatrolCheck
            if getattr(patrol, check)
        ],
    }
    return render(request, "inspections/patrol_detail.html", context)


# --- the register -----------------------------------------------------------------------------


@login_required
def site_list(request):
    filters = [key for key in request.GET if key != "page"]
    data = request.GET if filters else WaterSiteFilterSet.defaults(user=request.user)
    filterset = WaterSiteFilterSet(
        data, queryset=selectors.site_list(user=request.user), user=request.user
    )
    status = 400 if filterset.errors else 200
    page = paginate(filterset.qs, request.GET.get("page"), per_page=PAGE_SIZE)
    query = filterset.data.copy()
    query.pop("page", None)
    context = {
        "filter": filterset,
        "page": page,
        "query": query.urlencode(),
        "can_print": access.allows(request.user, "site.labels"),
    }
    return render(request, "inspections/site_list.html", context, status=status)


def _site(request, code: str):
    return get_visible_or_404(selectors.site_page_queryset(), request.user, code=code)


@login_required
def site_detail(request, code: str):
    site = _site(request, code)
    return _site_page(request, site)


def _site_page(request, site, *, status=200, error=""):
    page = paginate(selectors.site_patrols(site=site), request.GET.get("page"), per_page=PAGE_SIZE)
    user = request.user
    context = {
        "site": site,
        "page": page,
        "tickets": list(selectors.all_tickets(site=site)[:PAGE_SIZE]),
        "actions": _site_actions(user, site),
        "can_print": access.allows(user, "site.labels", site),
        "can_patrol": site.is_listed and access.allows(user, "site.patrol", site),
        "error": error,
    }
    return render(request, "inspections/site_detail.html", context, status=status)


def _site_actions(user, site) -> list[tuple[str, str]]:
    return [(action.name, action.label) for action in SITE_ACTIONS.offered(user, site)]


@login_required
@require_POST
def site_action(request, code: str, action: str):
    site = _site(request, code)
    if action != "rotate_token" and action not in SITE_ACTIONS:
        raise Http404(_("No such action."))
    seen = request.POST.get("state")
    if seen and seen != site.state:
        error = _("This site was changed by someone else. Reload it.")
        return _site_page(request, site, status=409, error=error)
    try:
        if action == "rotate_token":
            services.site_rotate_token(site=site, by=request.user)
            messages.success(request, _("New QR label issued; the old label no longer works."))
        else:
            services.site_transition(site=site, by=request.user, action=action)
            messages.success(request, _("Site updated."))
    except ApplicationError as error:
        site = _site(request, code) if isinstance(error, Conflict) else site  # as it is now
        return _site_page(request, site, status=error.status, error=error.message)
    return see_other(reverse("site_detail", args=[site.code]))
