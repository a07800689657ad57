"""The job log heals (workflows/watchdog.py): dead runs are closed with the reason, missed jobs
are run once by the watchdog, a stale cluster is reported; /healthz and /healthz/jobs show it.
The same with real processes (kill -9, a real qcluster): tests/workflows/test_watchdog_processes.py.
"""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone

from tests.workflows.ladder import ladder  # noqa: F401 (autouse fixture)
from workflows import jobs, watchdog
from workflows.models import JobRun, NoticeDocument, OverdueNotice, RectificationTicket

pytestmark = pytest.mark.django_db


def all_jobs_ran(at=None) -> None:
    """A good run of every watched job, and a heartbeat, at `at` (default now)."""
    at = at or timezone.now()
    for spec in watchdog.watched_specs():
        JobRun.objects.create(name=spec.name, as_of=at.date(), started_at=at, finished_at=at)
    JobRun.objects.create(name="heartbeat", as_of=at.date(), started_at=at, finished_at=at)


def test_a_fresh_install_runs_every_job_once_then_nothing(assigned):
    report = watchdog.watchdog_run()

    names = {spec.name for spec in watchdog.watched_specs()}
    assert {run.split(" ")[0] for run in report.ran} == names
    assert report.dead == [] and report.failed == []
    assert watchdog.watchdog_run().ran == []  # each is done now


def test_a_run_killed_midway_is_closed_as_dead_and_run_again(assigned):
    all_jobs_ran(timezone.now() - timedelta(days=2))
    as_of = assigned.deadline + timedelta(days=1)
    # What a kill -9 inside the job leaves: its row "running", its transaction rolled back.
    killed = JobRun.objects.create(
        name="issue_overdue_notices",
        as_of=as_of,
        started_at=timezone.now() - watchdog.task_timeout() - timedelta(minutes=5),
    )

    report = watchdog.watchdog_run(now=timezone.now())

    killed.refresh_from_db()
    assert killed.finished_at is not None and killed.error.startswith(watchdog.DEAD)
    assert report.dead and report.dead[0].startswith("issue_overdue_notices")
    assert any(run.startswith("issue_overdue_notices") for run in report.ran)
    again = JobRun.objects.filter(name="issue_overdue_notices", error="").latest("started_at")
    assert again.started_at > killed.started_at and again.finished_at is not None


def test_a_run_still_within_its_timeout_is_left_alone(assigned):
    all_jobs_ran(timezone.now() - timedelta(days=2))
    JobRun.objects.create(name="issue_overdue_notices", as_of=timezone.localdate())

    report = watchdog.watchdog_run()

    assert report.dead == []
    assert not any(run.startswith("issue_overdue_notices") for run in report.ran)


def test_nothing_is_run_when_every_job_ran_since_it_was_due():
    all_jobs_ran()
    report = watchdog.watchdog_run()
    assert (report.ran, report.dead, report.failed) == ([], [], [])
    assert not report.cluster.stale


def test_a_job_failing_again_is_reported_and_not_run_in_a_loop(monkeypatch):
    all_jobs_ran(timezone.now() - timedelta(days=2))

    def issue_sla_notices(*, as_of=None):
        raise RuntimeError("database is read-only")

    monkeypatch.setattr(jobs, "issue_sla_notices", jobs.logged(issue_sla_notices))

    first = watchdog.watchdog_run()
    second = watchdog.watchdog_run()

    assert "issue_sla_notices" in first.failed and "issue_sla_notices" in second.failed
    assert JobRun.objects.filter(error__contains="database is read-only").count() == 1


def test_the_cluster_is_stale_without_a_recent_heartbeat():
    assert watchdog.cluster_health(now=timezone.now()).stale  # never beat
    jobs.heartbeat()
    assert not watchdog.cluster_health(now=timezone.now()).stale
    later = timezone.now() + watchdog.CLUSTER_STALE_AFTER + timedelta(seconds=1)
    assert watchdog.cluster_health(now=later).stale


