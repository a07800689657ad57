"""The job registry, its sync into django-q2, run_job, and one real qcluster run."""

from __future__ import annotations

import inspect
import os
import signal
import sqlite3
import subprocess
import sys
import time as clock
from contextlib import closing, suppress
from datetime import datetime, time, timedelta
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django_q.models import Schedule

from workflows.schedules import SCHEDULES, JobSpec, next_occurrence, schedules_sync

SHANGHAI = ZoneInfo("Asia/Shanghai")
SESSIONS = "renju:clear_expired_sessions"
ALL = [spec.schedule_name for spec in SCHEDULES]  # every registered schedule, in order


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def expired_session(key: str = "expired-session") -> Session:
    return Session.objects.create(
        session_key=key, session_data="", expire_date=timezone.now() - timedelta(days=1)
    )


def run(command: str, *args: str) -> str:
    """The command's output, in English: these tests read its wording, not the catalogue's."""
    out = StringIO()
    with translation.override("en"):
        call_command(command, *args, stdout=out)
    return out.getvalue()


# --- registry ---------------------------------------------------------------------------------


def test_every_registered_job_imports_and_takes_as_of():
    for spec in SCHEDULES:
        as_of = inspect.signature(import_string(spec.func)).parameters["as_of"]
        assert (as_of.kind, as_of.default) == (as_of.KEYWORD_ONLY, None)


def test_a_spec_whose_period_does_not_divide_a_day_is_refused():
    with pytest.raises(ValueError, match="divide"):
        JobSpec(name="x", func="x.y", schedule_type=Schedule.MINUTES, minutes=7)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(2025, 3, 1, 10, 0), local(2025, 3, 2, 3, 15)),  # after today's run time
        (local(2025, 3, 1, 2, 0), local(2025, 3, 1, 3, 15)),  # before it
        (local(2025, 3, 1, 3, 15), local(2025, 3, 2, 3, 15)),  # exactly at it: strictly after
        (datetime(2025, 3, 1, 19, 0, tzinfo=ZoneInfo("UTC")), local(2025, 3, 2, 3, 15)),
    ],
)
def test_next_occurrence_of_a_daily_job_is_the_next_local_0315(now, expected):
    assert next_occurrence(SCHEDULES[0], after=now) == expected


def test_next_occurrence_of_hourly_and_minutes_jobs_keeps_the_phase():
    hourly = JobSpec(name="h", func="x.y", schedule_type=Schedule.HOURLY, at=time(0, 40))
    every_15 = JobSpec(name="m", func="x.y", schedule_type=Schedule.MINUTES, minutes=15)
    now = local(2025, 3, 1, 10, 41)
    assert next_occurrence(hourly, after=now) == local(2025, 3, 1, 11, 40)
    assert next_occurrence(every_15, after=now) == local(2025, 3, 1, 10, 45)


# --- sync -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_sync_creates_the_schedules_with_next_run_at_the_next_local_0315():
    result = schedules_sync()

    assert result.created == ALL
    schedule = Schedule.objects.get(name=SESSIONS)
    assert schedule.func == "workflows.jobs.clear_expired_sessions"
    assert schedule.schedule_type == Schedule.DAILY
    assert schedule.repeats == -1
    assert schedule.next_run > timezone.now()
    assert schedule.next_run - timezone.now() <= timedelta(days=1)
    assert timezone.localtime(schedule.next_run).time() == time(3, 15)


@pytest.mark.django_db
def test_a_second_sync_changes_nothing():
    schedules_sync()
    before = list(Schedule.objects.values())

    result = schedules_sync()

    assert not result.changed
    assert result.unchanged == ALL
    assert list(Schedule.objects.values()) == before
    assert "already up to date" in run("setup_schedules")


@pytest.mark.django_db
def test_sync_keeps_a_next_run_the_scheduler_moved():
    schedules_sync(now=local(2025, 3, 1, 10, 0))
    # What the scheduler does after a run: the next day, same local time.
    Schedule.objects.filter(name=SESSIONS).update(next_run=local(2025, 3, 3, 3, 15))

    assert schedules_sync(now=local(2025, 3, 2, 12, 0)).unchanged == ALL
    assert Schedule.objects.get(name=SESSIONS).next_run == local(2025, 3, 3, 3, 15)


