"""Bulletin pages (通报): the list, a new draft, composing its items, the document (a draft's live
preview; an issued bulletin's frozen text with its live follow-up), issuing, acknowledging, and
the two PDFs (the bulletin in official layout, the follow-up report).

An issued bulletin is an official document: every page and PDF of it prints `snapshot`, never
the tickets as they are now. Only the follow-up (整改情况) reads the live tickets.

Writes go through workflows/bulletins/services.py; reads (the tickets a draft may name, the
text printed: a draft's preview is built by the code that freezes the snapshot at issue)
through workflows/bulletins/selectors.py. A refused write stores nothing and answers with the
page and a message: 400 bad input, 403 role or scope, 404 out of scope, 409 the bulletin moved
on (issued meanwhile).

Issuing is confirmed: its form states the number and the item count the issue will have and
posts them back; an issue POST without them is 400, with terms no longer true 409.
"""

from __future__ import annotations

import io
from datetime import date

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy
from django.views.decorators.http import require_POST

from core.errors import ApplicationError, Conflict, Forbidden
from core.forms import TextField
from core.pdf import render_pdf
from villages import access
from villages.http import see_other
from villages.models import County, Town
from villages.scope import get_visible_or_404
from workflows.bulletins import selectors as bulletin_selectors
from workflows.bulletins import services as svc
from workflows.bulletins.actions import BULLETIN_ACTIONS
from workflows.bulletins.services import IssueTerms, official_number
from workflows.models import (
    Bulletin,
    BulletinItem,
    BulletinKind,
    BulletinState,
    RectificationState,
    RectificationTicket,
    Source,
)
from workflows.tickets import selectors

PAGE_SIZE = 50
CANDIDATES_SHOWN = 300
WORDING_MAX = 2000
FOLLOW_UP_LABELS = {
    "closed": pgettext_lazy("bulletin follow-up", "Closed"),
    "in_progress": pgettext_lazy("bulletin follow-up", "In progress"),
    "overdue": pgettext_lazy("bulletin follow-up", "Overdue"),
}


# --- access -----------------------------------------------------------------------------------


def _bulletin(request, pk: int) -> Bulletin:
    """Task force: any bulletin; towns: the issued ones addressed to them; else 404."""
    return get_visible_or_404(Bulletin.objects.all(), request.user, pk=pk)


def _require_task_force(request, action) -> None:
    access.require(request.user, "bulletin.compose", action=action)


# --- list -------------------------------------------------------------------------------------


@login_required
def bulletin_list(request):
    page = selectors.paginate(
        bulletin_selectors.bulletin_list(request.user), request.GET.get("page"), per_page=PAGE_SIZE
    )
    bulletin_selectors.mark_all_closed(page)
    user = request.user
    context = {
        "page": page,
        "is_task_force": access.allows(user, "bulletin.compose"),
        "acknowledges": access.allows(user, "bulletin.acknowledge"),
    }
    return render(request, "workflows/bulletin_list.html", context)


# --- a new draft ------------------------------------------------------------------------------


class BulletinForm(forms.Form):
    # Ranking and grade-result bulletins are composed by inspections, not by hand.
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"),
        choices=[
            (BulletinKind.PROBLEMS.value, BulletinKind.PROBLEMS.label),
            (BulletinKind.SUPERVISION.value, BulletinKind.SUPERVISION.label),
        ],
    )
    title = TextField(label=gettext_lazy("Title"), max_length=200)
    default_deadline = forms.DateField(
        label=gettext_lazy("Deadline (整改时限)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=gettext_lazy("Issuing assigns the bulletin's new tickets with this deadline."),
    )
    intro = TextField(
        label=gettext_lazy("Introduction"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 5}),
    )

    def __init__(self, *args, counties=(), **kwargs):
        super().__init__(*args, **kwargs)
        if len(counties) > 1:  # composing in several counties (a superuser): say which
            self.fields["county"] = forms.ChoiceField(
                label=gettext_lazy("County"), choices=[(c.code, c.name) for c in counties]
            )

    def clean_default_deadline(self):
        deadline = self.cleaned_data["default_deadline"]
        if deadline and deadline < timezone.localdate():
            raise forms.ValidationError(_("The deadline cannot be in the past."))
        return deadline


