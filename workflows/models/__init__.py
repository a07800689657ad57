"""workflows models, one module per concern (a package: together they pass ~800 lines)."""

from workflows.models.bulletins import (
    Bulletin,
    BulletinItem,
    BulletinKind,
    BulletinReceipt,
    BulletinState,
)
from workflows.models.evidence import EvidencePhoto
from workflows.models.notices import (
    JobLock,
    JobRun,
    NoticeDocument,
    NoticeKind,
    Notification,
    Outbox,
    OverdueNotice,
    OverdueStep,
    SlaNotice,
)
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
    "Bulletin",
    "BulletinItem",
    "BulletinKind",
    "BulletinReceipt",
    "BulletinState",
    "EvidencePhoto",
    "JobLock",
    "JobRun",
    "NoticeDocument",
    "NoticeKind",
    "Notification",
    "Outbox",
    "OverdueNotice",
    "OverdueStep",
    "RectificationState",
    "RectificationTicket",
    "SlaNotice",
    "Source",
    "TicketCounter",
    "TicketEvent",
    "ToiletState",
    "ToiletTicket",
]
