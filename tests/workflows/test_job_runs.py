"""The job-run log written around every job, and the task force's page of runs."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.urls import reverse

from tests.workflows.ladder import ladder  # noqa: F401 (autouse fixture)
from workflows import jobs
from workflows.models import JobRun

pytestmark = pytest.mark.django_db


def test_a_run_is_logged_with_its_date_and_counts(assigned, hj_officer):
    as_of = assigned.deadline + timedelta(1)

    jobs.issue_overdue_notices(as_of=as_of)

    run = JobRun.objects.get()
    assert (run.name, run.as_of, run.error) == ("issue_overdue_notices", as_of, "")
    assert run.counts == {"notices": 1, "documents": 1, "notifications": 1, "outbox": 0}
    assert run.finished_at >= run.started_at


def test_the_existing_jobs_are_logged_too():
    jobs.clear_expired_sessions(as_of=date(2025, 3, 1))
    jobs.optimize_database()

    runs = {run.name: run for run in JobRun.objects.all()}
    assert runs["clear_expired_sessions"].counts == {"deleted": 0}
    assert runs["clear_expired_sessions"].as_of == date(2025, 3, 1)
    assert runs["optimize_database"].finished_at is not None


def test_a_failing_job_records_its_error_and_still_raises():
    @jobs.logged
    def broken(*, as_of=None):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        broken(as_of=date(2025, 3, 1))

    run = JobRun.objects.get()
    assert run.name == "broken"
    assert "RuntimeError: disk full" in run.error
    assert run.finished_at is not None
    assert run.counts == {}


def test_the_task_force_sees_the_latest_runs(client, task_force):
    jobs.clear_expired_sessions(as_of=date(2025, 3, 1))
    client.force_login(task_force)

    response = client.get(reverse("job_run_list"))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-job="clear_expired_sessions"' in html  # its label: tests/test_desk_pages.py
    assert re.search(r'<span data-count="deleted">[^<]*: ?0</span>', html.replace("：", ":"))


@pytest.mark.parametrize("who", ["hj_officer", "inspector", "service_worker", "nobody"])
def test_other_roles_get_403_with_the_reason(client, request, who):
    client.force_login(request.getfixturevalue(who))

    response = client.get(reverse("job_run_list"))

    assert response.status_code == 403
    assert "查看定时任务运行记录" in response.content.decode()  # the reason, translated


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(reverse("job_run_list"))

    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_old_job_runs_are_pruned_after_a_year(db):
    today = date(2026, 11, 26)
    JobRun.objects.create(name="old", as_of=date(2025, 1, 1))
    JobRun.objects.create(name="recent", as_of=today - timedelta(days=jobs.JOB_RUNS_KEPT_DAYS))
    jobs.prune_job_runs(as_of=today)
    assert set(JobRun.objects.values_list("name", flat=True)) == {"recent", "prune_job_runs"}
