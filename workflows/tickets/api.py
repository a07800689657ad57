"""The JSON API's tickets (config/api.py): rectification tickets (整改单) at /tickets and toilet
service tickets (管护工单) at /toilet — lists with the pages' filters, one ticket with its events,
photos and the actions the caller may take now, opening one, and each action as a POST.

An action runs its checks in the pages' order (workflows/tickets/views.py), so nothing is stored
for a refused one: unknown ticket or outside the jurisdiction → 404; the body's `state` is not the
ticket's state now → 409 with the current state; role, jurisdiction or state refuse → 403 with the
reason; bad input → 400 naming the fields; then the photos and the step are stored together.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from django.db import IntegrityError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status

from core.api import (
    ERRORS,
    READ_ERRORS,
    Page,
    Refused,
    body_data,
    cursor_page,
    filter_data,
    filter_schema,
    form_body,
    form_errors,
)
from core.errors import ApplicationError, Conflict, Forbidden
from villages import access
from villages.people.services import display_name
from villages.scope import get_visible_or_404
from workflows.evidence.services import EvidenceError, evidence_record
from workflows.models import RectificationTicket, ToiletTicket
from workflows.tickets import forms, selectors, services
from workflows.tickets.actions import RECTIFICATION_ACTIONS, TOILET_ACTIONS
from workflows.tickets.filtersets import RectificationFilterSet, ToiletFilterSet

router = Router(tags=["tickets"])


# --- schemas ----------------------------------------------------------------------------------


class PhotoOut(Schema):
    id: int
    url: str  # the display copy (≤ 1600 px, no EXIF), behind the same authentication
    thumbnail_url: str


class EventOut(Schema):
    action: str
    label: str
    from_state: str
    to_state: str
    actor: str | None
    at: datetime
    observed_at: datetime | None
    note: str
    data: dict
    photos: list[PhotoOut]


class ActionOut(Schema):
    name: str
    label: str
    url: str  # POST here (see the operation of that action for its body)


class TicketOut(Schema):
    number: str
    state: str
    state_label: str
    town_code: str
    town_name: str
    village_code: str | None
    village_name: str | None
    description: str
    created_at: datetime
    updated_at: datetime
    url: str  # this ticket in the API


class RectificationOut(TicketOut):
    source_kind: str
    category: str
    site_label: str
    priority: str
    deadline: date | None
    requested_deadline: date | None
    overdue_days: int
    assigned_at: datetime | None
    submitted_at: datetime | None
    closed_at: datetime | None


class RectificationDetail(RectificationOut):
    location_lat: float | None
    location_lng: float | None
    rectification_note: str
    before_photos: list[PhotoOut]
    events: list[EventOut]
    actions: list[ActionOut]


class ToiletOut(TicketOut):
    kind: str
    channel: str
    household_number: str | None
    sla_due_at: datetime
    sla_breached: bool
    assigned_worker: str | None
    dispatched_at: datetime | None
    completed_at: datetime | None
    confirmed_at: datetime | None


class ToiletDetail(ToiletOut):
    pumped_volume_m3: Decimal | None
    disposal_site: str
    parts_used: str
    satisfaction: str
    events: list[EventOut]
    actions: list[ActionOut]


RectificationFilters = filter_schema(RectificationFilterSet, "TicketFilters", exclude=("o",))
ToiletFilters = filter_schema(ToiletFilterSet, "ToiletFilters", exclude=("o",))


# --- reading ----------------------------------------------------------------------------------


def _kind(ticket) -> str:
    return "tickets" if isinstance(ticket, RectificationTicket) else "toilet"


def _absolute(request, path: str) -> str:
    return request.build_absolute_uri(path)


def _api_path(ticket, *parts: str) -> str:
    return "/".join(["/api/v1", _kind(ticket), ticket.number, *parts])


def _photo(request, photo) -> dict:
    return {
        "id": photo.pk,
        "url": _absolute(request, photo.display_url),
        "thumbnail_url": _absolute(request, photo.thumbnail_url),
    }


def _name(user) -> str | None:
    return display_name(user) if user is not None else None


def _common(request, ticket) -> dict:
    return {
        "number": ticket.number,
        "state": ticket.state,
        "state_label": ticket.get_state_display(),
        "town_code": ticket.town_id,
        "town_name": ticket.town.name,
        "village_code": ticket.village_id,
        "village_name": ticket.village.name if ticket.village_id else None,
        "description": ticket.description,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "url": _absolute(request, _api_path(ticket)),
    }


def _rectification(request, ticket) -> dict:
    fields = (
        "source_kind",
        "category",
        "site_label",
        "priority",
        "deadline",
        "requested_deadline",
        "overdue_days",
        "assigned_at",
        "submitted_at",
        "closed_at",
    )
    return _common(request, ticket) | {name: getattr(ticket, name) for name in fields}


def _toilet(request, ticket) -> dict:
    return _common(request, ticket) | {
        "kind": ticket.kind,
        "channel": ticket.channel,
        "household_number": ticket.household.number if ticket.household_id else None,
        "sla_due_at": ticket.sla_due_at,
        "sla_breached": ticket.sla_breached,
        "assigned_worker": _name(ticket.assigned_worker),
        "dispatched_at": ticket.dispatched_at,
        "completed_at": ticket.completed_at,
        "confirmed_at": ticket.confirmed_at,
    }


def _history(request, ticket) -> dict:
    events = [
        {
            "action": event.action,
            "label": str(event.action_label),
            "from_state": event.from_state,
            "to_state": event.to_state,
            "actor": _name(event.actor),
            "at": event.at,
            "observed_at": event.observed_at,
            "note": event.note,
            "data": event.data,
            "photos": [_photo(request, photo) for photo in event.photos.all()],
        }
        for event in selectors.ticket_timeline(ticket)
    ]
    actions = [
        {
            "name": rule.name,
            "label": str(selectors.action_label(ticket, rule)),
            "url": _absolute(request, _api_path(ticket, "actions", rule.name)),
        }
        for rule in selectors.available_actions(user=request.user, ticket=ticket)
    ]
    return {"events": events, "actions": actions}


def _filtered(request, filterset_class, selector, filters):
    filterset = filterset_class(
        filter_data(filters), queryset=selector(user=request.user), user=request.user
    )
    if not filterset.is_valid():
        raise Refused(_("Please correct the filters."), errors=form_errors(filterset.form))
    return filterset.qs


@router.get(
    "/tickets",
    response={200: Page[RectificationOut], **READ_ERRORS},
    summary="Rectification tickets",
)
def ticket_list(
    request,
    filters: Query[RectificationFilters],
    cursor: str | None = None,
    page_size: int | None = None,
):
    """Rectification tickets (整改单) the caller may see, newest first, with the ticket list's
    filters (state, town, village, source, overdue, deadline range, `q` search)."""
    queryset = _filtered(request, RectificationFilterSet, selectors.rectification_list, filters)
    page = cursor_page(queryset, cursor=cursor, size=page_size)
    selectors.mark_overdue(page["results"], as_of=timezone.localdate())
    page["results"] = [_rectification(request, ticket) for ticket in page["results"]]
    return page


@router.get(
    "/tickets/{number}",
    response={200: RectificationDetail, **READ_ERRORS},
    summary="One rectification ticket",
)
def ticket_detail(request, number: str):
    """The ticket, its events with their photos, and the actions the caller may take now."""
    ticket = _rectification_or_404(request, number)
    return _rectification_detail(request, ticket)


def _rectification_or_404(request, number: str) -> RectificationTicket:
    queryset = selectors.rectification_page_queryset()
    return get_visible_or_404(queryset, request.user, number=number)


def _rectification_detail(request, ticket) -> dict:
    selectors.mark_overdue([ticket], as_of=timezone.localdate())
    before = [_photo(request, photo) for photo in ticket.before_photos.order_by("id")]
    return (
        _rectification(request, ticket)
        | {
            "location_lat": ticket.location_lat,
            "location_lng": ticket.location_lng,
            "rectification_note": ticket.rectification_note,
            "before_photos": before,
        }
        | _history(request, ticket)
    )


@router.get(
    "/toilet", response={200: Page[ToiletOut], **READ_ERRORS}, summary="Toilet service tickets"
)
def toilet_list(
    request,
    filters: Query[ToiletFilters],
    cursor: str | None = None,
    page_size: int | None = None,
):
    """Toilet service tickets (管护工单) the caller may see, newest first, with the list's
    filters (`mine=true`: the jobs dispatched to the caller)."""
    queryset = _filtered(request, ToiletFilterSet, selectors.toilet_list, filters)
    page = cursor_page(queryset, cursor=cursor, size=page_size)
    selectors.mark_sla(page["results"], now=timezone.now())
    page["results"] = [_toilet(request, ticket) for ticket in page["results"]]
    return page


@router.get(
    "/toilet/{number}",
    response={200: ToiletDetail, **READ_ERRORS},
    summary="One toilet service ticket",
)
def toilet_detail(request, number: str):
    ticket = _toilet_or_404(request, number)
    return _toilet_detail(request, ticket)


def _toilet_or_404(request, number: str) -> ToiletTicket:
    return get_visible_or_404(selectors.toilet_page_queryset(), request.user, number=number)


def _toilet_detail(request, ticket) -> dict:
    selectors.mark_sla([ticket], now=timezone.now())
    extra = {
        "pumped_volume_m3": ticket.pumped_volume_m3,
        "disposal_site": ticket.disposal_site,
        "parts_used": ticket.parts_used,
        "satisfaction": ticket.satisfaction,
    }
    return _toilet(request, ticket) | extra | _history(request, ticket)


# --- opening ----------------------------------------------------------------------------------


def _stored(request, form, call):
    """`call(photos)` with the form's photos stored in the same transaction; the pages' errors
    as the API's (a bad photo names the file)."""
    files = form.cleaned_data.get("photos") or []
    try:
        return evidence_record(files=files, uploaded_by=request.user, record=call)
    except EvidenceError as error:
        raise Refused(" ".join(error.messages), errors=error.messages) from None


