"""A county's configuration (县级配置): what differs from county to county on one deployment.

The environment (config/settings.py: TOILET_SLA_HOURS, PATROL_REMINDER_DAY, EXTENSION_HOLD_DAYS,
BULLETIN_CC) gives the defaults; a county's task force overrides any of them on its page
(villages.CountySettings, an empty field meaning the default). Every read of these values goes
through `county_config(county)`, the one resolver: tickets' SLA, the overdue ladder's hold, the
missed-patrol reminder, a bulletin's issuer (发文机关) and 抄送 line. The default issuer names
the county (金乡县农村人居环境整治工作专班).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.errors import ApplicationError
from villages.models import County, CountySettings

SLA_KINDS = ("pumping", "repair", "unblocking", "other")
ISSUER_SUFFIX = (
    "农村人居环境整治工作专班"  # after the county's name: 金乡县农村人居环境整治工作专班
)
REMINDER_DAYS = (1, 28)  # every month has the day
# The largest values taken: a year of hours, a year of days (the columns are small integers).
MAX_VALUE = {"extension_hold_days": 365, "patrol_reminder_day": REMINDER_DAYS[1]}
MAX_HOURS = 24 * 365


@dataclass(frozen=True)
class CountyConfig:
    toilet_sla_hours: dict[str, int]
    patrol_reminder_day: int
    extension_hold_days: int
    bulletin_issuer: str
    bulletin_cc: str

    def sla_hours(self, kind: str) -> int:
        return self.toilet_sla_hours.get(kind, self.toilet_sla_hours["other"])


# The page's fields: (CountySettings field, label), in the order shown.
FIELDS = (
    ("sla_pumping_hours", gettext_lazy("Pumping SLA (hours)")),
    ("sla_repair_hours", gettext_lazy("Repair SLA (hours)")),
    ("sla_unblocking_hours", gettext_lazy("Unblocking SLA (hours)")),
    ("sla_other_hours", gettext_lazy("Other service SLA (hours)")),
    ("patrol_reminder_day", gettext_lazy("Patrol reminder day of the month")),
    ("extension_hold_days", gettext_lazy("Extension hold (days)")),
    ("bulletin_issuer", gettext_lazy("Bulletin issuer (发文机关)")),
    ("bulletin_cc", gettext_lazy("Bulletin cc line (抄送)")),
)
INTEGER_FIELDS = {name for name, _label in FIELDS if name not in ("bulletin_issuer", "bulletin_cc")}


def default_values(county: County) -> dict[str, object]:
    """Each field's value when the county leaves it empty: the environment's, and the issuer
    named after the county."""
    hours = settings.TOILET_SLA_HOURS
    return {
        **{f"sla_{kind}_hours": hours.get(kind, hours["other"]) for kind in SLA_KINDS},
        "patrol_reminder_day": settings.PATROL_REMINDER_DAY,
        "extension_hold_days": settings.EXTENSION_HOLD_DAYS,
        "bulletin_issuer": f"{county.name}{ISSUER_SUFFIX}",
        "bulletin_cc": settings.BULLETIN_CC,
    }


def county_config(county: County | str) -> CountyConfig:
    """The configuration in force in `county` (a County or its code): its overrides, else the
    environment's defaults. The one function every use reads these values through."""
    if not isinstance(county, County):
        county = County.objects.only("code", "name").get(code=county)
    return _config(county, CountySettings.objects.filter(county=county).first())


def county_configs(counties: Iterable[County]) -> dict[str, CountyConfig]:
    """county_config of each of `counties` (County objects) by its code, in one query: what a
    daily job over every county reads (100 counties one by one took 0.1 s)."""
    counties = list(counties)
    rows = CountySettings.objects.filter(county__in=[c.code for c in counties])
    by_county = {row.county_id: row for row in rows}
    return {c.code: _config(c, by_county.get(c.code)) for c in counties}


def _config(county: County, row: CountySettings | None) -> CountyConfig:
    values = default_values(county)
    if row is not None:
        for name in values:
            own = getattr(row, name)
            if own not in (None, ""):
                values[name] = own
    return CountyConfig(
        toilet_sla_hours={kind: values[f"sla_{kind}_hours"] for kind in SLA_KINDS},
        patrol_reminder_day=values["patrol_reminder_day"],
        extension_hold_days=values["extension_hold_days"],
        bulletin_issuer=values["bulletin_issuer"],
        bulletin_cc=values["bulletin_cc"],
    )


def county_settings_of(county: County) -> CountySettings:
    """The county's row as stored (unsaved and empty if it has never been changed)."""
    return CountySettings.objects.select_related("updated_by").filter(county=county).first() or (
        CountySettings(county=county)
    )


def county_settings_update(*, county: County, by, values: dict[str, str]) -> CountySettings:
    """Stores the task force's overrides (a blank value: back to the default), noting who changed
    them and when. Every value is checked before anything is written."""
    cleaned = {name: _clean(name, str(values.get(name, "") or "")) for name, _label in FIELDS}
    with transaction.atomic():
        row, _created = CountySettings.objects.select_for_update().get_or_create(county=county)
        for name, value in cleaned.items():
            setattr(row, name, value)
        row.updated_at, row.updated_by = timezone.now(), by
        row.save()
    return row


def _clean(name: str, raw: str) -> int | str | None:
    raw = raw.strip()
    if name not in INTEGER_FIELDS:
        limit = CountySettings._meta.get_field(name).max_length
        if len(raw) > limit:
            raise ApplicationError(
                _("%(field)s: at most %(limit)d characters.")
                % {"field": _label(name), "limit": limit}
            )
        return raw
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()):
        raise ApplicationError(_("%(field)s: give a whole number.") % {"field": _label(name)})
    value = int(raw[:9])
    if name == "patrol_reminder_day" and not REMINDER_DAYS[0] <= value <= REMINDER_DAYS[1]:
        raise ApplicationError(
            _("%(field)s: a day from 1 to 28 (every month has it).") % {"field": _label(name)}
        )
    if value < 1:
        raise ApplicationError(_("%(field)s: at least 1.") % {"field": _label(name)})
    limit = MAX_VALUE.get(name, MAX_HOURS)
    if value > limit or len(raw) > 9:
        raise ApplicationError(
            _("%(field)s: at most %(limit)d.") % {"field": _label(name), "limit": limit}
        )
    return value


def _label(name: str) -> str:
    return str(dict(FIELDS)[name])