@pytest.mark.django_db
def test_sync_removes_stale_schedules_of_ours_and_keeps_hand_made_ones():
    Schedule.objects.create(name="renju:retired_job", func="workflows.jobs.gone")
    Schedule.objects.create(name="backup by hand", func="math.sqrt", args="4")
    Schedule.objects.create(name="RENJU:by hand too", func="math.sqrt", args="9")

    result = schedules_sync()

    assert result.removed == ["renju:retired_job"]
    assert set(Schedule.objects.values_list("name", flat=True)) == {
        *ALL,
        "backup by hand",
        "RENJU:by hand too",
    }


@pytest.mark.django_db
def test_sync_removes_a_duplicate_of_one_of_ours():
    schedules_sync()
    Schedule.objects.create(name=SESSIONS, func="workflows.jobs.clear_expired_sessions")

    result = schedules_sync()

    assert result.removed == [SESSIONS]
    assert Schedule.objects.filter(name=SESSIONS).count() == 1


@pytest.mark.django_db
def test_a_changed_run_time_moves_next_run():
    schedules_sync(now=local(2025, 3, 1, 10, 0))
    later = (JobSpec(name="clear_expired_sessions", func=SCHEDULES[0].func, at=time(4, 30)),)

    result = schedules_sync(specs=later, now=local(2025, 3, 1, 11, 0))

    assert result.updated == [SESSIONS]
    assert Schedule.objects.get(name=SESSIONS).next_run == local(2025, 3, 2, 4, 30)


@pytest.mark.django_db
def test_a_changed_schedule_type_updates_the_row_and_next_run():
    schedules_sync(now=local(2025, 3, 1, 10, 0))
    hourly = (
        JobSpec(
            name="clear_expired_sessions",
            func=SCHEDULES[0].func,
            schedule_type=Schedule.HOURLY,
        ),
    )

    assert schedules_sync(specs=hourly, now=local(2025, 3, 1, 11, 0)).updated == [SESSIONS]
    schedule = Schedule.objects.get(name=SESSIONS)
    assert schedule.schedule_type == Schedule.HOURLY
    assert schedule.next_run == local(2025, 3, 1, 11, 15)


@pytest.mark.django_db
def test_a_changed_field_other_than_timing_keeps_next_run():
    schedules_sync(now=local(2025, 3, 1, 10, 0))
    Schedule.objects.filter(name=SESSIONS).update(hook="someone.added.this", repeats=0)

    assert schedules_sync(now=local(2025, 3, 1, 11, 0)).updated == [SESSIONS]
    schedule = Schedule.objects.get(name=SESSIONS)
    assert (schedule.hook, schedule.repeats) == (None, -1)
    assert schedule.next_run == local(2025, 3, 2, 3, 15)


@pytest.mark.django_db
def test_setup_schedules_prints_what_it_did():
    Schedule.objects.create(name="renju:retired_job", func="workflows.jobs.gone")

    output = run("setup_schedules")

    assert f"created: {SESSIONS}" in output
    assert "removed: renju:retired_job" in output
    assert f"{len(ALL)} created, 0 updated, 0 unchanged, 1 removed" in output


# --- jobs and run_job -------------------------------------------------------------------------


@pytest.mark.django_db
def test_clear_expired_sessions_deletes_only_expired_rows():
    expired_session()
    live = Session.objects.create(
        session_key="live-session", session_data="", expire_date=timezone.now() + timedelta(hours=1)
    )

    output = run("run_job", "clear_expired_sessions")

    assert "Deleted 1 expired session." in output
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]


@pytest.mark.django_db
def test_run_job_accepts_the_prefixed_name_and_an_as_of_date():
    expired_session()

    assert "Deleted 1" in run("run_job", SESSIONS, "--as-of", "2025-03-01")
    assert not Session.objects.exists()


@pytest.mark.django_db
def test_run_job_rejects_an_unknown_name_and_lists_the_known_ones():
    with pytest.raises(CommandError, match=r"Unknown job nope\..*clear_expired_sessions"):
        run("run_job", "nope")


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["2025-02-30", "yesterday", "01/03/2025"])
def test_run_job_rejects_a_bad_date(bad):
    expired_session()

    with pytest.raises(CommandError, match="expected a date like"):
        run("run_job", "clear_expired_sessions", "--as-of", bad)
    assert Session.objects.exists()  # nothing ran


