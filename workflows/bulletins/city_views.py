"""City bulletin pages (市级通报): the list, a new draft, composing its items, the document with its
live follow-up, issuing, acknowledging.

Who reaches what is CityBulletin.objects.visible_to (404 otherwise): the city supervisor his
city's bulletins, drafts too; a named county's task force and the officers of a named ticket's
town the issued ones. Composing and issuing are the city supervisor's (403 for any other role
before a form; another city's bulletin is 404). Writes go through city_services; the compose
form's protocol (ticket order, ticked candidates, the pressed button) is the county bulletins'
(workflows/bulletins/views.py), parsed by the same functions.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from core.errors import ApplicationError, Conflict
from core.forms import TextField
from core.pdf import render_pdf
from villages import access
from villages.http import see_other
from villages.models import County
from villages.scope import get_visible_or_404
from workflows.bulletins import city_selectors as selectors
from workflows.bulletins import city_services as svc
from workflows.bulletins.actions import CITY_BULLETIN_ACTIONS
from workflows.bulletins.services import IssueTerms, issue_confirmation, official_number
from workflows.bulletins.views import (
    CANDIDATES_SHOWN,
    PAGE_SIZE,
    ComposeError,
    compose,
    follow_up_rows,
    pdf_filename,
    pdf_response,
    printable,
)
from workflows.models import BulletinState, CityBulletin, RectificationState, RectificationTicket
from workflows.tickets import selectors as ticket_selectors


def _bulletin(request, pk: int) -> CityBulletin:
    return get_visible_or_404(CityBulletin.objects.select_related("city"), request.user, pk=pk)


def _require_city(request) -> None:
    access.require(request.user, "city_bulletin.compose", action=_("compose a city bulletin"))


def _may_compose(user, bulletin: CityBulletin) -> bool:
    return svc.composing_cities(user).filter(pk=bulletin.city_id).exists()


# --- list -------------------------------------------------------------------------------------


@login_required
def city_bulletin_list(request):
    page = ticket_selectors.paginate(
        selectors.city_bulletin_list(request.user), request.GET.get("page"), per_page=PAGE_SIZE
    )
    for bulletin in page:
        bulletin.all_closed = bool(bulletin.item_count) and (
            bulletin.closed_count == bulletin.item_count
        )
    user = request.user
    context = {
        "page": page,
        "is_city": access.allows(user, "city_bulletin.compose"),
        "acknowledges": access.allows(user, "city_bulletin.acknowledge"),
    }
    return render(request, "workflows/city_bulletin_list.html", context)


# --- a new draft ------------------------------------------------------------------------------


class CityBulletinForm(forms.Form):
    title = TextField(label=gettext_lazy("Title"), max_length=200)
    issuer = TextField(
        label=gettext_lazy("Issuer (发文机关)"),
        max_length=100,
        required=False,
        help_text=gettext_lazy(
            "Left blank: the city's task force (<city>农村人居环境整治工作专班)."
        ),
    )
    deadline = forms.DateField(
        label=gettext_lazy("Deadline (整改时限)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=gettext_lazy(
            "By when the counties report the named problems rectified; the tickets keep their "
            "own deadlines."
        ),
    )
    intro = TextField(
        label=gettext_lazy("Introduction"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 5}),
    )

    def __init__(self, *args, cities=(), **kwargs):
        super().__init__(*args, **kwargs)
        if len(cities) > 1:  # a superuser composes for every city: say which
            self.fields["city"] = forms.ChoiceField(
                label=gettext_lazy("City"), choices=[(c.code, c.name) for c in cities]
            )

    def clean_deadline(self):
        deadline = self.cleaned_data["deadline"]
        if deadline and deadline < timezone.localdate():
            raise forms.ValidationError(_("The deadline cannot be in the past."))
        return deadline


@login_required
def city_bulletin_new(request):
    _require_city(request)
    form = CityBulletinForm(request.POST or None, cities=list(svc.composing_cities(request.user)))
    if request.method != "POST":
        return render(request, "workflows/city_bulletin_new.html", {"form": form})
    if form.is_valid():
        try:
            bulletin = svc.city_bulletin_create(by=request.user, **form.cleaned_data)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Draft saved. Now choose its problems."))
            return see_other(reverse("city_bulletin_compose", args=[bulletin.pk]))
    return render(request, "workflows/city_bulletin_new.html", {"form": form}, status=400)


# --- composing --------------------------------------------------------------------------------


class CityCandidateFilter(forms.Form):
    county = forms.ModelChoiceField(
        label=gettext_lazy("County"),
        queryset=County.objects.none(),
        required=False,
        empty_label=gettext_lazy("All counties"),
    )
    state = forms.ChoiceField(
        label=gettext_lazy("State"),
        choices=[("", gettext_lazy("Any state"))]
        + [(s, label) for s, label in RectificationState.choices if s in svc.NAMEABLE_STATES],
        required=False,
    )
    overdue = forms.BooleanField(label=gettext_lazy("Overdue only"), required=False)

    def __init__(self, *args, bulletin: CityBulletin, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["county"].queryset = selectors.city_counties(bulletin)


def _compose_page(request, bulletin, *, status=200, error=""):
    filter_form = CityCandidateFilter(request.GET or None, bulletin=bulletin)
    filters = filter_form.cleaned_data if filter_form.is_valid() else {}
    candidates = selectors.city_bulletin_candidates(bulletin=bulletin, user=request.user, **filters)
    shown = list(candidates[:CANDIDATES_SHOWN])
    ticket_selectors.mark_overdue(shown, as_of=timezone.localdate())
    context = {
        "bulletin": bulletin,
        "filter_form": filter_form,
        "candidates": shown,
        "candidate_count": candidates.count(),
        "shown": CANDIDATES_SHOWN,
        "chosen": selectors.draft_items(bulletin),
        "query": request.GET.urlencode(),
        "error": error,
    }
    if filter_form.errors:
        status = 400
    return render(request, "workflows/city_bulletin_compose.html", context, status=status)


def _tickets(user, order: list[int]) -> list[RectificationTicket]:
    found = RectificationTicket.objects.visible_to(user).select_related("town").in_bulk(order)
    if len(found) != len(set(order)):
        raise ComposeError(_("Unknown ticket, or outside your jurisdiction."))
    return [found[pk] for pk in order]


@login_required
def city_bulletin_compose(request, pk: int):
    bulletin = _bulletin(request, pk)
    _require_city(request)
    if not _may_compose(request.user, bulletin):  # a named county's reader: not his to change
        raise PermissionDenied(_("Only the city supervisor may compose and issue city bulletins."))
    return compose(
        request,
        bulletin,
        page=_compose_page,
        refused=_refused,
        tickets=_tickets,
        items_set=svc.city_bulletin_items_set,
        url_name="city_bulletin_compose",
    )


# --- the document -----------------------------------------------------------------------------


def _document(bulletin: CityBulletin) -> dict:
    """The county bulletins' body prints it: each place begins with its county, the addressees
    are the named counties, the red header is the issuer."""
    doc = svc.city_bulletin_document(bulletin)
    return printable(
        doc, heading=doc.get("issuer", ""), place=lambda item: item["county"] + item["town"]
    )


def _detail(request, bulletin: CityBulletin, *, status: int = 200, error: str = ""):
    user = request.user
    follow_up = svc.city_bulletin_follow_up(bulletin=bulletin, user=user)
    doc = _document(bulletin)
    receipts = selectors.city_bulletin_receipts(bulletin) if bulletin.batch else []
    counties = access.scope(user, "city_bulletin.acknowledge").county_codes
    may_issue = CITY_BULLETIN_ACTIONS.refusal(user, bulletin, "issue") is None and _may_compose(
        user, bulletin
    )
    terms = svc.city_bulletin_issue_terms(bulletin) if may_issue else None
    context = {
        "bulletin": bulletin,
        "doc": doc,
        "follow_up": follow_up,
        "rows": follow_up_rows(doc, follow_up),
        "receipts": receipts,
        "may_acknowledge": any(
            r.county_id in counties and r.acknowledged_at is None for r in receipts
        ),
        "may_issue": may_issue,
        "issue_terms": terms,
        "issue_confirmation": issue_confirmation(terms) if terms else "",
        "error": error,
    }
    return render(request, "workflows/city_bulletin_detail.html", context, status=status)


def _refused(request, bulletin: CityBulletin, error: ApplicationError):
    bulletin.refresh_from_db()
    return _detail(request, bulletin, status=error.status, error=error.message)


@login_required
def city_bulletin_detail(request, pk: int):
    return _detail(request, _bulletin(request, pk))


# --- issuing and acknowledging ----------------------------------------------------------------


@login_required
@require_POST
def city_bulletin_issue(request, pk: int):
    bulletin = _bulletin(request, pk)
    if refusal := CITY_BULLETIN_ACTIONS.role_refusal(
        request.user, bulletin, CITY_BULLETIN_ACTIONS["issue"]
    ):
        raise PermissionDenied(refusal)
    if not _may_compose(request.user, bulletin):
        raise Http404(_("Not found, or outside your jurisdiction."))
    if bulletin.state != BulletinState.DRAFT:
        return _refused(request, bulletin, Conflict(_("The bulletin was already issued.")))
    confirmed = IssueTerms.from_token(request.POST.get("confirm", ""), year=bulletin.year)
    if confirmed is None:
        terms = issue_confirmation(svc.city_bulletin_issue_terms(bulletin))
        message = _("Confirm the issue first: %(terms)s") % {"terms": terms}
        return _refused(request, bulletin, ApplicationError(message))
    try:
        bulletin = svc.city_bulletin_issue(bulletin=bulletin, by=request.user, confirmed=confirmed)
    except ApplicationError as error:
        return _refused(request, bulletin, error)
    messages.success(
        request, _("Issued as %(number)s.") % {"number": official_number(bulletin.number_label)}
    )
    return see_other(reverse("city_bulletin_detail", args=[bulletin.pk]))


@login_required
@require_POST
def city_bulletin_acknowledge(request, pk: int):
    bulletin = _bulletin(request, pk)
    try:
        count = svc.city_bulletin_acknowledge(bulletin=bulletin, by=request.user)
    except ApplicationError as error:
        return _refused(request, bulletin, error)
    if count:
        messages.success(request, _("Receipt acknowledged."))
    else:
        messages.info(request, _("Your county had already acknowledged this bulletin."))
    return see_other(reverse("city_bulletin_detail", args=[bulletin.pk]))


# --- the PDF ------------------------------------------------------------------------------------


@login_required
def city_bulletin_pdf(request, pk: int):
    """The city bulletin as the paper document, in the county bulletins' official layout (red
    header: the issuer; addressees: the counties named)."""
    bulletin = _bulletin(request, pk)
    doc = _document(bulletin)
    context = {"bulletin": bulletin, "doc": doc, "recipients": doc.get("counties", [])}
    pdf = render_pdf(
        template_name="workflows/bulletin_print.html", context=context, request=request
    )
    return pdf_response(pdf, pdf_filename(doc))
