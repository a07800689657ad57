"""Scored checklists, campaigns and rounds of village inspection (村村到), assessments and grades.

A checklist template is versioned: a round takes the version current when it starts and keeps
it, and a version in use is never edited (editing makes the next version). Scores are computed
on the server, set-based (inspections/grading/scoring.py); a grade is stored only when results are
published, with the bands it was graded by, so a later change of the grading policy re-grades
nothing already published.

Checklists, campaigns and the grading policy belong to one county (the tenant, DESIGN §2): rounds
and assessments follow through their campaign, and a campaign's name, a checklist's name and
version, are unique within its county only. `CountyQuerySet.visible_to` narrows them to the
counties the user works in.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from villages import access
from villages.access import ScopedQuerySet
from villages.models import County, Village
from workflows.models import EvidencePhoto, RectificationTicket

POINTS = {"max_digits": 6, "decimal_places": 2, "validators": [MinValueValidator(Decimal(0))]}


class Dimension(models.TextChoices):
    TOILETS = "toilets", _("toilet revolution (厕所革命)")
    GARBAGE = "garbage", _("garbage management (垃圾治理)")
    SEWAGE = "sewage", _("sewage and black-odorous water (污水与黑臭水体)")
    APPEARANCE = "appearance", _("village appearance (村容村貌)")
    MAINTENANCE = "maintenance", _("long-term maintenance (长效管护)")


class Grade(models.TextChoices):
    A = "A", "A"
    B = "B", "B"
    C = "C", "C"
    WEAK = "weak", _("weak (薄弱)")


class CountyQuerySet(models.QuerySet):
    """County-level objects (checklists, campaigns, rounds): a user sees those of the counties
    where he works — county-wide or in one of its towns or villages, as an inspector of a town
    works in his county's rounds; another county's answer 404. What he may do with them is the
    permissions' (a service worker of the county is refused a round's page with 403)."""

    county_path = "county_id"

    def visible_to(self, user):
        granted = access.scope_of(user)
        if granted.everywhere:
            return self
        return self.filter(**{f"{self.county_path}__in": sorted(granted.tenant_codes)})


class ChecklistTemplate(models.Model):
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="checklists", verbose_name=_("county")
    )
    name = models.CharField(_("name"), max_length=100)
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    note = models.TextField(_("note"), blank=True)

    objects = CountyQuerySet.as_manager()

    class Meta:
        verbose_name = _("checklist template")
        verbose_name_plural = _("checklist templates")
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["county", "name", "version"], name="checklist_name_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def in_use(self) -> bool:
        return self.rounds.exists()


class ChecklistItem(models.Model):
    template = models.ForeignKey(
        ChecklistTemplate,
        on_delete=models.CASCADE,
        related_name="items",
        verbose_name=_("template"),
    )
    code = models.CharField(_("code"), max_length=16)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    dimension = models.CharField(_("dimension"), max_length=12, choices=Dimension.choices)
    title = models.CharField(_("item"), max_length=200)
    max_points = models.DecimalField(_("points"), **POINTS)
    deduction = models.DecimalField(_("deduction per occurrence"), **POINTS)
    cap = models.DecimalField(
        _("deduction cap"), **POINTS, help_text=_("At most this much is deducted for the item.")
    )
    photos_required = models.BooleanField(_("photo required"), default=True)
    veto = models.BooleanField(
        _("veto (一票否决)"),
        default=False,
        help_text=_("A hit grades the village 薄弱 whatever its score."),
    )

    class Meta:
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")
        ordering = ["template", "order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["template", "code"], name="checklist_item_code"),
            models.CheckConstraint(
                condition=Q(cap__lte=models.F("max_points")), name="checklist_cap_within_points"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class GradingPolicy(models.Model):
    """Bands of a county's grading (one row per county, admin): A ≥ a_min, B ≥ b_min, C ≥ c_min,
    else 薄弱; any veto hit → 薄弱. Published grades keep the bands they were graded by."""

    county = models.OneToOneField(
        County, on_delete=models.PROTECT, related_name="grading_policy", verbose_name=_("county")
    )
    a_min = models.DecimalField(_("A from"), max_digits=5, decimal_places=2, default=Decimal(90))
    b_min = models.DecimalField(_("B from"), max_digits=5, decimal_places=2, default=Decimal(80))
    c_min = models.DecimalField(_("C from"), max_digits=5, decimal_places=2, default=Decimal(60))
    top_n = models.PositiveSmallIntegerField(_("red list size per town (红榜)"), default=3)
    bottom_n = models.PositiveSmallIntegerField(_("black list size per town (黑榜)"), default=3)

    class Meta:
        verbose_name = _("grading policy")
        verbose_name_plural = _("grading policy")
        constraints = [
            models.CheckConstraint(
                condition=Q(a_min__gt=models.F("b_min"), b_min__gt=models.F("c_min")),
                name="grading_bands_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.county} · {_('grading policy')}"

    @classmethod
    def current(cls, county: County | str) -> GradingPolicy:
        """The county's bands (`county`: a County or its code); its defaults until edited."""
        code = county.pk if isinstance(county, County) else county
        policy, _created = cls.objects.get_or_create(county_id=code)
        return policy

    def bands(self) -> dict[str, str]:
        return {"A": f"{self.a_min:.2f}", "B": f"{self.b_min:.2f}", "C": f"{self.c_min:.2f}"}


