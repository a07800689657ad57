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
    own_request=_(
        "You did the step this decides on; another person must take this action "
        "(separation of duties)."
    ),
)

SUBMITTER = "submitted_by_id"  # who submitted the rectification: not its reviewer
REQUESTER = "extension_requested_by_id"  # who asked for more time: not its approver

RECTIFICATION_ACTIONS = ActionTable(
    Action("assign", "assign", _("Assign"), "ticket.assign", primary=True),
    Action("submit", "submit", _("Submit for review"), "ticket.submit", primary=True),
    Action("close", "close", _("Close"), "ticket.close", primary=True, not_by=SUBMITTER),
    Action("reject", "reject", _("Send back"), "ticket.reject", danger=True, not_by=SUBMITTER),
    Action(
        "request_extension",
        "request_extension",
        _("Request an extension"),
        "ticket.request_extension",
    ),
    Action(
        "withdraw_extension",
        "withdraw_extension",
        _("Withdraw the extension request"),
        "ticket.request_extension",
    ),
    Action(
        "approve_extension",
        "approve_extension",
        _("Approve the extension"),
        "ticket.approve_extension",
        primary=True,
        not_by=REQUESTER,
    ),
    Action(
        "refuse_extension",
        "refuse_extension",
        _("Refuse the extension"),
        "ticket.refuse_extension",
        danger=True,
        not_by=REQUESTER,
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
    # The callback asks the household whether the work was done: never the worker who did it.
    Action(
        "confirm",
        "confirm",
        _("Callback: confirm"),
        "toilet.confirm",
        primary=True,
        not_by=WORKER,
    ),
    Action(
        "reopen",
        "reopen",
        _("Callback: not done, reopen"),
        "toilet.reopen",
        danger=True,
        not_by=WORKER,
    ),
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
    holder_perm="toilet.work",  # only while he still works where the job is
)