def _invalid(form) -> Refused:
    return Refused(_("Please correct the request."), errors=form_errors(form))


@router.post(
    "/tickets",
    response={201: RectificationDetail, **ERRORS},
    summary="Open a rectification ticket",
    openapi_extra=form_body(forms.RectificationCreateForm, name="TicketNew"),
)
def ticket_new(request):
    """Opens a ticket (待交办) in a town of the caller's jurisdiction; with `deadline`, a caller
    who may assign assigns it at once. Photos of the problem as multipart `photos`."""
    access.require(request.user, "ticket.open", action=_("open a rectification ticket"))
    data, files = body_data(request)
    form = forms.RectificationCreateForm(data, files, user=request.user)
    if not form.is_valid():
        raise _invalid(form)

    def create(photos):
        return services.rectification_create(
            by=request.user, **form.arguments(), before_photos=photos
        )

    ticket = _stored(request, form, create)
    return Status(
        201, _rectification_detail(request, _rectification_or_404(request, ticket.number))
    )


@router.post(
    "/toilet",
    response={201: ToiletDetail, **ERRORS},
    summary="Report a toilet service request",
    openapi_extra=form_body(forms.ToiletReportForm, name="ToiletNew"),
)
def toilet_new(request):
    """A household's request (its id in `household`), what it needs (`kind`) and, for the town
    and county offices, how it came in (`channel`)."""
    access.require(request.user, "toilet.report", action=_("report a toilet service request"))
    data, files = body_data(request)
    households = selectors.reportable_households(user=request.user)
    form = forms.ToiletReportForm(data, files, user=request.user, households=households)
    if not form.is_valid():
        raise _invalid(form)

    def create(photos):
        return services.toilet_report(by=request.user, **form.arguments(), photos=photos)

    ticket = _stored(request, form, create)
    return Status(201, _toilet_detail(request, _toilet_or_404(request, ticket.number)))