class Campaign(models.Model):
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="campaigns", verbose_name=_("county")
    )
    name = models.CharField(_("name"), max_length=100)
    year = models.PositiveSmallIntegerField(_("year"))
    template = models.ForeignKey(
        ChecklistTemplate,
        on_delete=models.PROTECT,
        related_name="campaigns",
        verbose_name=_("checklist"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = CountyQuerySet.as_manager()

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-year", "name"]
        # Names are the county's own: two counties may both run "2024年村村到".
        constraints = [
            models.UniqueConstraint(fields=["county", "name"], name="campaign_name_per_county")
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.county_id and self.template_id and self.template.county_id != self.county_id:
            raise ValidationError({"template": _("The checklist belongs to another county.")})


class RoundMode(models.TextChoices):
    SWEEP = "sweep", _("sweep (拉网巡查)")
    UNANNOUNCED = "unannounced", _("unannounced (四不两直暗访)")
    ACCEPTANCE = "acceptance", _("acceptance (验收)")
    REVISIT = "revisit", _("revisit (回头看)")


class RoundState(models.TextChoices):
    PLANNED = "planned", _("planned")
    ACTIVE = "active", _("active")
    CLOSED = "closed", _("closed")
    PUBLISHED = "published", _("grades published")


class RoundQuerySet(CountyQuerySet):
    county_path = "campaign__county_id"


class Round(ConcurrentTransitionMixin, models.Model):
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="rounds", verbose_name=_("campaign")
    )
    number = models.PositiveSmallIntegerField(_("round"))
    mode = models.CharField(_("mode"), max_length=12, choices=RoundMode.choices)
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("to"))
    state = FSMField(
        _("state"), default=RoundState.PLANNED, choices=RoundState.choices, protected=True
    )
    # Frozen when the round starts: the checklist version its assessments are scored by.
    template = models.ForeignKey(
        ChecklistTemplate,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rounds",
        verbose_name=_("checklist version"),
    )
    published_at = models.DateTimeField(_("published"), null=True, blank=True)

    objects = RoundQuerySet.as_manager()

    class Meta:
        verbose_name = _("round")
        verbose_name_plural = _("rounds")
        ordering = ["campaign", "number"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "number"], name="round_number"),
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="round_window"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} · {self.number}"

    @transition(field=state, source=RoundState.PLANNED, target=RoundState.ACTIVE)
    def start(self, *, template: ChecklistTemplate) -> None:
        self.template = template

    @transition(field=state, source=RoundState.ACTIVE, target=RoundState.CLOSED)
    def close(self) -> None:
        pass

    @transition(field=state, source=RoundState.CLOSED, target=RoundState.PUBLISHED)
    def publish(self) -> None:
        self.published_at = timezone.now()


