"""The county's geography (county → town → village) and its people (households, memberships).

Keys are the 12-digit statistical division codes (统计用区划代码). A natural village (自然村)
has no statistical code of its own; it gets its administrative village's code plus a 3-digit
sequence (15 digits), which keeps it sortable under its parent.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Concat, Left
from django.db.models.lookups import Exact
from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError
from villages.access import CITY_DIGITS, MEMBERSHIP_JURISDICTION, Role, ScopedQuerySet
from villages.names import short_name

CODE_12 = RegexValidator(r"^\d{12}$", _("A division code has exactly 12 digits."))
VILLAGE_CODE = RegexValidator(
    r"^\d{12}(\d{3})?$", _("A village code has 12 digits (15 for a natural village).")
)


class Geography(models.Model):
    """Boundary and centre shared by every level. GeoJSON geometry in WGS-84 (EPSG:4326)."""

    boundary = models.JSONField(_("boundary"), null=True, blank=True)
    centroid_lng = models.FloatField(_("centre longitude"), null=True, blank=True)
    centroid_lat = models.FloatField(_("centre latitude"), null=True, blank=True)
    geo_updated_at = models.DateTimeField(_("geometry updated"), null=True, blank=True)

    class Meta:
        abstract = True
        # The point lookup's per-call freshness check reads Max(geo_updated_at) per level.
        indexes = [models.Index(fields=["geo_updated_at"], name="%(class)s_geo_updated_idx")]

    @property
    def has_location(self) -> bool:
        return self.centroid_lat is not None and self.centroid_lng is not None


# A city's (地级市, prefecture's) code is its first 4 digits (CITY_DIGITS) and 8 zeros:
# 370800000000 济宁市.
CITY_CODE = RegexValidator(
    r"^\d{4}0{8}$", _("A city code has 12 digits: 4 of the city, then 8 zeros.")
)


def city_code_of(code: str) -> str:
    """The code of the city a county (or town, or village) lies in: codes nest, so its first
    4 digits and 8 zeros (370828000000 金乡县 → 370800000000 济宁市)."""
    return code[:CITY_DIGITS] + "0" * (12 - CITY_DIGITS)


class City(models.Model):
    """A city (地级市, prefecture) above the counties: the division list's city row. A county's
    city is told by its code (city_code_of) whether or not this row was imported; the row gives
    the city its name (without one, pages name it by its code: City.label)."""

    code = models.CharField(_("code"), max_length=12, primary_key=True, validators=[CITY_CODE])
    name = models.CharField(_("name"), max_length=50)

    class Meta:
        verbose_name = _("city")
        verbose_name_plural = _("cities")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__endswith="00000000"), name="city_code_ends_in_zeros"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def label(code: str, names: dict[str, str]) -> str:
        """The city's name from `names` ({code: name} of the imported rows), else its code:
        "city 370800000000" until the division list's city row is imported."""
        return names.get(code) or str(_("city %(code)s") % {"code": code})


