"""The black-odorous water body register (农村黑臭水体清单) and the QR tokens on its signboards.

A site's state is an FSM: 治理中 → 已验收·管护中 ⇄ 疑似反弹 → 反弹整改中 → 已验收·管护中, and
移出清单 from anywhere (terminal). Transitions change fields on the site only; who may run them
and what else happens is inspections.sites.services (through inspections.sites.actions).

Patrols (巡查记录) of the sites, and the county's proof-of-presence policy: a patrol is accepted,
accepted but flagged, or refused (and then not stored), according to `PatrolPolicy`. Flagged
patrols are kept with their reasons — the inspector sees them at once — and do not count as a
valid patrol for the month's coverage.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.cache import cache
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from core.choices import ChoiceLabels
from villages.access import ScopedQuerySet
from villages.models import County, Town, Village
from workflows.models import EvidencePhoto, RectificationTicket

TOKEN_BYTES = 16  # 128 random bits: a label cannot be guessed or enumerated


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


class SiteKind(models.TextChoices):
    RIVER = "river", _("river (河流)")
    POND = "pond", _("pond (坑塘)")
    DITCH = "ditch", _("ditch (沟渠)")
    LAKE = "lake", _("lake (湖泊)")
    RESERVOIR = "reservoir", _("reservoir (水库)")


class ListLevel(models.TextChoices):
    NATIONAL = "national", _("national list (国家级)")
    PROVINCIAL = "provincial", _("provincial list (省级)")
    COUNTY = "county", _("county list (县级)")


class SiteState(models.TextChoices):
    GOVERNING = "governing", _("under treatment (治理中)")
    MAINTAINED = "maintained", _("accepted, maintained (已验收·管护中)")
    SUSPECTED = "suspected", _("suspected rebound (疑似反弹)")
    REBOUND = "rebound", _("rebound being rectified (反弹整改中)")
    DELISTED = "delisted", _("removed from the list (移出清单)")


S = SiteState
# Sites inspectors must patrol: every state but 移出清单.
LISTED_STATES = (S.GOVERNING, S.MAINTAINED, S.SUSPECTED, S.REBOUND)


class WaterSiteQuerySet(ScopedQuerySet):
    def visible_to(self, user) -> WaterSiteQuerySet:
        return self.scoped(
            user,
            town="town_id",
            village=("village_id", "village__parent_id"),
            perm="site.view",
        )

    def listed(self) -> WaterSiteQuerySet:
        return self.exclude(state=S.DELISTED)


class WaterSite(ChoiceLabels, ConcurrentTransitionMixin, models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    town = models.ForeignKey(
        Town, on_delete=models.PROTECT, related_name="water_sites", verbose_name=_("town")
    )
    village = models.ForeignKey(
        Village,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="water_sites",
        verbose_name=_("village"),
    )
    kind = models.CharField(_("type"), max_length=12, choices=SiteKind.choices)
    area_m2 = models.DecimalField(
        _("area (m²)"), max_digits=12, decimal_places=1, null=True, blank=True
    )
    # WGS-84, like GPS from phones; a position given in GCJ-02 (from a Chinese web map) is
    # converted when entered or imported, and converted back only to draw on such a map.
    lat = models.FloatField(_("latitude"))
    lng = models.FloatField(_("longitude"))
    list_level = models.CharField(
        _("list level"), max_length=12, choices=ListLevel.choices, default=ListLevel.COUNTY
    )
    treatment = models.TextField(_("treatment measures"), blank=True)
    # Three-level responsibility (县/镇/村级责任人), as printed on the signboard.
    county_person = models.CharField(_("county-level responsible person"), max_length=50)
    county_phone = models.CharField(_("county-level phone"), max_length=20, blank=True)
    town_person = models.CharField(_("town-level responsible person"), max_length=50)
    town_phone = models.CharField(_("town-level phone"), max_length=20, blank=True)
    village_person = models.CharField(_("village-level responsible person"), max_length=50)
    village_phone = models.CharField(_("village-level phone"), max_length=20, blank=True)
    patrols_per_month = models.PositiveSmallIntegerField(
        _("patrols per month"),
        default=1,
        help_text=_("How many valid patrols a month the site needs to count as patrolled."),
    )
    state = FSMField(_("state"), default=S.GOVERNING, choices=S.choices, protected=True)
    token = models.CharField(_("QR token"), max_length=32, unique=True, default=new_token)
    token_issued_at = models.DateTimeField(_("QR label issued"), default=timezone.now)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = WaterSiteQuerySet.as_manager()

    class Meta:
        verbose_name = _("water site")
        verbose_name_plural = _("water sites")
        ordering = ["town_id", "code"]
        indexes = [
            # Register and coverage pages: a town's sites in code order, filtered by state.
            models.Index(fields=["town", "code"], name="site_town_code"),
            models.Index(fields=["state", "town"], name="site_state_town"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(lat__gte=-90, lat__lte=90, lng__gte=-180, lng__lte=180),
                name="site_position_in_range",
            ),
            models.CheckConstraint(condition=Q(patrols_per_month__gte=1), name="site_freq_1"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"

    @property
    def is_listed(self) -> bool:
        return self.state != S.DELISTED

    # Transitions: fields on self only.
    @transition(field=state, source=S.GOVERNING, target=S.MAINTAINED)
    def accept(self) -> None:
        """治理完成，验收通过。"""

    @transition(field=state, source=S.MAINTAINED, target=S.SUSPECTED)
    def suspect(self) -> None:
        """A patrol reported 疑似反弹."""

    @transition(field=state, source=S.SUSPECTED, target=S.REBOUND)
    def confirm_rebound(self) -> None:
        """The task force confirms the rebound: the site is being rectified again."""

    @transition(field=state, source=S.SUSPECTED, target=S.MAINTAINED)
    def dismiss_rebound(self) -> None:
        """The task force finds no rebound after all."""

    @transition(field=state, source=[S.SUSPECTED, S.REBOUND], target=S.MAINTAINED)
    def rectified(self) -> None:
        """The site's rebound ticket was closed."""

    @transition(field=state, source=list(LISTED_STATES), target=S.DELISTED)
    def delist(self) -> None:
        """移出清单 (terminal)."""

    def rotate_token(self) -> str:
        """New label token; returns the old one (to be kept as retired)."""
        old, self.token = self.token, new_token()
        self.token_issued_at = timezone.now()
        return old


