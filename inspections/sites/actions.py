"""The actions of the water-site page, as data: the services check and run them through this
table and the page offers what it allows (villages.actions)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from villages.actions import Action, ActionTable, Messages

SITE_ACTIONS = ActionTable(
    Action("accept", "accept", _("Accepted: now maintained"), "site.accept", primary=True),
    Action("confirm_rebound", "confirm_rebound", _("Confirm the rebound"), "site.confirm_rebound"),
    Action("dismiss_rebound", "dismiss_rebound", _("No rebound"), "site.dismiss_rebound"),
    Action("delist", "delist", _("Remove from the list"), "site.delist", danger=True),
    messages=Messages(
        not_allowed=_("Your role may not do this at this site."),
        not_now=_("The site is %(state)s now; this is not possible."),
        changed=_("This site was changed by someone else. Reload it."),
    ),
)