class County(Geography):
    code = models.CharField(_("code"), max_length=12, primary_key=True, validators=[CODE_12])
    name = models.CharField(_("name"), max_length=50)
    # The county's city (City.code), whose row may not be imported yet; blank where the
    # division list gave none (the city is then still city_code_of(code)).
    parent_code = models.CharField(_("prefecture code"), max_length=12, blank=True)

    class Meta(Geography.Meta):
        verbose_name = _("county")
        verbose_name_plural = _("counties")
        ordering = ["code"]
        constraints = [
            # A county's parent is the city its code lies in (villages.scope places a county
            # in its city by the code's first 4 digits; the parent must not say otherwise).
            models.CheckConstraint(
                condition=Q(parent_code="")
                | Exact(F("parent_code"), Concat(Left("code", CITY_DIGITS), Value("00000000"))),
                name="county_parent_is_its_city",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def city_code(self) -> str:
        return city_code_of(self.code)


class TownQuerySet(ScopedQuerySet):
    def visible_to(self, user) -> TownQuerySet:
        return self.scoped(user, town="code", village="villages__code")


class Town(Geography):
    class Kind(models.TextChoices):
        SUBDISTRICT = "subdistrict", _("subdistrict (街道)")
        TOWN = "town", _("town (镇)")
        TOWNSHIP = "township", _("township (乡)")

    code = models.CharField(_("code"), max_length=12, primary_key=True, validators=[CODE_12])
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="towns", verbose_name=_("county")
    )
    name = models.CharField(_("name"), max_length=50)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)

    objects = TownQuerySet.as_manager()

    class Meta(Geography.Meta):
        verbose_name = _("town")
        verbose_name_plural = _("towns")
        ordering = ["code"]
        constraints = [
            # Codes nest (villages.imports.PARENT_PREFIX): the county of a town is told by its
            # code's first 6 digits, which lets villages.scope place any object in its county
            # without a query, and Membership check that a town's membership names its county.
            models.CheckConstraint(
                condition=Exact(Left("code", 6), Left("county_id", 6)),
                name="town_code_in_county",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def kind_from_name(name: str) -> str:
        if name.endswith("街道") or name.endswith("街道办事处"):
            return Town.Kind.SUBDISTRICT
        if name.endswith("乡"):
            return Town.Kind.TOWNSHIP
        return Town.Kind.TOWN


class VillageQuerySet(ScopedQuerySet):
    def visible_to(self, user) -> VillageQuerySet:
        # A village admin of an administrative village also sees its natural villages.
        return self.scoped(user, town="town_id", village=("code", "parent_id"))

    def administrative(self) -> VillageQuerySet:
        return self.filter(level=Village.Level.ADMINISTRATIVE)


class Village(Geography):
    class Level(models.TextChoices):
        ADMINISTRATIVE = "administrative", _("administrative village (行政村)")
        NATURAL = "natural", _("natural village (自然村)")

    class Committee(models.TextChoices):
        VILLAGERS = "villagers", _("villagers' committee (村委会)")
        RESIDENTS = "residents", _("residents' committee (居委会)")

    code = models.CharField(_("code"), max_length=15, primary_key=True, validators=[VILLAGE_CODE])
    town = models.ForeignKey(
        Town, on_delete=models.PROTECT, related_name="villages", verbose_name=_("town")
    )
    name = models.CharField(_("name"), max_length=80)
    level = models.CharField(
        _("level"), max_length=16, choices=Level.choices, default=Level.ADMINISTRATIVE
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="natural_villages",
        verbose_name=_("administrative village"),
    )
    committee_type = models.CharField(
        _("committee type"), max_length=12, choices=Committee.choices, blank=True
    )
    # 城乡分类代码 (111 主城区 … 220 村庄); blank where the source has none.
    urban_rural_code = models.CharField(_("urban-rural code"), max_length=3, blank=True)

    objects = VillageQuerySet.as_manager()

    class Meta(Geography.Meta):
        verbose_name = _("village")
        verbose_name_plural = _("villages")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(level="administrative", parent__isnull=True)
                | Q(level="natural", parent__isnull=False),
                name="village_natural_has_parent",
            ),
            # A village's code starts with its town's county digits (see town_code_in_county).
            models.CheckConstraint(
                condition=Exact(Left("code", 6), Left("town_id", 6)),
                name="village_code_in_county",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def short_name(self) -> str:
        """刘庄村民委员会 → 刘庄村; 凤凰村村民委员会 → 凤凰村 (villages.names.short_name)."""
        return short_name(self.name)


def mask_phone(phone: str) -> str:
    digits = phone.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_id_number(id_number: str) -> str:
    value = id_number.strip().upper()
    if len(value) < 8:
        return "*" * len(value)
    return f"{value[:6]}{'*' * (len(value) - 10)}{value[-4:]}"


ID_DIGEST_KEY_MISSING = _(
    "ID_DIGEST_KEY is not set, so ID numbers cannot be recorded: the system administrator must "
    "set it (README § Security)."
)


def id_number_digest(id_number: str) -> str:
    """Keyed digest of an ID number: lets an import match a household again without storing
    the number itself (a plain hash of an 18-digit ID is brute-forced in minutes)."""
    # A key of its own, so that rotating SECRET_KEY does not make every stored ID unmatchable;
    # required in production (villages/checks.py), the SECRET_KEY only for the demo and tests.
    if not settings.ID_DIGEST_KEY and settings.ID_DIGEST_KEY_REQUIRED:
        # A refusal the page shows (an import, a household form), not a 500.
        raise ApplicationError(ID_DIGEST_KEY_MISSING)
    key = (settings.ID_DIGEST_KEY or settings.SECRET_KEY).encode()
    return hmac.new(key, id_number.strip().upper().encode(), hashlib.sha256).hexdigest()


class HouseholdQuerySet(ScopedQuerySet):
    def visible_to(self, user) -> HouseholdQuerySet:
        return self.scoped(
            user, town="village__town_id", village=("village_id", "village__parent_id")
        )


class Household(models.Model):
    """A household (户) with its toilet. The ID number is kept only masked plus a keyed digest;
    the phone is kept in full because service workers call back (回访), but lists and exports
    only ever show `phone_masked`."""

    class ToiletType(models.TextChoices):
        THREE_COMPARTMENT = "three_compartment", _("three-compartment septic (三格式)")
        DOUBLE_URN = "double_urn", _("double-urn (双瓮式)")
        FLUSH = "flush", _("flush to sewer (水冲式)")
        BIOGAS = "biogas", _("biogas (沼气池式)")
        OTHER = "other", _("other")

    class Problem(models.TextChoices):
        NONE = "", _("none")
        UNUSABLE = "unusable", _("cannot be used (不能用)")
        POOR = "poor", _("works poorly (不好用)")
        UNWILLING = "unwilling", _("not used by choice (不愿用)")

    village = models.ForeignKey(
        Village, on_delete=models.PROTECT, related_name="households", verbose_name=_("village")
    )
    number = models.CharField(_("household number"), max_length=40)
    head_name = models.CharField(_("head of household"), max_length=50)
    id_number_masked = models.CharField(_("ID number (masked)"), max_length=18, blank=True)
    id_number_digest = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    toilet_type = models.CharField(
        _("toilet type"), max_length=20, choices=ToiletType.choices, blank=True
    )
    tank_volume_m3 = models.DecimalField(
        _("septic tank volume (m³)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    last_pumped_on = models.DateField(_("last pumped"), null=True, blank=True)
    problem = models.CharField(
        _("problem"), max_length=12, choices=Problem.choices, blank=True, default=""
    )

    objects = HouseholdQuerySet.as_manager()

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["village_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["village", "number"], name="household_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.head_name}（{self.number}）"

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone) if self.phone else ""

    def set_id_number(self, id_number: str) -> None:
        self.id_number_masked = mask_id_number(id_number) if id_number else ""
        self.id_number_digest = id_number_digest(id_number) if id_number else ""


class Membership(models.Model):
    """What a user may do (role) and where (jurisdiction). Every membership names its county (the
    tenant: villages.scope); no town and no village means that whole county, and a town's or a
    village's membership names the county they lie in (services.membership_for; the
    membership_county_* constraints). A user may hold several memberships; their scopes add up.
    The one exception is the city supervisor's, which names a city and no county: it reaches
    every county of the city, to read (villages.access.scope_of)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("user"),
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    # Every role's but the city supervisor's, who names his city instead (membership_has_county).
    county = models.ForeignKey(
        County,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="memberships",
        verbose_name=_("county"),
    )
    city = models.ForeignKey(
        City,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="memberships",
        verbose_name=_("city"),
    )
    town = models.ForeignKey(
        Town, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("town")
    )
    village = models.ForeignKey(
        Village, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("village")
    )

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            # NULL never equals NULL in a unique index, hence one partial constraint per kind
            # of jurisdiction (nulls_distinct=False is PostgreSQL-only).
            models.UniqueConstraint(
                fields=["user", "role", "county"],
                condition=Q(town__isnull=True, village__isnull=True),
                name="membership_unique_county",
            ),
            models.UniqueConstraint(
                fields=["user", "role", "city"],
                condition=Q(city__isnull=False),
                name="membership_unique_city",
            ),
            # A county names every membership but a city's, which names its city alone (the
            # city supervisor's: membership_city_supervisor_has_city).
            models.CheckConstraint(
                condition=Q(city__isnull=True, county__isnull=False)
                | Q(role=Role.CITY_SUPERVISOR.value),
                name="membership_has_county",
            ),
            models.UniqueConstraint(
                fields=["user", "role", "town"],
                condition=Q(town__isnull=False),
                name="membership_unique_town",
            ),
            models.UniqueConstraint(
                fields=["user", "role", "village"],
                condition=Q(village__isnull=False),
                name="membership_unique_village",
            ),
            # The jurisdiction each role must have (villages.access; docs/architecture.md §5).
            *(
                models.CheckConstraint(condition=~Q(role=role.value) | needed, name=name)
                for role, (name, needed) in MEMBERSHIP_JURISDICTION.items()
            ),
            models.CheckConstraint(
                condition=Q(town__isnull=True) | Q(village__isnull=True),
                name="membership_one_jurisdiction",
            ),
            # A town's or a village's membership names their county: codes nest, and the
            # town_code_in_county and village_code_in_county constraints tie a code's first 6
            # digits to its county, so comparing them here compares the counties.
            models.CheckConstraint(
                condition=Q(town__isnull=True) | Exact(Left("town_id", 6), Left("county_id", 6)),
                name="membership_county_of_town",
                violation_error_message=_("The town lies in another county."),
            ),
            models.CheckConstraint(
                condition=Q(village__isnull=True)
                | Exact(Left("village_id", 6), Left("county_id", 6)),
                name="membership_county_of_village",
                violation_error_message=_("The village lies in another county."),
            ),
        ]

    def __str__(self) -> str:
        where = self.village or self.town or self.county or self.city
        return f"{self.user} · {self.get_role_display()} · {where}"


class Person(models.Model):
    """What the county keeps about a user besides his account (villages/people): his mobile
    number, and whether he must choose a new password before anything else (after a one-time
    password). Created when first needed: a user without one has no phone and no such duty."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="person",
        verbose_name=_("user"),
    )
    phone = models.CharField(_("mobile number"), max_length=11, blank=True)
    must_change_password = models.BooleanField(_("must change password"), default=False)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        constraints = [
            # A mobile number names one person (the roster import finds people by it).
            models.UniqueConstraint(
                fields=["phone"], condition=~Q(phone=""), name="person_unique_phone"
            ),
        ]

    def __str__(self) -> str:
        return str(self.user)

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone) if self.phone else ""


class MembershipChange(models.Model):
    """One change of a person's roles, active state, name or phone, or a password reset: who
    made it, when, through what, and the person's state before and after. Written by
    villages/people (services, the roster import) and the Django admin in the change's own
    transaction; never edited.

    `before` and `after` hold only what the change is about: {"roles": [{"role", "town",
    "village", "where"}, …]} (the whole list of the person's memberships, `where` the place's
    name at the time), {"active": bool}, {"name": str}, {"phone": masked}."""

    class Action(models.TextChoices):
        CREATED = "created", _("person added")
        ROLE_ADDED = "role_added", _("role given")
        ROLE_REMOVED = "role_removed", _("role taken away")
        ROLES_CHANGED = "roles_changed", _("roles changed")
        DEACTIVATED = "deactivated", _("deactivated")
        REACTIVATED = "reactivated", _("reactivated")
        PASSWORD_RESET = "password_reset", _("password reset")
        DETAILS_CHANGED = "details_changed", _("name or phone changed")

    class Via(models.TextChoices):
        PAGE = "page", _("people pages")
        IMPORT = "import", _("staff roster import")
        ADMIN = "admin", _("Django admin")
        TOKEN = "token", _("access tokens")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="membership_changes",
        verbose_name=_("person"),
    )
    # None: the command line (manage.py import_staff), run by whoever runs the server.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    at = models.DateTimeField(_("time"), auto_now_add=True)
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    via = models.CharField(_("through"), max_length=10, choices=Via.choices, default=Via.PAGE)
    before = models.JSONField(_("before"), default=dict, blank=True)
    after = models.JSONField(_("after"), default=dict, blank=True)

    class Meta:
        verbose_name = _("membership change")
        verbose_name_plural = _("membership changes")
        ordering = ["-at", "-id"]
        indexes = [
            # A person's page lists his changes, newest first.
            models.Index(fields=["user", "-at"], name="membership_change_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_action_display()} · {self.at:%Y-%m-%d %H:%M}"

    @property
    def before_text(self) -> str:
        return describe_person_state(self.before)

    @property
    def after_text(self) -> str:
        return describe_person_state(self.after)


def describe_person_state(state: dict) -> str:
    """{"roles": […], "active": …} as a line the person's page shows: 乡镇专干 · 胡集镇；启用."""
    from django.utils.translation import pgettext

    parts = []
    if "roles" in state:
        roles = [
            f"{_role_label(entry.get('role', ''))} · {entry.get('where') or _('whole county')}"
            for entry in state["roles"]
        ]
        parts.append("、".join(roles) if roles else str(_("no role")))
    if "active" in state:
        active = state["active"]
        parts.append(
            pgettext("account", "active") if active else pgettext("account", "deactivated")
        )
    if "name" in state:
        parts.append(state["name"])
    if "phone" in state:
        parts.append(state["phone"] or "—")
    return "；".join(parts) or "—"


def _role_label(value: str) -> str:
    try:
        return str(Role(value).label)
    except ValueError:  # a role since retired: its stored name
        return value


class AccessToken(models.Model):
    """A personal access token for another system (the 12345 hotline platform, a city's data
    collection, an analyst's script): it acts as its own account (`user`, which cannot log in: no
    usable password) holding one role in one jurisdiction, so every rule of villages.access applies
    to it as to a person. Only the SHA-256 of the secret is stored; the secret is shown once.
    Revoking deactivates the account; an expired or revoked token authenticates nobody."""

    name = models.CharField(_("name"), max_length=80)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="access_token",
        verbose_name=_("account"),
    )
    # The secret's first characters, shown in lists to tell tokens apart (never enough to use).
    prefix = models.CharField(_("prefix"), max_length=16, unique=True)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revoked by"),
    )
    rate_per_minute = models.PositiveIntegerField(_("requests per minute"))

    class Meta:
        verbose_name = _("access token")
        verbose_name_plural = _("access tokens")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class CountySettings(models.Model):
    """A county's own configuration (issue 20: the county is the tenant), edited by its task force
    on its page. An empty field means the environment's default (config/settings.py): every read
    goes through villages.configuration.county_config, never through this row or settings."""

    county = models.OneToOneField(
        County,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="configuration",
        verbose_name=_("county"),
    )
    sla_pumping_hours = models.PositiveIntegerField(_("pumping SLA (hours)"), null=True, blank=True)
    sla_repair_hours = models.PositiveIntegerField(_("repair SLA (hours)"), null=True, blank=True)
    sla_unblocking_hours = models.PositiveIntegerField(
        _("unblocking SLA (hours)"), null=True, blank=True
    )
    sla_other_hours = models.PositiveIntegerField(
        _("other service SLA (hours)"), null=True, blank=True
    )
    patrol_reminder_day = models.PositiveSmallIntegerField(
        _("patrol reminder day"), null=True, blank=True
    )
    extension_hold_days = models.PositiveSmallIntegerField(
        _("extension hold (days)"), null=True, blank=True
    )
    bulletin_issuer = models.CharField(_("bulletin issuer (发文机关)"), max_length=100, blank=True)
    bulletin_cc = models.CharField(_("bulletin cc (抄送)"), max_length=500, blank=True)
    updated_at = models.DateTimeField(_("changed"), null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )

    class Meta:
        verbose_name = _("county configuration")
        verbose_name_plural = _("county configurations")
        constraints = [
            models.CheckConstraint(
                condition=Q(patrol_reminder_day__gte=1, patrol_reminder_day__lte=28)
                | Q(patrol_reminder_day=None),
                name="county_settings_reminder_day",
            ),
            models.CheckConstraint(
                condition=Q(extension_hold_days__gte=1) | Q(extension_hold_days=None),
                name="county_settings_hold_days",
            ),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"sla_{kind}_hours__gte": 1}) | Q(**{f"sla_{kind}_hours": None}),
                    name=f"county_settings_sla_{kind}",
                )
                for kind in ("pumping", "repair", "unblocking", "other")
            ),
        ]

    def __str__(self) -> str:
        return str(self.county_id)
