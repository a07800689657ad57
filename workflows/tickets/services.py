"""Every write to a ticket goes through one of these functions.

Each checks the actor's role and scope, runs the FSM transition, saves, and writes the event row
in one transaction; side effects go through `transaction.on_commit`. Errors a user can act on
are `ApplicationError` (message shown as is); a stale copy is `Conflict`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from core.counters import counter_take
from core.dates import field_time
from core.errors import ApplicationError, Forbidden
from villages import access
from villages.configuration import county_config
from villages.models import Household, Town, Village
from workflows.models import (
    Category,
    EvidencePhoto,
    RectificationState,
    RectificationTicket,
    Source,
    TicketCounter,
    TicketEvent,
    ToiletTicket,
)
from workflows.tickets.actions import RECTIFICATION_ACTIONS, TOILET_ACTIONS

# Sent inside the closing transaction; inspections returns the ticket's water site to
# 已验收·管护中 (the only use of signals for state: workflows may not import inspections).
ticket_closed = Signal()  # sender=RectificationTicket, ticket=...
# The event of a ticket named in a city's bulletin (rectification_named).
NAMED_BY_CITY = "city_bulletin"


# --- numbers ----------------------------------------------------------------------------------


def ticket_number_next(*, prefix: str, year: int) -> str:
    """Next "一件一号" number. Must run inside the creating transaction: the counter row stays
    locked by the UPDATE until commit, so concurrent creators wait instead of sharing a value."""
    value = counter_take(TicketCounter, key={"prefix": prefix, "year": year})
    return f"{prefix}-{year}-{value:06d}"


# --- who may act ------------------------------------------------------------------------------


def _require(user, ticket, perm: str) -> None:
    """For what is not a transition of the ticket (opening one)."""
    if not access.allows(user, perm, ticket):
        raise Forbidden(_("Your role may not take this action on this ticket."))


def _allowed(user, ticket, action: str) -> None:
    """The action table's answer (villages.actions), the one the ticket page asks too."""
    _actions(ticket).require(user, ticket, action)


def _actions(ticket):
    return RECTIFICATION_ACTIONS if isinstance(ticket, RectificationTicket) else TOILET_ACTIONS


