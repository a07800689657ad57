"""The actions of a ticket page, as data: read by the services that perform them and by the
pages that offer them (villages.actions), so a button is shown exactly when its POST would pass.
The names are the URL's (/tickets/<number>/do/<name>/) and the event rows'."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from villages.actions import Action, ActionTable, Messages

TICKET_MESSAGES = Messages(
    not_allowed=_("Your role may not take this action on this ticket."),
    not_now=_("Ticket %(number)s is %(state)s now; this action is not possible."),
    changed=_("This ticket was changed by someone else. Reload it; what you typed is kept below."),
    not_holder=_("Only the service worker this ticket is dispatched to may do this."),
)

RECTIFICATION_ACTIONS = ActionTable(
    Action("assign", "assign", _("Assign"), "ticket.assign", primary=True),
    Action("submit", "submit", _("Submit for review"), "ticket.submit", primary=True),
    Action("close", "close", _("Close"), "ticket.close", primary=True),
    Action("reject", "reject", _("Send back"), "ticket.reject", danger=True),
    Action(
        "request_extension",
        "request_extension",
        _("Request an extension"),
        "ticket.request_extension",
    ),
    Action(
        "approve_extension",
        "approve_extension",
        _("Approve the extension"),
        "ticket.approve_extension",
        primary=True,
    ),
    Action(
        "refuse_extension",
        "refuse_extension",
        _("Refuse the extension"),
        "ticket.refuse_extension",
        danger=True,
    ),
    Action("cancel", "cancel", _("Cancel the ticket"), "ticket.cancel", danger=True),
    messages=TICKET_MESSAGES,
)

WORKER = "assigned_worker_id"  # the service worker the job is dispatched to

TOILET_ACTIONS = ActionTable(
    Action("dispatch", "dispatch", _("Dispatch"), "toilet.dispatch", primary=True),
    Action("accept", "accept", _("Accept the job"), holder=WORKER, primary=True),
    Action("start", "start", _("Start work"), holder=WORKER, primary=True),
    Action("complete", "complete", _("Complete"), holder=WORKER, primary=True),
    Action("confirm", "confirm", _("Callback: confirm"), "toilet.confirm", primary=True),
    Action("reopen", "reopen", _("Callback: not done, reopen"), "toilet.reopen", danger=True),
    # The worker hands a job back, or the town/county takes it back.
    Action(
        "return",
        "return_for_redispatch",
        _("Return for re-dispatch"),
        "toilet.return",
        holder=WORKER,
        danger=True,
    ),
    Action("cancel", "cancel", _("Cancel the job"), "toilet.cancel", danger=True),
    messages=TICKET_MESSAGES,
)