class RetiredToken(models.Model):
    """A token from a replaced label: scanning it says the label is out of date, instead of a
    bare "not found" that would send the inspector hunting for a fault in his phone."""

    token = models.CharField(_("QR token"), max_length=32, unique=True)
    site = models.ForeignKey(
        WaterSite, on_delete=models.CASCADE, related_name="retired_tokens", verbose_name=_("site")
    )
    retired_at = models.DateTimeField(_("replaced"), default=timezone.now)
    retired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("replaced by"),
    )

    class Meta:
        verbose_name = _("retired QR token")
        verbose_name_plural = _("retired QR tokens")

    def __str__(self) -> str:
        return f"{self.site_id} @ {self.retired_at:%Y-%m-%d}"


class Rule(models.TextChoices):
    REFUSE = "refuse", _("refuse the patrol")
    FLAG = "flag", _("accept it, flagged")


class TicketMode(models.TextChoices):
    DRAFT = "draft", _("as a draft for the task force to assign (待交办)")
    ASSIGNED = "assigned", _("assigned to the town at once (整改中)")


class PatrolPolicy(models.Model):
    """A county's settings for patrols: one row per county, edited in the admin."""

    county = models.OneToOneField(
        County, on_delete=models.PROTECT, related_name="patrol_policy", verbose_name=_("county")
    )
    max_distance_m = models.PositiveIntegerField(
        _("distance limit (m)"),
        default=200,
        help_text=_("How far from the site's registered position a patrol may be recorded."),
    )
    max_accuracy_m = models.PositiveIntegerField(
        _("worst usable GPS accuracy (m)"),
        default=500,
        help_text=_("A position less precise than this counts as no position at all."),
    )
    too_far = models.CharField(
        _("too far from the site"), max_length=8, choices=Rule.choices, default=Rule.FLAG
    )
    no_position = models.CharField(
        _("no GPS position"), max_length=8, choices=Rule.choices, default=Rule.FLAG
    )
    no_photo = models.CharField(
        _("no photo"), max_length=8, choices=Rule.choices, default=Rule.REFUSE
    )
    photo_max_age_hours = models.PositiveIntegerField(
        _("oldest photo (hours)"),
        default=24,
        help_text=_("Photos whose camera time is older than this are not evidence of today."),
    )
    old_photo = models.CharField(
        _("photo too old"), max_length=8, choices=Rule.choices, default=Rule.FLAG
    )
    # The checks below catch what a forged form sends rather than what an honest phone gets
    # wrong (docs: README "What proof of presence can and cannot prove").
    photo_reused = models.CharField(
        _("photo already used as evidence"),
        max_length=8,
        choices=Rule.choices,
        default=Rule.REFUSE,
        help_text=_(
            "The same photo file (same SHA-256) is already evidence of another patrol, a ticket "
            "or an assessment."
        ),
    )
    desktop_fix = models.CharField(
        _("implausibly precise position from a computer"),
        max_length=8,
        choices=Rule.choices,
        default=Rule.FLAG,
        help_text=_(
            "A GPS accuracy under 3 m sent by a browser that is not a phone's or a tablet's: "
            "computers have no such GPS, but a faked position often claims one."
        ),
    )
    copied_position = models.CharField(
        _("position copied from the site"),
        max_length=8,
        choices=Rule.choices,
        default=Rule.FLAG,
        help_text=_(
            "The position sent equals the site's registered coordinates to the 6th decimal "
            "(about 0.1 m), which no real GPS fix does by chance."
        ),
    )
    no_exif = models.CharField(
        _("photo without camera data"),
        max_length=8,
        choices=Rule.choices,
        default=Rule.FLAG,
        help_text=_(
            "A photo with neither a camera time nor a GPS position in its EXIF: a screenshot, "
            "an edited or a downloaded picture, or a phone that strips them."
        ),
    )
    # Patrols recorded offline on the phone arrive later than they were observed; the checks
    # judge the observation time, and this limits how long a record may wait on the phone.
    max_offline_hours = models.PositiveIntegerField(
        _("longest wait on the phone (hours)"),
        default=72,
        help_text=_(
            "A patrol recorded without network is sent when the phone is online again; one "
            "that arrives more than this long after it was recorded gets this rule."
        ),
    )
    late_upload = models.CharField(
        _("sent long after it was recorded"),
        max_length=8,
        choices=Rule.choices,
        default=Rule.FLAG,
    )
    ticket_mode = models.CharField(
        _("tickets from patrols"),
        max_length=8,
        choices=TicketMode.choices,
        default=TicketMode.DRAFT,
    )
    ticket_days = models.PositiveSmallIntegerField(
        _("days to rectify"),
        default=15,
        help_text=_("Deadline of a ticket assigned at once from a patrol."),
    )

    class Meta:
        verbose_name = _("patrol policy")
        verbose_name_plural = _("patrol policy")

    def __str__(self) -> str:
        return f"{self.county} · {_('patrol policy')}"

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        _forget_policy(self.county_id)

    def delete(self, *args, **kwargs):
        deleted = super().delete(*args, **kwargs)
        _forget_policy(self.county_id)
        return deleted

    @classmethod
    def current(cls, county: County | str) -> PatrolPolicy:
        """The county's policy as stored now (`county`: a County or its code; its defaults
        until edited): what the rules applied to a patrol in that county read."""
        code = county.pk if isinstance(county, County) else county
        policy, _created = cls.objects.get_or_create(county_id=code)
        return policy

    @classmethod
    def for_site(cls, site: WaterSite) -> PatrolPolicy:
        """The policy a patrol of `site` is judged by: its county's."""
        return cls.current(site.town.county_id)

    @classmethod
    def cached(cls, county: County | str) -> PatrolPolicy:
        """The county's policy for pages that show it (the scan page's distance hints), without
        a query on every view. Saving it deletes the cached copy, which every process shares
        (settings.CACHES: Redis, or files under DATA_DIR)."""
        code = county.pk if isinstance(county, County) else county
        policy = cache.get(_policy_key(code))
        if policy is None:
            policy = cls.current(code)
            cache.set(_policy_key(code), policy, POLICY_CACHE_SECONDS)
        return policy


