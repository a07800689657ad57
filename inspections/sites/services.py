"""Every write of water sites and patrols goes through one of these functions.

A patrol is recorded in one transaction with its consequences: a problem opens a rectification
ticket for the site's town (through workflows.tickets.services, with the patrol's photos as
before-photos), 疑似反弹 moves the site, and the ticket's closing moves it back
(`on_ticket_closed`, connected to workflows' `ticket_closed` signal in apps.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import reduce
from operator import or_

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from core.dates import field_time
from core.errors import ApplicationError, Forbidden
from inspections.models import (
    Deduction,
    Patrol,
    PatrolCheck,
    PatrolPolicy,
    PatrolResult,
    PreviousFixed,
    RetiredToken,
    Signboard,
    TicketMode,
    WaterSite,
)
from inspections.sites import presence
from inspections.sites.actions import SITE_ACTIONS
from villages import access
from workflows.models import (
    RECTIFICATION_OPEN_STATES,
    Category,
    EvidencePhoto,
    RectificationState,
    RectificationTicket,
    Source,
    TicketEvent,
)
from workflows.tickets import services as tickets


class PatrolRefused(ApplicationError):
    """The county's policy refuses the patrol; `doubts` say why. Nothing was stored."""

    def __init__(self, doubts: Sequence[presence.Doubt]):
        self.doubts = list(doubts)
        reasons = " ".join(presence.message(d.as_flag()) for d in self.doubts)
        super().__init__(_("The patrol was not recorded: %(reasons)s") % {"reasons": reasons})


# --- who may act ------------------------------------------------------------------------------


def _require(user, site: WaterSite, perm: str) -> None:
    # A site has a town and a village like a ticket: the same jurisdiction rule applies.
    if not access.allows(user, perm, site):
        raise Forbidden(_("Your role may not do this at this site."))


# --- patrols ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """What the inspector saw: the checks of the patrol form and the result."""

    result: str
    checks: frozenset[str] = frozenset()  # names from PatrolCheck that were ticked
    signboard: str = Signboard.GOOD
    previous_fixed: str = PreviousFixed.NONE
    note: str = ""


def patrol_record(
    *,
    by,
    site: WaterSite,
    key: uuid.UUID,
    observation: Observation,
    position: presence.Position | None,
    photos: Sequence[EvidencePhoto],
    user_agent: str | None = None,
    observed_at: datetime | None = None,
) -> tuple[Patrol, bool]:
    """Record a patrol, or return the one already recorded with this key (a retried POST):
    (patrol, created). Raises PatrolRefused or ApplicationError, storing nothing.

    `observed_at`: when the phone recorded it (its GPS fix), for a patrol queued on the phone
    without network and sent later; None means now. The month, the coverage and the photos'
    age go by it (core.dates.field_time says how far a phone's clock is believed).

    `user_agent` is the browser's User-Agent header (the patrol page passes it; None when the
    patrol does not come through a browser, and the computer-browser check does not apply)."""
    _require(by, site, "site.patrol")
    earlier = Patrol.objects.filter(inspector=by, key=key).first()
    if earlier is not None:
        return earlier, False
    if not site.is_listed:
        raise ApplicationError(_("This site was removed from the list; it is not patrolled."))
    _check_observation(observation)
    now = timezone.now()
    observed = field_time(observed_at, received=now)
    policy = PatrolPolicy.for_site(site)
    try:
        with transaction.atomic():
            # Inside the transaction, after locking the files: two patrols sending one photo at
            # once must not both find it unused.
            _lock_same_files(photos)
            findings = presence.assess(
                site=site,
                policy=policy,
                position=position,
                photos=photos,
                now=observed,
                received=now,
                user_agent=user_agent,
                reused=photos_already_evidence(photos=photos, by=by, key=key),
            )
            if findings.refusals:
                raise PatrolRefused(findings.refusals)
            times = (observed, now)
            patrol = _store(by, site, key, observation, position, photos, findings, times)
            _consequences(patrol, policy=policy, by=by, photos=photos)
    except IntegrityError:
        # The same POST arrived twice at once and the other one won the unique (inspector, key).
        earlier = Patrol.objects.filter(inspector=by, key=key).first()
        if earlier is None:
            raise
        return earlier, False
    return patrol, True


