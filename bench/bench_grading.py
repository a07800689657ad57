"""Grading a round of 500 and of 5,000 villages on a 30-item, 100-point checklist.

Measures what publishing a round costs in grading: round_scores_refresh (one UPDATE with a
correlated SUM per assessment) and round_grades_publish (one UPDATE writing grade and bands),
median of repeated runs. Set-based means the query count is the same at both sizes (asserted)
and the time grows with the rows, not with round trips. Floor: one hand-written
`SELECT assessment_id, total − SUM(LEAST(count × deduction, cap)) … GROUP BY assessment_id`
fetched into Python, timed in the same run; the bench fails if a stored score or grade differs
from the one the floor's scores give.

金乡县 has 558 administrative villages; the rest are synthetic villages under the real towns
(codes: the town's 9-digit prefix + a sequence from 600, above any real one). About 5
deductions per assessment, some past their item's cap, 1 % hitting the veto item. Everything
is generated with bulk_create. Set BENCH_VILLAGES for another large size.

Target: ≤ 2× the floor (the bench's own: two set-based UPDATEs against one SELECT of the same
rows).
"""

from __future__ import annotations

import os
import random
import statistics
import time
from decimal import Decimal

from common import analyze, median_ms, record, short_count
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext

from inspections.grading import scoring as grading
from inspections.models import (
    Assessment,
    AssessmentState,
    Campaign,
    ChecklistItem,
    ChecklistTemplate,
    Deduction,
    GradingPolicy,
    Round,
    RoundState,
)
from villages.models import Town, Village

JINXIANG = "370828000000"  # the county the benchmarks build (金乡县)

SIZES = (500, int(os.environ.get("BENCH_VILLAGES", "5000")))
ITEMS = 30
BATCH = 5_000
REPEAT = 5
CENT = Decimal("0.01")
TARGET = 2


def run() -> None:
    call_command("import_divisions", "villages/fixtures/jinxiang/divisions_2023.csv", verbosity=0)
    started = time.perf_counter()
    villages = village_codes(max(SIZES))
    template = checklist()
    total = grading.template_total(template)
    rng = random.Random(5000)
    rounds = [make_round(template, n, villages[:size], rng) for n, size in enumerate(SIZES, 1)]
    print(
        f"generated {Assessment.objects.count():,} assessments, "
        f"{Deduction.objects.count():,} deductions over {len(villages):,} villages "
        f"in {time.perf_counter() - started:.1f} s"
    )
    analyze()
    policy = GradingPolicy.current(JINXIANG)
    counts = []
    for round, size in zip(rounds, SIZES, strict=True):
        counts.append(measure(round, size, total, policy))
    assert len(set(counts)) == 1, f"query count grows with the villages: {counts}"


def measure(round: Round, size: int, total: Decimal, policy: GradingPolicy) -> int:
    # The capture counts by the length of the query log, which stops growing at 9,000 entries
    # (bulk_create filled it): without this the count reads 0.
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        publish(round, policy)
    query_count = len(queries)
    check(round, floor_scores(round, total), policy)
    runs = []
    for _ in range(REPEAT):
        unpublish(round)
        runs.append(publish(round, policy))
    refresh, grades = (statistics.median(part) for part in zip(*runs, strict=True))
    ms = statistics.median(a + b for a, b in runs)
    floor = median_ms(lambda: floor_scores(round, total), REPEAT)
    print(
        f"{size:,} villages: refresh + publish {ms:.1f} ms (scores {refresh:.1f} + grades "
        f"{grades:.1f}), {query_count} queries, {ms / size * 1000:.1f} µs/village; "
        f"floor (one SELECT … GROUP BY, fetched) {floor:.1f} ms; ratio {ms / floor:.2f}x"
    )
    record(
        benchmark=__name__,
        measured=f"grade a round, {short_count(size)} villages",
        value=ms,
        unit="ms",
        floor="one SELECT … GROUP BY",
        floor_value=floor,
        target=TARGET,
        queries=query_count,
        note=(
            f"scores refresh {refresh:.1f} ms + grades publish {grades:.1f} ms; "
            "floor: one SELECT … GROUP BY, fetched"
        ),
    )
    return query_count


def publish(round: Round, policy: GradingPolicy) -> tuple[float, float]:
    """Milliseconds of the score refresh and of the grade publishing."""
    started = time.perf_counter()
    grading.round_scores_refresh(round=round)
    scored = time.perf_counter()
    grading.round_grades_publish(round=round, policy=policy)
    return (scored - started) * 1000, (time.perf_counter() - scored) * 1000


def unpublish(round: Round) -> None:
    Assessment.objects.filter(round=round).update(
        state=AssessmentState.APPROVED, grade="", score=Decimal(0), veto=False
    )
    if connection.vendor == "postgresql":
        # A round is published once; without this each repeat measures the dead row versions
        # of the previous ones (and their inflated estimates switch JIT on).
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {table(Assessment)}")