POLICY_CACHE_SECONDS = 300


def _policy_key(county_code: str) -> str:
    return f"inspections:patrol-policy:{county_code}"


def _forget_policy(county_code: str) -> None:
    # Now, and again at commit: a page that read the old row before the commit would otherwise
    # put it back into the cache for POLICY_CACHE_SECONDS.
    cache.delete(_policy_key(county_code))
    transaction.on_commit(lambda: cache.delete(_policy_key(county_code)))


class PatrolResult(models.TextChoices):
    NORMAL = "normal", _("normal (正常)")
    PROBLEM = "problem", _("problem found (发现问题)")
    REBOUND = "rebound", _("suspected rebound (疑似反弹)")


class Signboard(models.TextChoices):
    GOOD = "good", _("intact (完好)")
    DAMAGED = "damaged", _("damaged or illegible (破损)")
    MISSING = "missing", _("missing (缺失)")


class PreviousFixed(models.TextChoices):
    NONE = "none", _("no earlier problem (无)")
    YES = "yes", _("rectified (已整改)")
    NO = "no", _("not rectified (未整改)")


class Presence(models.TextChoices):
    """Why a patrol's presence on site is in doubt (stored codes of Patrol.flags)."""

    TOO_FAR = "too_far", _("too far from the site")
    NO_POSITION = "no_position", _("no GPS position")
    IMPRECISE = "imprecise", _("GPS position too imprecise")
    OLD_PHOTO = "old_photo", _("photo taken too long ago")
    PHOTO_FAR = "photo_far", _("photo taken far from the site")
    NO_PHOTO = "no_photo", _("no photo")
    NO_EXIF = "no_exif", _("photo without camera data")
    PHOTO_REUSED = "photo_reused", _("photo already used as evidence")
    DESKTOP_FIX = "desktop_fix", _("implausibly precise position from a computer")
    COPIED_POSITION = "copied_position", _("position copied from the site")
    LATE_UPLOAD = "late_upload", _("sent long after it was recorded")


