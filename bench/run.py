"""Run every benchmark in bench/ (not part of the test suite). Usage: make bench.

Each benchmark prints its figures and its ratio against a floor measured in the same run, on
a scratch database (a fresh SQLite file, or a fresh PostgreSQL database when DATABASE_URL is
set) so nothing touches the demo data.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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
]


def main(names: list[str]) -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    os.environ.setdefault("DEBUG", "1")
    scratch = tempfile.mkdtemp(prefix="renju-bench-")
    os.environ["DATA_DIR"] = scratch  # a fresh SQLite file unless DATABASE_URL is set
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases

    setup_test_environment()  # the test client's host, in-memory mail

    # The test-database machinery gives a fresh, migrated database on either backend; each
    # benchmark gets its own, so none sees another's rows.
    for name in names or BENCHES:
        old = setup_databases(verbosity=0, interactive=False)
        try:
            print(f"== {name}", flush=True)
            importlib.import_module(name).run()
        finally:
            teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main(sys.argv[1:])