@login_required
def bulletin_new(request):
    _require_task_force(request, _("compose a bulletin"))
    form = BulletinForm(request.POST or None, counties=svc.bulletin_counties(request.user))
    if request.method != "POST":
        return render(request, "workflows/bulletin_new.html", {"form": form})
    if form.is_valid():
        try:
            bulletin = svc.bulletin_create(by=request.user, **form.cleaned_data)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Draft saved. Now choose its problems."))
            return see_other(reverse("bulletin_compose", args=[bulletin.pk]))
    return render(request, "workflows/bulletin_new.html", {"form": form}, status=400)


# --- composing --------------------------------------------------------------------------------


class CandidateFilter(forms.Form):
    POOLS = [  # bulletin_selectors.CANDIDATE_POOLS
        ("suggested", gettext_lazy("Suggested: new findings and overdue tickets for a bulletin")),
        ("drafts", gettext_lazy("New findings (to be assigned)")),
        ("ladder", gettext_lazy("Overdue, put on the next bulletin by the ladder")),
        ("open", gettext_lazy("All open tickets")),
    ]
    pool = forms.ChoiceField(label=gettext_lazy("Show"), choices=POOLS, required=False)
    town = forms.ModelChoiceField(
        label=gettext_lazy("Town"),
        queryset=Town.objects.only("code", "name").order_by("code"),
        required=False,
        empty_label=gettext_lazy("All towns"),
    )
    source_kind = forms.ChoiceField(
        label=gettext_lazy("Source"),
        choices=[("", gettext_lazy("Any source")), *Source.choices],
        required=False,
    )


def _compose_page(request, bulletin, *, status=200, error=""):
    filter_form = CandidateFilter(request.GET or None)
    filters = filter_form.cleaned_data if filter_form.is_valid() else {}
    candidates = bulletin_selectors.bulletin_candidates(
        bulletin=bulletin, user=request.user, **filters
    )
    context = {
        "bulletin": bulletin,
        "filter_form": filter_form,
        "candidates": candidates[:CANDIDATES_SHOWN],
        "candidate_count": candidates.count(),
        "shown": CANDIDATES_SHOWN,
        "chosen": bulletin_selectors.draft_items(bulletin),
        "query": request.GET.urlencode(),
        "error": error,
    }
    if filter_form.errors:
        status = 400
    return render(request, "workflows/bulletin_compose.html", context, status=status)


class ComposeError(Exception):
    pass


def _ids(values) -> list[int]:
    try:
        ids = [int(value) for value in values]
    except (TypeError, ValueError):
        raise ComposeError(_("Unknown ticket.")) from None
    if not all(0 < pk < 2**63 for pk in ids):  # a database key, not any integer at all
        raise ComposeError(_("Unknown ticket."))
    return ids


def _new_order(post) -> list[int]:
    """The posted order, with the ticked candidates appended and the pressed button applied."""
    order = _ids(post.getlist("ticket"))
    order += [pk for pk in _ids(post.getlist("add")) if pk not in order]
    op, _sep, target = post.get("op", "save").partition(":")
    if op in ("up", "down", "remove"):
        [pk] = _ids([target])
        if pk not in order:
            raise ComposeError(_("Unknown ticket."))
        index = order.index(pk)
        if op == "remove":
            order.pop(index)
        else:
            other = index - 1 if op == "up" else index + 1
            if 0 <= other < len(order):
                order[index], order[other] = order[other], order[index]
    elif op not in ("save", "add"):
        raise ComposeError(_("Unknown button."))
    return order


def _wordings(post, order: list[int]) -> dict[int, str]:
    wordings = {pk: post.get(f"wording_{pk}", "").strip() for pk in order}
    if any(len(text) > WORDING_MAX for text in wordings.values()):
        raise ComposeError(_("A wording may have at most %(n)d characters.") % {"n": WORDING_MAX})
    return wordings


def _tickets(user, order: list[int]) -> list[RectificationTicket]:
    found = RectificationTicket.objects.visible_to(user).in_bulk(order)
    if len(found) != len(set(order)):
        raise ComposeError(_("Unknown ticket, or outside your jurisdiction."))
    return [found[pk] for pk in order]


@login_required
def bulletin_compose(request, pk: int):
    bulletin = _bulletin(request, pk)
    _require_task_force(request, _("compose a bulletin"))
    return compose(
        request,
        bulletin,
        page=_compose_page,
        refused=_refused,
        tickets=_tickets,
        items_set=svc.bulletin_items_set,
        url_name="bulletin_compose",
    )


