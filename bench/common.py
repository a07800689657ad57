"""Helpers shared by the benchmarks: the result rows of the summary, the named users of a bench,
planner statistics.

Every benchmark keeps printing its own lines and also records its headline figures with
`record(...)`; run.py drains them after each benchmark (`take_results()`) and prints one table of
all of them at the end. This module imports Django only inside the functions that need it, so
run.py and the summary's test can use the result rows before (or without) django.setup().
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

FAILED = "FAILED"


@dataclass(frozen=True)
class Result:
    """One row of the summary: a figure of a benchmark against its floor, or a failed run."""

    benchmark: str  # the module's name, as run.py's arguments spell it: "bench_scan"
    measured: str  # what was measured: "scan GET p50", "dashboard, town officer, 1M tickets"
    value: float
    unit: str  # of the value and of the floor's value: "ms", "MB"
    floor: str  # what the floor is: "logged-in minimal view p50", "one SELECT … GROUP BY"
    floor_value: float
    target: float | None = None  # the ratio the benchmark aims to stay within (≤ target×)
    queries: int | None = None
    note: str = ""
    error: str = ""  # only on a FAILED row, which has no figures

    @classmethod
    def failure(cls, benchmark: str, error: str) -> Result:
        return cls(benchmark, FAILED, math.nan, "", "", math.nan, error=error)

    @property
    def failed(self) -> bool:
        return bool(self.error)

    @property
    def ratio(self) -> float:
        if self.failed or not self.floor_value or math.isnan(self.floor_value):
            return math.nan
        return self.value / self.floor_value

    @property
    def target_met(self) -> bool | None:
        if self.target is None or math.isnan(self.ratio):
            return None
        return self.ratio <= self.target

    def as_dict(self) -> dict:
        """JSON-ready: NaN (no figure) becomes None, and the derived fields are included."""
        row = asdict(self) | {"ratio": self.ratio, "target_met": self.target_met}
        return {
            key: None if isinstance(value, float) and math.isnan(value) else value
            for key, value in row.items()
        }


_results: list[Result] = []


def record(
    *,
    benchmark: str,
    measured: str,
    value: float,
    unit: str,
    floor: str,
    floor_value: float,
    target: float | None = None,
    queries: int | None = None,
    note: str = "",
) -> Result:
    """Keep a headline figure of the running benchmark for run.py's summary."""
    result = Result(
        benchmark=benchmark,
        measured=measured,
        value=float(value),
        unit=unit,
        floor=floor,
        floor_value=float(floor_value),
        target=target,
        queries=queries,
        note=note,
    )
    _results.append(result)
    return result


def take_results() -> list[Result]:
    """The rows recorded since the last call, in order; the list starts empty again."""
    taken = _results[:]
    _results.clear()
    return taken


def short_count(n: int) -> str:
    """1,000,000 → "1M", 100,000 → "100k", 5,000 → "5k", 133 → "133": sizes in row labels."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= size and n % (size // 10) == 0:
            return f"{n / size:g}{suffix}"
    return f"{n:,}"


def users(town_code: str):
    """(town officer of `town_code`, task force, county inspector)."""
    from django.contrib.auth import get_user_model

    from villages.models import Membership, Role, Town

    User = get_user_model()
    officer = User.objects.create_user("bench_officer", password="x")
    Membership.objects.create(
        user=officer, role=Role.TOWN_OFFICER, town=Town.objects.get(code=town_code)
    )
    county = User.objects.create_user("bench_county", password="x")
    Membership.objects.create(user=county, role=Role.TASK_FORCE)
    inspector = User.objects.create_user("bench_inspector", password="x")
    Membership.objects.create(user=inspector, role=Role.INSPECTOR)
    return officer, county, inspector


def analyze() -> None:
    """Fresh planner statistics after bulk inserts, as production has them."""
    from django.db import connection

    from workflows.jobs import optimize_database

    if connection.vendor == "sqlite":
        optimize_database()
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
