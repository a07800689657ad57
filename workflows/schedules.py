"""The scheduled jobs, as data, and the sync that writes them into django-q2's Schedule table.

`manage.py setup_schedules` calls schedules_sync() at every deploy and in `make demo` — never
AppConfig.ready(), which runs in every process (migrate, shell, each worker) and would write to a
database that may not be migrated yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django_q.models import Schedule

# Schedules named with this prefix belong to the registry: the sync updates and deletes them.
# Schedules made by hand in the admin have other names and are left alone.
PREFIX = "renju:"

# Only types whose runs are fully placed by a local time of day. Weekly/monthly would need a
# weekday or day of month and cron needs croniter (not a dependency): add them with a job that
# needs them.
FIXED_PERIODS = {
    Schedule.HOURLY: timedelta(hours=1),
    Schedule.DAILY: timedelta(days=1),
}
SUPPORTED_TYPES = (Schedule.MINUTES, *FIXED_PERIODS)


@dataclass(frozen=True)
class JobSpec:
    name: str  # short name; the Schedule is named PREFIX + name
    func: str  # dotted path of a job function (workflows/jobs.py, inspections/jobs.py)
    schedule_type: str = Schedule.DAILY
    # Local time (Asia/Shanghai) the runs are aligned to: the daily run time, or the phase of
    # hourly / every-N-minutes runs.
    at: time = time(3, 15)
    minutes: int | None = None  # only for Schedule.MINUTES
    # What the job-runs page calls it, in the reader's language ("name" is for run_job).
    label: Promise | str = ""

    def __post_init__(self) -> None:
        if self.schedule_type not in SUPPORTED_TYPES:
            raise ValueError(f"{self.name}: unsupported schedule type {self.schedule_type!r}")
        if (self.schedule_type == Schedule.MINUTES) != bool(self.minutes):
            raise ValueError(f"{self.name}: minutes is required for, and only for, MINUTES")
        # A period that divides a day keeps every run on the same local times each day, which is
        # what lets the sync tell "the scheduler moved next_run" from "the timing changed".
        if timedelta(days=1) % self.period:
            raise ValueError(f"{self.name}: the period must divide 24 hours")

    @property
    def schedule_name(self) -> str:
        return PREFIX + self.name

    @property
    def period(self) -> timedelta:
        if self.schedule_type == Schedule.MINUTES:
            return timedelta(minutes=self.minutes or 0)
        return FIXED_PERIODS[self.schedule_type]


SCHEDULES: tuple[JobSpec, ...] = (
    # 03:15: nobody works then, and it is clear of the midnight date change other jobs key on.
    JobSpec(
        name="clear_expired_sessions",
        func="workflows.jobs.clear_expired_sessions",
        label=_("Clear expired login sessions"),
    ),
    JobSpec(
        name="prune_job_runs",
        func="workflows.jobs.prune_job_runs",
        at=time(3, 20),
        label=_("Prune old job runs"),
    ),
    JobSpec(
        name="optimize_database",
        func="workflows.jobs.optimize_database",
        at=time(3, 30),
        label=_("Refresh database statistics"),
    ),
    JobSpec(
        name="sweep_evidence",
        func="workflows.jobs.sweep_evidence",
        at=time(3, 40),
        label=_("Sweep unattached photos"),
    ),
    # 06:30 and 06:40: the day's notices are there when town offices open at 08:00, and the
    # local date has long changed (as_of defaults to today in Asia/Shanghai).
    JobSpec(
        name="issue_overdue_notices",
        func="workflows.jobs.issue_overdue_notices",
        at=time(6, 30),
        label=_("Issue overdue rectification notices"),
    ),
    JobSpec(
        name="issue_sla_notices",
        func="workflows.jobs.issue_sla_notices",
        at=time(6, 40),
        label=_("Issue late toilet service notices"),
    ),
    # A downstream app's job, named by path (django-q2 imports it by name; workflows does not).
    JobSpec(
        name="issue_missed_patrol_notices",
        func="inspections.jobs.issue_missed_patrol_notices",
        at=time(6, 50),
        label=_("Issue missed patrol reminders"),
    ),
    # Every 5 minutes, on the :00/:05/… grid: a notice reaches e-mail and the webhook soon after
    # it is issued; each row is claimed by one worker, so overlapping runs do not double-send.
    JobSpec(
        name="deliver_outbox",
        func="workflows.jobs.deliver_outbox",
        schedule_type=Schedule.MINUTES,
        minutes=5,
        at=time(0, 0),
        label=_("Deliver queued messages"),
    ),
    # The cluster's pulse and the in-cluster watchdog (workflows/watchdog.py); the watchdog also
    # runs outside the cluster from a systemd timer (README § Production).
    JobSpec(
        name="heartbeat",
        func="workflows.jobs.heartbeat",
        schedule_type=Schedule.MINUTES,
        minutes=1,
        at=time(0, 0),
        label=_("Task cluster heartbeat"),
    ),
    JobSpec(
        name="jobs_watchdog",
        func="workflows.jobs.jobs_watchdog",
        schedule_type=Schedule.MINUTES,
        minutes=5,
        at=time(0, 2),
        label=_("Job watchdog"),
    ),
)


@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.removed)


def job_spec_get(name: str, *, specs: Iterable[JobSpec] = SCHEDULES) -> JobSpec | None:
    """The spec named `name`, with or without the prefix."""
    short = name.removeprefix(PREFIX)
    return next((spec for spec in specs if spec.name == short), None)


def job_label(name: str) -> str:
    """A job's name for people, in the active language; a job not in the registry (retired, or
    run by hand) keeps its function's name."""
    spec = job_spec_get(name)
    return str(spec.label) if spec and spec.label else name


