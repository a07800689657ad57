"""Ticket pages: lists, one ticket with the actions its user may take, action endpoints, and the
two forms that open tickets. Views parse input with forms, call one selector or service, render.

An action POST runs its checks in the order that stores nothing for a refused action:
unknown action → 404; ticket moved on since the user saw it → 409 (what was typed is kept);
role, scope or state refuse → 403; bad input → 400; then the photos go through the evidence
pipeline (a bad file → 400 naming it), and only then the service runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import FileResponse, Http404, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from core.errors import ApplicationError, Conflict, Forbidden, StorageFull
from core.forms import error_list
from core.xlsx import XLSX
from villages import access
from villages.http import json_done, json_refused, opens_result, see_other, wants_json
from villages.scope import get_visible_or_404
from workflows.evidence.services import EvidenceError, evidence_record
from workflows.models import RectificationState, RectificationTicket, ToiletTicket
from workflows.tickets import exports, forms, selectors, services
from workflows.tickets.filtersets import RectificationFilterSet, ToiletFilterSet

PAGE_SIZE = 50
SEARCH_COUNT_CAP = 1000
HOUSEHOLDS_SHOWN = 100

# Each action's service (workflows.tickets.services), shared with the API.
RECTIFICATION_SERVICES = services.RECTIFICATION_CALLS
TOILET_SERVICES = services.TOILET_CALLS


def conflict_message() -> str:
    # The services' own wording (services._transition), for a conflict found before the call.
    return _("This ticket was changed by someone else. Reload it; what you typed is kept below.")


# --- lists ------------------------------------------------------------------------------------


@login_required
def ticket_list(request):
    filterset, status = _filter(request, RectificationFilterSet, selectors.rectification_list)
    # Every state's count read once, for the tabs and for a list narrowed by states alone (the
    # tabs, the default list): not counted over the tickets.
    counts = selectors.state_counts(user=request.user, states=RectificationState.values)
    states = filterset.only_states()
    count = selectors.count_in_states(counts, states)
    by_deadline = states if filterset.sorted_by() == ["deadline"] else None
    page = _page(request, filterset.qs, count=count, by_deadline_in=by_deadline)
    selectors.mark_overdue(page, as_of=timezone.localdate())
    context = _list_context(filterset, page, sorts=("number", "town", "deadline", "created"))
    context["can_create"] = access.allows(request.user, "ticket.open")
    context["inbox"] = _inbox(request.user, filterset, counts)
    return render(request, "workflows/ticket_list.html", context, status=status)


def _inbox(user, filterset, counts) -> dict | None:
    """The two desks' tabs of the list, with their counts and links; which one is shown."""
    inbox = selectors.inbox(user=user, counts=counts)
    if not inbox.mine:
        return None  # acts on no ticket (an inspector): one list
    shown = sorted(filterset.data.getlist("state"))

    def tab(states, count, label):
        query = QueryDict(mutable=True)
        query.setlist("state", states)
        query["o"] = "deadline"
        url = f"{reverse('ticket_list')}?{query.urlencode()}"
        return {"label": label, "count": count, "url": url, "current": shown == sorted(states)}

    other = (
        _("Waiting for the towns")
        if access.scope_of(user).county_wide
        else _("Waiting for the county")
    )
    return {
        "mine": tab(inbox.mine, inbox.mine_count, _("For me to do")),
        "waiting": tab(inbox.waiting, inbox.waiting_count, other),
    }


@login_required
def toilet_list(request):
    filterset, status = _filter(request, ToiletFilterSet, selectors.toilet_list)
    page = _page(request, filterset.qs)
    selectors.mark_sla(page, now=timezone.now())
    context = _list_context(filterset, page, sorts=("number", "town", "due", "created"))
    context["can_report"] = access.allows(request.user, "toilet.report")
    context["my_jobs"] = filterset.data.get("mine") == "true"
    return render(request, "workflows/toilet_list.html", context, status=status)


@login_required
def ticket_export(request):
    """The Excel ledger of exactly the list the user is looking at (same filters, same scope)."""
    filterset, status = _filter(request, RectificationFilterSet, selectors.rectification_list)
    if status != 200:
        return ticket_list(request)  # shows the bad filter, with its 400
    filters = exports.ledger_filters(filterset)
    ledger = exports.rectification_ledger(queryset=filterset.qs, filters=filters)
    return _xlsx(ledger, _("rectification-ledger"))


@login_required
def toilet_export(request):
    filterset, status = _filter(request, ToiletFilterSet, selectors.toilet_list)
    if status != 200:
        return toilet_list(request)
    filters = exports.ledger_filters(filterset)
    ledger = exports.toilet_ledger(queryset=filterset.qs, filters=filters)
    return _xlsx(ledger, _("toilet-service-ledger"))


