"""The default overdue ladder, for tests. The overdue job gives every county without a ladder the
default one (OverdueStep.DEFAULT_LADDER); import `ladder` into a test module to have it from the
start of every test that loads the geography (pages that read the ladder before the job ran)."""

from __future__ import annotations

import pytest

from workflows.models import OverdueStep
from workflows.notices.services import overdue_ladders_seed

DEFAULT_LADDER = list(OverdueStep.DEFAULT_LADDER)


@pytest.fixture(autouse=True)
def ladder(db, divisions):
    overdue_ladders_seed()
