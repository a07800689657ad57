"""Run every benchmark in bench/ (not part of the test suite). Usage: make bench.

Each benchmark prints its figures and its ratio against a floor measured in the same run, on
a scratch database (a fresh SQLite file, or a fresh PostgreSQL database when DATABASE_URL is
set) so nothing touches the demo data.

`bench/run.py bench_scan bench_grading` runs only those. ON_REQUEST are run only when named
(`make bench BENCH=bench_province`): bench_province generates a province on PostgreSQL, which
plain `make bench` (SQLite by default, and CI) must not. BENCH_KEEPDB=1 keeps each benchmark's
database after the run (test_<NAME> on PostgreSQL), to read its plans with EXPLAIN afterwards,
and reuses one left by an earlier run (bench_province then measures its pages again without
generating anything; the other benchmarks expect an empty database: run them without it).

At the end one table lists the headline figure of every benchmark run (bench/common.py
`record`) with its floor, ratio, target (a ratio, and an absolute bar where the issue sets one)
and PASS or FAIL; it is also written to var/bench/summary.json and var/bench/summary.md with the
date, the database and the machine's CPU count. A benchmark that raises does not stop the others:
the table shows it as CRASHED with its error, and run.py then exits with status 1.

A FAIL (a target missed) does not change the exit status: the figures are timings on a shared
machine, where a neighbour's load can push a row over its bar in one run and not the next, so a
FAIL is a finding to read in the table (its last line counts them), not a broken benchmark. Exit
status 1 means a benchmark could not measure at all (it raised: server errors, lost patrols, a
wrong count).
"""

from __future__ import annotations

import importlib
import json
import math
import os
import sys
import tempfile
import traceback
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from common import CRASHED, FAIL, PASS, Result, take_results

ROOT = Path(__file__).resolve().parent.parent
SUMMARY_DIR = ROOT / "var" / "bench"
BENCHES = [
    "bench_import_divisions",
    "bench_photo",
    "bench_ticket_list",
    "bench_overdue",
    "bench_scan",
    "bench_coverage",
    "bench_grading",
    "bench_dashboard",
    "bench_load",
    "bench_field_upload",
    "bench_exports",
    "bench_documents",
]
# Run only when named: the province's generator is PostgreSQL-only and takes minutes to an hour.
ON_REQUEST = ["bench_province"]
WIDTH = 120  # of the printed table
GAP = "  "
HEADERS = ("benchmark", "measured", "value", "floor", "floor value", "ratio", "target", "verdict")
RIGHT = {"value", "floor value", "ratio", "queries"}
# Cut first when the table is wider than WIDTH, down to these widths.
SHRINKABLE = {"measured": 16, "floor": 16, "benchmark": 12}


def main(names: list[str]) -> int:
    unknown = [name for name in names if name not in BENCHES + ON_REQUEST]
    if unknown:
        known = ", ".join(BENCHES + ON_REQUEST)
        print(f"unknown benchmark {', '.join(unknown)}; known: {known}")
        return 2
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    os.environ.setdefault("DEBUG", "1")
    scratch = tempfile.mkdtemp(prefix="renju-bench-")
    os.environ["DATA_DIR"] = scratch  # a fresh SQLite file unless DATABASE_URL is set
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases

    setup_test_environment()  # the test client's host, in-memory mail
    database = {"vendor": connection.vendor}

    def run_one(name: str) -> None:
        # The test-database machinery gives a fresh, migrated database on either backend; each
        # benchmark gets its own, so none sees another's rows.
        keep = os.environ.get("BENCH_KEEPDB") == "1"
        # No serialized copy of the database's rows (TransactionTestCase's, which no benchmark
        # uses): of a kept province it would read gigabytes into this process.
        old = setup_databases(verbosity=0, interactive=False, keepdb=keep, serialized_aliases=set())
        try:
            # Read here: before setup the configured database need not exist (PostgreSQL).
            version = connection.get_database_version()
            database.setdefault("version", ".".join(str(part) for part in version))
            print(f"== {name}", flush=True)
            importlib.import_module(name).run()
        finally:
            teardown_databases(old, verbosity=0, keepdb=keep)

    results = run_all(names or BENCHES, run_one)
    meta = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "database": database,
        "cpus": os.cpu_count(),
    }
    print()
    print(format_table(results, meta))
    json_path, markdown_path = write_summary(results, meta, SUMMARY_DIR)
    print(f"summary written to {json_path} and {markdown_path}")
    return exit_status(results)


def exit_status(results: Sequence[Result]) -> int:
    return 1 if any(result.failed for result in results) else 0


def run_all(names: Sequence[str], run_one: Callable[[str], None]) -> list[Result]:
    """Run each benchmark; one that raises gets a CRASHED row (after the figures it recorded
    before it raised) and the others still run."""
    results: list[Result] = []
    for name in names:
        failure = None
        try:
            run_one(name)
        except Exception as error:
            sys.stdout.flush()
            traceback.print_exc()
            failure = Result.failure(name, f"{type(error).__name__}: {error}")
        results.extend(take_results())
        if failure:
            results.append(failure)
    return results


# --- the summary ------------------------------------------------------------------------------