def test_the_heartbeat_keeps_only_its_latest_beats():
    for _beat in range(jobs.HEARTBEATS_KEPT + 5):
        jobs.heartbeat()
    assert JobRun.objects.filter(name="heartbeat").count() == jobs.HEARTBEATS_KEPT


def test_the_command_exits_2_when_the_cluster_is_stale_and_0_when_well(capsys):
    all_jobs_ran()
    JobRun.objects.filter(name="heartbeat").delete()
    with pytest.raises(SystemExit) as stale:
        call_command("jobs_watchdog")
    assert stale.value.code == 2
    err = capsys.readouterr().err
    assert "heartbeat" in err or "心跳" in err

    jobs.heartbeat()
    call_command("jobs_watchdog")  # no SystemExit: 0
    assert capsys.readouterr().out.strip()


def test_a_job_terminated_by_the_cluster_says_so_in_its_run():
    # django-q2 stops a task past its timeout with SIGTERM: the run's row records it.
    @jobs.logged
    def endless(*, as_of=None):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the job")

    with pytest.raises(jobs.JobTerminated):
        endless()

    run = JobRun.objects.get(name="endless")
    assert run.finished_at is not None and "JobTerminated" in run.error
    assert signal.getsignal(signal.SIGTERM) is not None  # the previous handler is back


def test_the_missed_overdue_run_issues_exactly_what_the_scheduled_one_would(assigned):
    all_jobs_ran(timezone.now() - timedelta(days=2))
    overdue = timezone.localdate() - timedelta(days=8)  # past every step of the ladder
    RectificationTicket.objects.filter(pk=assigned.pk).update(deadline=overdue)
    # The reference: the scheduled run, rolled back.
    from django.db import transaction

    with transaction.atomic():
        jobs.issue_overdue_notices()
        reference = sorted(OverdueNotice.objects.values_list("ticket_id", "step"))
        documents = NoticeDocument.objects.count()
        transaction.set_rollback(True)
    assert len(reference) == 3 and documents >= 1

    watchdog.watchdog_run()

    assert sorted(OverdueNotice.objects.values_list("ticket_id", "step")) == reference
    assert NoticeDocument.objects.count() == documents


# --- /healthz -----------------------------------------------------------------------------------


def test_healthz_answers_anonymous_monitors_with_states_only(client):
    all_jobs_ran()
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "broker": "ok",
        "cluster": "ok",
        "jobs": "ok",
    }
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_healthz_is_503_when_the_cluster_is_stale_or_a_job_late(client):
    response = client.get(reverse("healthz"))  # nothing ever ran
    assert response.status_code == 503
    assert response.json()["cluster"] == "stale" and response.json()["jobs"] == "late"


def test_healthz_is_503_not_500_when_the_database_is_down(client, monkeypatch):
    from workflows import health

    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(health.connection, "cursor", refuse)
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["database"] == "down"


def test_healthz_is_503_when_the_broker_does_not_answer(client, settings):
    all_jobs_ran()
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "redis": "redis://127.0.0.1:1/0"}
    settings.Q_CLUSTER.pop("orm", None)
    from django_q.conf import Conf

    saved = (Conf.REDIS, Conf.ORM)
    Conf.REDIS, Conf.ORM = settings.Q_CLUSTER["redis"], None
    try:
        response = client.get(reverse("healthz"))
    finally:
        Conf.REDIS, Conf.ORM = saved
    assert response.status_code == 503
    assert response.json()["broker"] == "down"


def test_the_task_force_sees_each_jobs_state(client, task_force, hj_officer):
    all_jobs_ran(timezone.now() - timedelta(days=2))
    jobs.heartbeat()
    client.force_login(task_force)
    page = client.get(reverse("health_jobs")).content.decode()
    assert 'data-job="issue_overdue_notices"' in page and 'data-state="late"' in page
    # Each job by its name for people (user testing: the raw function names were shown).
    assert ">发出逾期整改通知<" in page and ">issue_overdue_notices<" not in page

    client.force_login(hj_officer)
    assert client.get(reverse("health_jobs")).status_code == 403
