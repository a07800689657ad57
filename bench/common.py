"""Helpers shared by the benchmarks: the named users of a bench, planner statistics."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import connection

from villages.models import Membership, Role, Town
from workflows.jobs import optimize_database


def users(town_code: str):
    """(town officer of `town_code`, task force, county inspector)."""
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
    if connection.vendor == "sqlite":
        optimize_database()
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
