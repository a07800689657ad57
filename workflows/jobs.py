"""Jobs django-q2 runs on a schedule (registry: workflows/schedules.py).

Each job is a thin function: it calls a service or a management command and returns a short
summary that django-q2 stores on the Task row and `manage.py run_job` prints.

Every job takes a keyword-only `as_of` date (default: today in Asia/Shanghai), even when it does
not need it, so the scheduler, `run_job --as-of` and tests call all jobs the same way. The cluster
runs with catch_up=False: a job missed while the cluster was down runs once, with today's date,
and must catch up on everything up to that date by itself.
"""

from __future__ import annotations

from datetime import date

from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def clear_expired_sessions(*, as_of: date | None = None) -> str:
    """Delete expired sessions; with DB-backed sessions nothing else ever removes them."""
    # as_of is unused: a session row carries its own expiry instant.
    before = Session.objects.count()
    call_command("clearsessions")
    # Logins during the command add rows, so the difference may undercount; never below zero.
    deleted = max(before - Session.objects.count(), 0)
    return ngettext(
        "Deleted %(count)d expired session.",
        "Deleted %(count)d expired sessions.",
        deleted,
    ) % {"count": deleted}


def optimize_database(*, as_of: date | None = None) -> str:
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