# --- actions ----------------------------------------------------------------------------------


def _act(request, ticket, name: str, calls: dict, detail):
    rule = selectors.action_rules(ticket)[name]
    data, files = body_data(request)
    done = _already_done(request, ticket, data)
    if done is not None:
        return Status(200, detail(request, ticket))  # a resend of a step already recorded
    seen = data.get("state")
    if seen and seen != ticket.state:
        raise _conflict(ticket, _("This ticket was changed by someone else."))
    refusal = selectors.action_refusal(user=request.user, ticket=ticket, rule=rule)
    if refusal:
        raise Refused(refusal, status=403, state=ticket.state)
    form_classes = forms.RECTIFICATION_FORMS if _kind(ticket) == "tickets" else forms.TOILET_FORMS
    form = form_classes[name](data, files, ticket=ticket)
    if not form.is_valid():
        raise _invalid(form)

    def run(photos):
        arguments = form.arguments() | ({"photos": photos} if form.has_photos else {})
        return calls[name](ticket=ticket, by=request.user, **arguments)

    try:
        _stored(request, form, run)
    except Conflict as error:
        raise _conflict(ticket, error.message) from None
    except Forbidden as error:
        raise Refused(error.message, status=403, state=ticket.state) from None
    except ApplicationError as error:
        if isinstance(error, Refused):
            raise
        raise Refused(error.message, status=error.status) from None
    except IntegrityError:
        # The same submission key sent twice at once: the other request recorded the step.
        if _already_done(request, ticket, data) is None:
            raise
    return Status(200, detail(request, type(ticket).objects.get(pk=ticket.pk)))


