"""Health for monitors and for the task force (workflows/watchdog.py reads the same log).

`/healthz` needs no login and shows no data, only states: the database answers, the task broker
answers, the cluster's heartbeat is fresh, no scheduled job is late. 200 when all is well, 503
otherwise — what an uptime checker alerts on. `/healthz/jobs` (jobs.view) shows each job's last
run, its last good run and the cluster's pulse, for the person who acts on the alert.
"""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from django_q.brokers import get_broker

from villages import access
from workflows.jobs import connection_refresh
from workflows.watchdog import CLUSTER_STALE_AFTER, cluster_health, jobs_health

logger = logging.getLogger(__name__)

OK, DOWN, STALE, LATE = "ok", "down", "stale", "late"


def database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        logger.exception("healthz: the database does not answer")
        connection_refresh()
        return DOWN
    return OK


def broker_state() -> str:
    try:
        return OK if get_broker().ping() else DOWN
    except Exception:  # a Redis refusing connections raises its own errors
        logger.exception("healthz: the task broker does not answer")
        return DOWN


def health_states() -> dict[str, str]:
    states = {"database": database_state(), "broker": broker_state()}
    if states["database"] != OK:
        # Cluster and jobs are read from the database: unknown, so not ok.
        return states | {"cluster": DOWN, "jobs": DOWN}
    now = timezone.now()
    states["cluster"] = STALE if cluster_health(now=now).stale else OK
    states["jobs"] = LATE if any(job.missed for job in jobs_health(now=now)) else OK
    return states


@require_safe
def healthz(request):
    states = health_states()
    healthy = all(state == OK for state in states.values())
    response = JsonResponse(
        {"status": OK if healthy else DOWN, **states}, status=200 if healthy else 503
    )
    add_never_cache_headers(response)
    return response


@login_required
@require_safe
def health_jobs(request):
    access.require(request.user, "jobs.view", action=_("see the scheduled job runs"))
    now = timezone.now()
    context = {
        "states": health_states(),
        "cluster": cluster_health(now=now),
        "stale_after": int(CLUSTER_STALE_AFTER.total_seconds()),
        "jobs": jobs_health(now=now),
    }
    return render(request, "workflows/health_jobs.html", context)