def compose(request, bulletin, *, page, refused, tickets, items_set, url_name: str):
    """A draft's compose page (GET) or its items saved (POST), county's or city's: `page` and
    `refused` render, `tickets` reads the posted ones the user may name, `items_set` writes."""
    if bulletin.state != BulletinState.DRAFT:
        return refused(request, bulletin, Conflict(_("The bulletin was issued.")))
    if request.method != "POST":
        return page(request, bulletin)
    try:
        order = _new_order(request.POST)
        wordings = _wordings(request.POST, order)
        chosen = tickets(request.user, order)
    except ComposeError as error:
        return page(request, bulletin, status=400, error=str(error))
    try:
        items_set(bulletin=bulletin, by=request.user, tickets=chosen, wordings=wordings)
    except ApplicationError as error:
        bulletin.refresh_from_db()
        if bulletin.state != BulletinState.DRAFT:
            return refused(request, bulletin, Conflict(error.message))
        if isinstance(error, Forbidden):
            return refused(request, bulletin, error)
        return page(request, bulletin, status=400, error=error.message)
    count = len(chosen)
    saved = ngettext("Saved: %(n)d problem.", "Saved: %(n)d problems.", count)
    messages.success(request, saved % {"n": count})
    url = reverse(url_name, args=[bulletin.pk])
    query = request.GET.urlencode()
    return see_other(f"{url}?{query}#chosen" if query else f"{url}#chosen")


# --- the document -----------------------------------------------------------------------------


def issuer_heading(issuer: str, *, county: County) -> str:
    """县农村人居环境整治工作专班 (the issuer of bulletins issued before each county had its own)
    → 金乡县农村人居环境整治工作专班: the red header names the bulletin's county."""
    if issuer.startswith("县"):
        return county.name + issuer[1:]
    return issuer


def _date(value) -> date | None:
    return date.fromisoformat(value) if value else None


def printable(doc: dict, *, heading: str, place=lambda item: item["town"]) -> dict:
    """A bulletin's text (a snapshot or a draft's preview), county's or city's, as
    workflows/bulletin_body.html prints it: dates as dates, the official number, the red
    header, each item's place (`place`)."""
    doc = dict(doc)
    doc["items"] = [
        {**item, "town": place(item), "deadline": _date(item.get("deadline"))}
        for item in doc.get("items", [])
    ]
    doc["issued_on"] = _date(doc.get("issued_on"))
    doc["deadline"] = _date(doc.get("deadline"))
    doc["official_number"] = official_number(doc.get("number", ""))
    doc["heading"] = heading
    return doc


def _document(bulletin: Bulletin, follow_up) -> dict:
    """What the page and the PDF print (the snapshot, or a draft's preview)."""
    doc = bulletin_selectors.bulletin_document(bulletin, items=follow_up.items)
    return printable(doc, heading=issuer_heading(doc.get("issuer", ""), county=bulletin.county))


def follow_up_rows(doc: dict, follow_up) -> list[tuple[dict, BulletinItem]]:
    """Each printed item next to its ticket as it is now (the viewer's own rows: a town its
    towns', a county its county's)."""
    live = {item.ticket.number: item for item in follow_up.items}
    rows = []
    for printed in doc["items"]:
        item = live.get(printed["ticket"])
        if item is not None:
            item.follow_up_label = FOLLOW_UP_LABELS[item.follow_up]
            rows.append((printed, item))
    return rows


def _detail_context(request, bulletin: Bulletin) -> dict:
    user = request.user
    follow_up = svc.bulletin_follow_up(bulletin=bulletin, user=user)
    doc = _document(bulletin, follow_up)
    bulletin_selectors.photo_pictures(doc)
    receipts = bulletin_selectors.bulletin_receipts(bulletin)
    towns = access.scope(user, "bulletin.acknowledge").town_codes
    may_issue = BULLETIN_ACTIONS.refusal(user, bulletin, "issue") is None
    terms = svc.bulletin_issue_terms(bulletin) if may_issue else None
    return {
        "bulletin": bulletin,
        "doc": doc,
        "follow_up": follow_up,
        "rows": follow_up_rows(doc, follow_up),
        "receipts": receipts,
        "recipients": [receipt.town.name for receipt in receipts],
        "may_acknowledge": any(r.town_id in towns and r.acknowledged_at is None for r in receipts),
        "may_issue": may_issue,
        "issue_terms": terms,
        "issue_confirmation": svc.issue_confirmation(terms) if terms else "",
        "draft_tickets": sum(
            item.ticket.state == RectificationState.DRAFT for item in follow_up.items
        ),
    }


def _detail(request, bulletin: Bulletin, *, status: int = 200, error: str = ""):
    context = _detail_context(request, bulletin) | {"error": error}
    return render(request, "workflows/bulletin_detail.html", context, status=status)


