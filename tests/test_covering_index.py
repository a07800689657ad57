"""core.indexes.CoveringIndex: its `include` columns ride in the index on every database —
PostgreSQL's INCLUDE, the key's last columns on SQLite (which has no INCLUDE, and where Django's
own Index leaves them out) — so a county's counts per state are read from the index alone."""

from __future__ import annotations

import pytest
from django.db import connection

from inspections.reporting.models import RectificationMonthCount

pytestmark = pytest.mark.django_db

TABLE = RectificationMonthCount._meta.db_table
SUM = (
    f'SELECT "state", SUM("n") FROM "{TABLE}" '
    'WHERE "town_id" >= \'370828000000\' AND "town_id" <= \'370828999999\' GROUP BY "state"'
)


def test_the_count_rides_in_the_rollups_index():
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM pragma_index_info('rollup_rect_month_open')")
            assert [name for (name,) in cursor.fetchall()] == ["town_id", "state", "n"]
            cursor.execute(f"EXPLAIN QUERY PLAN {SUM}")
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
            assert "COVERING INDEX rollup_rect_month_open" in plan, plan
        else:
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'rollup_rect_month_open'"
            )
            (definition,) = cursor.fetchone()
            assert "(town_id, state) INCLUDE (n)" in definition, definition


def test_every_include_index_of_the_rollups_covers():
    """The three rollup indexes that carry a count: none lost it on either database."""
    names = ("rollup_rect_month_open", "rollup_closed_late_town", "rollup_running_town")
    with connection.cursor() as cursor:
        for name in names:
            if connection.vendor == "sqlite":
                cursor.execute(f"SELECT name FROM pragma_index_info('{name}')")
                assert [column for (column,) in cursor.fetchall()][-1] == "n", name
            else:
                cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [name])
                assert "INCLUDE (n)" in cursor.fetchone()[0], name