# Every place a photo is evidence: a patrol, a ticket (its before-photos and the photos of each
# step) and an assessment's deductions.
def _evidence_links():
    return (
        Patrol.photos.through,
        RectificationTicket.before_photos.through,
        TicketEvent.photos.through,
        Deduction.photos.through,
    )


def _lock_same_files(photos: Sequence[EvidencePhoto]) -> None:
    """Lock every photo row with the same files (SHA-256) as `photos`, the other request's
    fresh uploads included: a second patrol sending one of these files waits until the first
    has committed, then finds its photo held and is refused. In primary-key order, so two
    requests never wait on each other. (PostgreSQL; SQLite's IMMEDIATE transactions already
    serialise every writer.)"""
    if photos:
        same = EvidencePhoto.objects.filter(sha256__in={photo.sha256 for photo in photos})
        list(same.select_for_update().order_by("pk").values_list("pk", flat=True))


def photos_already_evidence(
    *, photos: Sequence[EvidencePhoto], by, key: uuid.UUID
) -> frozenset[str]:
    """SHA-256 of the new `photos` whose file is already evidence somewhere: one photo passed
    off as proof of several visits. One query (sha256 is indexed; few rows share a hash).

    The new rows themselves do not count, nor do photos not yet attached to anything (another
    upload still in flight). Neither do the photos of this inspector's patrol with this key:
    the same POST sent twice at once uploads the same files twice, and the copy that loses the
    race must end as "the patrol already recorded", not as a refusal of its own photos."""
    if not photos:
        return frozenset()
    own = Patrol.photos.through.objects.filter(patrol__inspector=by, patrol__key=key)
    held = reduce(
        or_,
        (
            Exists(link.objects.filter(evidencephoto_id=OuterRef("pk")))
            for link in _evidence_links()
        ),
    )
    same = (
        EvidencePhoto.objects.filter(sha256__in={photo.sha256 for photo in photos})
        .exclude(pk__in=[photo.pk for photo in photos])
        .exclude(pk__in=own.values("evidencephoto_id"))
        .filter(held)
        .values_list("sha256", flat=True)
        .distinct()
    )
    return frozenset(same)


def _check_observation(observation: Observation) -> None:
    if observation.result not in PatrolResult.values:
        raise ApplicationError(_("Choose the result of the patrol."))
    if observation.signboard not in Signboard.values:
        raise ApplicationError(_("Choose the state of the signboard."))
    if observation.previous_fixed not in PreviousFixed.values:
        raise ApplicationError(_("Say whether the earlier problem was rectified."))
    if not observation.checks <= set(PatrolCheck):
        raise ApplicationError(_("Unknown check."))
    if observation.result != PatrolResult.NORMAL and not (
        observation.checks or observation.note.strip() or observation.signboard != Signboard.GOOD
    ):
        raise ApplicationError(_("Say what the problem is: tick what you saw or write a note."))


def _store(by, site, key, observation, position, photos, findings, times) -> Patrol:
    observed, received = times
    distance = presence.distance_to(site, position.lat, position.lng) if position else None
    patrol = Patrol.objects.create(
        site=site,
        inspector=by,
        key=key,
        observed_at=observed,
        created_at=received,
        local_date=timezone.localdate(observed),
        lat=position.lat if position else None,
        lng=position.lng if position else None,
        accuracy_m=position.accuracy_m if position else None,
        distance_m=distance,
        signboard=observation.signboard,
        previous_fixed=observation.previous_fixed,
        result=observation.result,
        note=observation.note.strip(),
        flags=[d.as_flag() for d in findings.doubts],
        flagged=bool(findings.doubts),
        checks=[check.as_record() for check in findings.checks],
        **{check: check in observation.checks for check in PatrolCheck},
    )
    patrol.photos.set(photos)
    return patrol


def _consequences(patrol: Patrol, *, policy: PatrolPolicy, by, photos) -> None:
    if patrol.result == PatrolResult.NORMAL:
        return
    # Serialises patrols of one site (PostgreSQL; SQLite serialises every writer anyway): two
    # inspectors reporting the same rebound at once open one ticket and move the site once.
    site = WaterSite.objects.select_for_update().get(pk=patrol.site_id)
    ticket = site_open_tickets(site=site).order_by("created_at").first()
    if ticket is None:
        ticket = _open_ticket(patrol, site=site, policy=policy, by=by, photos=photos)
    patrol.ticket = ticket
    patrol.save(update_fields=["ticket"])
    if patrol.result == PatrolResult.REBOUND and can_proceed(site.suspect):
        SITE_ACTIONS.run_transition(site, "suspect")


