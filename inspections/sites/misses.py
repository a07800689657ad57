"""Missed patrols (漏巡): reminders to towns on the county's reminder day, and the month's misses
recorded once it is over (for rankings).

Set-based like the overdue ladder: one query finds the sites short of valid patrols (an
aggregate over the patrol index), one bulk insert records them, and workflows issues one
document per town. Idempotent through PatrolMiss's unique (site, month, stage): a second run,
a second worker (they queue on the job lock) or a re-run after a crash adds nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from core.dates import month_start, previous_month
from inspections.models import Patrol, PatrolMiss, WaterSite
from inspections.sites.rules import owes_patrols
from villages.configuration import county_configs
from villages.models import County
from villages.names import short_name
from workflows.models import NoticeKind
from workflows.notices import services as notices


def short_sites(*, month: date, until: date, stage: str) -> QuerySet[WaterSite]:
    """Sites that owe patrols in `month` (rules.owes_patrols: listed, registered before the
    month began — the coverage page's rule too) with fewer valid patrols from `month` to
    `until` than they need, and no `stage` record for the month yet.

    Both figures are per-site subqueries on the valid patrols' partial index (site, day): the
    month's count reads the month's entries, the last valid day one entry — never a site's
    whole patrol history (a join and GROUP BY over it cost 47× the floor at 1.8M patrols)."""
    valid = Patrol.objects.filter(site=OuterRef("pk"), flagged=False).order_by()
    in_month = (
        valid.filter(local_date__gte=month, local_date__lte=until)
        .values("site")
        .annotate(n=Count("pk"))
        .values("n")
    )
    last = valid.filter(local_date__lte=until).order_by("-local_date").values("local_date")[:1]
    recorded = PatrolMiss.objects.filter(site=OuterRef("pk"), month=month, stage=stage)
    return (
        WaterSite.objects.filter(owes_patrols(month))
        .exclude(Exists(recorded))
        .annotate(valid=Coalesce(Subquery(in_month), 0))
        .filter(valid__lt=F("patrols_per_month"))
        .annotate(last_valid=Subquery(last))
        .order_by("town_id", "code")
    )


# What the job reads of a short site: rows, not model instances (10,000 sites on the province
# benchmark spent 0.8 s building WaterSite and Village objects).
SHORT_COLUMNS = (
    "pk",
    "code",
    "name",
    "town_id",
    "patrols_per_month",
    "valid",
    "last_valid",
    "village__name",
)


def missed_patrols_issue(*, as_of: date) -> dict[str, int]:
    counts = {"reminded": 0, "recorded": 0, "documents": 0, "notifications": 0, "outbox": 0}
    with transaction.atomic():
        notices.job_lock("missed_patrols")
        # Each county reminds from its own day (villages.configuration).
        configs = county_configs(County.objects.only("code", "name"))
        counties = [c for c, config in configs.items() if as_of.day >= config.patrol_reminder_day]
        if counties:
            issued = _remind(as_of, counties=counties)
            counts["reminded"] = issued.pop("notices")
            counts.update(issued)
        counts["recorded"] = _record_month(previous_month(as_of), recorded_on=as_of)
    return counts


def _remind(as_of: date, *, counties) -> dict[str, int]:
    month = month_start(as_of)
    short = short_sites(month=month, until=as_of, stage=PatrolMiss.Stage.REMINDER)
    short = short.filter(town__county__in=counties)
    sites = list(short.values(*SHORT_COLUMNS))
    _insert(short, month=month, stage=PatrolMiss.Stage.REMINDER, recorded_on=as_of)
    lines = defaultdict(list)
    # Translated once, not once a site (8,757 gettext calls took 0.13 s on the province).
    wording = _wording()
    for site in sites:
        lines[site["town_id"]].append(_line(site, wording))
    return notices.documents_with_lines_issue(
        kind=NoticeKind.PATROL, as_of=as_of, lines_by_town=dict(lines)
    )


def _record_month(month: date, *, recorded_on: date) -> int:
    last_day = month_start(recorded_on) - timedelta(days=1)
    short = short_sites(month=month, until=last_day, stage=PatrolMiss.Stage.MISSED)
    return _insert(short, month=month, stage=PatrolMiss.Stage.MISSED, recorded_on=recorded_on)


def _insert(short: QuerySet, *, month: date, stage: str, recorded_on: date) -> int:
    """The `short` sites' records, by one INSERT … SELECT in the database (10,000 rows bound
    one by one took 0.7 s on the province benchmark); the number of rows added."""
    select, params = short.order_by().values("pk", "valid").query.sql_with_params()
    ops = connection.ops
    table = ops.quote_name(PatrolMiss._meta.db_table)
    # SQLite reads `ON CONFLICT` after a bare SELECT as a join's ON: hence the WHERE.
    sql = (
        f"INSERT INTO {table} (site_id, month, stage, valid_patrols, recorded_on) "
        f"SELECT s.pk, %s, %s, s.valid, %s FROM ({select}) s WHERE 1 = 1 "
        "ON CONFLICT DO NOTHING"
    )
    day, recorded = ops.adapt_datefield_value(month), ops.adapt_datefield_value(recorded_on)
    with connection.cursor() as cursor:
        cursor.execute(sql, [day, stage, recorded, *params])
        return cursor.rowcount


def _wording() -> dict[str, str]:
    return {
        "detail": _("%(done)d of %(needed)d valid patrols this month; last valid patrol: %(last)s"),
        "never": _("never"),
    }


def _line(site: dict, wording: dict[str, str]) -> dict:
    """A short site (a row of SHORT_COLUMNS) as a line of its town's notice."""
    detail = wording["detail"] % {
        "done": site["valid"],
        "needed": site["patrols_per_month"],
        "last": site["last_valid"].isoformat() if site["last_valid"] else wording["never"],
    }
    return {
        "code": site["code"],
        "name": site["name"],
        "place": short_name(site["village__name"]) if site["village__name"] else "",
        "detail": detail,
    }