def _xlsx(handle, name: str) -> FileResponse:
    return FileResponse(
        handle,
        as_attachment=True,
        filename=exports.ledger_filename(name),
        content_type=XLSX,
    )


def _filter(request, filterset_class, selector):
    """A query without filters gets the list's defaults (e.g. a town officer's open tickets
    by deadline), shown in the form like any other filter. Bad values → 400, shown."""
    filters = [key for key in request.GET if key != "page"]
    data = request.GET if filters else filterset_class.defaults(user=request.user)
    if filters and not data.get("o") and not data.get("q", "").strip():
        # No order asked for (a dashboard's link to a town's overdue tickets): the list's own,
        # the one its sort select shows — most overdue first, not newest first. A search keeps
        # its order, newest match first.
        data = data.copy()
        data["o"] = filterset_class.default_order
    user = request.user
    filterset = filterset_class(data, queryset=selector(user=user), user=user)
    return filterset, 400 if filterset.errors else 200


def _page(request, queryset, *, count: int | None = None, by_deadline_in=None):
    # A search's matches are counted up to SEARCH_COUNT_CAP ("1,000+"): counting every match of
    # a common word costs more than the page itself.
    searching = bool(request.GET.get("q", "").strip())
    cap = SEARCH_COUNT_CAP if searching else None
    return selectors.paginate(
        queryset,
        request.GET.get("page"),
        per_page=PAGE_SIZE,
        cap=cap,
        count=count,
        by_deadline_in=by_deadline_in,
    )


def _list_context(filterset, page, *, sorts) -> dict:
    query = filterset.data.copy()
    query.pop("page", None)
    current = query.get("o", "")
    sort_links = {}
    for param in sorts:
        sorted_query = query.copy()
        sorted_query["o"] = f"-{param}" if current == param else param
        sort_links[param] = sorted_query.urlencode()
    return {
        "filter": filterset,
        "page": page,
        "query": query.urlencode(),
        "sort_links": sort_links,
        "sorted_by": current,
    }


# --- one ticket -------------------------------------------------------------------------------


@dataclass
class ActionPanel:
    name: str
    label: Promise
    url: str
    form: forms.ActionForm
    primary: bool = False
    danger: bool = False
    enabled: bool = True  # False: kept input of an action no longer possible (after a 409)
    kept: bool = False  # shows "choose the photos again"


def _rectification(request, number: str) -> RectificationTicket:
    return get_visible_or_404(selectors.rectification_page_queryset(), request.user, number=number)


def _toilet(request, number: str) -> ToiletTicket:
    return get_visible_or_404(selectors.toilet_page_queryset(), request.user, number=number)


@login_required
def ticket_detail(request, number: str):
    return _ticket_page(request, _rectification(request, number))


@login_required
def toilet_detail(request, number: str):
    return _ticket_page(request, _toilet(request, number))


def _ticket_page(request, ticket, *, attempted=None, status=200, error: str = ""):
    timeline = selectors.ticket_timeline(ticket)
    context = {
        "ticket": ticket,
        "timeline": timeline,
        "actions": _panels(request, ticket, attempted),
        "action_error": error,
    }
    if isinstance(ticket, RectificationTicket):
        template = "workflows/ticket_detail.html"
        context["before_photos"] = list(ticket.before_photos.order_by("id"))
        context["after_photos"] = selectors.latest_photos(timeline, "submit")
        context["overdue_days"] = selectors.overdue_days(ticket, as_of=timezone.localdate())
    else:
        template = "workflows/toilet_detail.html"
        context["report_photos"] = selectors.latest_photos(timeline, "report")
        context["full_phone"] = selectors.may_see_full_phone(user=request.user, ticket=ticket)
        selectors.mark_sla([ticket], now=timezone.now())
    return render(request, template, context, status=status)


def _panels(request, ticket, attempted) -> list[ActionPanel]:
    """A form per action the user may take now; the failed attempt keeps its input."""
    form_classes = _form_classes(ticket)
    kept_name, kept_form = attempted if attempted else (None, None)
    panels = []
    for rule in selectors.available_actions(user=request.user, ticket=ticket):
        form = kept_form if rule.name == kept_name else None
        panels.append(_panel(ticket, rule, form or form_classes[rule.name](**_fresh(ticket))))
    # A 409 whose action is gone with the ticket's new state: the text stays, for copying.
    rule = selectors.action_rules(ticket).get(kept_name)
    gone = rule is not None and rule.name not in {panel.name for panel in panels}
    if gone and selectors.role_refusal(user=request.user, ticket=ticket, rule=rule) is None:
        panels.insert(0, _panel(ticket, rule, kept_form, enabled=False))
    for panel in panels:
        panel.kept = panel.name == kept_name
    return panels