def _conflict(ticket, message: str) -> Refused:
    now = type(ticket).objects.filter(pk=ticket.pk).values_list("state", flat=True).first()
    return Refused(message, status=409, state=now)


def _already_done(request, ticket, data):
    """The step this caller recorded on this ticket with the body's submission key, if it is
    still the ticket's last step (a resend after a lost answer)."""
    try:
        key = uuid.UUID(str(data.get("key", "")))
    except ValueError:
        return None
    step = services.step_by_key(by=request.user, key=key)
    if step is None or ticket.pk not in (step.rectification_id, step.toilet_id):
        return None
    field = "rectification" if _kind(ticket) == "tickets" else "toilet"
    later = type(step).objects.filter(**{field: ticket}, pk__gt=step.pk).exists()
    return None if later else step


def _action_operation(kind: str, name: str, form_class, calls: dict):
    getter = _rectification_or_404 if kind == "tickets" else _toilet_or_404
    detail = _rectification_detail if kind == "tickets" else _toilet_detail
    schema = RectificationDetail if kind == "tickets" else ToiletDetail
    rules = RECTIFICATION_ACTIONS if kind == "tickets" else TOILET_ACTIONS
    rule = rules[name]

    def operation(request, number: str):
        return _act(request, getter(request, number), name, calls, detail)

    operation.__name__ = f"{kind}_{name}"
    operation.__doc__ = (
        f"{rule.label} ({name}). Send `state`, the ticket's state as you last read it: another "
        "state answers 409 with the state now. 403 says why the caller may not."
    )
    router.post(
        f"/{kind}/{{number}}/actions/{name}",
        response={200: schema, **ERRORS},
        summary=str(rule.label),
        operation_id=f"{kind}_{name}",
        openapi_extra=form_body(form_class, name=f"{kind}_{name}".title().replace("_", "")),
    )(operation)


for _name_, _form in forms.RECTIFICATION_FORMS.items():
    _action_operation("tickets", _name_, _form, services.RECTIFICATION_CALLS)
for _name_, _form in forms.TOILET_FORMS.items():
    _action_operation("toilet", _name_, _form, services.TOILET_CALLS)
