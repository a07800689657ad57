"""villages/migrations/0004_membership_county.py on a database of the release before it: every
membership gets its county from its town or village, a county-wide one the only county; with
several counties a county-wide membership cannot be placed, and the migration stops, names it,
and changes nothing.

Run with manage.py on a SQLite database of its own (DATA_DIR in a temporary folder): migrating
the test database back would remake the villages tables under the search triggers of later
apps' migrations, which SQLite refuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from django.conf import settings

JINXIANG, HUJI, HUJI_VILLAGE = "370828000000", "370828102000", "370828102200"
SANTAI, TONGCHUAN = "510722000000", "510722101000"

# The release before, filled through SQL: the models of today have Membership.county already.
SETUP = """
from django.contrib.auth import get_user_model
from django.db import connection
counties = {counties!r}
with connection.cursor() as cursor:
    for county, town in counties:
        cursor.execute(
            "INSERT INTO villages_county (code, name, parent_code) VALUES (%s, %s, '')",
            [county, "县" + county[:6]],
        )
        cursor.execute(
            "INSERT INTO villages_town (code, county_id, name, kind) VALUES (%s, %s, %s, 'town')",
            [town, county, "镇" + town[:9]],
        )
    if {village!r}:
        cursor.execute(
            "INSERT INTO villages_village (code, town_id, name, level, committee_type,"
            " urban_rural_code) VALUES (%s, %s, '胡集村民委员会', 'administrative', '', '')",
            [{village!r}, {village_town!r}],
        )
    for username, role, town, village in {members!r}:
        user = get_user_model().objects.create(username=username)
        cursor.execute(
            "INSERT INTO villages_membership (user_id, role, town_id, village_id)"
            " VALUES (%s, %s, %s, %s)",
            [user.pk, role, town, village],
        )
"""
READ = """
import json
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute(
        "SELECT u.username, m.county_id FROM villages_membership m"
        " JOIN auth_user u ON u.id = m.user_id ORDER BY u.username"
    )
    print(json.dumps(dict(cursor.fetchall())))
"""


def _manage(tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"DATA_DIR": str(tmp_path), "DEBUG": "1"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _before(tmp_path, *, counties, members, village=None, village_town=None):
    done = _manage(tmp_path, "migrate", "villages", "0003_access_tokens", "--verbosity=0")
    assert done.returncode == 0, done.stderr
    script = SETUP.format(
        counties=counties, members=members, village=village, village_town=village_town
    )
    filled = _manage(tmp_path, "shell", "-c", script)
    assert filled.returncode == 0, filled.stderr


def _counties_of_members(tmp_path) -> dict:
    read = _manage(tmp_path, "shell", "-c", READ)
    assert read.returncode == 0, read.stderr
    return json.loads(read.stdout.strip().splitlines()[-1])


def test_each_membership_gets_its_towns_county_and_a_county_wide_one_the_only_county(tmp_path):
    members = [
        ("admin", "village_admin", None, HUJI_VILLAGE),
        ("officer", "town_officer", HUJI, None),
        ("tf", "task_force", None, None),
    ]
    _before(
        tmp_path,
        counties=[(JINXIANG, HUJI)],
        members=members,
        village=HUJI_VILLAGE,
        village_town=HUJI,
    )

    done = _manage(tmp_path, "migrate", "villages", "0004_membership_county", "--verbosity=0")

    assert done.returncode == 0, done.stderr
    assert _counties_of_members(tmp_path) == dict.fromkeys(("admin", "officer", "tf"), JINXIANG)


def test_with_two_counties_a_county_wide_membership_stops_the_migration(tmp_path):
    members = [("officer", "town_officer", TONGCHUAN, None), ("wangfang", "task_force", None, None)]
    _before(tmp_path, counties=[(JINXIANG, HUJI), (SANTAI, TONGCHUAN)], members=members)

    refused = _manage(tmp_path, "migrate", "villages", "0004_membership_county", "--verbosity=0")

    assert refused.returncode != 0
    assert "wangfang (task_force)" in refused.stderr
    assert f"2 counties ({JINXIANG}, {SANTAI})" in refused.stderr
    assert "nothing was changed" in refused.stderr
    shown = _manage(tmp_path, "showmigrations", "villages")
    assert "[ ] 0004_membership_county" in shown.stdout
