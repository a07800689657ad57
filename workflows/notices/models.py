"""Overdue ladder, notice documents, in-app notifications, the delivery outbox and the job log.

Overdue is never a state: a ticket is overdue while it is in RECTIFICATION_RUNNING_STATES and its
deadline is behind the local date. The overdue job turns that derived fact into notices, once per
(ticket, step, deadline) — the unique constraint, not a check-then-insert, is what makes a second
run, a second worker or a re-run after a crash add nothing.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.json import UnicodeJSONEncoder
from villages import access
from villages.access import ScopedQuerySet
from villages.models import County, Town
from workflows.tickets.models import RectificationTicket, ToiletTicket


class NoticeKind(models.TextChoices):
    REMINDER = "reminder", _("reminder (提醒)")
    SUPERVISION = "supervision", _("supervision notice (督办单)")
    BULLETIN = "bulletin", _("to the next bulletin (通报)")
    SLA = "sla", _("toilet service overdue (管护超时)")
    # Issued for the inspections app (漏巡): its items are water sites, frozen into `lines`.
    PATROL = "patrol_miss", _("missed patrols (漏巡提醒)")


LADDER_KINDS = [NoticeKind.REMINDER, NoticeKind.SUPERVISION, NoticeKind.BULLETIN]


class OverdueStep(models.Model):
    """One rung of a county's overdue ladder; the county edits its ladder in the admin. A county
    without one is given DEFAULT_LADDER (workflows.notices.services.overdue_ladders_seed)."""

    # (number, days past the deadline, kind): +1 day 提醒, +3 督办单, +7 into the next bulletin.
    DEFAULT_LADDER = ((1, 1, "reminder"), (2, 3, "supervision"), (3, 7, "bulletin"))

    county = models.ForeignKey(
        County, on_delete=models.CASCADE, related_name="+", verbose_name=_("county")
    )
    number = models.PositiveSmallIntegerField(_("step"))
    days_past = models.PositiveSmallIntegerField(
        _("days past the deadline"),
        help_text=_("1 = the first day after the deadline (local dates)."),
    )
    kind = models.CharField(
        _("kind"), max_length=12, choices=[(k.value, k.label) for k in LADDER_KINDS]
    )

    class Meta:
        verbose_name = _("overdue step")
        verbose_name_plural = _("overdue steps")
        ordering = ["county", "number"]
        constraints = [
            models.CheckConstraint(condition=models.Q(days_past__gte=1), name="step_days_past_1"),
            models.UniqueConstraint(fields=["county", "number"], name="overdue_step_per_county"),
        ]

    def __str__(self) -> str:
        return f"{self.county_id} {self.number}: +{self.days_past} {self.get_kind_display()}"


class NoticeDocumentQuerySet(ScopedQuerySet):
    def visible_to(self, user) -> NoticeDocumentQuerySet:
        """The documents addressed to the user — his towns' (notice.view), or sent to him (a
        service worker named on an SLA notice) — that list something in his jurisdiction now.

        Being sent a notice grants nothing by itself: a ticket notice shows only its rows
        inside the reader's current jurisdiction (NoticeRowQuerySet.visible_to) and is not
        found when it has none; a notice of frozen lines (missed patrols) is his towns' only.
        A user whose roles were taken away, or who moved to another town, loses the notices
        of his old one."""
        if access.scope_of(user).is_empty:
            return self.none()
        towns = Q(pk__in=self.scoped(user, town="town_id", perm="notice.view").values("pk"))
        sent = Q(Exists(Notification.objects.filter(user=user, document=OuterRef("pk"))))
        rows = Q(Exists(OverdueNotice.objects.visible_to(user).filter(document=OuterRef("pk"))))
        rows |= Q(Exists(SlaNotice.objects.visible_to(user).filter(document=OuterRef("pk"))))
        lines = Q(kind=NoticeKind.PATROL)
        return self.filter((lines & towns) | (~lines & (towns | sent) & rows))


class NoticeRowQuerySet(ScopedQuerySet):
    """The rows of a ticket notice (OverdueNotice, SlaNotice): each names one ticket."""

    def visible_to(self, user) -> NoticeRowQuerySet:
        """The rows whose ticket lies in the user's jurisdiction now: where he reads notices
        (notice.view), or a ticket he may open (a worker's own jobs where he still works). The
        ticket's place decides, not the town the notice was addressed to."""
        read = self.scoped(
            user,
            perm="notice.view",
            town="ticket__town_id",
            village=("ticket__village_id", "ticket__village__parent_id"),
        )
        tickets = self.model._meta.get_field("ticket").related_model.objects.visible_to(user)
        return read | self.filter(ticket__in=tickets.values("pk"))


class NoticeDocument(models.Model):
    """逾期整改通知书 / 督办单: one per town, day and kind, listing that day's new notices."""

    # Numbered per county, kind and year (逾提〔2026〕第3号 of 金乡县): each county its series.
    number = models.CharField(_("number"), max_length=40)
    kind = models.CharField(_("kind"), max_length=12, choices=NoticeKind.choices)
    town = models.ForeignKey(
        Town, on_delete=models.PROTECT, related_name="+", verbose_name=_("town")
    )
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="+", verbose_name=_("county")
    )
    issued_on = models.DateField(_("issued on"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # The items of a document about things workflows does not own (water sites missed this
    # month, from inspections), frozen at issue: [{"code", "name", "place", "detail"}]. Ticket
    # notices list their rows through OverdueNotice / SlaNotice instead.
    lines = models.JSONField(
        _("listed items"), default=list, blank=True, encoder=UnicodeJSONEncoder
    )

    objects = NoticeDocumentQuerySet.as_manager()

    class Meta:
        verbose_name = _("notice document")
        verbose_name_plural = _("notice documents")
        ordering = ["-issued_on", "kind", "town_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["town", "issued_on", "kind"], name="notice_document_town_day_kind"
            ),
            models.UniqueConstraint(fields=["county", "number"], name="notice_document_number"),
        ]

    def __str__(self) -> str:
        return self.number


class OverdueNotice(models.Model):
    """One rung of the ladder reached by one ticket for one deadline. An approved extension
    moves the deadline, so the ladder starts again for the new one."""

    ticket = models.ForeignKey(
        RectificationTicket, on_delete=models.CASCADE, related_name="overdue_notices"
    )
    step = models.PositiveSmallIntegerField(_("step"))
    deadline = models.DateField(_("deadline (整改时限)"))
    kind = models.CharField(_("kind"), max_length=12, choices=NoticeKind.choices)
    issued_on = models.DateField(_("issued on"))
    document = models.ForeignKey(
        NoticeDocument, on_delete=models.PROTECT, related_name="overdue_notices"
    )

    objects = NoticeRowQuerySet.as_manager()

    class Meta:
        verbose_name = _("overdue notice")
        verbose_name_plural = _("overdue notices")
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "step", "deadline"], name="overdue_notice_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id}/{self.step}/{self.deadline}"

    @property
    def days_overdue(self) -> int:
        """Local days past the deadline on the day the notice was issued."""
        return (self.issued_on - self.deadline).days


