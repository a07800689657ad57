"""The watchdog with real processes: a job killed with kill -9 in the middle of its transaction
(what the OOM killer does) is closed as dead and run again by `manage.py jobs_watchdog` with
exactly the notices the scheduled run would have issued; a real qcluster's heartbeat keeps the
watchdog at 0, and a frozen cluster makes it exit 2 (the service manager's cue to restart it).

Each test has its own data directory (SQLite file, ORM broker), like the real-cluster test of
tests/workflows/test_schedules.py. The clock moving on (past the task timeout, past the
heartbeat's limit) is simulated by moving the recorded times back, never by sleeping.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time as clock
from contextlib import suppress
from pathlib import Path

import pytest
from django.conf import settings

from tests.workflows.test_schedules import manage_env, query, stop

pytestmark = pytest.mark.slow

SEED = """
from datetime import timedelta
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from villages.models import Membership, Town
from workflows.models import RectificationTicket
from workflows.tickets import services
divisions = settings.BASE_DIR / "villages/fixtures/jinxiang/divisions_2023.csv"
call_command("import_divisions", divisions)
boss = get_user_model().objects.create_user("boss")
Membership.objects.create(user=boss, role="task_force", county_id="370828000000")
for code, late in (("370828102000", 8), ("370828102000", 2), ("370828103000", 4)):
    ticket = services.rectification_create(
        by=boss, town=Town.objects.get(code=code), description="坑塘漂浮物",
        deadline=timezone.localdate(),
    )
    RectificationTicket.objects.filter(pk=ticket.pk).update(
        deadline=timezone.localdate() - timedelta(days=late)
    )
"""

# The scheduled run's notices, computed and rolled back: the reference.
REFERENCE = """
import json
from django.db import transaction
from workflows.models import OverdueNotice
from workflows.notices import services
from django.utils import timezone
with transaction.atomic():
    services.overdue_notices_issue(as_of=timezone.localdate())
    print(json.dumps(sorted(OverdueNotice.objects.values_list("ticket__number", "step"))))
    transaction.set_rollback(True)
"""

# The overdue job, killed with SIGKILL after its notices are inserted, before it commits.
KILLED = """
import os, signal, django
django.setup()
from workflows import jobs
from workflows.notices import services
def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
services._recipients_add = killed
jobs.issue_overdue_notices()
"""

BACKDATE = """
from datetime import timedelta
from django.db.models import F
from workflows.models import JobRun
JobRun.objects.filter(name__in={names!r}).update(
    started_at=F("started_at") - timedelta(minutes={minutes}),
    finished_at=F("finished_at") - timedelta(minutes={minutes}),
)
"""


def manage(env, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        check=check,
        capture_output=True,
        text=True,
        timeout=180,
    )


def notices(db: Path) -> list[list]:
    rows = query(
        db,
        "SELECT t.number, n.step FROM workflows_overduenotice n "
        "JOIN workflows_rectificationticket t ON t.id = n.ticket_id ORDER BY 1, 2",
    )
    return [list(row) for row in rows]


def test_a_run_killed_midway_is_run_again_by_the_watchdog_with_the_same_notices(tmp_path):
    env = manage_env(tmp_path)
    db = tmp_path / "db.sqlite3"
    manage(env, "migrate", "--noinput")
    manage(env, "shell", "-c", SEED)
    reference = json.loads(manage(env, "shell", "-c", REFERENCE).stdout.splitlines()[-1])
    assert len(reference) == 3 + 1 + 2  # the ladder's steps each ticket has reached

    killed = subprocess.run(
        [sys.executable, "-c", KILLED], cwd=settings.BASE_DIR, env=env, timeout=120, check=False
    )

    assert killed.returncode == -signal.SIGKILL
    assert query(db, "SELECT finished_at FROM workflows_jobrun") == [(None,)]  # "running"
    assert notices(db) == []  # its transaction died with it

    # Ten minutes on: past the task timeout (300 s) and its margin.
    manage(env, "shell", "-c", BACKDATE.format(names=["issue_overdue_notices"], minutes=10))
    watched = manage(env, "jobs_watchdog", check=False)

    assert watched.returncode == 2, watched.stdout + watched.stderr  # no cluster beats here
    assert "issue_overdue_notices" in watched.stdout
    assert notices(db) == reference
    dead = query(db, "SELECT error FROM workflows_jobrun WHERE error LIKE 'dead:%'")
    assert len(dead) == 1 and "killed" in dead[0][0]

    again = manage(env, "jobs_watchdog", check=False)
    assert "issue_overdue_notices" not in again.stdout  # done: not run twice
    assert notices(db) == reference


def wait_for(db: Path, sql: str, cluster: subprocess.Popen, timeout: float) -> bool:
    deadline = clock.monotonic() + timeout
    while clock.monotonic() < deadline and cluster.poll() is None:
        if query(db, sql):
            return True
        clock.sleep(0.5)
    return False


def test_a_real_cluster_beats_and_a_frozen_one_is_reported_stale(tmp_path):
    env = manage_env(tmp_path)
    db, log_path = tmp_path / "db.sqlite3", tmp_path / "qcluster.log"
    manage(env, "migrate", "--noinput")
    manage(env, "setup_schedules")
    with log_path.open("wb") as log:
        cluster = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            # The heartbeat is due every minute; the scheduler first looks 30 s after start.
            beat = (
                "SELECT 1 FROM workflows_jobrun"
                " WHERE name = 'heartbeat' AND finished_at IS NOT NULL"
            )
            assert wait_for(db, beat, cluster, timeout=150), log_path.read_text(errors="replace")
            healthy = manage(env, "jobs_watchdog", check=False)
            assert healthy.returncode == 0, healthy.stdout + healthy.stderr

            # Frozen: its processes run nothing (as with the lock a killed worker leaves held).
            os.killpg(cluster.pid, signal.SIGSTOP)
            manage(env, "shell", "-c", BACKDATE.format(names=["heartbeat"], minutes=4))
            frozen = manage(env, "jobs_watchdog", check=False)
        finally:
            with suppress(ProcessLookupError):
                os.killpg(cluster.pid, signal.SIGCONT)
            stop(cluster)

    assert frozen.returncode == 2
    assert "stale" in frozen.stderr or "停滞" in frozen.stderr