def _require_text(value: str, message: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ApplicationError(message)
    return value


def _with_reason(ticket, *, by, action: str, reason: str, missing: str):
    """The actions whose one input is a text the user must write (a reason, what was heard):
    the table's answer first, then the text, which the event keeps as its note."""
    _allowed(by, ticket, action)
    return _transition(ticket, by=by, action=action, note=_require_text(reason, missing))


# --- the transition runner --------------------------------------------------------------------


@dataclass(frozen=True)
class FieldWork:
    """A step done in the field and perhaps queued on the phone without network: the phone's
    submission key (a resend after a lost answer finds the step, see step_by_key) and when it
    was recorded there (core.dates.field_time says how far the phone's clock is believed)."""

    key: uuid.UUID | None = None
    observed_at: datetime | None = None


def step_by_key(*, by, key: uuid.UUID | None) -> TicketEvent | None:
    """The step `by` already recorded with this submission key, if any."""
    if key is None:
        return None
    return TicketEvent.objects.filter(actor=by, key=key).first()


def _transition(
    ticket,
    *,
    by,
    action: str,
    note: str = "",
    photos: Sequence[EvidencePhoto] = (),
    data: dict | None = None,
    args: dict | None = None,
    field: FieldWork | None = None,
):
    """Run the table's `action` with `args` and log it in the same transaction."""
    table = _actions(ticket)

    def log(source: str) -> None:
        event = table[action].transition  # events keep the transition's name
        _event(
            ticket,
            by=by,
            action=event,
            source=source,
            note=note,
            photos=photos,
            data=data,
            field=field,
        )

    return table.run(ticket, action, args=args, after=log)


def _save_new(ticket, *, by, prefix: str, action: str, photos: Sequence[EvidencePhoto]) -> None:
    """Number a new ticket, save it and log its first event; inside the caller's transaction
    (ticket_number_next says why)."""
    ticket.number = ticket_number_next(prefix=prefix, year=timezone.localdate().year)
    ticket.save()
    _event(ticket, by=by, action=action, source="", photos=photos)


def _event(
    ticket, *, by, action, source, note="", photos=(), data=None, field: FieldWork | None = None
) -> TicketEvent:
    kind = "rectification" if isinstance(ticket, RectificationTicket) else "toilet"
    now = timezone.now()
    observed = field_time(field.observed_at, received=now) if field else None
    event = TicketEvent.objects.create(
        **{kind: ticket},
        action=action,
        from_state=source,
        to_state=ticket.state,
        actor=by,
        at=now,
        key=field.key if field else None,
        observed_at=observed if observed != now else None,
        note=note,
        data=data or {},
    )
    if photos:
        event.photos.set(photos)
    return event


def rectification_named(
    *, tickets: Sequence[RectificationTicket], by, note: str, data: dict
) -> list[TicketEvent]:
    """Records on each ticket that a document from outside its county named it (a city's
    bulletin, 市级通报): an event row of no transition (the state stays as it is), the only
    write a city makes into a county. Inside the caller's transaction; the caller checked
    that `by` may name the tickets (workflows/bulletins/city_services.py)."""
    now = timezone.now()
    return TicketEvent.objects.bulk_create(
        TicketEvent(
            rectification=ticket,
            action=NAMED_BY_CITY,
            from_state=ticket.state,
            to_state=ticket.state,
            actor=by,
            at=now,
            note=note,
            data=data,
        )
        for ticket in tickets
    )


# --- 整改单 ------------------------------------------------------------------------------------


def rectification_create(
    *,
    by,
    town: Town,
    description: str,
    village: Village | None = None,
    source_kind: str = Source.REPORT,
    source=None,
    category: str = Category.OTHER,
    site_label: str = "",
    location: tuple[float, float] | None = None,
    before_photos: Sequence[EvidencePhoto] = (),
    priority: str = RectificationTicket.Priority.NORMAL,
    deadline: date | None = None,
    previous: RectificationTicket | None = None,
    standing_rule: str = "",
) -> RectificationTicket:
    """Open a ticket (draft). With a deadline, a task-force member assigns it at once — or
    anyone, when the county's `standing_rule` (e.g. "tickets from patrols are assigned at once",
    its wording recorded on the event) assigns it: the caller has checked that rule applies."""
    draft = RectificationTicket(town=town, village=village)
    _require(by, draft, "ticket.open")
    description = _require_text(description, _("Describe the problem."))
    if village is not None and village.town_id != town.code:
        raise ApplicationError(_("The village does not belong to the town."))
    if category not in Category.values:
        raise ApplicationError(_("Choose what kind of problem it is."))
    with transaction.atomic():
        ticket = RectificationTicket(
            town=town,
            village=village,
            description=description,
            source_kind=source_kind,
            source=source,
            category=category,
            site_label=site_label,
            location_lat=location[0] if location else None,
            location_lng=location[1] if location else None,
            priority=priority,
            created_by=by,
            previous=previous,
        )
        _save_new(ticket, by=by, prefix="ZG", action="create", photos=before_photos)
        ticket.before_photos.set(before_photos)
        if deadline is not None and standing_rule:
            _assign_by_rule(ticket, by=by, deadline=deadline, rule=standing_rule)
        elif deadline is not None:
            rectification_assign(ticket=ticket, by=by, deadline=deadline)
    return ticket


def _assign_by_rule(ticket, *, by, deadline: date, rule: str):
    # The rule stands in for the table's role check (the caller has checked that it applies).
    return _assign(ticket, by=by, deadline=deadline, note=rule, standing_rule=True)


def rectification_assign(*, ticket, by, deadline: date, note: str = ""):
    _allowed(by, ticket, "assign")
    return _assign(ticket, by=by, deadline=deadline, note=note)


def _assign(ticket, *, by, deadline: date, note: str, standing_rule: bool = False):
    if deadline < timezone.localdate():
        raise ApplicationError(_("The deadline cannot be in the past."))
    data = {"deadline": deadline.isoformat()} | ({"standing_rule": True} if standing_rule else {})
    return _transition(
        ticket, by=by, action="assign", note=note, args={"deadline": deadline}, data=data
    )


def rectification_submit(
    *, ticket, by, note: str, photos: Sequence[EvidencePhoto], field: FieldWork | None = None
):
    _allowed(by, ticket, "submit")
    note = _require_text(note, _("Write what was done (the rectification note)."))
    if not photos:
        raise ApplicationError(_("Add at least one photo after rectification."))
    # Submitted while an extension request was pending: the request ends with the fix.
    pending = (
        ticket.requested_deadline
        if ticket.state == RectificationState.EXTENSION_REQUESTED
        else None
    )
    return _transition(
        ticket,
        by=by,
        action="submit",
        note=note,
        photos=photos,
        args={"note": note, "by": by},
        data={"requested_deadline_lapsed": pending.isoformat()} if pending else None,
        field=field,
    )


def rectification_reject(*, ticket, by, reason: str):
    missing = _("Give the reason for sending it back.")
    return _with_reason(ticket, by=by, action="reject", reason=reason, missing=missing)


def rectification_close(*, ticket, by, note: str = ""):
    _allowed(by, ticket, "close")
    with transaction.atomic():
        _transition(ticket, by=by, action="close", note=note)
        ticket_closed.send(sender=RectificationTicket, ticket=ticket)
    return ticket


def rectification_request_extension(*, ticket, by, new_deadline: date, reason: str):
    _allowed(by, ticket, "request_extension")
    reason = _require_text(reason, _("Give the reason for the extension."))
    if ticket.deadline and new_deadline <= ticket.deadline:
        raise ApplicationError(_("The new deadline must be later than the current one."))
    return _transition(
        ticket,
        by=by,
        action="request_extension",
        note=reason,
        args={"new_deadline": new_deadline, "by": by},
        data={"requested_deadline": new_deadline.isoformat()},
    )


def rectification_approve_extension(*, ticket, by, note: str = ""):
    _allowed(by, ticket, "approve_extension")
    data = {"deadline": ticket.requested_deadline.isoformat() if ticket.requested_deadline else ""}
    return _transition(ticket, by=by, action="approve_extension", note=note, data=data)


def rectification_withdraw_extension(*, ticket, by, note: str = ""):
    """The town takes back its request (the work will be done in time after all)."""
    _allowed(by, ticket, "withdraw_extension")
    data = {"requested_deadline": ticket.requested_deadline.isoformat()}
    return _transition(ticket, by=by, action="withdraw_extension", note=note, data=data)


def rectification_refuse_extension(*, ticket, by, reason: str):
    missing = _("Give the reason for refusing the extension.")
    return _with_reason(ticket, by=by, action="refuse_extension", reason=reason, missing=missing)


def rectification_cancel(*, ticket, by, reason: str):
    return _cancel(ticket, by=by, reason=reason)


def _cancel(ticket, *, by, reason: str):
    # One wording for both kinds: cancelling asks the same of a 整改单 and a 管护工单.
    missing = _("Give the reason for cancelling.")
    return _with_reason(ticket, by=by, action="cancel", reason=reason, missing=missing)


# --- 管护工单 ----------------------------------------------------------------------------------


def toilet_sla_due(*, kind: str, reported_at, town: str) -> object:
    """The SLA deadline of a job of `kind` reported at `reported_at` in `town` (a town code): the
    hours its county's configuration gives the kind."""
    county = Town.objects.values_list("county_id", flat=True).get(code=town)
    return reported_at + timedelta(hours=county_config(county).sla_hours(kind))


def toilet_report(
    *,
    by,
    household: Household,
    kind: str,
    channel: str,
    description: str = "",
    photos: Sequence[EvidencePhoto] = (),
) -> ToiletTicket:
    village = household.village
    town_code = village.town_id
    probe = ToiletTicket(town_id=town_code, village=village)
    _require(by, probe, "toilet.report")
    if kind not in ToiletTicket.Kind.values:
        raise ApplicationError(_("Choose what the household needs."))
    if channel not in ToiletTicket.Channel.values:
        raise ApplicationError(_("Choose how the request came in."))
    now = timezone.now()
    with transaction.atomic():
        ticket = ToiletTicket(
            town_id=town_code,
            village=village,
            household=household,
            kind=kind,
            channel=channel,
            description=(description or "").strip() or ToiletTicket.Kind(kind).label,
            sla_due_at=toilet_sla_due(kind=kind, reported_at=now, town=town_code),
            created_by=by,
            created_at=now,
        )
        _save_new(ticket, by=by, prefix="GH", action="report", photos=photos)
    return ticket


def toilet_dispatch(*, ticket, by, worker, note: str = ""):
    _allowed(by, ticket, "dispatch")
    if not access.allows(worker, "toilet.work", ticket):
        raise ApplicationError(
            _("%(name)s is not a service worker for this town.") % {"name": worker}
        )
    return _transition(
        ticket,
        by=by,
        action="dispatch",
        note=note,
        args={"worker": worker},
        data={"worker": worker.get_username()},
    )


def toilet_accept(*, ticket, by):
    _allowed(by, ticket, "accept")
    return _transition(ticket, by=by, action="accept")


def toilet_start(*, ticket, by):
    _allowed(by, ticket, "start")
    return _transition(ticket, by=by, action="start")


def toilet_complete(
    *,
    ticket,
    by,
    photos: Sequence[EvidencePhoto],
    volume_m3: Decimal | None = None,
    disposal_site: str = "",
    parts_used: str = "",
    note: str = "",
    field: FieldWork | None = None,
):
    _allowed(by, ticket, "complete")
    disposal_site, parts_used = (disposal_site or "").strip(), (parts_used or "").strip()
    if ticket.kind == ToiletTicket.Kind.PUMPING:
        if volume_m3 is None or volume_m3 <= 0:
            raise ApplicationError(_("Enter the pumped volume in m³."))
        if not disposal_site:
            raise ApplicationError(_("Enter where the waste was disposed of."))
    if ticket.kind == ToiletTicket.Kind.REPAIR and not parts_used:
        raise ApplicationError(_("Enter the parts used (or “none”)."))
    if not photos:
        raise ApplicationError(_("Add at least one photo of the finished work."))
    data = {
        "volume_m3": str(volume_m3) if volume_m3 is not None else "",
        "disposal_site": disposal_site,
        "parts_used": parts_used,
    }
    return _transition(
        ticket,
        by=by,
        action="complete",
        note=note,
        photos=photos,
        data=data,
        args={"volume_m3": volume_m3, "disposal_site": disposal_site, "parts_used": parts_used},
        field=field,
    )


def toilet_confirm(*, ticket, by, satisfaction: str, note: str = ""):
    _allowed(by, ticket, "confirm")
    if satisfaction not in ToiletTicket.Satisfaction.values:
        raise ApplicationError(_("Record the household's satisfaction."))
    if satisfaction == ToiletTicket.Satisfaction.UNSATISFIED:
        raise ApplicationError(
            _("An unsatisfied household means the job is reopened, not confirmed.")
        )
    return _transition(
        ticket,
        by=by,
        action="confirm",
        note=note,
        args={"satisfaction": satisfaction},
        data={"satisfaction": satisfaction},
    )


def toilet_reopen(*, ticket, by, note: str):
    missing = _("Write what the household said.")
    return _with_reason(ticket, by=by, action="reopen", reason=note, missing=missing)


def toilet_return(*, ticket, by, reason: str):
    missing = _("Give the reason for returning it.")
    return _with_reason(ticket, by=by, action="return", reason=reason, missing=missing)


def toilet_cancel(*, ticket, by, reason: str):
    return _cancel(ticket, by=by, reason=reason)


# Each action of the tables (workflows.tickets.actions) by name → the service that performs it:
# the pages' action endpoints and the API's call these.
RECTIFICATION_CALLS = {
    "assign": rectification_assign,
    "submit": rectification_submit,
    "close": rectification_close,
    "reject": rectification_reject,
    "request_extension": rectification_request_extension,
    "withdraw_extension": rectification_withdraw_extension,
    "approve_extension": rectification_approve_extension,
    "refuse_extension": rectification_refuse_extension,
    "cancel": rectification_cancel,
}

TOILET_CALLS = {
    "dispatch": toilet_dispatch,
    "accept": toilet_accept,
    "start": toilet_start,
    "complete": toilet_complete,
    "confirm": toilet_confirm,
    "reopen": toilet_reopen,
    "return": toilet_return,
    "cancel": toilet_cancel,
}
