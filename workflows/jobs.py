"""Jobs django-q2 runs on a schedule (registry: workflows/schedules.py).

Each job is a thin function: it calls a service or a management command and returns a short
summary that django-q2 stores on the Task row and `manage.py run_job` prints.

Every job takes a keyword-only `as_of` date (default: today in Asia/Shanghai), even when it does
not need it, so the scheduler, `run_job --as-of` and tests call all jobs the same way. The cluster
runs with catch_up=False: a job missed while the cluster was down runs once, with today's date,
and must catch up on everything up to that date by itself.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
import traceback
from collections.abc import Callable
from datetime import date, timedelta

from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from workflows.evidence.services import evidence_sweep
from workflows.models import JobRun
from workflows.notices import services as notices

# A job returns its message, or (message, counts) for the run log.
Outcome = str | tuple[str, dict]

# The run log's counters for people (the job-runs page); a key not named here is shown as is.
COUNT_LABELS = {
    "deleted": gettext_lazy("Deleted"),
    "pruned": gettext_lazy("Old heartbeats pruned"),
    # the notice ladders (overdue, SLA, missed patrols)
    "notices": gettext_lazy("Notices issued"),
    "reminded": gettext_lazy("Sites short of patrols"),
    "recorded": gettext_lazy("Misses of last month recorded"),
    "documents": gettext_lazy("New documents"),
    "notifications": gettext_lazy("In-app notifications"),
    "outbox": gettext_lazy("Messages to deliver"),
    # the outbox
    "sent": gettext_lazy("Messages sent"),
    "failed": gettext_lazy("Failed, to retry"),
    "unknown": gettext_lazy("Outcome unknown"),
    "skipped": gettext_lazy("Left to other workers"),
    "left": gettext_lazy("Left to the next run"),
    "released": gettext_lazy("Released from stopped workers"),
    "gave_up": gettext_lazy("Failed for good"),
    # the evidence sweep
    "rows": gettext_lazy("Unattached photos removed"),
    "files": gettext_lazy("Stray files removed"),
}


def counts_labelled(counts: object) -> list[tuple[str, str, object]]:
    """A run's counts as (key, label in the active language, value): the named counters in the
    order of COUNT_LABELS, then the others by name. Not in the order the job wrote them, which
    PostgreSQL's jsonb does not keep."""
    if not isinstance(counts, dict):
        return []
    order = {key: position for position, key in enumerate(COUNT_LABELS)}
    keys = sorted(counts, key=lambda key: (order.get(key, len(order)), str(key)))
    return [(key, str(COUNT_LABELS.get(key, key)), counts[key]) for key in keys]


class JobTerminated(Exception):
    """The cluster terminated the job (SIGTERM at its task timeout, or a shutdown)."""