class SlaNotice(models.Model):
    """A toilet service ticket that missed its SLA: noticed once per ticket."""

    ticket = models.OneToOneField(ToiletTicket, on_delete=models.CASCADE, related_name="sla_notice")
    issued_on = models.DateField(_("issued on"))
    document = models.ForeignKey(
        NoticeDocument, on_delete=models.PROTECT, related_name="sla_notices"
    )

    objects = NoticeRowQuerySet.as_manager()

    class Meta:
        verbose_name = _("SLA breach notice")
        verbose_name_plural = _("SLA breach notices")

    def __str__(self) -> str:
        return f"{self.ticket_id}"


class Notification(models.Model):
    """In-app: a document addressed to one user; read when he opens it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    document = models.ForeignKey(
        NoticeDocument, on_delete=models.CASCADE, related_name="notifications"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "document"], name="notification_once")
        ]
        indexes = [
            # The header badge: a user's unread count on every page.
            models.Index(
                fields=["user"], name="notification_unread", condition=models.Q(read_at=None)
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} ← {self.document_id}"


class Outbox(models.Model):
    """A document to deliver on another channel. A worker sends a row only after winning the
    claim `UPDATE … SET claimed_at = now WHERE id = ? AND claimed_at IS NULL` (1 row updated),
    so two workers never send the same row at the same time.

    A send whose outcome nobody knows (the gateway answered after our timeout, the worker was
    killed mid-send) is sent again, always with the row's `key`: the gateway drops a repeat of
    a key it has seen, so each notice is delivered once (services.outbox_deliver)."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("e-mail")
        WEBHOOK = "webhook", _("webhook (政务微信/SMS)")

    class Outcome(models.TextChoices):
        NONE = "", _("not tried yet")
        FAILED = "failed", _("failed")
        # Timed out, or the worker stopped mid-send: the gateway may have it already.
        UNKNOWN = "unknown", _("outcome unknown")

    document = models.ForeignKey(NoticeDocument, on_delete=models.CASCADE, related_name="outbox")
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    # An e-mail address; empty for the webhook, whose URL is read from settings when sending.
    recipient = models.CharField(_("recipient"), max_length=254, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    claimed_by = models.CharField(_("claimed by"), max_length=80, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    # The last attempt's outcome while unsent; the delivery job's raw INSERT leaves it to the
    # database default.
    outcome = models.CharField(
        _("last outcome"), max_length=8, choices=Outcome.choices, default="", db_default=""
    )
    # Not before this time (backoff after a failed or unknown attempt); null: due now.
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        constraints = [
            models.UniqueConstraint(fields=["document", "channel", "recipient"], name="outbox_once")
        ]
        indexes = [
            # The delivery job's scan: rows nobody has claimed yet.
            models.Index(
                fields=["id"], name="outbox_unclaimed", condition=models.Q(claimed_at=None)
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel}:{self.recipient or '-'} ← {self.document_id}"

    @property
    def key(self) -> str:
        """The idempotency key every attempt of this delivery carries: derived from what makes
        the row unique (outbox_once), so it never changes. ASCII, to fit an HTTP header; the
        address is hashed rather than sent to the webhook gateway."""
        who = "webhook"
        if self.recipient:
            who = hashlib.sha256(self.recipient.lower().encode()).hexdigest()[:16]
        return f"renju-{self.document_id}-{self.channel}-{who}"


class JobLock(models.Model):
    """One row per job name, locked FOR UPDATE for the length of a run: two workers running the
    same job queue instead of numbering the same documents twice."""

    name = models.CharField(max_length=80, unique=True)

    def __str__(self) -> str:
        return self.name


class JobRun(models.Model):
    """One run of a scheduled job, written by the wrapper around every job."""

    name = models.CharField(_("job"), max_length=80)
    as_of = models.DateField(_("as of"))
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["-started_at"], name="job_run_latest")]

    def __str__(self) -> str:
        return f"{self.name} {self.as_of}"