def next_occurrence(spec: JobSpec, *, after: datetime) -> datetime:
    """The first run time of `spec` strictly after `after`, as an aware local datetime."""
    local = timezone.localtime(after)
    # Yesterday's `at` is always before `after`, and on the spec's grid of run times.
    anchor = datetime.combine(local.date(), spec.at, tzinfo=local.tzinfo) - timedelta(days=1)
    return anchor + ((local - anchor) // spec.period + 1) * spec.period


@transaction.atomic
def schedules_sync(
    *, specs: Iterable[JobSpec] = SCHEDULES, now: datetime | None = None
) -> SyncResult:
    """Create, update or delete our Schedule rows so they match `specs`; idempotent."""
    specs = tuple(specs)
    now = now or timezone.now()
    result = SyncResult()
    current = _ours_without_stale({spec.schedule_name for spec in specs}, result)
    for spec in specs:
        outcome = _sync_one(spec, current.get(spec.schedule_name), now=now)
        getattr(result, outcome).append(spec.schedule_name)
    return result


def _ours_without_stale(wanted: set[str], result: SyncResult) -> dict[str, Schedule]:
    """Our schedules by name, after deleting those no longer wanted and duplicate names."""
    # Locked so a deploy and a running cluster's scheduler do not interleave on these rows.
    rows = Schedule.objects.select_for_update().filter(name__startswith=PREFIX).order_by("id")
    current: dict[str, Schedule] = {}
    # Re-checked in Python: SQLite's LIKE is case-insensitive, and "RENJU:x" is not ours.
    for schedule in (row for row in rows if row.name.startswith(PREFIX)):
        if schedule.name in wanted and schedule.name not in current:
            current[schedule.name] = schedule
        else:
            schedule.delete()
            result.removed.append(schedule.name)
    return current


def _sync_one(spec: JobSpec, schedule: Schedule | None, *, now: datetime) -> str:
    fields = _managed_fields(spec)
    if schedule is None or _timing_changed(spec, schedule):
        fields["next_run"] = next_occurrence(spec, after=now)
    elif all(getattr(schedule, key) == value for key, value in fields.items()):
        return "unchanged"
    _, created = Schedule.objects.update_or_create(name=spec.schedule_name, defaults=fields)
    return "created" if created else "updated"


def _managed_fields(spec: JobSpec) -> dict[str, object]:
    # next_run is left out: the scheduler advances it after each run, and resetting it on every
    # deploy could skip or repeat a run. It is only set when the timing changes.
    # No intended_date_kwarg: django-q2 passes it as a UTC ISO string, whose date is the day
    # before for a 03:15 Shanghai run; jobs default as_of to timezone.localdate() instead.
    return {
        "func": spec.func,
        "schedule_type": spec.schedule_type,
        "minutes": spec.minutes,
        "repeats": -1,
        "cron": None,
        "args": None,
        "kwargs": None,
        "hook": None,
        "cluster": None,
        "intended_date_kwarg": None,
    }


def _timing_changed(spec: JobSpec, schedule: Schedule) -> bool:
    if schedule.schedule_type != spec.schedule_type or schedule.minutes != spec.minutes:
        return True
    if schedule.next_run is None:
        return True
    # The scheduler moves next_run forward by whole periods, so it stays on the spec's grid of
    # local run times; off the grid means `at` changed (or someone edited it by hand).
    local = timezone.localtime(schedule.next_run)
    anchor = datetime.combine(local.date(), spec.at, tzinfo=local.tzinfo)
    return (local - anchor) % spec.period != timedelta(0)