def _fresh(ticket) -> dict:
    return {"ticket": ticket, "initial": {"state": ticket.state}}


def _panel(ticket, rule, form, *, enabled=True) -> ActionPanel:
    kind = "ticket" if isinstance(ticket, RectificationTicket) else "toilet"
    form.auto_id = f"{rule.name}_%s"  # several forms on one page: ids must not repeat
    return ActionPanel(
        name=rule.name,
        label=selectors.action_label(ticket, rule),
        url=reverse(f"{kind}_action", args=[ticket.number, rule.name]),
        form=form,
        primary=rule.primary,
        danger=rule.danger,
        enabled=enabled,
    )


def _form_classes(ticket) -> dict[str, type[forms.ActionForm]]:
    if isinstance(ticket, RectificationTicket):
        return forms.RECTIFICATION_FORMS
    return forms.TOILET_FORMS


# --- actions ----------------------------------------------------------------------------------


@login_required
@require_POST
def ticket_action(request, number: str, action: str):
    return _act(request, _rectification(request, number), action, RECTIFICATION_SERVICES)


@login_required
@require_POST
def toilet_action(request, number: str, action: str):
    return _act(request, _toilet(request, number), action, TOILET_SERVICES)


def _act(request, ticket, action: str, service_calls: dict):
    rule = selectors.action_rules(ticket).get(action)
    if rule is None:
        raise Http404(_("No such action."))
    form_class = _form_classes(ticket)[action]
    done = _already_done(request, ticket)
    if done is not None and _is_last_step(ticket, done):
        # The phone's queue sent again what arrived before: it is recorded.
        return _done(request, ticket, rule, again=True)
    seen = request.POST.get("state")
    if seen and seen != ticket.state:
        return _conflict(request, ticket, action, conflict_message())
    refusal = selectors.action_refusal(user=request.user, ticket=ticket, rule=rule)
    if refusal:
        if wants_json(request):
            return json_refused([refusal], status=403, url=_detail_url(ticket))
        return _ticket_page(request, ticket, status=403, error=refusal)
    form = form_class(request.POST, request.FILES, ticket=ticket)
    if not form.is_valid():
        return _invalid(request, ticket, action, form, _("Please correct the form below."))
    if done is not None:
        # A key of a step the ticket has moved on from (a page the browser restored with its
        # old hidden fields): this is new work, recorded without that key.
        form.cleaned_data["key"] = None

    def run(photos):
        arguments = form.arguments() | ({"photos": photos} if form.has_photos else {})
        return service_calls[action](ticket=ticket, by=request.user, **arguments)

    try:
        _with_photos(request, form, run)  # the photos and the step: both or neither
    except EvidenceError as error:
        form.add_error("photos", error.messages)
        return _invalid(request, ticket, action, form, " ".join(error.messages))
    except ApplicationError as error:
        if isinstance(error, Conflict):
            return _conflict(request, ticket, action, error.message)
        if isinstance(error, Forbidden):
            if wants_json(request):
                return json_refused([error.message], status=error.status)
            return _ticket_page(request, ticket, status=error.status, error=error.message)
        return _invalid(request, ticket, action, form, error.message, status=_refused(error))
    except IntegrityError:
        # The same key sent twice at once: the other request recorded the step.
        if _already_done(request, ticket) is None:
            raise
        return _done(request, ticket, rule, again=True)
    return _done(request, ticket, rule)


def _already_done(request, ticket):
    """The step this user recorded on this ticket with the form's submission key, if any."""
    try:
        key = uuid.UUID(request.POST.get("key", ""))
    except ValueError:
        return None
    step = services.step_by_key(by=request.user, key=key)
    if step is None or ticket.pk not in (step.rectification_id, step.toilet_id):
        return None
    return step


def _is_last_step(ticket, step) -> bool:
    """No step was recorded on the ticket after `step`."""
    return not type(step).objects.filter(**{_event_field(ticket): ticket}, pk__gt=step.pk).exists()


def _event_field(ticket) -> str:
    return "rectification" if isinstance(ticket, RectificationTicket) else "toilet"


def _detail_url(ticket) -> str:
    return reverse(f"{_kind(ticket)}_detail", args=[ticket.number])


# What a step that is not the end of the matter says it did ("延期申请，已完成" read as granted).
DONE_MESSAGES = {
    "request_extension": gettext_lazy(
        "%(number)s: extension requested — the county decides on it; meanwhile you can still "
        "submit the rectification or withdraw the request."
    ),
    "withdraw_extension": gettext_lazy(
        "%(number)s: extension request withdrawn; the deadline stays as it was."
    ),
}


