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

from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from core.dates import month_start, previous_month
from inspections.models import Patrol, PatrolMiss, WaterSite
from inspections.sites.rules import owes_patrols
from villages.configuration import county_config
from villages.models import County
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
        .select_related("village")
        .order_by("town_id", "code")
    )


def missed_patrols_issue(*, as_of: date) -> dict[str, int]:
    counts = {"reminded": 0, "recorded": 0, "documents": 0, "notifications": 0, "outbox": 0}
    with transaction.atomic():
        notices.job_lock("missed_patrols")
        # Each county reminds from its own day (villages.configuration).
        counties = [
            c for c in County.objects.all() if as_of.day >= county_config(c).patrol_reminder_day
        ]
        if counties:
            issued = _remind(as_of, counties=counties)
            counts["reminded"] = issued.pop("notices")
            counts.update(issued)
        counts["recorded"] = _record_month(previous_month(as_of), recorded_on=as_of)
    return counts


def _remind(as_of: date, *, counties) -> dict[str, int]:
    month = month_start(as_of)
    short = short_sites(month=month, until=as_of, stage=PatrolMiss.Stage.REMINDER)
    sites = list(short.filter(town__county__in=counties))
    _insert(sites, month=month, stage=PatrolMiss.Stage.REMINDER, recorded_on=as_of)
    lines = defaultdict(list)
    for site in sites:
        lines[site.town_id].append(_line(site))
    return notices.documents_with_lines_issue(
        kind=NoticeKind.PATROL, as_of=as_of, lines_by_town=dict(lines)
    )


def _record_month(month: date, *, recorded_on: date) -> int:
    last_day = month_start(recorded_on) - timedelta(days=1)
    sites = list(short_sites(month=month, until=last_day, stage=PatrolMiss.Stage.MISSED))
    return _insert(sites, month=month, stage=PatrolMiss.Stage.MISSED, recorded_on=recorded_on)


def _insert(sites, *, month: date, stage: str, recorded_on: date) -> int:
    rows = [
        PatrolMiss(
            site=site, month=month, stage=stage, valid_patrols=site.valid, recorded_on=recorded_on
        )
        for site in sites
    ]
    return len(PatrolMiss.objects.bulk_create(rows, ignore_conflicts=True))


def _line(site: WaterSite) -> dict:
    detail = _("%(done)d of %(needed)d valid patrols this month; last valid patrol: %(last)s") % {
        "done": site.valid,
        "needed": site.patrols_per_month,
        "last": site.last_valid.isoformat() if site.last_valid else _("never"),
    }
    return {
        "code": site.code,
        "name": site.name,
        "place": site.village.short_name if site.village else "",
        "detail": detail,
    }
