"""inspections models, one module per concern: water sites and their patrols (checklists,
rounds and grading follow in their own modules)."""

from inspections.models.patrols import (
    Patrol,
    PatrolCheck,
    PatrolMiss,
    PatrolPolicy,
    PatrolResult,
    Presence,
    PreviousFixed,
    Rule,
    Signboard,
    TicketMode,
)
from inspections.models.sites import (
    LISTED_STATES,
    ListLevel,
    RetiredToken,
    SiteKind,
    SiteState,
    WaterSite,
    new_token,
)

__all__ = [
    "LISTED_STATES",
    "ListLevel",
    "Patrol",
    "PatrolCheck",
    "PatrolMiss",
    "PatrolPolicy",
    "PatrolResult",
    "Presence",
    "PreviousFixed",
    "RetiredToken",
    "Rule",
    "Signboard",
    "SiteKind",
    "SiteState",
    "TicketMode",
    "WaterSite",
    "new_token",
]
