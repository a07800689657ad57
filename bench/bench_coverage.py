"""The monthly patrol coverage page with 133 water sites (金乡县's register) and with 5,000, each
with 12 months of patrols.

Measured in-process through Django's test client (server time: URL routing, middleware, queries,
template), median of repeated requests: the task force's county view of the current month (the
default, a page of 200 sites × 12 months and the totals of every site) and, at 5,000 sites, a
town officer's view. Floor: the raw aggregate SQL — patrols of the 12 months grouped by (site,
month), valid / flagged / problem counts, for every listed site — timed in the same run; the
view's own aggregate (the chosen month for every site, earlier months for the page's sites only)
is printed beside it.

Target at 5,000 sites: ≤ 1× the floor — the whole page costs less than that one naive query.
At 133 sites the floor is a few milliseconds and the ratio measures the page's fixed costs
(session, scope, base template, 1,600 cells, ~150 KB of HTML); there the page's own time is the
figure to watch, and its target is absolute: ≤ 50 ms (the bench's own; 21 ms measured in 2026-11).

Sites and patrols are generated with bulk_create. Set BENCH_SITES for another large size.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from datetime import date, datetime, timedelta
from datetime import time as clock

from common import analyze, median_ms, record, short_count, users, water_site
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.dates import add_months, months_ending
from inspections.models import Patrol, WaterSite
from inspections.sites.coverage import MONTHS
from villages.models import Village

SIZES = (133, int(os.environ.get("BENCH_SITES", "5000")))
BATCH = 5_000
REPEAT = 15
TARGET = 1  # at the large size; below LARGE the page's fixed costs dominate the ratio
LARGE = 1_000
SMALL_LIMIT_MS = 50  # below LARGE: the page's own time
SHORT = {"task force, county": "county", "town officer": "town"}  # labels in run.py's summary
TOWN = "370828102000"  # 胡集镇: the town officer's
STATES = ["maintained"] * 90 + ["governing"] * 5 + ["suspected"] * 2 + ["rebound", "delisted"]
# (share, valid patrols as a part of the required, flagged patrols) of site-months.
OUTCOMES = [(85, "all", 0), (5, "some", 0), (3, "none", 1), (7, "none", 0)]


def run() -> None:
    call_command("import_divisions", "villages/fixtures/jinxiang/divisions_2023.csv", verbosity=0)
    officer, county, inspector = users(TOWN)
    today = timezone.localdate()
    rng = random.Random(1)
    made = 0
    for size in SIZES:
        started = time.perf_counter()
        patrols = generate(size - made, start=made, inspector=inspector, today=today, rng=rng)
        made = size
        elapsed = time.perf_counter() - started
        print(
            f"{size:,} sites: generated {patrols:,} patrols in {elapsed:.1f} s "
            f"({Patrol.objects.count():,} in all)"
        )
        analyze()
        floor = median_ms(lambda: raw_aggregate(today), REPEAT)
        print(f"  floor (raw GROUP BY of 12 months × every site): {floor:.1f} ms")
        users_here = [("task force, county", county)]
        if size > LARGE:
            users_here.append(("town officer", officer))
        target = (
            f"target ≤ {TARGET}x"
            if size > LARGE
            else f"fixed costs dominate at this size: target ≤ {SMALL_LIMIT_MS} ms"
        )
        for label, user in users_here:
            measure(label, user, floor, target, size=size)


def measure(label: str, user, floor: float, target: str, *, size: int) -> None:
    client = Client()
    client.force_login(user)
    url = reverse("site_coverage")
    client.get(url)  # warm caches and connection
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (label, response.status_code)
    query_count = len(queries)  # read now: the capture is a view on the connection's log
    aggregate_sql = next(q["sql"] for q in queries if "GROUP BY" in q["sql"])
    ms = median_ms(lambda: client.get(url), REPEAT)
    own = median_ms(lambda: _execute(aggregate_sql, None), REPEAT)  # as logged: literals inlined
    total = response.context["coverage"].county
    print(
        f"  {label}: {ms:.1f} ms/page, {query_count} queries, {len(response.content) // 1024} KB "
        f"(本月已巡 {total.done}/{total.listed}); the view's own aggregate {own:.1f} ms; "
        f"floor {floor:.1f} ms; ratio {ms / floor:.2f}x ({target})"
    )
    record(
        benchmark=__name__,
        measured=f"{SHORT[label]}, {short_count(size)} sites",
        value=ms,
        unit="ms",
        floor="raw GROUP BY, 12 months",
        floor_value=floor,
        target=TARGET if size > LARGE else None,
        limit=None if size > LARGE else SMALL_LIMIT_MS,
        queries=query_count,
        note=f"{label}; {target}; the view's own aggregate {own:.1f} ms",
    )


def raw_aggregate(today: date) -> int:
    """Valid, flagged and problem patrols per listed site and month of the 12 months ending
    this month: the essential query of the page, with nothing around it."""
    months = months_ending(today, MONTHS)
    ops = connection.ops
    patrol = ops.quote_name(Patrol._meta.db_table)
    site = ops.quote_name(WaterSite._meta.db_table)
    branches = " ".join(f"WHEN local_date >= %s THEN {i}" for i in range(len(months) - 1, 0, -1))
    sql = f"""
        SELECT site_id, CASE {branches} ELSE 0 END AS month_index,
            COUNT(*) FILTER (WHERE NOT flagged),
            COUNT(*) FILTER (WHERE flagged),
            COUNT(*) FILTER (WHERE result <> 'normal')
        FROM {patrol}
        WHERE local_date >= %s AND local_date < %s
          AND site_id IN (SELECT id FROM {site} WHERE state <> 'delisted')
        GROUP BY 1, 2
    """
    days = [*reversed(months[1:]), months[0], add_months(months[-1], 1)]
    return _execute(sql, [ops.adapt_datefield_value(day) for day in days])


def _execute(sql: str, params: list | None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return len(cursor.fetchall())


def generate(count: int, *, start: int, inspector, today: date, rng: random.Random) -> int:
    villages = list(Village.objects.administrative().values_list("code", "town_id"))
    now = timezone.now()
    sites = []
    for n in range(start, start + count):
        village, town = rng.choice(villages)
        recent = rng.random() < 0.02  # registered in the last half-year
        sites.append(
            water_site(
                code=f"B{n + 1:06d}",
                name=f"坑塘{n + 1}",
                town_id=town,
                village_id=village,
                lat=34.95 + rng.random() * 0.3,
                lng=116.15 + rng.random() * 0.35,
                patrols_per_month=1 if rng.random() < 0.8 else 2,
                state=rng.choice(STATES),
                created_at=now - timedelta(days=rng.randint(1, 180) if recent else 800),
            )
        )
    WaterSite.objects.bulk_create(sites, batch_size=BATCH)
    created = WaterSite.objects.filter(code__in=[s.code for s in sites])
    patrols = []
    made = 0
    for site in created.only("id", "patrols_per_month"):
        patrols.extend(site_patrols(site, inspector, today=today, rng=rng))
        if len(patrols) >= BATCH:
            made += _save(patrols)
    return made + _save(patrols)


def site_patrols(site, inspector, *, today: date, rng: random.Random):
    for month in months_ending(today, MONTHS):
        last_day = today.day if month.month == today.month else 28
        valid, flagged = _outcome(site.patrols_per_month, rng)
        for n in range(valid + flagged):
            day = month.replace(day=rng.randint(1, last_day))
            yield Patrol(
                site_id=site.id,
                inspector=inspector,
                key=uuid.uuid4(),
                created_at=timezone.make_aware(datetime.combine(day, clock(10, 0))),
                local_date=day,
                result="problem" if rng.random() < 0.03 else "normal",
                flagged=n >= valid,
            )


def _outcome(required: int, rng: random.Random) -> tuple[int, int]:
    pick = rng.randint(1, 100)
    for share, valid, flagged in OUTCOMES:
        if pick <= share:
            return {"all": required, "some": required - 1, "none": 0}[valid], flagged
        pick -= share
    return 0, 0


def _save(patrols: list[Patrol]) -> int:
    Patrol.objects.bulk_create(patrols, batch_size=BATCH)
    saved = len(patrols)
    patrols.clear()
    return saved
