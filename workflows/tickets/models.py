"""Rectification tickets (整改单) and toilet service tickets (管护工单) with their state machines.

Transitions only change fields on the ticket; who may run them, the event row and side effects
live in workflows/tickets/services.py. `ConcurrentTransitionMixin` makes save() an
`UPDATE … WHERE id = ? AND state = <state when loaded>`: of two people acting on one ticket,
the second save matches no row and raises ConcurrentTransition — nobody overwrites the other.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from core.choices import ChoiceLabels
from villages.access import ScopedQuerySet
from villages.models import Household, Town, Village
from workflows.evidence.models import EvidencePhoto


class Source(models.TextChoices):
    PATROL = "patrol", _("water-site patrol")
    ASSESSMENT = "assessment", _("village assessment")
    BULLETIN = "bulletin", _("bulletin")
    REVISIT = "revisit", _("revisit (回头看)")
    REPORT = "report", _("report")
    # Forwarded by the 12345 hotline platform (or any other system) through Open311's
    # POST requests.json (workflows/open311).
    HOTLINE = "hotline", _("12345 hotline / Open311")


class Category(models.TextChoices):
    """What kind of problem a rectification ticket is about: the dimensions of the county's
    checklists (inspections.grading.models.Dimension, the same codes: a deduction's ticket takes
    its item's dimension) and "other". Open311 offers them as its services (workflows/open311)."""

    TOILETS = "toilets", _("toilet revolution (厕所革命)")
    GARBAGE = "garbage", _("garbage management (垃圾治理)")
    SEWAGE = "sewage", _("sewage and black-odorous water (污水与黑臭水体)")
    APPEARANCE = "appearance", _("village appearance (村容村貌)")
    MAINTENANCE = "maintenance", _("long-term maintenance (长效管护)")
    OTHER = "other", _("other")


class TicketBase(ChoiceLabels, ConcurrentTransitionMixin, models.Model):
    """What both kinds of ticket share: number, place, description, origin."""

    number = models.CharField(_("number"), max_length=20, unique=True, editable=False)
    town = models.ForeignKey(
        Town, on_delete=models.PROTECT, related_name="+", verbose_name=_("town")
    )
    village = models.ForeignKey(
        Village,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("village"),
    )
    description = models.TextField(_("description"))
    location_lat = models.FloatField(_("latitude"), null=True, blank=True)
    location_lng = models.FloatField(_("longitude"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.number


# --- 整改单 ------------------------------------------------------------------------------------


class RectificationState(models.TextChoices):
    DRAFT = "draft", _("to be assigned (待交办)")
    ASSIGNED = "assigned", _("being rectified (整改中)")
    SUBMITTED = "submitted", _("awaiting review (待复核)")
    REJECTED = "rejected", _("sent back (退回)")
    EXTENSION_REQUESTED = "extension_requested", _("extension requested (延期申请)")
    CLOSED = "closed", _("closed (已销号)")
    CANCELLED = "cancelled", _("cancelled (已撤销)")


R = RectificationState
RECTIFICATION_OPEN_STATES = (R.DRAFT, R.ASSIGNED, R.SUBMITTED, R.REJECTED, R.EXTENSION_REQUESTED)
# Done with (销号 or 撤销): every state is either open or done, never both.
RECTIFICATION_DONE_STATES = (R.CLOSED, R.CANCELLED)
# The town still owes work: a deadline passed in one of these states makes the ticket overdue.
RECTIFICATION_RUNNING_STATES = (R.ASSIGNED, R.REJECTED, R.EXTENSION_REQUESTED)


# --- "overdue", written once --------------------------------------------------------------------
#
# A rectification ticket is overdue on local day `as_of` when the town still owes work on it (a
# state in RECTIFICATION_RUNNING_STATES) and its deadline is before `as_of`: on the deadline day
# itself it is not overdue yet, from the next day on it is. rectification_overdue() is the rule;
# everything else is derived from it or checked against it:
# - RectificationQuerySet.overdue (lists, filters, dashboard, rankings, bulletins) filters on it;
# - the overdue job's INSERT … SELECT (workflows/notices/services.py) compiles that queryset's
#   WHERE;
# - the partial index rect_running_deadline is rectification_running() on the deadline column;
# - rectification_is_overdue (RectificationTicket.is_overdue, the Excel ledger's days overdue)
#   is the same comparison on one loaded ticket, kept equal to the Q by
#   tests/workflows/test_overdue.py (every state × deadline before/on/after as_of).
# Toilet tickets' SLA breach follows the same pattern (toilet_sla_breached below).


def _values(states) -> list[str]:
    # Plain strings in the tuple's order: the partial indexes' conditions must deconstruct to
    # exactly what their migration says (a list of strings), or makemigrations sees a change.
    return [str(state) for state in states]


def rectification_running() -> Q:
    """The town still owes work on the ticket (also the rect_running_deadline index's
    condition)."""
    return Q(state__in=_values(RECTIFICATION_RUNNING_STATES))


def rectification_overdue(as_of: date) -> Q:
    """Overdue on `as_of`: still owed and the deadline (a local date) is before `as_of`."""
    return rectification_running() & Q(deadline__lt=as_of)


def rectification_is_overdue(state: str, deadline: date | None, as_of: date) -> bool:
    """rectification_overdue(as_of) for one ticket's loaded values, without a query (a NULL
    deadline compares as unknown in SQL: not overdue here either)."""
    return state in RECTIFICATION_RUNNING_STATES and deadline is not None and deadline < as_of


class RectificationQuerySet(ScopedQuerySet):
    def visible_to(self, user) -> RectificationQuerySet:
        return self.scoped(
            user,
            town="town_id",
            village=("village_id", "village__parent_id"),
            perm="ticket.view",
        )

    def open(self) -> RectificationQuerySet:
        return self.filter(state__in=RECTIFICATION_OPEN_STATES)

    def overdue(self, *, as_of: date) -> RectificationQuerySet:
        """Deadline passed (in local dates) while the town still owes the rectification."""
        return self.filter(rectification_overdue(as_of))


class RectificationTicket(TicketBase):
    class Priority(models.TextChoices):
        NORMAL = "normal", _("normal")
        URGENT = "urgent", _("urgent")

    state = FSMField(_("state"), default=R.DRAFT, choices=R.choices, protected=True, max_length=24)
    source_kind = models.CharField(
        _("source"), max_length=12, choices=Source.choices, default=Source.REPORT
    )
    # Generic reference to what opened the ticket (a patrol, an assessment deduction, …): the
    # apps downstream of workflows own those models, so workflows cannot import them.
    source_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # NULL, not "": GenericForeignKey writes None when a ticket has no source object.
    source_id = models.CharField(max_length=40, null=True, blank=True)  # noqa: DJ001
    source = GenericForeignKey("source_type", "source_id")
    category = models.CharField(
        _("category"), max_length=12, choices=Category.choices, default=Category.OTHER
    )
    site_label = models.CharField(_("site"), max_length=120, blank=True)
    priority = models.CharField(
        _("priority"), max_length=8, choices=Priority.choices, default=Priority.NORMAL
    )
    deadline = models.DateField(_("deadline (整改时限)"), null=True, blank=True)
    requested_deadline = models.DateField(_("requested new deadline"), null=True, blank=True)
    before_photos = models.ManyToManyField(
        EvidencePhoto, blank=True, related_name="+", verbose_name=_("photos before")
    )
    rectification_note = models.TextField(_("rectification note"), blank=True)
    # Who asked: separation of duties (settings.SEPARATION_OF_DUTIES) keeps the person who
    # submitted the rectification or requested the extension from deciding on it.
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("submitted by"),
    )
    extension_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("extension requested by"),
    )
    # When the pending extension request was made: the overdue ladder holds its notices for
    # EXTENSION_HOLD_DAYS while the county decides (workflows.notices.services).
    extension_requested_at = models.DateTimeField(
        _("extension requested at"), null=True, blank=True
    )
    assigned_at = models.DateTimeField(_("assigned"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # A rebound at a closed ticket's site opens a new ticket linked here; the old one stays closed.
    previous = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="follow_ups",
        verbose_name=_("previous ticket"),
    )

    objects = RectificationQuerySet.as_manager()

    PREFIX = "ZG"

    class Meta:
        verbose_name = _("rectification ticket")
        verbose_name_plural = _("rectification tickets")
        ordering = ["-created_at", "-id"]
        indexes = [
            # Town inbox (a town's open tickets by deadline) and the county list (every town's):
            # covering the default sort, so lists count and page over the index alone
            # (selectors.paginate); "id" makes it covering on PostgreSQL too.
            models.Index(
                fields=["town", "state", "deadline", "number", "id"],
                name="rect_town_state_deadline",
            ),
            models.Index(fields=["state", "deadline", "number", "id"], name="rect_state_deadline"),
            # A county's list, counts and inbox tabs: its states, then its towns' code range
            # (villages.scope.town_code_ranges), read from the index alone. With the town first
            # SQLite read every ticket of the county's range for a state's few (1,000,000
            # tickets: the task force's list 498 ms; 300,000: 195 → 65 ms with this index).
            models.Index(
                fields=["state", "town", "deadline", "number", "id"], name="rect_state_town"
            ),
            # Overdue scan: running tickets whose deadline has passed, county-wide.
            models.Index(
                fields=["deadline"],
                name="rect_running_deadline",
                condition=rectification_running(),
            ),
            models.Index(fields=["source_type", "source_id"], name="rect_source"),
            # The list's order when a search drops the default filters (`?q=`): newest first.
            models.Index(fields=["-created_at", "-id"], name="rect_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state="draft") | Q(state="cancelled") | Q(deadline__isnull=False),
                name="rect_assigned_has_deadline",
            ),
        ]

    @property
    def is_open(self) -> bool:
        return self.state in RECTIFICATION_OPEN_STATES

    def is_overdue(self, *, as_of: date | None = None) -> bool:
        as_of = as_of or timezone.localdate()
        return rectification_is_overdue(self.state, self.deadline, as_of)

    # Transitions: fields on self only; checks of role and scope are the services'.
    @transition(field=state, source=R.DRAFT, target=R.ASSIGNED)
    def assign(self, *, deadline: date) -> None:
        self.deadline = deadline
        self.assigned_at = timezone.now()

    # A fix submitted while an extension request is pending ends the request: the work is done.
    @transition(
        field=state, source=[R.ASSIGNED, R.REJECTED, R.EXTENSION_REQUESTED], target=R.SUBMITTED
    )
    def submit(self, *, note: str, by) -> None:
        self.rectification_note = note
        self.submitted_at = timezone.now()
        self.submitted_by = by
        self._extension_closed()

    def _extension_closed(self) -> None:
        self.requested_deadline = None
        self.extension_requested_at = None

    @transition(field=state, source=R.SUBMITTED, target=R.REJECTED)
    def reject(self) -> None:
        self.submitted_at = None

    @transition(field=state, source=R.SUBMITTED, target=R.CLOSED)
    def close(self) -> None:
        self.closed_at = timezone.now()

    @transition(field=state, source=[R.ASSIGNED, R.REJECTED], target=R.EXTENSION_REQUESTED)
    def request_extension(self, *, new_deadline: date, by) -> None:
        self.requested_deadline = new_deadline
        self.extension_requested_by = by
        self.extension_requested_at = timezone.now()

    @transition(field=state, source=R.EXTENSION_REQUESTED, target=R.ASSIGNED)
    def approve_extension(self) -> None:
        self.deadline = self.requested_deadline
        self._extension_closed()

    @transition(field=state, source=R.EXTENSION_REQUESTED, target=R.ASSIGNED)
    def refuse_extension(self) -> None:
        self._extension_closed()

    @transition(field=state, source=R.EXTENSION_REQUESTED, target=R.ASSIGNED)
    def withdraw_extension(self) -> None:
        self._extension_closed()

    @transition(field=state, source=[R.DRAFT, R.ASSIGNED], target=R.CANCELLED)
    def cancel(self) -> None:
        pass


# --- 管护工单 ----------------------------------------------------------------------------------


class ToiletState(models.TextChoices):
    REPORTED = "reported", _("reported (已报单)")
    DISPATCHED = "dispatched", _("dispatched (已派单)")
    ACCEPTED = "accepted", _("accepted (已接单)")
    IN_SERVICE = "in_service", _("in service (作业中)")
    DONE = "done", _("done (已完成)")
    CONFIRMED = "confirmed", _("confirmed (已回访)")
    RETURNED = "returned", _("returned for re-dispatch (退回重派)")
    CANCELLED = "cancelled", _("cancelled (已取消)")


T = ToiletState
TOILET_OPEN_STATES = (T.REPORTED, T.DISPATCHED, T.ACCEPTED, T.IN_SERVICE, T.DONE, T.RETURNED)
# The service is still owed to the household: past sla_due_at in these states is a breach.
TOILET_PENDING_STATES = (T.REPORTED, T.DISPATCHED, T.ACCEPTED, T.IN_SERVICE, T.RETURNED)


def toilet_pending() -> Q:
    """The service is still owed (also the toilet_pending_sla index's condition)."""
    return Q(state__in=_values(TOILET_PENDING_STATES))


def toilet_sla_breached(now) -> Q:
    """SLA breached at `now`: still owed and sla_due_at is before `now`. Used by
    ToiletQuerySet.sla_breached, compiled into the SLA job's INSERT … SELECT, and mirrored by
    ToiletTicket.is_sla_breached for one loaded ticket."""
    return toilet_pending() & Q(sla_due_at__lt=now)


# Where a ticket is, for ScopedQuerySet: its town, its village and that one's administrative
# village (a village admin of 胡集村 also sees its 自然村' tickets).
TICKET_PLACE = {"town": "town_id", "village": ("village_id", "village__parent_id")}


class ToiletQuerySet(ScopedQuerySet):
    def visible_to(self, user) -> ToiletQuerySet:
        """The jobs of the user's jurisdiction (toilet.view), and those dispatched to him where
        he still works (toilet.work): a worker moved to another town, or whose role was taken
        away, no longer sees his old jobs (access.names)."""
        viewed = self.scoped(user, perm="toilet.view", **TICKET_PLACE)
        worked = self.named(user, field="assigned_worker_id", perm="toilet.work", **TICKET_PLACE)
        # One WHERE … OR …: no to-many join, so no row twice and no DISTINCT.
        return viewed | worked

    def open(self) -> ToiletQuerySet:
        return self.filter(state__in=TOILET_OPEN_STATES)

    def sla_breached(self, *, now) -> ToiletQuerySet:
        return self.filter(toilet_sla_breached(now))


class ToiletTicket(TicketBase):
    class Kind(models.TextChoices):
        PUMPING = "pumping", _("fecal pumping (粪污抽运)")
        REPAIR = "repair", _("fixture repair (厕具维修)")
        UNBLOCKING = "unblocking", _("unblocking (疏通)")
        OTHER = "other", _("other")

    class Channel(models.TextChoices):
        QR = "qr", _("QR code (扫码)")
        PHONE = "phone", _("phone (电话)")
        VILLAGE_ADMIN = "village_admin", _("village admin on behalf (村管员代报)")
        PATROL = "patrol", _("found on patrol (巡查发现)")

    class Satisfaction(models.TextChoices):
        SATISFIED = "satisfied", _("satisfied (满意)")
        FAIRLY = "fairly", _("fairly satisfied (基本满意)")
        UNSATISFIED = "unsatisfied", _("unsatisfied (不满意)")

    state = FSMField(
        _("state"), default=T.REPORTED, choices=T.choices, protected=True, max_length=16
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    household = models.ForeignKey(
        Household,
        on_delete=models.PROTECT,
        related_name="toilet_tickets",
        verbose_name=_("household"),
    )
    sla_due_at = models.DateTimeField(_("due (SLA)"))
    assigned_worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="toilet_tickets",
        verbose_name=_("service worker"),
    )
    pumped_volume_m3 = models.DecimalField(
        _("pumped volume (m³)"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    disposal_site = models.CharField(_("disposal site"), max_length=120, blank=True)
    parts_used = models.CharField(_("parts used"), max_length=200, blank=True)
    satisfaction = models.CharField(
        _("satisfaction"), max_length=12, choices=Satisfaction.choices, blank=True
    )
    dispatched_at = models.DateTimeField(_("dispatched"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)

    objects = ToiletQuerySet.as_manager()

    PREFIX = "GH"

    class Meta:
        verbose_name = _("toilet service ticket")
        verbose_name_plural = _("toilet service tickets")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["town", "state", "sla_due_at"], name="toilet_town_state_sla"),
            # SLA scan: pending tickets past their due time.
            models.Index(
                fields=["sla_due_at"],
                name="toilet_pending_sla",
                condition=toilet_pending(),
            ),
            models.Index(fields=["assigned_worker", "state"], name="toilet_worker_state"),
        ]

    @property
    def is_open(self) -> bool:
        return self.state in TOILET_OPEN_STATES

    def is_sla_breached(self, *, now) -> bool:
        """toilet_sla_breached(now) for this one ticket, without a query."""
        return self.state in TOILET_PENDING_STATES and self.sla_due_at < now

    @transition(field=state, source=[T.REPORTED, T.RETURNED], target=T.DISPATCHED)
    def dispatch(self, *, worker) -> None:
        self.assigned_worker = worker
        self.dispatched_at = timezone.now()

    @transition(field=state, source=T.DISPATCHED, target=T.ACCEPTED)
    def accept(self) -> None:
        pass

    @transition(field=state, source=T.ACCEPTED, target=T.IN_SERVICE)
    def start(self) -> None:
        pass

    @transition(field=state, source=T.IN_SERVICE, target=T.DONE)
    def complete(self, *, volume_m3: Decimal | None, disposal_site: str, parts_used: str) -> None:
        self.pumped_volume_m3 = volume_m3
        self.disposal_site = disposal_site
        self.parts_used = parts_used
        self.completed_at = timezone.now()

    @transition(field=state, source=T.DONE, target=T.CONFIRMED)
    def confirm(self, *, satisfaction: str) -> None:
        self.satisfaction = satisfaction
        self.confirmed_at = timezone.now()

    @transition(field=state, source=T.DONE, target=T.RETURNED)
    def reopen(self) -> None:
        """A failed callback: the household says the job is not done; dispatch again."""
        self.satisfaction = ToiletTicket.Satisfaction.UNSATISFIED
        self.completed_at = None

    @transition(field=state, source=[T.DISPATCHED, T.ACCEPTED], target=T.RETURNED)
    def return_for_redispatch(self) -> None:
        self.assigned_worker = None

    @transition(field=state, source=[T.REPORTED, T.DISPATCHED, T.RETURNED], target=T.CANCELLED)
    def cancel(self) -> None:
        pass


# --- numbers and events -----------------------------------------------------------------------


class TicketCounter(models.Model):
    """Last number issued per prefix and year: "一件一号" without gaps or duplicates. The row is
    incremented with UPDATE … SET value = value + 1 inside the ticket's transaction, which locks
    it until commit, so concurrent creators queue instead of reading the same value."""

    prefix = models.CharField(max_length=4)
    year = models.PositiveSmallIntegerField()
    # The county whose documents the numbers count (bulletins' 第N批, notices' 第N号: each
    # county numbers its own); "" for the deployment's own series (一件一号 ticket numbers).
    county = models.CharField(max_length=12, blank=True, default="")
    value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["prefix", "year", "county"], name="ticket_counter_county_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.prefix}-{self.year}: {self.value}"


class TicketEvent(models.Model):
    """One transition of one ticket: who, from, to, when, why, with which photos."""

    rectification = models.ForeignKey(
        RectificationTicket, on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    toilet = models.ForeignKey(
        ToiletTicket, on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    action = models.CharField(_("action"), max_length=32)
    from_state = models.CharField(_("from"), max_length=24, blank=True)
    to_state = models.CharField(_("to"), max_length=24)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    at = models.DateTimeField(_("time"), default=timezone.now)
    # Work done in the field may be queued on the phone without network: the submission key
    # the phone made (a retry after a lost answer finds this step instead of a 409) and when
    # the work was recorded there; `at` is when it reached the server. Null for desk actions.
    key = models.UUIDField(_("submission key"), null=True, blank=True, editable=False)
    observed_at = models.DateTimeField(_("recorded in the field"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    photos = models.ManyToManyField(EvidencePhoto, blank=True, related_name="+")

    class Meta:
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rectification__isnull=False, toilet__isnull=True)
                | Q(rectification__isnull=True, toilet__isnull=False),
                name="ticket_event_one_ticket",
            ),
            models.UniqueConstraint(
                fields=["actor", "key"],
                condition=Q(key__isnull=False),
                name="ticket_event_once_per_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action}: {self.from_state} → {self.to_state}"


class TicketSearch(models.Model):
    """A rectification ticket's searchable text as bigrams (workflows/tickets/search.py), kept
    by database triggers on the ticket, village and town tables (migration 0012), never written
    by Python; SQLite indexes it with FTS5, PostgreSQL with a tsvector column and GIN."""

    ticket = models.OneToOneField(
        RectificationTicket, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    bigrams = models.TextField()

    class Meta:
        verbose_name = _("ticket search text")
        verbose_name_plural = _("ticket search texts")

    def __str__(self) -> str:
        return self.bigrams[:40]
