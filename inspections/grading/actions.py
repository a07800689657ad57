"""The actions of the round and assessment pages, as data: the services check and run them
through these tables and the pages offer what the tables allow (villages.actions)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from villages.actions import Action, ActionTable, Messages

COUNTY_MESSAGES = Messages(
    not_allowed=_("Only the county task force may do this."),
    not_now=_("It is %(state)s now; this is not possible."),
    changed=_("Someone else changed this meanwhile. Reload the page."),
)

# A round belongs to the county: its permissions are county-wide, it has no place of its own.
ROUND_ACTIONS = ActionTable(
    Action("start", "start", _("Start the round"), "round.manage"),
    Action("close", "close", _("Close the round"), "round.manage"),
    Action("publish", "publish", _("Publish the grades"), "round.manage", primary=True),
    messages=COUNTY_MESSAGES,
    place=lambda round: None,
)

# An assessment's place is its village: an inspector submits in his jurisdiction.
ASSESSMENT_ACTIONS = ActionTable(
    Action(
        "submit",
        "submit",
        _("Submit to the task force"),
        "assessment.make",
        primary=True,
        not_allowed=_("You may not assess this village."),
    ),
    Action("approve", "approve", _("Approve"), "assessment.review", primary=True),
    Action("send_back", "send_back", _("Send back"), "assessment.review"),
    messages=COUNTY_MESSAGES,
    place=lambda assessment: assessment.village,
)
