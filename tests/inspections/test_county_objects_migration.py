"""inspections/migrations/0006_county_objects.py on a database of the release before it: a
campaign gets the county of its assessments' villages, a checklist that of the campaigns using
it, either the only county when nothing tells; the one policy row becomes every county's, its
settings kept. With two counties and a campaign nothing places, the migration stops, names it,
and changes nothing.

Run with manage.py on a database of its own, as tests/villages/test_membership_county_migration.py
does: SQLite under a temporary DATA_DIR, or, when DATABASE_URL is set, a fresh PostgreSQL database
beside the test database (PostgreSQL is where an explicit pk leaves a sequence behind and where
a table with pending foreign-key checks cannot be altered). The rows of the release before are
made with the models as they were then (the migration state at 0005)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.conf import settings

JINXIANG, HUJI, HUJI_VILLAGE = "370828000000", "370828102000", "370828102200"
SANTAI, TONGCHUAN, TONGCHUAN_VILLAGE = "510722000000", "510722101000", "510722101200"
BEFORE = "0005_rollups"

# `campaigns`: (name, the village code assessed in its round, or None for no assessment).
SETUP = """
from datetime import date
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
apps = MigrationExecutor(connection).loader.project_state(("inspections", {before!r})).apps
model = lambda app, name: apps.get_model(app, name)
for county, town, village in {places!r}:
    model("villages", "County").objects.create(code=county, name="县" + county[:6])
    model("villages", "Town").objects.create(code=town, county_id=county, name="镇" + town[:9])
    model("villages", "Village").objects.create(
        code=village, town_id=town, name="村" + village, level="administrative"
    )
inspector = model("auth", "User").objects.create(username="inspector")
template = model("inspections", "ChecklistTemplate").objects.create(name="村村到检查表")
item = model("inspections", "ChecklistItem").objects.create(
    template=template, code="T1", dimension="toilets", title="厕所", max_points=10, deduction=1,
    cap=10,
)
for number, (name, village) in enumerate({campaigns!r}, start=1):
    campaign = model("inspections", "Campaign").objects.create(
        name=name, year=2024, template=template
    )
    round = model("inspections", "Round").objects.create(
        campaign=campaign, number=1, mode="sweep", starts_on=date(2024, 3, 1),
        ends_on=date(2024, 3, 31), state="active", template=template,
    )
    if village:
        assessment = model("inspections", "Assessment").objects.create(
            round=round, village_id=village, inspector=inspector
        )
        model("inspections", "Deduction").objects.create(assessment=assessment, item=item)
model("inspections", "GradingPolicy").objects.create(pk=1, a_min=95, b_min=85, c_min=70)
model("inspections", "PatrolPolicy").objects.create(pk=1, max_distance_m=500)
"""
READ = """
import json
from inspections.models import (
    Campaign, ChecklistTemplate, Deduction, GradingPolicy, PatrolPolicy, Round,
)
from villages.models import County
stored = {
    "campaigns": dict(Campaign.objects.values_list("name", "county_id")),
    "checklists": list(ChecklistTemplate.objects.values_list("county_id", flat=True)),
    "grading": dict(GradingPolicy.objects.values_list("county_id", "a_min")),
    "patrol": dict(PatrolPolicy.objects.values_list("county_id", "max_distance_m")),
    # Each campaign's rounds and deductions on its own county's checklist.
    "mixed": Round.objects.exclude(template__county_id=F("campaign__county_id")).count()
    + Deduction.objects.exclude(
        item__template__county_id=F("assessment__round__campaign__county_id")
    ).count(),
}
# A county added later gets its policies (the sequences are past the rows made by the migration).
County.objects.create(code="110101000000", name="东城区")
later = "110101000000"
stored["later"] = [
    int(GradingPolicy.current(later).a_min), PatrolPolicy.current(later).max_distance_m
]
print(json.dumps(stored, default=str))
"""
READ = "from django.db.models import F\n" + READ


@pytest.fixture
def database(tmp_path):
    """The environment of the commands: a SQLite file, or a fresh PostgreSQL database."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"DATA_DIR": str(tmp_path), "DEBUG": "1"}
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield env
        return
    parts = urlsplit(url)
    name = f"{settings.DATABASES['default']['NAME']}_migration"
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    yield env | {"DATABASE_URL": urlunsplit(parts._replace(path=f"/{name}"))}
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _manage(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _before(env, *, places, campaigns):
    done = _manage(env, "migrate", "inspections", BEFORE, "--verbosity=0")
    assert done.returncode == 0, done.stderr
    script = SETUP.format(before=BEFORE, places=places, campaigns=campaigns)
    filled = _manage(env, "shell", "-c", script)
    assert filled.returncode == 0, filled.stderr


def _migrate(env):
    return _manage(env, "migrate", "inspections", "0006_county_objects", "--verbosity=0")


def _read(env) -> dict:
    read = _manage(env, "shell", "-c", READ)
    assert read.returncode == 0, read.stderr
    return json.loads(read.stdout.strip().splitlines()[-1])


def test_with_one_county_everything_becomes_its_own(database):
    _before(
        database,
        places=[(JINXIANG, HUJI, HUJI_VILLAGE)],
        campaigns=[("2024年村村到", HUJI_VILLAGE), ("2025年村村到", None)],
    )

    done = _migrate(database)

    assert done.returncode == 0, done.stderr
    assert _read(database) == {
        "campaigns": {"2024年村村到": JINXIANG, "2025年村村到": JINXIANG},
        "checklists": [JINXIANG],
        "grading": {JINXIANG: "95.00"},
        "patrol": {JINXIANG: 500},
        "mixed": 0,
        "later": [90, 200],
    }


def test_with_two_counties_each_campaign_takes_its_villages_county_and_its_checklist(database):
    """Both counties' campaigns used the one checklist: 金乡县 (the first code) keeps it, 三台县
    gets a copy its rounds and deductions now point at; each county keeps the one policy."""
    _before(
        database,
        places=[(JINXIANG, HUJI, HUJI_VILLAGE), (SANTAI, TONGCHUAN, TONGCHUAN_VILLAGE)],
        campaigns=[("三台县2024年村村到", TONGCHUAN_VILLAGE), ("金乡县2024年村村到", HUJI_VILLAGE)],
    )

    done = _migrate(database)

    assert done.returncode == 0, done.stderr
    stored = _read(database)
    assert stored["campaigns"] == {"三台县2024年村村到": SANTAI, "金乡县2024年村村到": JINXIANG}
    assert sorted(stored["checklists"]) == [JINXIANG, SANTAI]
    assert stored["mixed"] == 0
    # The deployment's one policy was both counties' until now: each keeps applying it.
    assert stored["grading"] == {JINXIANG: "95.00", SANTAI: "95.00"}
    assert stored["patrol"] == {JINXIANG: 500, SANTAI: 500}
    assert stored["later"] == [90, 200]


def test_with_two_counties_a_campaign_nothing_places_stops_the_migration(database):
    _before(
        database,
        places=[(JINXIANG, HUJI, HUJI_VILLAGE), (SANTAI, TONGCHUAN, TONGCHUAN_VILLAGE)],
        campaigns=[("2024年村村到", HUJI_VILLAGE), ("未开始的活动", None)],
    )

    refused = _migrate(database)

    assert refused.returncode != 0
    assert "campaign 2 “未开始的活动”" in refused.stderr
    assert f"2 counties ({JINXIANG}, {SANTAI})" in refused.stderr
    shown = _manage(database, "showmigrations", "inspections")
    assert "[ ] 0006_county_objects" in shown.stdout  # nothing changed: still the release before
