"""The bulletin's action, as data (villages.actions): issuing is checked and run through this
table by bulletins.services and offered by its page."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from villages.actions import Action, ActionTable, Messages

# A bulletin is the county's document: composing and issuing it are county-wide permissions.
BULLETIN_ACTIONS = ActionTable(
    Action("issue", "issue", _("Issue the bulletin"), "bulletin.compose", primary=True),
    messages=Messages(
        not_allowed=_("Only the county task force may compose and issue bulletins."),
        not_now=_("The bulletin was issued; it can no longer be changed."),
        changed=_("Someone else changed this bulletin. Reload it."),
    ),
    place=lambda bulletin: None,
)

# A city's bulletin (市级通报) is its city supervisor's: issuing it is his permission; which city
# he may issue for is checked by bulletins.city_services (his city's counties' city).
CITY_BULLETIN_ACTIONS = ActionTable(
    Action("issue", "issue", _("Issue the bulletin"), "city_bulletin.compose", primary=True),
    messages=Messages(
        not_allowed=_("Only the city supervisor may compose and issue city bulletins."),
        not_now=_("The bulletin was issued; it can no longer be changed."),
        changed=_("Someone else changed this bulletin. Reload it."),
    ),
    place=lambda bulletin: None,
)
