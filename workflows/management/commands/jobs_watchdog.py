"""`manage.py jobs_watchdog`: close dead job runs, run missed jobs, check the cluster's pulse.

Run it every few minutes from outside the cluster (a systemd timer or cron, README § Production):
a frozen cluster never runs its own schedules. Exit status: 0 all well; 1 a missed job failed
again; 2 the cluster is stale (no heartbeat for CLUSTER_STALE_AFTER) — the service manager's
cue to restart it. workflows/watchdog.py says why.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from workflows.watchdog import CLUSTER_STALE_AFTER, watchdog_run

EXIT_FAILED = 1
EXIT_CLUSTER_STALE = 2


class Command(BaseCommand):
    help = _("Close dead job runs, run missed jobs, and exit 2 when the task cluster is stale.")

    def handle(self, *args: Any, **options: Any) -> None:
        report = watchdog_run()
        for run in report.dead:
            self.stdout.write(_("Dead run closed: %(run)s") % {"run": run})
        for run in report.ran:
            self.stdout.write(_("Missed run done: %(run)s") % {"run": run})
        for name in report.failed:
            self.stderr.write(_("Missed run failed: %(name)s (see the job runs)") % {"name": name})
        cluster = report.cluster
        if cluster is not None and cluster.stale:
            if cluster.last_beat is None:
                why = _("no heartbeat recorded")
            else:
                why = _("last heartbeat %(seconds)d s ago") % {
                    "seconds": cluster.age.total_seconds()
                }
            self.stderr.write(
                _("The task cluster is stale (%(why)s; limit %(limit)d s): restart it.")
                % {"why": why, "limit": CLUSTER_STALE_AFTER.total_seconds()}
            )
            sys.exit(EXIT_CLUSTER_STALE)
        if report.failed:
            sys.exit(EXIT_FAILED)
        self.stdout.write(_("Jobs and cluster are healthy."))