class AssessmentState(models.TextChoices):
    DRAFT = "draft", _("draft")
    SUBMITTED = "submitted", _("submitted")
    APPROVED = "approved", _("approved")
    PUBLISHED = "published", _("published")


class AssessmentQuerySet(ScopedQuerySet):
    def visible_to(self, user) -> AssessmentQuerySet:
        return self.scoped(user, town="village__town_id", perm="grade.view")


class Assessment(ConcurrentTransitionMixin, models.Model):
    round = models.ForeignKey(
        Round, on_delete=models.PROTECT, related_name="assessments", verbose_name=_("round")
    )
    village = models.ForeignKey(
        Village, on_delete=models.PROTECT, related_name="assessments", verbose_name=_("village")
    )
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="assessments",
        verbose_name=_("inspector"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    state = FSMField(
        _("state"), default=AssessmentState.DRAFT, choices=AssessmentState.choices, protected=True
    )
    # Computed on the server (inspections/grading/scoring.py) whenever deductions change.
    score = models.DecimalField(_("score"), max_digits=6, decimal_places=2, default=Decimal(100))
    veto = models.BooleanField(_("veto hit"), default=False)
    # Stored at publication with the bands used: never re-graded afterwards.
    grade = models.CharField(_("grade"), max_length=4, choices=Grade.choices, blank=True)
    graded_by = models.JSONField(_("bands used"), default=dict, blank=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved by"),
    )

    objects = AssessmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("village assessment")
        verbose_name_plural = _("village assessments")
        ordering = ["round", "village"]
        constraints = [
            models.UniqueConstraint(fields=["round", "village"], name="assessment_once_per_round")
        ]
        indexes = [
            # Grades of a round by state (publishing, rankings, coverage matrix).
            models.Index(fields=["round", "state"], name="assessment_round_state"),
        ]

    def __str__(self) -> str:
        return f"{self.round} · {self.village}"

    @transition(field=state, source=AssessmentState.DRAFT, target=AssessmentState.SUBMITTED)
    def submit(self) -> None:
        self.submitted_at = timezone.now()

    @transition(field=state, source=AssessmentState.SUBMITTED, target=AssessmentState.DRAFT)
    def send_back(self) -> None:
        pass

    @transition(field=state, source=AssessmentState.SUBMITTED, target=AssessmentState.APPROVED)
    def approve(self, *, by) -> None:
        self.approved_by = by


class Deduction(models.Model):
    assessment = models.ForeignKey(
        Assessment,
        on_delete=models.CASCADE,
        related_name="deductions",
        verbose_name=_("assessment"),
    )
    item = models.ForeignKey(
        ChecklistItem, on_delete=models.PROTECT, related_name="+", verbose_name=_("item")
    )
    count = models.PositiveSmallIntegerField(_("occurrences"), default=1)
    note = models.TextField(_("note"), blank=True)
    photos = models.ManyToManyField(
        EvidencePhoto, blank=True, related_name="+", verbose_name=_("photos")
    )
    ticket = models.ForeignKey(
        RectificationTicket,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="deductions",
        verbose_name=_("ticket"),
    )

    class Meta:
        verbose_name = _("deduction")
        verbose_name_plural = _("deductions")
        constraints = [
            models.UniqueConstraint(fields=["assessment", "item"], name="deduction_once_per_item"),
            models.CheckConstraint(condition=Q(count__gte=1), name="deduction_count_1"),
        ]

    def __str__(self) -> str:
        return f"{self.item.code} × {self.count}"
