"""Bulletins (通报): numbered county documents listing problems (tickets) for towns to rectify.

A bulletin is one county's (the tenant): its tickets and recipient towns are that county's, its
issuer (发文机关) that county's configuration (villages.configuration), and its number counts
that county's bulletins of the year. It is composed as a draft (items = tickets, in order, with
the wording printed), then issued in one transaction: it gets its batch number (第N批, per
county and year), its draft tickets are
assigned to their towns with the bulletin's deadline, its text and items are frozen into
`snapshot` (an official document does not change when a ticket is edited later), and each
recipient town gets a receipt to acknowledge. "整改中" and "已全部销号" are derived from the
tickets, never stored.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from villages import access
from villages.access import ScopedQuerySet
from villages.models import City, County, Town, city_code_of
from workflows.tickets.models import RectificationTicket


class BulletinKind(models.TextChoices):
    PROBLEMS = "problems", _("problem bulletin (问题通报)")
    SUPERVISION = "supervision", _("supervision bulletin (督办通报)")
    RANKING = "ranking", _("red and black list (红黑榜)")
    GRADES = "grades", _("grade results (评定结果)")


class BulletinState(models.TextChoices):
    DRAFT = "draft", _("draft (草稿)")
    ISSUED = "issued", _("issued (已印发)")


class BulletinQuerySet(ScopedQuerySet):
    def visible_to(self, user) -> BulletinQuerySet:
        """The task force sees its county's bulletins (a superuser every county's); a town sees
        the issued ones addressed to it."""
        county = self.scoped(user, perm="bulletin.view_all", county="county_id")
        towns = self.filter(state=BulletinState.ISSUED).scoped(
            user, town="recipients__code", perm="bulletin.view"
        )
        return self.filter(Q(pk__in=county.values("pk")) | Q(pk__in=towns.values("pk")))


class IssuedSeries(ConcurrentTransitionMixin, models.Model):
    """What a county's bulletin and a city's share: a draft until issued, then numbered 第N批 of
    its series' year, its text frozen in `snapshot` (title, number, issuer, items)."""

    year = models.PositiveSmallIntegerField(_("year"))
    # Assigned on issue, in issue order: 第N批 of the series' year.
    batch = models.PositiveSmallIntegerField(_("batch (第N批)"), null=True, blank=True)
    title = models.CharField(_("title"), max_length=200)
    intro = models.TextField(_("introduction"), blank=True)
    state = FSMField(
        _("state"), default=BulletinState.DRAFT, choices=BulletinState.choices, protected=True
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    issued_at = models.DateTimeField(_("issued"), null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("issued by"),
    )
    # Frozen at issue: title, number, issuer, items with their places, wording and deadlines.
    snapshot = models.JSONField(_("issued text"), default=dict, blank=True)

    class Meta:
        abstract = True
        ordering = ["-year", "-batch", "-created_at"]

    def __str__(self) -> str:
        if self.batch:
            return f"{self.year}年第{self.batch}批 {self.title}"
        return self.title

    @property
    def number_label(self) -> str:
        return f"{self.year}年第{self.batch}批" if self.batch else ""

    # django-fsm collects an abstract model's transitions for each concrete one.
    @transition(field=state, source=BulletinState.DRAFT, target=BulletinState.ISSUED)
    def issue(self, *, batch: int, by, snapshot: dict) -> None:
        self.batch = batch
        self.issuer = snapshot["issuer"]
        self.issued_by = by
        self.issued_at = timezone.now()
        self.snapshot = snapshot


class Acknowledgement(models.Model):
    """A receipt (回执): its addressee acknowledges the bulletin."""

    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )

    class Meta:
        abstract = True


class BulletinItemBase(models.Model):
    position = models.PositiveSmallIntegerField(_("position"))
    wording = models.TextField(_("wording"), blank=True)

    class Meta:
        abstract = True
        ordering = ["bulletin", "position"]

    def __str__(self) -> str:
        return f"{self.bulletin_id}#{self.position}"


class Bulletin(IssuedSeries):
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="bulletins", verbose_name=_("county")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=BulletinKind.choices)
    # The county's issuer when composed (villages.configuration), renewed and frozen at issue.
    issuer = models.CharField(_("issuer"), max_length=100, blank=True)
    recipients = models.ManyToManyField(
        Town, related_name="bulletins", verbose_name=_("recipient towns"), blank=True
    )
    default_deadline = models.DateField(_("deadline (整改时限)"), null=True, blank=True)
    # Sections another app composed (红黑榜, grade results from inspections), frozen as handed.
    sections = models.JSONField(_("sections"), default=list, blank=True)

    objects = BulletinQuerySet.as_manager()

    class Meta(IssuedSeries.Meta):
        verbose_name = _("bulletin")
        verbose_name_plural = _("bulletins")
        constraints = [
            models.UniqueConstraint(
                fields=["county", "year", "batch"],
                name="bulletin_batch_per_county_year",
                condition=Q(batch__isnull=False),
            ),
            models.CheckConstraint(
                condition=Q(state="draft") | Q(batch__isnull=False), name="bulletin_issued_numbered"
            ),
        ]


