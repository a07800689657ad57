"""The default overdue ladder, for tests: migration 0004 seeds it, but a transactional test
(TransactionTestCase's flush) empties every table, migration data included, for the tests after
it. Import `ladder` into a test module to have the default ladder in every test."""

from __future__ import annotations

import pytest

from workflows.models import OverdueStep

DEFAULT_LADDER = [(1, 1, "reminder"), (2, 3, "supervision"), (3, 7, "bulletin")]


@pytest.fixture(autouse=True)
def ladder(db):
    for number, days_past, kind in DEFAULT_LADDER:
        OverdueStep.objects.get_or_create(
            number=number, defaults={"days_past": days_past, "kind": kind}
        )