def _open_ticket(patrol, *, site, policy, by, photos) -> RectificationTicket:
    assign = policy.ticket_mode == TicketMode.ASSIGNED
    previous = None
    if patrol.result == PatrolResult.REBOUND:
        previous = site_tickets(site=site).filter(state=RectificationState.CLOSED).first()
    return patrol_ticket_create(
        patrol,
        site=site,
        by=by,
        photos=photos,
        previous=previous,
        deadline=timezone.localdate() + timedelta(days=policy.ticket_days) if assign else None,
        standing_rule=_("Assigned at once by the county's patrol policy.") if assign else "",
    )


def patrol_ticket_create(
    patrol: Patrol,
    *,
    site: WaterSite,
    by,
    photos: Sequence[EvidencePhoto],
    previous: RectificationTicket | None = None,
    deadline: date | None = None,
    standing_rule: str = "",
) -> RectificationTicket:
    """The 整改单 a patrol's finding opens: its site's place, label and position, the finding
    as its text, the patrol as its source (the demo data opens its tickets the same way)."""
    return tickets.rectification_create(
        by=by,
        town=site.town,
        village=site.village,
        description=patrol_ticket_description(patrol),
        source_kind=Source.PATROL,
        source=patrol,
        category=Category.SEWAGE,
        site_label=str(site)[:120],
        location=(site.lat, site.lng),
        before_photos=photos,
        previous=previous,
        deadline=deadline,
        standing_rule=standing_rule,
    )


def patrol_ticket_description(patrol: Patrol) -> str:
    seen = [
        str(Patrol._meta.get_field(check).verbose_name)
        for check in PatrolCheck
        if getattr(patrol, check)
    ]
    if patrol.signboard != Signboard.GOOD:
        seen.append(f"{_('signboard')}: {patrol.get_signboard_display()}")
    parts = [
        _("%(site)s, patrol on %(date)s: %(result)s.")
        % {
            "site": patrol.site,
            "date": patrol.local_date.isoformat(),
            "result": patrol.get_result_display(),
        }
    ]
    if seen:
        parts.append(_("Seen: %(seen)s.") % {"seen": _(", ").join(seen)})
    if patrol.note:
        parts.append(patrol.note)
    return " ".join(parts)


# --- tickets of a site ------------------------------------------------------------------------


def site_tickets(*, site: WaterSite):
    """Tickets opened by the site's patrols, newest first."""
    return (
        RectificationTicket.objects.filter(patrols__site=site)
        .distinct()
        .order_by("-created_at", "-id")
    )


def site_open_tickets(*, site: WaterSite):
    return site_tickets(site=site).filter(state__in=RECTIFICATION_OPEN_STATES)


def on_ticket_closed(sender, ticket: RectificationTicket, **kwargs) -> None:
    """Runs inside the closing transaction: the site whose rebound the ticket rectified is
    accepted and maintained again — unless another of its tickets is still open."""
    for site in WaterSite.objects.filter(patrols__ticket=ticket).distinct():
        site = WaterSite.objects.select_for_update().get(pk=site.pk)
        if can_proceed(site.rectified) and not site_open_tickets(site=site).exists():
            SITE_ACTIONS.run_transition(site, "rectified")


# --- the site's own actions -------------------------------------------------------------------


def site_transition(*, site: WaterSite, by, action: str) -> WaterSite:
    """Run a state change of the register (inspections.sites.actions.SITE_ACTIONS)."""
    SITE_ACTIONS.require(by, site, action)
    return SITE_ACTIONS.run(site, action)


def site_rotate_token(*, site: WaterSite, by) -> WaterSite:
    """A new QR label: the old one stops working and says it was replaced."""
    _require(by, site, "site.labels")
    with transaction.atomic():
        site = WaterSite.objects.select_for_update().get(pk=site.pk)
        old = site.rotate_token()
        site.save(update_fields=["token", "token_issued_at", "updated_at"])
        RetiredToken.objects.create(token=old, site=site, retired_by=by)
    return site
