"""The summary table of `make bench` (bench/run.py, bench/common.py), without running a benchmark:
result rows, the aligned text table, the JSON and Markdown files, a benchmark that raises."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import unicodedata
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def load_run_module():
    # run.py imports `common` as a top-level module, as it does when run as bench/run.py.
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module


run = load_run_module()
common = sys.modules["common"]
META = {"date": "2026-11-26T10:00:00+08:00", "database": {"vendor": "sqlite"}, "cpus": 2}


@pytest.fixture(autouse=True)
def no_leftover_rows():
    common.take_results()
    yield
    common.take_results()


def row(measured="scan GET p50", value=300.0, floor_value=50.0, **fields):
    fields = {"benchmark": "bench_scan", "unit": "ms", "floor": "logged-in view p50"} | fields
    return common.Result(measured=measured, value=value, floor_value=floor_value, **fields)


def test_recorded_rows_are_taken_once_in_order():
    first = common.record(
        benchmark="bench_grading",
        measured="grade a round, 500 villages",
        value=9,
        unit="ms",
        floor="one SELECT … GROUP BY",
        floor_value=4.5,
        queries=3,
    )
    second = common.record(
        benchmark="bench_grading", measured="b", value=1, unit="ms", floor="f", floor_value=2
    )
    assert common.take_results() == [first, second]
    assert common.take_results() == []
    assert first.ratio == 2.0
    assert first.queries == 3


def test_ratio_and_target():
    assert row(target=3).target_met is False  # 6x
    assert row(value=100, target=3).target_met is True
    assert row(value=150, target=3).target_met is True  # exactly 3x meets ≤ 3x
    assert row().target_met is None
    assert math.isnan(row(floor_value=0).ratio)
    assert row(floor_value=math.nan, target=2).target_met is None


def test_a_row_passes_when_each_of_its_targets_is_met():
    assert row(target=6).verdict == "PASS"  # 300 ms, 6x
    assert row(target=5).verdict == "FAIL"
    assert row(limit=300).verdict == "PASS"
    assert row(limit=299).verdict == "FAIL"
    assert row(target=6, limit=300).verdict == "PASS"
    assert row(target=6, limit=150).verdict == "FAIL"  # the ratio met, the absolute bar not
    assert row(target=5, limit=1000).verdict == "FAIL"
    assert row().verdict == ""  # no target
    # A ratio target without a floor cannot be judged, even when the absolute bar is met.
    assert row(floor_value=math.nan, target=2, limit=1000).verdict == ""
    assert row(floor_value=math.nan, target=2, limit=100).verdict == "FAIL"


def test_short_count():
    assert [common.short_count(n) for n in (1_000_000, 100_000, 5_000, 2_500, 133, 999_999)] == [
        "1M",
        "100k",
        "5k",
        "2.5k",
        "133",
        "999,999",
    ]


def columns(text: str) -> int:
    """Terminal columns: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(char) == "W" else 1 for char in text)


def table_lines(results):
    return run.format_table(results, META).splitlines()


def test_table_has_a_line_per_row_with_figures_ratio_and_target():
    results = [
        row(target=3),
        row(measured="first import, 572 rows", value=1234.4, floor_value=617.2, target=3),
        row(measured="overdue job", value=5.0, floor_value=2.5, benchmark="bench_overdue"),
    ]
    header, columns, rule, *lines, tally = table_lines(results)
    assert header == "benchmarks, 2026-11-26T10:00:00+08:00, sqlite, 2 CPUs"
    assert columns.split() == [
        "benchmark", "measured", "value", "floor", "floor", "value", "ratio", "target", "verdict",
    ]  # fmt: skip
    assert set(rule) == {"-", " "}
    assert len(lines) == 3
    assert lines[0].split("  ")[0] == "scan"  # bench_ is left out
    assert "300 ms" in lines[0] and "50.0 ms" in lines[0] and "6.00x" in lines[0]
    assert lines[0].split()[-3:] == ["≤", "3x", "FAIL"]
    assert "1,234 ms" in lines[1] and "617 ms" in lines[1] and lines[1].endswith("≤ 3x    PASS")
    assert "5.00 ms" in lines[2] and "2.50 ms" in lines[2] and lines[2].endswith("2.00x  none")
    assert tally == "targets: 1 PASS, 1 FAIL, 1 not judged (scan: scan GET p50)"


