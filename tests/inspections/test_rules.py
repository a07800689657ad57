"""inspections.sites.rules: the first month a site owes patrols, as the coverage matrix computes
it in SQL (first_month_owed), agrees with owes_patrols (the 漏巡 job's filter) for sites registered
around the months' boundaries, in local time (Asia/Shanghai, UTC+8)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.utils import timezone

from inspections.models import WaterSite
from inspections.sites.rules import first_month_owed, owes_patrols
from tests.inspections.conftest import make_site

pytestmark = pytest.mark.django_db

MONTHS = [date(2025, 3, 1), date(2025, 4, 1), date(2025, 5, 1), date(2025, 6, 1)]


def local(*args) -> datetime:
    return timezone.make_aware(datetime(*args))


# created_at → index in MONTHS of the first month owed (4: none of them)
CASES = [
    (local(2023, 1, 1), "maintained", 0),
    (local(2025, 2, 28, 23, 59, 59), "governing", 0),  # registered in February
    (local(2025, 3, 1, 0, 0), "maintained", 1),  # the first instant of March is in March
    (local(2025, 3, 20, 9, 0), "maintained", 1),  # mid-March: first due in April
    (local(2025, 3, 31, 23, 59, 59), "suspected", 1),
    (datetime(2025, 4, 30, 15, 59, 59, tzinfo=UTC), "maintained", 2),  # 30 April, 23:59:59 local
    (datetime(2025, 4, 30, 16, 0, 0, tzinfo=UTC), "maintained", 3),  # 1 May, 00:00 local
    (local(2025, 6, 10), "maintained", 4),  # registered in the last month: owes none
    (local(2023, 1, 1), "delisted", 4),  # delisted: owes nothing
]


def test_the_sql_first_month_owed_agrees_with_owes_patrols(huji):
    sites = {
        make_site(huji, created_at=created_at, state=state).pk: expected
        for created_at, state, expected in CASES
    }

    found = dict(
        WaterSite.objects.annotate(first=first_month_owed(MONTHS)).values_list("pk", "first")
    )

    assert found == sites
    for i, month in enumerate(MONTHS):
        owing = set(WaterSite.objects.filter(owes_patrols(month)).values_list("pk", flat=True))
        assert owing == {pk for pk, first in sites.items() if i >= first}, month
        # Any day of the month names the month.
        assert owing == set(
            WaterSite.objects.filter(owes_patrols(month.replace(day=28))).values_list(
                "pk", flat=True
            )
        )