# --- a real cluster ---------------------------------------------------------------------------

# Runs inside the fresh database: an expired session to clear, and the job due now.
SEED = """
from datetime import timedelta
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_q.models import Schedule
Session.objects.create(
    session_key="expired-session", session_data="", expire_date=timezone.now() - timedelta(days=1)
)
due = timezone.now() - timedelta(seconds=1)
assert Schedule.objects.filter(name="renju:clear_expired_sessions").update(next_run=due) == 1

# A ticket of 胡集镇 two days past its deadline, and the overdue job due now.
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from villages.models import Membership, Town
from workflows.tickets import services
from workflows.models import RectificationTicket
divisions = settings.BASE_DIR / "villages/fixtures/jinxiang/divisions_2023.csv"
call_command("import_divisions", divisions)
boss = get_user_model().objects.create_user("boss")
Membership.objects.create(user=boss, role="task_force", county_id="370828000000")
huji = Town.objects.get(code="370828102000")
ticket = services.rectification_create(
    by=boss, town=huji, description="坑塘漂浮物", deadline=timezone.localdate()
)
late = timezone.localdate() - timedelta(days=2)
RectificationTicket.objects.filter(pk=ticket.pk).update(deadline=late)
assert Schedule.objects.filter(name="renju:issue_overdue_notices").update(next_run=due) == 1
"""


def manage_env(data_dir: Path) -> dict[str, str]:
    # Without DATABASE_URL and REDIS_URL the settings fall back to the SQLite file in DATA_DIR
    # and the ORM broker on it, whatever the machine running the tests has configured.
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DEBUG="1", DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="config.settings")
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def query(db: Path, sql: str, *params: object) -> list[tuple]:
    with closing(sqlite3.connect(db)) as connection:
        return connection.execute(sql, params).fetchall()


def wait_for_task(db: Path, group: str, cluster: subprocess.Popen, timeout: float) -> bool | None:
    """The success flag of the first Task of `group`, or None if none came within `timeout`."""
    deadline = clock.monotonic() + timeout
    while clock.monotonic() < deadline and cluster.poll() is None:
        rows = query(db, 'SELECT success FROM django_q_task WHERE "group" = ?', group)
        if rows:
            return bool(rows[0][0])
        clock.sleep(0.5)
    return None


def stop(cluster: subprocess.Popen) -> None:
    """SIGTERM (a clean cluster shutdown), then SIGKILL whatever is left of its process group."""
    if cluster.poll() is None:
        cluster.send_signal(signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        cluster.wait(timeout=20)
    # The sentinel, workers, pusher and monitor share the session started for the cluster.
    with suppress(ProcessLookupError):
        os.killpg(cluster.pid, signal.SIGKILL)
    cluster.wait()


@pytest.mark.slow
def test_a_real_qcluster_runs_the_due_jobs_and_issues_notices(tmp_path):
    env = manage_env(tmp_path)
    manage(env, "migrate", "--noinput")
    manage(env, "setup_schedules")
    manage(env, "shell", "-c", SEED)
    db, log_path = tmp_path / "db.sqlite3", tmp_path / "qcluster.log"

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
            # django-q2 calls the scheduler every 30 s of its guard loop, the first time 30 s
            # after start: 100 s leaves room for a slow or busy machine (CI runs two suites).
            success = wait_for_task(db, SESSIONS, cluster, timeout=100)
            overdue = wait_for_task(db, "renju:issue_overdue_notices", cluster, timeout=30)
        finally:
            stop(cluster)

    assert success and overdue, log_path.read_text(errors="replace")[-3000:]
    assert query(db, "SELECT session_key FROM django_session") == []
    # The scheduled overdue job issued its notice document to the ticket's town.
    assert query(db, "SELECT town_id, kind FROM workflows_noticedocument") == [
        ("370828102000", "reminder")
    ]


def test_optimize_database_refreshes_sqlite_statistics(db):
    from django.db import connection

    from workflows.jobs import optimize_database

    with translation.override("en"):
        result = optimize_database()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
            assert cursor.fetchone()[0] == 1
        assert "refreshed" in result
    else:
        assert "Nothing to do" in result