def floor_scores(round: Round, total: Decimal) -> dict[int, Decimal]:
    """Score of every assessment of the round that has a deduction, in one aggregate query."""
    least = "MIN" if connection.vendor == "sqlite" else "LEAST"  # SQLite's MIN(a, b) is scalar
    sql = f"""
        SELECT d.assessment_id, %s - SUM({least}(d.count * i.deduction, i.cap))
        FROM {table(Deduction)} d
        JOIN {table(ChecklistItem)} i ON i.id = d.item_id
        JOIN {table(Assessment)} a ON a.id = d.assessment_id
        WHERE a.round_id = %s
        GROUP BY d.assessment_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [total, round.pk])
        # SQLite returns the sum as a float: every figure here is a multiple of 0.5, exact.
        return {pk: Decimal(str(score)).quantize(CENT) for pk, score in cursor.fetchall()}


def check(round: Round, floor: dict[int, Decimal], policy: GradingPolicy) -> None:
    """Stored scores and grades equal what the floor's scores give (no deduction: full marks)."""
    total = grading.template_total(round.template)
    vetoed = set(
        Deduction.objects.filter(assessment__round=round, item__veto=True).values_list(
            "assessment_id", flat=True
        )
    )
    rows = Assessment.objects.filter(round=round).values_list("pk", "score", "veto", "grade")
    wrong = []
    for pk, score, veto, grade in rows:
        expected = floor.get(pk, total)
        want = grading.grade_of(score=expected, veto=pk in vetoed, policy=policy)
        if (score, veto, grade) != (expected, pk in vetoed, want):
            wrong.append((pk, score, veto, grade, expected, want))
    assert not wrong, f"{len(wrong)} assessments differ from the floor, e.g. {wrong[:3]}"
    assert len(rows) and floor, "nothing graded"


def table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def village_codes(count: int) -> list[str]:
    """`count` administrative village codes: the real ones, then synthetic ones."""
    real = list(Village.objects.administrative().values_list("code", flat=True))
    towns = list(Town.objects.values_list("code", flat=True))
    extra = []
    for n in range(max(0, count - len(real))):
        town = towns[n % len(towns)]
        extra.append(
            Village(code=f"{town[:9]}{600 + n // len(towns):03d}", town_id=town, name=f"村{n}")
        )
    Village.objects.bulk_create(extra, batch_size=BATCH)
    return (real + [v.code for v in extra])[:count]


def checklist() -> ChecklistTemplate:
    """30 items, 100 points: 10 of 5 points (1 per occurrence), 20 of 2.5 (0.5 each); the last
    is a veto item."""
    template = ChecklistTemplate.objects.create(county_id=JINXIANG, name="基准检查表", version=1)
    items = []
    for n in range(ITEMS):
        points, per = (Decimal(5), Decimal(1)) if n < 10 else (Decimal("2.5"), Decimal("0.5"))
        items.append(
            ChecklistItem(
                template=template,
                code=f"I{n:02d}",
                order=n,
                dimension="garbage",
                title=f"检查项{n}",
                max_points=points,
                deduction=per,
                cap=points,
                veto=n == ITEMS - 1,
            )
        )
    ChecklistItem.objects.bulk_create(items)
    return template


def make_round(template, number: int, villages: list[str], rng: random.Random) -> Round:
    campaign, _created = Campaign.objects.get_or_create(
        county_id=JINXIANG, name="基准", defaults={"year": 2024, "template": template}
    )
    inspector, _created = get_user_model().objects.get_or_create(username="bench_inspector")
    round = Round.objects.create(
        campaign=campaign,
        number=number,
        mode="sweep",
        starts_on="2024-03-01",
        ends_on="2024-03-31",
        state=RoundState.CLOSED,
        template=template,
    )
    assessments = Assessment.objects.bulk_create(
        [
            Assessment(round=round, village_id=code, inspector=inspector, state="approved")
            for code in villages
        ],
        batch_size=BATCH,
    )
    items = list(template.items.order_by("order"))
    deductions = [
        Deduction(assessment=assessment, item=item, count=rng.choice((1, 1, 1, 2, 3, 7)))
        for assessment in assessments
        for item in picked(items, rng)
    ]
    Deduction.objects.bulk_create(deductions, batch_size=BATCH)
    return round


def picked(items: list[ChecklistItem], rng: random.Random) -> list[ChecklistItem]:
    """0–10 distinct items (5 on average); the veto item in 1 % of assessments."""
    chosen = rng.sample(items[:-1], rng.randint(0, 10))
    return [*chosen, items[-1]] if rng.random() < 0.01 else chosen
