"""Run one registered job now, in this process: `manage.py run_job NAME [--as-of YYYY-MM-DD]`.

For operators (re-run a night's job after a fix) and for debugging; bypasses the queue.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from workflows.schedules import SCHEDULES, job_spec_get


class Command(BaseCommand):
    help = _("Run one scheduled job now and print its result.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name", help=_("job name, e.g. clear_expired_sessions"))
        parser.add_argument(
            "--as-of", dest="as_of", help=_("date the job runs for, YYYY-MM-DD (default: today)")
        )

    def handle(self, *args: Any, name: str, as_of: str | None, **options: Any) -> None:
        spec = job_spec_get(name)
        if spec is None:
            known = ", ".join(s.name for s in SCHEDULES)
            raise CommandError(
                _("Unknown job %(name)s. Known jobs: %(known)s.") % {"name": name, "known": known}
            )
        job = import_string(spec.func)
        self.stdout.write(str(job(as_of=self._parse_date(as_of))))

    def _parse_date(self, value: str | None) -> date:
        if value is None:
            return timezone.localdate()
        try:
            return datetime.strptime(value, "%Y-%m-%d").date()
        except ValueError:
            raise CommandError(
                _("Invalid --as-of %(value)s: expected a date like 2025-03-01.") % {"value": value}
            ) from None
