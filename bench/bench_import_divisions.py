"""import_divisions on the real 金乡县 list and on a synthetic prefecture-sized list.

Floor: inserting the same rows with plain bulk_create and no checks (what any importer must at
least pay). The ratio shows what validation, change detection and upserting cost on top.
Targets (the bench's own): a first import ≤ 1.5× the floor; a re-import of the same file, which
changes nothing, ≤ 1× (finding no change costs less than inserting).
"""

from __future__ import annotations

import csv
import statistics
import tempfile
import time
from pathlib import Path

from common import record
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core.tables import read_table
from villages.imports import DivisionImportError, divisions_import, parse_divisions
from villages.models import County, Town, Village

FIRST_TARGET, AGAIN_TARGET = 1.5, 1
JINXIANG = settings.BASE_DIR / "villages" / "fixtures" / "jinxiang" / "divisions_2023.csv"


def run() -> None:
    report("金乡县 (572 rows)", JINXIANG, "572 rows")
    synthetic = "synthetic: 10 counties × 20 towns × 250 villages"
    report(synthetic, synthetic_file(10, 20, 250), "50,210 rows")


def report(label: str, path: Path, rows: str) -> None:
    floor = median_of(3, lambda: timed_floor(path))
    first = timed_import(path)
    with CaptureQueriesContext(connection) as queries:
        second = timed_import(path)
    ratio = first / floor
    print(
        f"{label}: first import {first * 1000:.0f} ms, re-import (no change) "
        f"{second * 1000:.0f} ms in {len(queries)} queries; floor (bare bulk_create) "
        f"{floor * 1000:.0f} ms; ratio first/floor {ratio:.2f}x"
    )
    for measured, seconds, query_count, target in (
        (f"first import, {rows}", first, None, FIRST_TARGET),
        (f"re-import, {rows}", second, len(queries), AGAIN_TARGET),
    ):
        record(
            benchmark=__name__,
            measured=measured,
            value=seconds * 1000,
            unit="ms",
            floor="bare bulk_create, same rows",
            floor_value=floor * 1000,
            target=target,
            queries=query_count,
            note=label,
        )
    wipe()


def timed_import(path: Path) -> float:
    started = time.perf_counter()
    divisions_import(path=path)
    return time.perf_counter() - started


def timed_floor(path: Path) -> float:
    started = time.perf_counter()
    rows = parse_divisions(read_table(path, error=DivisionImportError))
    with transaction.atomic():
        County.objects.bulk_create(
            [County(code=r.code, name=r.name) for r in rows if r.level == "county"]
        )
        Town.objects.bulk_create(
            [
                Town(code=r.code, name=r.name, county_id=r.parent_code, kind="town")
                for r in rows
                if r.level == "town"
            ]
        )
        Village.objects.bulk_create(
            [
                Village(code=r.code, name=r.name, town_id=r.parent_code)
                for r in rows
                if r.level == "village"
            ],
            batch_size=500,
        )
    elapsed = time.perf_counter() - started
    wipe()
    return elapsed


def wipe() -> None:
    Village.objects.all().delete()
    Town.objects.all().delete()
    County.objects.all().delete()


def median_of(times: int, fn) -> float:
    return statistics.median(fn() for _ in range(times))


def synthetic_file(counties: int, towns: int, villages: int) -> Path:
    path = Path(tempfile.mkdtemp()) / "synthetic.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["code", "name", "level", "parent_code", "urban_rural_code"])
        for c in range(1, counties + 1):
            county = f"3799{c:02d}000000"
            writer.writerow([county, f"测试县{c}", "county", "379900000000", ""])
            for t in range(1, towns + 1):
                town = f"{county[:6]}{t:03d}000"
                writer.writerow([town, f"测试镇{c}-{t}", "town", county, ""])
                for v in range(1, villages + 1):
                    writer.writerow(
                        [
                            f"{town[:9]}{v:03d}",
                            f"测试村{c}-{t}-{v}村民委员会",
                            "village",
                            town,
                            "220",
                        ]
                    )
    return path
