"""The black-odorous water body register (农村黑臭水体清单) and the QR tokens on its signboards.

A site's state is an FSM: 治理中 → 已验收·管护中 ⇄ 疑似反弹 → 反弹整改中 → 已验收·管护中, and
移出清单 from anywhere (terminal). Transitions change fields on the site only; who may run them
and what else happens is inspections/services.py.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from villages.access import ScopedQuerySet
from villages.models import Town, Village

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


class WaterSite(ConcurrentTransitionMixin, models.Model):
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