def test_the_target_column_shows_the_ratio_and_the_absolute_bar():
    results = [
        row(measured="county dashboard", value=120, floor_value=400, target=1.5, limit=150),
        row(measured="town dashboard", value=90, floor_value=400, target=1.5, limit=75),
        row(measured="peak memory", value=27, unit="MB", floor_value=20, limit=100),
    ]
    _header, _columns, _rule, *lines, tally = table_lines(results)
    assert lines[0].endswith("≤ 1.5x, ≤ 150 ms  PASS")
    assert lines[1].endswith("≤ 1.5x, ≤ 75 ms   FAIL")
    assert lines[2].endswith("≤ 100 MB          PASS")
    assert tally == "targets: 2 PASS, 1 FAIL (scan: town dashboard)"


def test_table_columns_line_up_with_chinese_labels_and_fit_120_columns():
    long = "a label much longer than any column of the table could ever hold, " * 2
    results = [
        row(measured="first import, 572 rows, 金乡县", value=55.2, floor_value=29.1),
        row(measured=long, floor=long, value=6268, floor_value=3233),
        row(measured="same day again, 1M tickets", value=54.4, floor_value=352),
    ]
    lines = table_lines(results)
    assert max(columns(line) for line in lines) <= 120
    data = lines[3:-1]  # the last line tallies the verdicts
    assert "…" in data[1]
    # The ratio column is right-aligned: every row's ratio ends at the same display column.
    ends = {
        columns(line[: line.index(ratio) + len(ratio)])
        for line, ratio in zip(data, ("1.90x", "1.94x", "0.15x"), strict=True)
    }
    assert len(ends) == 1
    assert columns(lines[1][: lines[1].index("ratio") + 5]) in ends


def test_a_benchmark_that_raises_is_failed_and_the_others_still_run(capsys):
    ran = []

    def run_one(name):
        ran.append(name)
        common.record(benchmark=name, measured="m", value=2, unit="ms", floor="f", floor_value=1)
        if name == "bench_broken":
            raise RuntimeError("bench_broken: 3 errors\nserver log follows")

    results = run.run_all(["bench_ok", "bench_broken", "bench_after"], run_one)

    assert ran == ["bench_ok", "bench_broken", "bench_after"]
    assert [(r.benchmark, r.measured) for r in results] == [
        ("bench_ok", "m"),
        ("bench_broken", "m"),  # recorded before it raised
        ("bench_broken", "CRASHED"),
        ("bench_after", "m"),
    ]
    assert results[2].error == "RuntimeError: bench_broken: 3 errors\nserver log follows"
    assert "Traceback" in capsys.readouterr().err
    assert run.exit_status(results) == 1
    assert run.exit_status([results[0], results[3]]) == 0

    lines = table_lines(results)
    failed = next(line for line in lines if "CRASHED:" in line and line.startswith("broken"))
    assert failed.split() == ["broken", "CRASHED:", "RuntimeError:", "bench_broken:", "3", "errors"]
    assert lines[-1] == "CRASHED: bench_broken (tracebacks above)"


def test_a_missed_target_does_not_change_the_exit_status():
    missed = row(target=3)  # 6x
    assert missed.verdict == "FAIL"
    assert run.exit_status([missed]) == 0


def test_summary_files_hold_every_row_and_the_machine(tmp_path):
    results = [
        row(target=3, queries=7, note="20 inspectors | 4 workers"),
        common.Result.failure("bench_load", "RuntimeError: 2 errors\nmore"),
    ]

    json_path, markdown_path = run.write_summary(results, META, tmp_path / "var" / "bench")

    document = json.loads(json_path.read_text())
    assert {key: document[key] for key in META} == META
    assert document["crashed"] == ["bench_load"]
    assert document["failed_targets"] == ["scan GET p50"]
    scan, load = document["results"]
    assert scan == {
        "benchmark": "bench_scan",
        "measured": "scan GET p50",
        "value": 300.0,
        "unit": "ms",
        "floor": "logged-in view p50",
        "floor_value": 50.0,
        "ratio": 6.0,
        "target": 3,
        "target_met": False,
        "limit": None,
        "limit_met": None,
        "verdict": "FAIL",
        "queries": 7,
        "note": "20 inspectors | 4 workers",
        "error": "",
    }
    assert (load["measured"], load["value"], load["ratio"]) == ("CRASHED", None, None)
    assert load["error"] == "RuntimeError: 2 errors\nmore"

    lines = markdown_path.read_text().splitlines()
    assert lines[0] == "# Benchmarks, 2026-11-26T10:00:00+08:00, sqlite, 2 CPUs"
    assert lines[2].startswith("| benchmark | measured | value | floor | floor value | ratio |")
    assert lines[4] == (
        "| bench_scan | scan GET p50 | 300 ms | logged-in view p50 | 50.0 ms | 6.00x | ≤ 3x | FAIL "
        "| 7 | 20 inspectors \\| 4 workers |"
    )
    assert lines[5] == "| bench_load | CRASHED |  |  |  |  |  |  |  | RuntimeError: 2 errors |"
    assert len(lines) == 6
