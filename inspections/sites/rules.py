"""Domain rules of water-site patrols, each written once and used by every page and job that
applies it.

**Which sites owe patrols in a month** (the coverage page and its totals, the dashboard's
coverage panel, the 漏巡 job's reminders and recorded misses):

- A site owes its `patrols_per_month` valid patrols for every calendar month that **begins
  after it was registered** (`created_at`, compared with the local — Asia/Shanghai — midnight
  that starts the month). A site registered during a month does not owe patrols for that
  month: a site registered on 20 May is first due in June, and one registered at 01:00 on
  1 June (Beijing time) is first due in July. A county registers a water body when it is listed;
  holding a town to a full month's patrols of a site it had for ten days (or for half an hour,
  on the 31st) would record misses nobody could have avoided.
- A site that is removed from the list (移出清单) owes nothing. No delisting date is stored,
  so it owes nothing for any month, past ones included; misses already recorded stay recorded.

Patrols of a month a site does not owe (before or during its registration month) still show on
the coverage matrix; they only never count as due, missed, or in the month's totals.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django.db.models import Case, IntegerField, Q, Value, When

from core.dates import local_midnight, month_start
from inspections.models import SiteState


def owes_patrols(month: date) -> Q:
    """WaterSite rows that owe patrols in `month` (any day of it): listed, and registered
    before the month began (its first day's local midnight). The one definition — see the
    module's docstring."""
    return ~Q(state=SiteState.DELISTED) & Q(created_at__lt=local_midnight(month_start(month)))


def first_month_owed(months: Sequence[date]) -> Case:
    """For a WaterSite queryset: the index in `months` (ascending) of the first month the site
    owes patrols — owes_patrols(months[i]) for i >= it, not before — or len(months) when it
    owes none of them. For the coverage matrix, which reads it as one small integer per site.

    Built from owes_patrols itself, oldest month first: CASE takes the first WHEN that holds, and
    a site that owes a month owes every later one."""
    return Case(
        *[When(owes_patrols(month), then=Value(i)) for i, month in enumerate(months)],
        default=Value(len(months)),
        output_field=IntegerField(),
    )
