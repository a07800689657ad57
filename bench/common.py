"""Helpers shared by the benchmarks: the result rows of the summary and their targets, timing
(wall and CPU, medians, peak resident memory), the named users of a bench, planner statistics.

Every benchmark keeps printing its own lines and also records its headline figures with
`record(...)`; run.py drains them after each benchmark (`take_results()`) and prints one table of
all of them at the end. Every row states its target: a ratio to its floor (`target`, ≤ target×)
and, where the issue gives one, an absolute bar in the row's unit (`limit`, ≤ limit); the row
PASSes when each of them is met, and FAILs when one is not. This module imports Django only inside
the functions that need it, so run.py and the summary's test can use the result rows before (or
without) django.setup().
"""

from __future__ import annotations

import math
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

CRASHED = "CRASHED"  # a benchmark that raised: no figures
# The county every benchmark imports (villages/fixtures/jinxiang): memberships name it.
COUNTY = "370828000000"
PASS, FAIL = "PASS", "FAIL"


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
    limit: float | None = None  # an absolute bar in `unit` (≤ limit), where the issue sets one
    queries: int | None = None
    note: str = ""
    error: str = ""  # only on a CRASHED row, which has no figures

    @classmethod
    def failure(cls, benchmark: str, error: str) -> Result:
        return cls(benchmark, CRASHED, math.nan, "", "", math.nan, error=error)

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

    @property
    def limit_met(self) -> bool | None:
        if self.limit is None or math.isnan(self.value):
            return None
        return self.value <= self.limit

    @property
    def verdict(self) -> str:
        """PASS when every target the row states is met, FAIL when one is not; "" for a row
        with no target, or whose figures could not be judged (no floor, no value)."""
        checks = [met for met in (self.target_met, self.limit_met) if met is not None]
        if False in checks:
            return FAIL
        stated = [t for t in (self.target, self.limit) if t is not None]
        return PASS if checks and len(checks) == len(stated) else ""

    def as_dict(self) -> dict:
        """JSON-ready: NaN (no figure) becomes None, and the derived fields are included."""
        row = asdict(self) | {
            "ratio": self.ratio,
            "target_met": self.target_met,
            "limit_met": self.limit_met,
            "verdict": self.verdict,
        }
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
    limit: float | None = None,
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
        limit=limit,
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

    from villages.models import Role, Town

    User = get_user_model()
    officer = User.objects.create_user("bench_officer", password="x")
    member(officer, Role.TOWN_OFFICER, town=Town.objects.get(code=town_code))
    county = User.objects.create_user("bench_county", password="x")
    member(county, Role.TASK_FORCE)
    inspector = User.objects.create_user("bench_inspector", password="x")
    member(inspector, Role.INSPECTOR)
    return officer, county, inspector


def member(user, role, *, town=None) -> None:
    """A membership of `user` in `town`, or county-wide in the database's only county, through
    the service that names its county (villages.people.services.membership_for)."""
    from villages.people.services import membership_for

    membership_for(role=role, town=town, user=user).save()


# The people in charge of every generated water site, as a county's register names them.
SITE_PEOPLE = {
    "county_person": "王县长",
    "county_phone": "0537-8721000",
    "town_person": "李镇长",
    "town_phone": "13800000001",
    "village_person": "张书记",
    "village_phone": "13800000002",
}


def water_site(**fields):
    """An unsaved WaterSite (a pond unless `kind` is given) with the register's people in
    charge; `fields` give the rest: code, name, town, village, coordinates, state, …"""
    from inspections.models import SiteKind, WaterSite

    return WaterSite(**({"kind": SiteKind.POND} | SITE_PEOPLE | fields))


def analyze() -> None:
    """After bulk inserts, the database as production has it once its maintenance has run: on
    SQLite the nightly job's ANALYZE; on PostgreSQL what autovacuum leaves behind (VACUUM
    ANALYZE: planner statistics, the visibility map that index-only scans read, the search
    index's GIN pending list merged into the index)."""
    from django.db import connection

    from workflows.jobs import optimize_database

    if connection.vendor == "sqlite":
        optimize_database()
    else:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


# --- measuring -----------------------------------------------------------------------------------


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    """The median wall time of `repeat` calls, in ms; Django's query log is emptied after."""
    from django.db import reset_queries

    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    reset_queries()
    return statistics.median(times)


def timed(operation: Callable[[], object]) -> dict:
    """One call: wall seconds, this process's CPU seconds, and what it returned."""
    started, cpu = time.perf_counter(), time.process_time()
    result = operation()
    return {
        "wall": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "result": result,
    }


def start_peak() -> tuple[str, int]:
    """Where the resident high-water mark starts: VmHWM reset to the current RSS through
    /proc/self/clear_refs, or (where /proc is not writable) ru_maxrss as it stands."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return "proc", proc_status_bytes("VmRSS")
    except OSError:
        return "rusage", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def peak_since(baseline: tuple[str, int]) -> int:
    """Bytes of resident memory at the peak since `start_peak()`, above where it stood."""
    how, start = baseline
    if how == "proc":
        return proc_status_bytes("VmHWM") - start
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - start


def proc_status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise OSError(f"{field} not in /proc/self/status")