class BulletinItem(BulletinItemBase):
    bulletin = models.ForeignKey(
        Bulletin, on_delete=models.CASCADE, related_name="items", verbose_name=_("bulletin")
    )
    ticket = models.ForeignKey(
        RectificationTicket,
        on_delete=models.PROTECT,
        related_name="bulletin_items",
        verbose_name=_("ticket"),
    )

    class Meta(BulletinItemBase.Meta):
        verbose_name = _("bulletin item")
        verbose_name_plural = _("bulletin items")
        constraints = [
            models.UniqueConstraint(fields=["bulletin", "ticket"], name="bulletin_item_once")
        ]


class BulletinReceipt(Acknowledgement):
    """One per recipient town: the town acknowledges it has received the bulletin (回执)."""

    bulletin = models.ForeignKey(
        Bulletin, on_delete=models.CASCADE, related_name="receipts", verbose_name=_("bulletin")
    )
    town = models.ForeignKey(
        Town, on_delete=models.PROTECT, related_name="+", verbose_name=_("town")
    )

    class Meta:
        verbose_name = _("bulletin receipt")
        verbose_name_plural = _("bulletin receipts")
        constraints = [
            models.UniqueConstraint(fields=["bulletin", "town"], name="bulletin_receipt_once")
        ]
        indexes = [
            # The header badge: a town's bulletins not yet acknowledged.
            models.Index(
                fields=["town"],
                name="bulletin_unacknowledged",
                condition=Q(acknowledged_at=None),
            )
        ]

    def __str__(self) -> str:
        return f"{self.bulletin_id} → {self.town_id}"


# --- the city's bulletins (市级通报) -------------------------------------------------------------
#
# A city's own series, beside the counties': composed by the city supervisor (市级督导) from the
# tickets of his city's counties, numbered 第N批 per city and year, frozen at issue like a
# county's. A separate model, not Bulletin with a nullable county: a county bulletin's issue
# assigns its draft tickets and addresses towns, its issuer and 抄送 are the county's
# configuration, and its queries (the ladder's "into the next bulletin", inspections' ranking
# bulletins, the API) all take a county; a city bulletin writes nothing into a county but one
# event row per ticket, and is addressed to the counties it names. What the two share —
# IssueTerms, the counter, the official number, the follow-up's statuses, the abstract models
# above (IssuedSeries, BulletinItemBase, Acknowledgement) — is code, not rows.


class CityBulletinQuerySet(models.QuerySet):
    def visible_to(self, user) -> CityBulletinQuerySet:
        """The city supervisor sees his city's bulletins, drafts too (a superuser every city's);
        a county's task force and a town's officers see the issued ones naming a ticket of
        their jurisdiction (villages.access: city_bulletin.compose and city_bulletin.view)."""
        composing = access.scope(user, "city_bulletin.compose")
        if composing.everywhere:
            return self.all()
        cities = {city_code_of(code) for code in composing.county_codes}
        named = CityBulletinItem.objects.scoped(
            user, perm="city_bulletin.view", town="ticket__town_id"
        )
        readable = Q(state=BulletinState.ISSUED, pk__in=named.values("bulletin_id"))
        return self.filter(Q(city_id__in=sorted(cities)) | readable)


class CityBulletin(IssuedSeries):
    city = models.ForeignKey(
        City, on_delete=models.PROTECT, related_name="bulletins", verbose_name=_("city")
    )
    # 发文机关: "<city>农村人居环境整治工作专班" unless the supervisor writes another; frozen when
    # issued.
    issuer = models.CharField(_("issuer"), max_length=100)
    # By when the named counties report their tickets rectified (a ticket's own deadline is
    # its county's: the city bulletin does not change it).
    deadline = models.DateField(_("deadline (整改时限)"), null=True, blank=True)

    objects = CityBulletinQuerySet.as_manager()

    class Meta(IssuedSeries.Meta):
        verbose_name = _("city bulletin")
        verbose_name_plural = _("city bulletins")
        constraints = [
            models.UniqueConstraint(
                fields=["city", "year", "batch"],
                name="city_bulletin_batch_per_city_year",
                condition=Q(batch__isnull=False),
            ),
            models.CheckConstraint(
                condition=Q(state="draft") | Q(batch__isnull=False),
                name="city_bulletin_issued_numbered",
            ),
        ]


class CityBulletinItem(BulletinItemBase):
    bulletin = models.ForeignKey(
        CityBulletin, on_delete=models.CASCADE, related_name="items", verbose_name=_("bulletin")
    )
    ticket = models.ForeignKey(
        RectificationTicket,
        on_delete=models.PROTECT,
        related_name="city_bulletin_items",
        verbose_name=_("ticket"),
    )

    objects = ScopedQuerySet.as_manager()

    class Meta(BulletinItemBase.Meta):
        verbose_name = _("city bulletin item")
        verbose_name_plural = _("city bulletin items")
        constraints = [
            models.UniqueConstraint(fields=["bulletin", "ticket"], name="city_bulletin_item_once")
        ]


class CityBulletinReceipt(Acknowledgement):
    """One per named county: its task force acknowledges the city's bulletin (回执)."""

    bulletin = models.ForeignKey(
        CityBulletin, on_delete=models.CASCADE, related_name="receipts", verbose_name=_("bulletin")
    )
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="+", verbose_name=_("county")
    )

    class Meta:
        verbose_name = _("city bulletin receipt")
        verbose_name_plural = _("city bulletin receipts")
        constraints = [
            models.UniqueConstraint(
                fields=["bulletin", "county"], name="city_bulletin_receipt_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.bulletin_id} → {self.county_id}"
