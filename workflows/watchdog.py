"""The job log is the truth, and it heals: what `manage.py jobs_watchdog` and /healthz read.

A django-q2 cluster can freeze and look healthy (a worker killed by the OOM killer leaves the
task-queue lock held: the cluster keeps scheduling and pulling tasks it never runs, django-q2
issues #23 and #339), and a worker killed inside a job loses that day's run — next_run has already
moved on. So the log of runs (JobRun), not the scheduler, says what was done:

- a run still "running" past the task timeout is dead: it is closed with the reason;
- a job with no good run since its last due time (plus a grace for the cluster to start it) is
  missed: the watchdog runs it itself, with the due time's date (every job is idempotent and
  catches up by its date, workflows/jobs.py);
- the cluster beats once a minute (the `heartbeat` job): a beat older than CLUSTER_STALE_AFTER
  means its workers run nothing, and the watchdog exits non-zero so that the service manager
  restarts the cluster.

The watchdog runs outside the cluster (a systemd timer or cron, README § Production) — a frozen
cluster would never run it — and also as a schedule of the cluster, for a setup without a timer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from workflows.jobs import connection_refresh
from workflows.models import JobRun
from workflows.schedules import SCHEDULES, JobSpec, job_label, next_occurrence

logger = logging.getLogger(__name__)

HEARTBEAT = "heartbeat"
WATCHDOG = "jobs_watchdog"
# The cluster checks its schedules every 30 s; a due job must have started within this.
GRACE = timedelta(minutes=10)
# Three missed beats (one a minute) and the cluster is taken as frozen or gone.
CLUSTER_STALE_AFTER = timedelta(minutes=3)
# A run the watchdog started itself and that failed is not started again sooner than this.
RETRY_AFTER = timedelta(minutes=30)
# What a dead run's error says (the watchdog writes it; the job-runs page shows it).
DEAD = "dead"


def task_timeout() -> timedelta:
    return timedelta(seconds=settings.Q_CLUSTER.get("timeout", 300))


def previous_occurrence(spec: JobSpec, *, at: datetime) -> datetime:
    """The last due time of `spec` at or before `at`."""
    following = next_occurrence(spec, after=at)
    return following - spec.period


def watched_specs() -> list[JobSpec]:
    # The heartbeat is checked on its own; the watchdog does not watch itself.
    return [spec for spec in SCHEDULES if spec.name not in (HEARTBEAT, WATCHDOG)]


@dataclass
class JobHealth:
    name: str
    period: timedelta
    due: datetime  # the last due time before now - GRACE
    last_run: JobRun | None
    last_good: JobRun | None
    running: bool  # a run started since `due` is still running (and not yet dead)

    @property
    def label(self) -> str:
        return job_label(self.name)

    @property
    def missed(self) -> bool:
        return not self.running and (self.last_good is None or self.last_good.started_at < self.due)

    @property
    def failing(self) -> bool:
        return self.last_run is not None and bool(self.last_run.error)

    @property
    def state(self) -> str:
        if self.running:
            return "running"
        if self.missed:
            return "late"
        return "failed" if self.failing else "ok"


@dataclass
class ClusterHealth:
    last_beat: datetime | None
    now: datetime

    @property
    def age(self) -> timedelta | None:
        return None if self.last_beat is None else self.now - self.last_beat

    @property
    def stale(self) -> bool:
        return self.age is None or self.age > CLUSTER_STALE_AFTER


@dataclass
class WatchdogReport:
    dead: list[str] = field(default_factory=list)  # "name (started …)"
    ran: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    cluster: ClusterHealth | None = None


def dead_runs_close(*, now: datetime) -> list[JobRun]:
    """Close runs still "running" past the task timeout: their worker was killed or froze (a
    job the cluster's timeout terminates is closed by its wrapper; a kill -9 leaves no one)."""
    cutoff = now - task_timeout() - timedelta(minutes=1)
    stuck = list(JobRun.objects.filter(finished_at__isnull=True, started_at__lt=cutoff))
    for run in stuck:
        seconds = int(task_timeout().total_seconds())
        reason = (
            f"{DEAD}: no end recorded within the task timeout ({seconds} s) — the worker was "
            "killed or froze; the watchdog closed it"
        )
        JobRun.objects.filter(pk=run.pk, finished_at__isnull=True).update(
            finished_at=now, error=reason
        )
        run.finished_at, run.error = now, reason
    return stuck


def jobs_health(*, now: datetime) -> list[JobHealth]:
    """Each watched job's state, from the log (a few small queries per job)."""
    health = []
    for spec in watched_specs():
        due = previous_occurrence(spec, at=now - GRACE)
        runs = JobRun.objects.filter(name=spec.name)
        last_run = runs.order_by("-started_at", "-id").first()
        last_good = (
            runs.filter(finished_at__isnull=False, error="").order_by("-started_at", "-id").first()
        )
        running = runs.filter(finished_at__isnull=True, started_at__gte=due).exists()
        health.append(JobHealth(spec.name, spec.period, due, last_run, last_good, running))
    return health


def cluster_health(*, now: datetime) -> ClusterHealth:
    beat = (
        JobRun.objects.filter(name=HEARTBEAT, finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    return ClusterHealth(last_beat=beat, now=now)


def watchdog_run(*, now: datetime | None = None, check_cluster: bool = True) -> WatchdogReport:
    """Close dead runs, run every missed job once (in this process), check the heartbeat."""
    now = now or timezone.now()
    report = WatchdogReport()
    for run in dead_runs_close(now=now):
        report.dead.append(f"{run.name} ({timezone.localtime(run.started_at):%Y-%m-%d %H:%M})")
    for job in jobs_health(now=now):
        if not job.missed:
            continue
        last = job.last_run
        if last and not last.error.startswith(DEAD) and last.started_at > now - RETRY_AFTER:
            report.failed.append(job.name)  # failed just now (not killed): not in a loop
            continue
        spec = next(spec for spec in SCHEDULES if spec.name == job.name)
        # Today's date, as the cluster runs a missed schedule (catch_up=False): every job catches
        # up on everything up to its date by itself.
        as_of = timezone.localtime(now).date()
        try:
            import_string(spec.func)(as_of=as_of)
        except Exception:
            # The run's row holds the traceback (workflows.jobs.logged); go on with the others.
            logger.exception("watchdog: the missed run of %s failed", job.name)
            report.failed.append(job.name)
        else:
            report.ran.append(f"{job.name} ({as_of.isoformat()})")
        connection_refresh()
    if check_cluster:
        report.cluster = cluster_health(now=timezone.now())
    return report
