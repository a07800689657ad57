"""Two django-q2 clusters on one broker and one database (README § Scaling out): every scheduled
job still runs once per due time, and a job that both clusters run at the same moment issues
each notice once.

Real processes: two `manage.py qcluster` started together on a fresh database — SQLite with the
ORM broker in the SQLite suite (two clusters on one machine), PostgreSQL with Redis as the
broker in the PostgreSQL suite (the grown-up setup of several machines). Before they start, the
overdue job is due and also queued twice more, so that the clusters' workers take its runs at
the same moment; the heartbeat (every minute) is due too. The test waits for events it can see —
the overdue runs finished, three heartbeats recorded — never for a length of time, so by then
both clusters' schedulers have passed over every due schedule several times (they look every
30 s). Then: one task per scheduled run, one heartbeat per minute, one notice per ticket and
step, one notice document per town.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time as clock
import uuid
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection

from tests.workflows.test_schedules import manage, manage_env, stop

pytestmark = pytest.mark.slow

OVERDUE = "renju:issue_overdue_notices"
HEARTBEAT = "renju:heartbeat"
TOWNS = ("370828102000", "370828103000")  # 胡集镇, 鸡黍镇

SEED = """
from datetime import timedelta
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task
from villages.models import Membership, Town
from workflows.models import RectificationTicket
from workflows.tickets import services

divisions = settings.BASE_DIR / "villages/fixtures/jinxiang/divisions_2023.csv"
call_command("import_divisions", divisions)
boss = get_user_model().objects.create_user("boss")
Membership.objects.create(user=boss, role="task_force", county_id="370828000000")
late = timezone.localdate() - timedelta(days=2)
for code in TOWNS:
    for description in ("坑塘漂浮物", "岸边垃圾"):
        ticket = services.rectification_create(
            by=boss, town=Town.objects.get(code=code), description=description,
            deadline=timezone.localdate(),
        )
        RectificationTicket.objects.filter(pk=ticket.pk).update(deadline=late)
due = timezone.now() - timedelta(seconds=1)
for name in ("renju:issue_overdue_notices", "renju:heartbeat"):
    assert Schedule.objects.filter(name=name).update(next_run=due) == 1
(settings.DATA_DIR / "due.txt").write_text(due.isoformat())
# The same job twice more, queued before the clusters start: their workers take these at once.
for _ in range(2):
    async_task("workflows.jobs.issue_overdue_notices", group="renju:extra_overdue")
"""


class Database:
    """Reads the clusters' database from the test process, whichever engine it is."""

    def __init__(self, url: str | None, sqlite_path: Path):
        self.url, self.sqlite_path = url, sqlite_path

    def rows(self, sql: str) -> list[tuple]:
        if self.url is None:
            with closing(sqlite3.connect(self.sqlite_path)) as db:
                return db.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(self.url) as db:
            return db.execute(sql).fetchall()

    def one(self, sql: str):
        return self.rows(sql)[0][0]


@contextmanager
def clusters_database(tmp_path: Path):
    """(environment, Database): the suite's own engine. On PostgreSQL a database made for the
    test (beside the suite's) and Redis as the broker, under a cluster name of its own."""
    env = manage_env(tmp_path)
    if connection.vendor != "postgresql":
        yield env, Database(None, tmp_path / "db.sqlite3")
        return
    import psycopg

    name = f"renju_clusters_{uuid.uuid4().hex[:12]}"
    server = urlsplit(os.environ["DATABASE_URL"])
    url = urlunsplit(server._replace(path=f"/{name}"))
    maintenance = urlunsplit(server._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    env.update(
        DATABASE_URL=url,
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        Q_CLUSTER_NAME=f"renju-test-{name[-12:]}",  # its own queue on a shared Redis
    )
    try:
        yield env, Database(url, tmp_path / "unused")
    finally:
        with psycopg.connect(maintenance, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_cluster(env: dict, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def aware(value) -> datetime:
    """A timestamp read back: SQLite gives text in UTC, PostgreSQL an aware datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def wait_until(check, clusters: list[subprocess.Popen], timeout: float) -> bool:
    deadline = clock.monotonic() + timeout
    while clock.monotonic() < deadline and all(c.poll() is None for c in clusters):
        if check():
            return True
        clock.sleep(0.5)
    return check()


def test_two_clusters_run_each_due_job_once_and_issue_each_notice_once(tmp_path):
    with clusters_database(tmp_path) as (env, db):
        manage(env, "migrate", "--noinput")
        manage(env, "setup_schedules")
        manage(env, "shell", "-c", f"TOWNS = {TOWNS!r}\n{SEED}")
        logs = [tmp_path / "cluster-a.log", tmp_path / "cluster-b.log"]
        clusters = [start_cluster(env, log) for log in logs]
        try:
            overdue_done = wait_until(
                lambda: (
                    db.one(
                        "SELECT COUNT(*) FROM django_q_task WHERE func = "
                        "'workflows.jobs.issue_overdue_notices'"
                    )
                    == 3
                ),
                clusters,
                timeout=150,
            )
            # The first scheduler pass comes 30 s after start, then one every 30 s: three
            # heartbeats (one a minute) leave each cluster's scheduler several passes.
            beats = wait_until(
                lambda: (
                    db.one("SELECT COUNT(*) FROM workflows_jobrun WHERE name = 'heartbeat'") >= 3
                ),
                clusters,
                timeout=240,
            )
            alive = [c.poll() is None for c in clusters]
        finally:
            for cluster in clusters:
                stop(cluster)
        tail = "\n".join(log.read_text(errors="replace")[-2000:] for log in logs)
        assert overdue_done and beats and all(alive), tail

        # Each due schedule became one task, whichever cluster's scheduler took it.
        groups = dict(
            db.rows(
                'SELECT "group", COUNT(*) FROM django_q_task '
                "WHERE func = 'workflows.jobs.issue_overdue_notices' GROUP BY \"group\""
            )
        )
        assert groups == {OVERDUE: 1, "renju:extra_overdue": 2}, tail
        assert db.one("SELECT COUNT(*) FROM django_q_task WHERE success = false") == 0, tail
        # The heartbeat was due at `due`, `due` + 1 min, …; a run starts after its due time, so
        # no more runs than due times up to the last start: a due time run twice would exceed.
        due = datetime.fromisoformat((tmp_path / "due.txt").read_text())
        starts = sorted(
            aware(started)
            for (started,) in db.rows(
                "SELECT started_at FROM workflows_jobrun WHERE name = 'heartbeat'"
            )
        )
        due_times = (starts[-1] - due) // timedelta(minutes=1) + 1
        assert len(starts) <= due_times, (due, starts)

        # The three overdue runs (two of them at the same moment) issued each notice once.
        notices = db.rows("SELECT ticket_id, step FROM workflows_overduenotice")
        assert len(notices) == len(set(notices)) == 4  # 2 towns × 2 tickets, the first step
        documents = db.rows("SELECT town_id FROM workflows_noticedocument ORDER BY town_id")
        assert [town for (town,) in documents] == list(TOWNS)
        runs = db.rows(
            "SELECT error FROM workflows_jobrun WHERE name = 'issue_overdue_notices' "
            "AND finished_at IS NOT NULL"
        )
        assert len(runs) == 3 and all(error == "" for (error,) in runs), runs
