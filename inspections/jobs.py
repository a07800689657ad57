"""Jobs of the inspections app that django-q2 runs on a schedule (registry:
workflows/schedules.py, which names them by dotted path — workflows never imports them)."""

from __future__ import annotations

from datetime import date

from django.utils import timezone
from django.utils.translation import gettext as _

from inspections.sites.misses import missed_patrols_issue
from workflows.jobs import Outcome, logged


@logged
def issue_missed_patrol_notices(*, as_of: date | None = None) -> Outcome:
    """From the county's reminder day on: sites short of valid patrols this month → a notice
    to their towns, once per site and month. Every day: last month's misses recorded."""
    counts = missed_patrols_issue(as_of=as_of or timezone.localdate())
    message = (
        _(
            "%(reminded)d sites short of patrols in %(documents)d new notices; "
            "%(recorded)d misses of last month recorded."
        )
        % counts
    )
    return message, counts