def _refused(request, bulletin: Bulletin, error: ApplicationError):
    bulletin.refresh_from_db()
    return _detail(request, bulletin, status=error.status, error=error.message)


@login_required
def bulletin_detail(request, pk: int):
    return _detail(request, _bulletin(request, pk))


# --- issuing and acknowledging ----------------------------------------------------------------


@login_required
@require_POST
def bulletin_issue(request, pk: int):
    bulletin = _bulletin(request, pk)
    if refusal := BULLETIN_ACTIONS.role_refusal(request.user, bulletin, BULLETIN_ACTIONS["issue"]):
        raise PermissionDenied(refusal)
    if bulletin.state != BulletinState.DRAFT:
        return _refused(request, bulletin, Conflict(_("The bulletin was already issued.")))
    # Issuing cannot be undone: the form states the number and the item count, and the POST
    # carries them back (`confirm`); the service issues only on exactly those terms.
    confirmed = IssueTerms.from_token(request.POST.get("confirm", ""), year=bulletin.year)
    if confirmed is None:
        terms = svc.issue_confirmation(svc.bulletin_issue_terms(bulletin))
        message = _("Confirm the issue first: %(terms)s") % {"terms": terms}
        return _refused(request, bulletin, ApplicationError(message))
    try:
        bulletin = svc.bulletin_issue(bulletin=bulletin, by=request.user, confirmed=confirmed)
    except ApplicationError as error:
        return _refused(request, bulletin, error)
    messages.success(
        request, _("Issued as %(number)s.") % {"number": official_number(bulletin.number_label)}
    )
    return see_other(reverse("bulletin_detail", args=[bulletin.pk]))


@login_required
@require_POST
def bulletin_acknowledge(request, pk: int):
    bulletin = _bulletin(request, pk)
    try:
        count = svc.bulletin_acknowledge(bulletin=bulletin, by=request.user)
    except ApplicationError as error:
        return _refused(request, bulletin, error)
    if count:
        messages.success(request, _("Receipt acknowledged."))
    else:
        messages.info(request, _("Your town had already acknowledged this bulletin."))
    return see_other(reverse("bulletin_detail", args=[bulletin.pk]))


# --- PDFs -------------------------------------------------------------------------------------


def pdf_response(pdf: bytes, name: str) -> FileResponse:
    return FileResponse(io.BytesIO(pdf), filename=name, content_type="application/pdf")


def pdf_filename(doc: dict, suffix: str = "") -> str:
    number = doc.get("number") or _("draft")
    return f"{number}-{doc['title'][:40]}{suffix}.pdf"


@login_required
def bulletin_pdf(request, pk: int):
    """The bulletin as the paper document (red header, number, problems with photos, seal)."""
    bulletin = _bulletin(request, pk)
    context = _print_context(request, bulletin)
    pdf = render_pdf(
        template_name="workflows/bulletin_print.html", context=context, request=request
    )
    return pdf_response(pdf, pdf_filename(context["doc"]))


def _print_context(request, bulletin: Bulletin) -> dict:
    follow_up = svc.bulletin_follow_up(bulletin=bulletin, user=request.user)
    doc = _document(bulletin, follow_up)
    bulletin_selectors.photo_pictures(doc)
    return {
        "bulletin": bulletin,
        "doc": doc,
        "recipients": bulletin_selectors.recipient_names(bulletin),
    }


@login_required
def bulletin_follow_up_pdf(request, pk: int):
    """整改情况: each item's state now, with its after-photos, and the counts per town."""
    bulletin = _bulletin(request, pk)
    if bulletin.state != BulletinState.ISSUED:
        raise Http404(_("A draft has no follow-up yet."))
    follow_up = svc.bulletin_follow_up(bulletin=bulletin, user=request.user)
    doc = _document(bulletin, follow_up)
    rows = follow_up_rows(doc, follow_up)
    photos = bulletin_selectors.after_photos([item.ticket for _printed, item in rows])
    for _printed, item in rows:
        item.after_photos = photos.get(item.ticket.pk, [])
    context = {
        "bulletin": bulletin,
        "doc": doc,
        "follow_up": follow_up,
        "rows": rows,
        "as_of": timezone.localdate(),
    }
    pdf = render_pdf(
        template_name="workflows/bulletin_follow_up_print.html", context=context, request=request
    )
    return pdf_response(pdf, pdf_filename(doc, suffix=_("-follow-up")))
