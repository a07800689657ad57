"""inspections/migrations/0006_county_objects.py on a database of the release before it: a
campaign gets the county of its assessments' villages, a checklist that of the campaigns using
it, either the only county when nothing tells; the one policy row becomes every county's, its
settings kept. With two counties and a campaign nothing places, the migration stops, names it,
and changes nothing.

Run with manage.py on a SQLite database of its own (DATA_DIR in a temporary folder), as
tests/villages/test_membership_county_migration.py does; the rows of the release before are made
with the models as they were then (the migration state at 0005)."""

from __future__ import annotations

import json

from tests.villages.test_membership_county_migration import _manage

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
for number, (name, village) in enumerate({campaigns!r}, start=1):
    campaign = model("inspections", "Campaign").objects.create(
        name=name, year=2024, template=template
    )
    round = model("inspections", "Round").objects.create(
        campaign=campaign, number=1, mode="sweep", starts_on=date(2024, 3, 1),
        ends_on=date(2024, 3, 31), state="active", template=template,
    )
    if village:
        model("inspections", "Assessment").objects.create(
            round=round, village_id=village, inspector=inspector
        )
model("inspections", "GradingPolicy").objects.create(pk=1, a_min=95, b_min=85, c_min=70)
model("inspections", "PatrolPolicy").objects.create(pk=1, max_distance_m=500)
"""
READ = """
import json
from inspections.models import Campaign, ChecklistTemplate, GradingPolicy, PatrolPolicy
print(json.dumps({
    "campaigns": dict(Campaign.objects.values_list("name", "county_id")),
    "checklists": list(ChecklistTemplate.objects.values_list("county_id", flat=True)),
    "grading": dict(GradingPolicy.objects.values_list("county_id", "a_min")),
    "patrol": dict(PatrolPolicy.objects.values_list("county_id", "max_distance_m")),
}, default=str))
"""


def _before(tmp_path, *, places, campaigns):
    done = _manage(tmp_path, "migrate", "inspections", BEFORE, "--verbosity=0")
    assert done.returncode == 0, done.stderr
    script = SETUP.format(before=BEFORE, places=places, campaigns=campaigns)
    filled = _manage(tmp_path, "shell", "-c", script)
    assert filled.returncode == 0, filled.stderr


def _migrate(tmp_path):
    return _manage(tmp_path, "migrate", "inspections", "0006_county_objects", "--verbosity=0")


def _read(tmp_path) -> dict:
    read = _manage(tmp_path, "shell", "-c", READ)
    assert read.returncode == 0, read.stderr
    return json.loads(read.stdout.strip().splitlines()[-1])


def test_with_one_county_everything_becomes_its_own(tmp_path):
    _before(
        tmp_path,
        places=[(JINXIANG, HUJI, HUJI_VILLAGE)],
        campaigns=[("2024年村村到", HUJI_VILLAGE), ("2025年村村到", None)],
    )

    done = _migrate(tmp_path)

    assert done.returncode == 0, done.stderr
    assert _read(tmp_path) == {
        "campaigns": {"2024年村村到": JINXIANG, "2025年村村到": JINXIANG},
        "checklists": [JINXIANG],
        "grading": {JINXIANG: "95.00"},
        "patrol": {JINXIANG: 500},
    }


def test_with_two_counties_a_campaign_takes_its_villages_county_and_each_county_the_policy(
    tmp_path,
):
    _before(
        tmp_path,
        places=[(JINXIANG, HUJI, HUJI_VILLAGE), (SANTAI, TONGCHUAN, TONGCHUAN_VILLAGE)],
        campaigns=[("三台县2024年村村到", TONGCHUAN_VILLAGE)],
    )

    done = _migrate(tmp_path)

    assert done.returncode == 0, done.stderr
    stored = _read(tmp_path)
    assert stored["campaigns"] == {"三台县2024年村村到": SANTAI}
    assert stored["checklists"] == [SANTAI]  # the county of the campaign using it
    # The deployment's one policy was both counties' until now: each keeps applying it.
    assert stored["grading"] == {JINXIANG: "95.00", SANTAI: "95.00"}
    assert stored["patrol"] == {JINXIANG: 500, SANTAI: 500}


def test_with_two_counties_a_campaign_nothing_places_stops_the_migration(tmp_path):
    _before(
        tmp_path,
        places=[(JINXIANG, HUJI, HUJI_VILLAGE), (SANTAI, TONGCHUAN, TONGCHUAN_VILLAGE)],
        campaigns=[("2024年村村到", HUJI_VILLAGE), ("未开始的活动", None)],
    )

    refused = _migrate(tmp_path)

    assert refused.returncode != 0
    assert "campaign 2 “未开始的活动”" in refused.stderr
    assert f"2 counties ({JINXIANG}, {SANTAI})" in refused.stderr
    shown = _manage(tmp_path, "showmigrations", "inspections")
    assert "[ ] 0006_county_objects" in shown.stdout  # nothing changed: still the release before
