"""workflows models, one module per concern (a package: together they pass ~800 lines)."""

from workflows.models.evidence import EvidencePhoto
from workflows.models.tickets import (
    RECTIFICATION_OPEN_STATES,
    RECTIFICATION_RUNNING_STATES,
    TOILET_OPEN_STATES,
    TOILET_PENDING_STATES,
    RectificationState,
    RectificationTicket,
    Source,
    TicketCounter,
    TicketEvent,
    ToiletState,
    ToiletTicket,
)

__all__ = [
    "RECTIFICATION_OPEN_STATES",
    "RECTIFICATION_RUNNING_STATES",
    "TOILET_OPEN_STATES",
    "TOILET_PENDING_STATES",
    "EvidencePhoto",
    "RectificationState",
    "RectificationTicket",
    "Source",
    "TicketCounter",
    "TicketEvent",
    "ToiletState",
    "ToiletTicket",
]