def _done(request, ticket, rule, *, again: bool = False):
    message = DONE_MESSAGES.get(rule.name)
    values = {"number": ticket.number, "action": selectors.action_label(ticket, rule)}
    text = (message or _("%(number)s: %(action)s — done.")) % values
    if not again and opens_result(request):
        messages.success(request, text)
    if wants_json(request):
        return json_done(_detail_url(ticket), [text], again=again)
    return see_other(_detail_url(ticket))


def _invalid(request, ticket, action, form, message, *, status=400):
    if wants_json(request):
        return json_refused(error_list(form) or [message], status=status)
    return _ticket_page(request, ticket, attempted=(action, form), status=status, error=message)


def _conflict(request, ticket, action, message):
    """The page as it is now, with the user's input kept in the form (state now current)."""
    ticket = _reload(ticket)
    if wants_json(request):
        return json_refused([message], status=409, url=_detail_url(ticket))
    form = forms.kept_input(_form_classes(ticket)[action], request.POST, ticket=ticket)
    form.initial["state"] = ticket.state
    return _ticket_page(request, ticket, attempted=(action, form), status=409, error=message)


def _reload(ticket):
    if isinstance(ticket, RectificationTicket):
        return selectors.rectification_page_queryset().get(pk=ticket.pk)
    return selectors.toilet_page_queryset().get(pk=ticket.pk)


def _kind(ticket) -> str:
    return "ticket" if isinstance(ticket, RectificationTicket) else "toilet"


def _refused(error: ApplicationError) -> int:
    # A form refused as sent is 400; a full disk 507 (the form kept for a later try).
    return 507 if isinstance(error, StorageFull) else 400


def _with_photos(request, form, record):
    """`record(photos)` with the form's photos stored in the same transaction (a refusal, a
    conflict or a failing database leaves no photo behind; a full disk is StorageFull)."""
    files = form.cleaned_data.get("photos") or []
    return evidence_record(files=files, uploaded_by=request.user, record=record)


# --- new tickets ------------------------------------------------------------------------------


@login_required
def ticket_new(request):
    access.require(request.user, "ticket.open", action=_("open a rectification ticket"))
    if request.method != "POST":
        form = forms.RectificationCreateForm(user=request.user)
        return render(request, "workflows/ticket_new.html", {"form": form})
    form = forms.RectificationCreateForm(request.POST, request.FILES, user=request.user)
    created, status = _create(request, form, services.rectification_create, "before_photos")
    if created is None:
        return render(request, "workflows/ticket_new.html", {"form": form}, status=status)
    messages.success(request, _("Ticket %(number)s opened.") % {"number": created.number})
    return see_other(reverse("ticket_detail", args=[created.number]))


@login_required
def toilet_new(request):
    access.require(request.user, "toilet.report", action=_("report a toilet service request"))
    households = selectors.reportable_households(user=request.user)
    form_kwargs = {"user": request.user, "households": households}
    if request.method != "POST":
        form = forms.ToiletReportForm(initial=request.GET.dict(), **form_kwargs)
        return _report_page(request, form, households)
    form = forms.ToiletReportForm(request.POST, request.FILES, **form_kwargs)
    created, status = _create(request, form, services.toilet_report, "photos")
    if created is None:
        return _report_page(request, form, households, status=status)
    messages.success(request, _("Reported as %(number)s.") % {"number": created.number})
    return see_other(reverse("toilet_detail", args=[created.number]))


def _create(request, form, service, photos_argument: str):
    """Validate, store the photos and call the service in one transaction: (the new ticket,
    201), or (None, the status) with the form's errors added."""
    if not form.is_valid():
        return None, 400

    def create(photos):
        return service(by=request.user, **form.arguments(), **{photos_argument: photos})

    try:
        return _with_photos(request, form, create), 201
    except EvidenceError as error:
        form.add_error("photos", error.messages)
        return None, 400
    except ApplicationError as error:
        form.add_error(None, error.message)
        return None, _refused(error)


def _report_page(request, form, households, *, status=200):
    q = request.GET.get("q", "").replace("\x00", "")[:100]  # PostgreSQL refuses NUL in text
    found = selectors.household_search(households, q)
    chosen = form["household"].value()
    return render(
        request,
        "workflows/toilet_new.html",
        {
            "form": form,
            "q": q,
            "households": found[:HOUSEHOLDS_SHOWN],
            "household_count": found.count(),
            "shown": HOUSEHOLDS_SHOWN,
            "chosen": str(chosen) if chosen else "",
            "kinds": form.fields["kind"].choices,
        },
        status=status,
    )