class CheckResult(models.TextChoices):
    """What one presence check found (Patrol.checks). A stored patrol has no "refused" check:
    a refused patrol is not stored; the value is for the refusal shown to the inspector."""

    PASSED = "passed", _("passed")
    FLAGGED = "flagged", _("flagged")
    REFUSED = "refused", _("refused")
    NOT_APPLICABLE = "not_applicable", _("not applicable")


# The boolean checks a patrol records, in the order the form shows them.
PatrolCheck = (
    "color_abnormal",
    "odour",
    "floating_debris",
    "bank_garbage",
    "new_outfall",
)


class PatrolQuerySet(ScopedQuerySet):
    def visible_to(self, user) -> PatrolQuerySet:
        return self.scoped(
            user,
            town="site__town_id",
            village=("site__village_id", "site__village__parent_id"),
            perm="site.view",
        )

    def valid(self) -> PatrolQuerySet:
        return self.filter(flagged=False)


class Patrol(ChoiceLabels, models.Model):
    site = models.ForeignKey(
        WaterSite, on_delete=models.PROTECT, related_name="patrols", verbose_name=_("site")
    )
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="patrols",
        verbose_name=_("inspector"),
    )
    # Made when the form is shown and sent back with it: a POST retried by a flaky network
    # carries the same key, and the unique constraint turns it into the patrol already stored.
    key = models.UUIDField(_("submission key"), editable=False)
    # When the inspector was at the site (the phone's GPS fix, or the moment he pressed 提交) —
    # what coverage, the month and the checks go by — and when the record reached the server:
    # the same for a patrol sent at once, hours apart for one queued offline on the phone.
    observed_at = models.DateTimeField(_("observed"), default=timezone.now, editable=False)
    created_at = models.DateTimeField(_("received"), default=timezone.now, editable=False)
    # Asia/Shanghai date of observed_at: monthly coverage groups on it without time-zone maths.
    local_date = models.DateField(_("date"), editable=False)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    accuracy_m = models.FloatField(_("GPS accuracy (m)"), null=True, blank=True)
    distance_m = models.FloatField(_("distance to the site (m)"), null=True, blank=True)
    color_abnormal = models.BooleanField(_("abnormal colour (颜色异常)"), default=False)
    odour = models.BooleanField(_("odour (异味)"), default=False)
    floating_debris = models.BooleanField(_("floating debris (漂浮物)"), default=False)
    bank_garbage = models.BooleanField(_("garbage on the banks (岸边垃圾)"), default=False)
    new_outfall = models.BooleanField(_("new sewage outfall (新增排污口)"), default=False)
    signboard = models.CharField(
        _("signboard (公示牌)"), max_length=8, choices=Signboard.choices, default=Signboard.GOOD
    )
    previous_fixed = models.CharField(
        _("earlier problem rectified (前次问题是否整改)"),
        max_length=8,
        choices=PreviousFixed.choices,
        default=PreviousFixed.NONE,
    )
    result = models.CharField(_("result"), max_length=8, choices=PatrolResult.choices)
    note = models.TextField(_("note"), blank=True)
    photos = models.ManyToManyField(EvidencePhoto, related_name="+", verbose_name=_("photos"))
    # [{"code": Presence, …measured values}]: why the presence is in doubt; empty when not.
    flags = models.JSONField(_("flags"), default=list, blank=True)
    # [{"code": Presence, "result": CheckResult, …measured values}]: every presence check run on
    # the patrol, passed or not, in presence.CHECKS order. Empty for patrols recorded before the
    # checks were stored (and for bulk-loaded demo patrols): "checks not recorded".
    checks = models.JSONField(_("presence checks"), default=list, blank=True)
    flagged = models.BooleanField(_("flagged"), default=False)
    ticket = models.ForeignKey(
        RectificationTicket,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="patrols",
        verbose_name=_("ticket"),
    )

    objects = PatrolQuerySet.as_manager()

    class Meta:
        verbose_name = _("patrol")
        verbose_name_plural = _("patrols")
        ordering = ["-created_at", "-id"]
        indexes = [
            # Coverage (inspections/sites/coverage.py): a month's patrols grouped by site with
            # their valid, flagged and problem counts — covering.
            models.Index(
                fields=["local_date", "site", "flagged", "result"], name="patrol_month_site"
            ),
            # A site's history, newest first.
            models.Index(fields=["site", "-created_at"], name="patrol_site_time"),
            # 漏巡 (misses.py): a site's valid patrols by day — the month's count and the last
            # valid day, per site, without reading the flagged ones or the site's history.
            models.Index(
                fields=["site", "local_date"],
                name="patrol_site_valid_day",
                condition=Q(flagged=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["inspector", "key"], name="patrol_once_per_key"),
            models.CheckConstraint(
                condition=Q(lat__isnull=True, lng__isnull=True)
                | Q(lat__isnull=False, lng__isnull=False),
                name="patrol_position_pair",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site.code} {self.local_date}"

    @property
    def found_problem(self) -> bool:
        return self.result != PatrolResult.NORMAL

    @property
    def doubt_labels(self) -> list[str]:
        """The kinds of doubt in its flags, each once, in the order found."""
        codes = dict.fromkeys(flag.get("code") for flag in self.flags)
        return [str(Presence(code).label) for code in codes if code in Presence.values]


class PatrolMiss(models.Model):
    """A site short of valid patrols in a month: `reminder` when its town was told (on the
    county's reminder day), `missed` once the month is over — kept for rankings (漏巡)."""

    class Stage(models.TextChoices):
        REMINDER = "reminder", _("reminded")
        MISSED = "missed", _("missed (漏巡)")

    site = models.ForeignKey(
        WaterSite, on_delete=models.CASCADE, related_name="misses", verbose_name=_("site")
    )
    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    stage = models.CharField(_("stage"), max_length=8, choices=Stage.choices)
    valid_patrols = models.PositiveSmallIntegerField(_("valid patrols"), default=0)
    recorded_on = models.DateField(_("recorded on"))

    class Meta:
        verbose_name = _("missed patrol")
        verbose_name_plural = _("missed patrols")
        constraints = [
            # One reminder and one miss per site and month, however often the job runs.
            models.UniqueConstraint(fields=["site", "month", "stage"], name="patrol_miss_once")
        ]
        indexes = [
            # Rankings: a month's misses by town.
            models.Index(fields=["month", "stage"], name="patrol_miss_month")
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.month:%Y-%m} {self.stage}"