def format_table(results: Sequence[Result], meta: dict) -> str:
    """The plain-text table, aligned for a terminal (CJK characters count two columns); the
    benchmarks' names lose their common "bench_" to leave room for the labels."""
    rows = [(short_name(row[0]), *row[1:]) for row in map(cells, results)]
    widths = column_widths(rows)
    lines = [
        f"benchmarks, {describe(meta)}",
        line(HEADERS, widths),
        GAP.join("-" * width for width in widths),
    ]
    for result, row in zip(results, rows, strict=True):
        if result.failed:
            head = fit(row[0], widths[0]) + GAP
            lines.append(head + clip(f"{CRASHED}: {first_line(result.error)}", WIDTH - len(head)))
        else:
            lines.append(line(row, widths))
    lines.append(tally(results))
    crashed = [result.benchmark for result in results if result.failed]
    if crashed:
        lines.append(f"{CRASHED}: {', '.join(crashed)} (tracebacks above)")
    return "\n".join(lines)


def tally(results: Sequence[Result]) -> str:
    """ "targets: 30 PASS, 2 FAIL (dashboard: county dashboard, 1M tickets; …)"."""
    verdicts = [result.verdict for result in results if not result.failed]
    missed = [
        f"{short_name(result.benchmark)}: {result.measured}"
        for result in results
        if not result.failed and result.verdict == FAIL
    ]
    text = f"targets: {verdicts.count(PASS)} {PASS}, {verdicts.count(FAIL)} {FAIL}"
    if unjudged := len(verdicts) - verdicts.count(PASS) - verdicts.count(FAIL):
        text += f", {unjudged} not judged"
    return text + (f" ({'; '.join(missed)})" if missed else "")


def short_name(benchmark: str) -> str:
    return benchmark.removeprefix("bench_")


def describe(meta: dict) -> str:
    database = meta["database"]
    version = f" {database['version']}" if database.get("version") else ""
    return f"{meta['date']}, {database['vendor']}{version}, {meta['cpus']} CPUs"


def cells(result: Result) -> tuple[str, ...]:
    if result.failed:
        return (result.benchmark, CRASHED, "", "", "", "", "", "")
    return (
        result.benchmark,
        result.measured,
        figure(result.value, result.unit),
        result.floor,
        figure(result.floor_value, result.unit),
        ratio(result.ratio),
        target(result),
        result.verdict,
    )


def figure(value: float, unit: str) -> str:
    if math.isnan(value):
        return "—"
    if abs(value) >= 100:
        number = f"{value:,.0f}"
    elif abs(value) >= 10:
        number = f"{value:.1f}"
    else:
        number = f"{value:.2f}"
    return f"{number} {unit}".strip()


def ratio(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.2f}x"


def target(result: Result) -> str:
    """ "≤ 1.5x", "≤ 150 ms", "≤ 1.5x, ≤ 150 ms": what the row must stay within."""
    bars = []
    if result.target is not None:
        bars.append(f"≤ {result.target:g}x")
    if result.limit is not None:
        bars.append(f"≤ {result.limit:g} {result.unit}".strip())
    return ", ".join(bars) or "none"


def column_widths(rows: Sequence[Sequence[str]]) -> list[int]:
    widths = [
        max([display_width(header)] + [display_width(row[n]) for row in rows])
        for n, header in enumerate(HEADERS)
    ]
    while sum(widths) + len(GAP) * (len(widths) - 1) > WIDTH:
        # Take a column off the widest text column that may still give some.
        candidates = [
            n for n, header in enumerate(HEADERS) if widths[n] > SHRINKABLE.get(header, widths[n])
        ]
        if not candidates:
            break
        widths[max(candidates, key=lambda n: widths[n])] -= 1
    return widths


def line(row: Sequence[str], widths: Sequence[int]) -> str:
    parts = [
        fit(cell, width, right=header in RIGHT)
        for cell, width, header in zip(row, widths, HEADERS, strict=True)
    ]
    return GAP.join(parts).rstrip()


def fit(text: str, width: int, right: bool = False) -> str:
    text = clip(text, width)
    padding = " " * (width - display_width(text))
    return padding + text if right else text + padding


def clip(text: str, width: int) -> str:
    if display_width(text) <= width:
        return text
    while display_width(text) > width - 1:
        text = text[:-1]
    return text + "…"


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def write_summary(results: Sequence[Result], meta: dict, directory: Path) -> tuple[Path, Path]:
    """summary.json (every field, NaN as null) and summary.md; a later run replaces both."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path, markdown_path = directory / "summary.json", directory / "summary.md"
    document = meta | {
        "crashed": [result.benchmark for result in results if result.failed],
        "failed_targets": [result.measured for result in results if result.verdict == FAIL],
        "results": [result.as_dict() for result in results],
    }
    json_path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    markdown_path.write_text(markdown(results, meta))
    return json_path, markdown_path


def markdown(results: Sequence[Result], meta: dict) -> str:
    headers = [*HEADERS, "queries", "note"]
    lines = [
        f"# Benchmarks, {describe(meta)}",
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---:" if header in RIGHT else "---" for header in headers) + "|",
    ]
    for result in results:
        row = list(cells(result))
        queries = "" if result.queries is None else str(result.queries)
        note = first_line(result.error) if result.failed else result.note
        lines.append("| " + " | ".join(escape(cell) for cell in [*row, queries, note]) + " |")
    return "\n".join(lines) + "\n"


def escape(cell: str) -> str:
    return cell.replace("|", "\\|")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