@contextlib.contextmanager
def _terminated_raises():
    """While a job runs in a worker's main thread, SIGTERM (what django-q2 sends a task past its
    timeout) raises JobTerminated, so the run's row says so instead of staying "running"; a kill
    -9 leaves the row to the watchdog (workflows/watchdog.py)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_terminated(signum, frame):
        raise JobTerminated(_("Terminated by the task queue (task timeout or shutdown)."))

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def logged(job: Callable[..., Outcome]) -> Callable[..., str]:
    """Write a JobRun row around every run: started, finished, counts, or the error.

    The row is written outside the job's own transaction, so a job that fails and rolls back
    still leaves its error in the log; the error is re-raised for django-q2 to mark the task
    failed (and retry it)."""

    @functools.wraps(job)
    def run(*, as_of: date | None = None) -> str:
        as_of = as_of or timezone.localdate()
        record = JobRun.objects.create(name=job.__name__, as_of=as_of)
        try:
            with _terminated_raises():
                outcome = job(as_of=as_of)
        except BaseException:
            _job_run_close(record, error=traceback.format_exc()[-4000:])
            raise
        message, counts = outcome if isinstance(outcome, tuple) else (outcome, {})
        _job_run_close(record, counts=counts)
        return message

    return run


def connection_refresh() -> None:
    """A fresh connection if the one in hand broke (a database restart), outside any transaction
    (inside one, Django would close a perfectly good connection)."""
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()


def _job_run_close(record: JobRun, **fields) -> None:
    # The job may have failed because the connection broke (a database restart): a fresh one.
    connection_refresh()
    JobRun.objects.filter(pk=record.pk).update(finished_at=timezone.now(), **fields)


@logged
def clear_expired_sessions(*, as_of: date | None = None) -> Outcome:
    """Delete expired sessions; with DB-backed sessions nothing else ever removes them."""
    # as_of is unused: a session row carries its own expiry instant.
    before = Session.objects.count()
    call_command("clearsessions")
    # Logins during the command add rows, so the difference may undercount; never below zero.
    deleted = max(before - Session.objects.count(), 0)
    message = ngettext(
        "Deleted %(count)d expired session.",
        "Deleted %(count)d expired sessions.",
        deleted,
    ) % {"count": deleted}
    return message, {"deleted": deleted}


# A year of runs answers "did the notices go out last spring?"; beyond that the log only grows
# (a few thousand rows a year, but forever).
JOB_RUNS_KEPT_DAYS = 400


@logged
def prune_job_runs(*, as_of: date | None = None) -> Outcome:
    """Delete job-run log rows older than JOB_RUNS_KEPT_DAYS before `as_of`."""
    cutoff = (as_of or timezone.localdate()) - timedelta(days=JOB_RUNS_KEPT_DAYS)
    deleted, _by_model = JobRun.objects.filter(as_of__lt=cutoff).delete()
    message = ngettext(
        "Deleted %(count)d job run older than %(cutoff)s.",
        "Deleted %(count)d job runs older than %(cutoff)s.",
        deleted,
    ) % {"count": deleted, "cutoff": cutoff.isoformat()}
    return message, {"deleted": deleted}


@logged
def optimize_database(*, as_of: date | None = None) -> Outcome:
    """Refresh SQLite's planner statistics (ANALYZE).

    SQLite keeps none by itself, and without them it picks the wrong index on a big ticket table
    (1,000,000 tickets: the town inbox's sort took ~120 ms instead of ~80 ms). PostgreSQL's
    autovacuum analyses on its own, so there it is nothing to do.
    """
    if connection.vendor != "sqlite":
        return _("Nothing to do: the database keeps its statistics itself.")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return _("Planner statistics refreshed.")


@logged
def issue_overdue_notices(*, as_of: date | None = None) -> Outcome:
    """The overdue ladder for rectification tickets, as of the local date `as_of`."""
    counts = notices.overdue_notices_issue(as_of=as_of or timezone.localdate())
    return _issued_message(counts), counts


@logged
def issue_sla_notices(*, as_of: date | None = None) -> Outcome:
    """Notices for toilet service tickets pending past their SLA."""
    counts = notices.sla_notices_issue(as_of=as_of or timezone.localdate())
    return _issued_message(counts), counts


@logged
def deliver_outbox(*, as_of: date | None = None) -> Outcome:
    """Send what the outbox holds (e-mail, webhook) within the run's time budget; as_of is
    unused."""
    counts = notices.outbox_deliver()
    message = (
        _(
            "Sent %(sent)d, failed %(failed)d, outcome unknown %(unknown)d (retried with the "
            "same key), left to other workers %(skipped)d, left to the next run %(left)d; "
            "released from stopped workers %(released)d; failed for good (see the outbox "
            "page) %(gave_up)d."
        )
        % counts
    )
    return message, counts


def _issued_message(counts: dict[str, int]) -> str:
    return (
        _(
            "%(notices)d notices in %(documents)d new documents; "
            "%(notifications)d notifications, %(outbox)d messages to deliver."
        )
        % counts
    )


@logged
def sweep_evidence(*, as_of: date | None = None) -> Outcome:
    """Photo rows nothing holds and photo files no row names, older than a day: what a process
    killed between storing photos and committing their record left (as_of is unused)."""
    counts = evidence_sweep(now=timezone.now())
    message = _("Removed %(rows)d unattached photos and %(files)d stray files.") % counts
    return message, counts


# The heartbeat keeps only its latest beats: one a minute would otherwise fill the log.
HEARTBEATS_KEPT = 10


@logged
def heartbeat(*, as_of: date | None = None) -> Outcome:
    """The cluster's pulse (every minute): its run row proves that workers take and finish
    tasks — a frozen cluster still schedules but runs nothing (workflows/watchdog.py)."""
    keep = JobRun.objects.filter(name="heartbeat").order_by("-started_at", "-id")[:HEARTBEATS_KEPT]
    deleted, _by_model = (
        JobRun.objects.filter(name="heartbeat")
        .exclude(pk__in=list(keep.values_list("pk", flat=True)))
        .delete()
    )
    return _("Alive."), {"pruned": deleted}


def jobs_watchdog(*, as_of: date | None = None) -> str:
    """The watchdog as a schedule of the cluster (for a setup without the systemd timer): closes
    dead runs and runs missed jobs. Not `logged`: it would watch itself."""
    from workflows.watchdog import watchdog_run

    report = watchdog_run(check_cluster=False)
    return _("Dead runs closed: %(dead)d; missed runs done: %(ran)d; failed: %(failed)d.") % {
        "dead": len(report.dead),
        "ran": len(report.ran),
        "failed": len(report.failed),
    }
