"""workflows/migrations/0014_county_documents.py and 0015_county_notices.py on a database of the
release before them, with two counties: each bulletin gets its county (its recipients' towns',
else its creator's task-force membership's), a draft its county's issuer; each county's
bulletin and notice counters continue from its own highest number; notice documents get their
town's county; the overdue ladder there was goes to every county.

Run with manage.py on a SQLite database of its own (DATA_DIR in a temporary folder), as
tests/villages/test_membership_county_migration.py does and for the same reason."""

from __future__ import annotations

import json

from tests.villages.test_membership_county_migration import (
    HUJI,
    JINXIANG,
    SANTAI,
    TONGCHUAN,
    _manage,
)

SETUP = """
from django.contrib.auth import get_user_model
from django.db import connection
User = get_user_model()
tf = User.objects.create(username="tf")
santai_tf = User.objects.create(username="santai_tf")
with connection.cursor() as cursor:
    run = cursor.execute
    for county, town, name in (
        ("{jinxiang}", "{huji}", "金乡县"), ("{santai}", "{tongchuan}", "三台县")
    ):
        run("INSERT INTO villages_county (code, name, parent_code) VALUES (%s, %s, '')",
            [county, name])
        run("INSERT INTO villages_town (code, county_id, name, kind) VALUES (%s, %s, %s, 'town')",
            [town, county, name + "一镇"])
    run("INSERT INTO villages_membership (user_id, role, county_id) VALUES (%s, 'task_force', %s)",
        [tf.pk, "{jinxiang}"])
    bulletin = (
        "INSERT INTO workflows_bulletin (year, batch, kind, title, issuer, intro, state,"
        " created_at, created_by_id, snapshot, sections) VALUES"
        " (2026, %s, 'problems', %s, '县农村人居环境整治工作专班', '', %s, '2026-03-01',"
        " %s, '{{}}', '[]')"
    )
    run(bulletin, [1, "三台", "issued", santai_tf.pk])
    run("SELECT id FROM workflows_bulletin WHERE title = '三台'")
    santai = cursor.fetchone()[0]
    run("INSERT INTO workflows_bulletin_recipients (bulletin_id, town_id) VALUES (%s, %s)",
        [santai, "{tongchuan}"])
    run(bulletin, [2, "金乡已印发", "issued", tf.pk])
    run(bulletin, [None, "金乡草稿", "draft", tf.pk])
    run("INSERT INTO workflows_ticketcounter (prefix, year, value) VALUES ('TB', 2026, 2)")
    run("INSERT INTO workflows_ticketcounter (prefix, year, value) VALUES ('NREM', 2026, 3)")
    run("INSERT INTO workflows_ticketcounter (prefix, year, value) VALUES ('ZG', 2026, 40)")
    for number, town in (("逾提〔2026〕第1号", "{huji}"), ("逾提〔2026〕第2号", "{tongchuan}"),
                         ("逾提〔2026〕第3号", "{huji}")):
        run("INSERT INTO workflows_noticedocument (number, kind, town_id, issued_on, created_at,"
            " lines) VALUES (%s, 'reminder', %s, %s, '2026-03-01', '[]')",
            [number, town, "2026-03-0" + number[-2]])
"""
READ = """
import json
from workflows.models import Bulletin, NoticeDocument, OverdueStep, TicketCounter
print(json.dumps({
    "bulletins": {b.title: [b.county_id, b.issuer] for b in Bulletin.objects.all()},
    "counters": sorted(TicketCounter.objects.values_list("prefix", "county", "value")),
    "notices": sorted(NoticeDocument.objects.values_list("number", "county_id")),
    "ladders": sorted(OverdueStep.objects.values_list("county_id", "number", "days_past")),
}))
"""


def test_bulletins_notices_and_ladders_become_their_countys(tmp_path):
    for app, name in (("villages", "0004_membership_county"), ("workflows", "0013_source_hotline")):
        done = _manage(tmp_path, "migrate", app, name, "--verbosity=0")
        assert done.returncode == 0, done.stderr
    script = SETUP.format(jinxiang=JINXIANG, santai=SANTAI, huji=HUJI, tongchuan=TONGCHUAN)
    filled = _manage(tmp_path, "shell", "-c", script)
    assert filled.returncode == 0, filled.stderr

    done = _manage(tmp_path, "migrate", "workflows", "0015_county_notices", "--verbosity=0")

    assert done.returncode == 0, done.stderr
    read = _manage(tmp_path, "shell", "-c", READ)
    assert read.returncode == 0, read.stderr
    found = json.loads(read.stdout.strip().splitlines()[-1])
    assert found["bulletins"] == {
        "三台": [SANTAI, "县农村人居环境整治工作专班"],  # issued: its frozen issuer kept
        "金乡已印发": [JINXIANG, "县农村人居环境整治工作专班"],
        "金乡草稿": [JINXIANG, "金乡县农村人居环境整治工作专班"],
    }
    assert found["counters"] == [
        ["NREM", JINXIANG, 3],
        ["NREM", SANTAI, 2],
        ["TB", JINXIANG, 2],
        ["TB", SANTAI, 1],
        ["ZG", "", 40],  # ticket numbers stay the deployment's
    ]
    assert found["notices"] == [
        ["逾提〔2026〕第1号", JINXIANG],
        ["逾提〔2026〕第2号", SANTAI],
        ["逾提〔2026〕第3号", JINXIANG],
    ]
    default = [[1, 1], [2, 3], [3, 7]]
    assert found["ladders"] == [[JINXIANG, *s] for s in default] + [[SANTAI, *s] for s in default]
