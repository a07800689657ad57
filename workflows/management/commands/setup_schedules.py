"""Write the job registry (workflows/schedules.py) into django-q2's schedules.

Run at every deploy and by `make demo`, after migrate; safe to run any number of times.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from workflows.schedules import SyncResult, schedules_sync


class Command(BaseCommand):
    help = _("Create, update or remove the scheduled jobs so they match the registry.")

    def handle(self, *args: Any, **options: Any) -> None:
        result = schedules_sync()
        for label, names in self._details(result):
            for name in names:
                self.stdout.write(f"  {label}: {name}")
        self.stdout.write(self._summary(result))

    def _details(self, result: SyncResult) -> list[tuple[str, list[str]]]:
        return [
            (_("created"), result.created),
            (_("updated"), result.updated),
            (_("removed"), result.removed),
        ]

    def _summary(self, result: SyncResult) -> str:
        counts = {
            "created": len(result.created),
            "updated": len(result.updated),
            "unchanged": len(result.unchanged),
            "removed": len(result.removed),
        }
        if not result.changed:
            return _("Schedules already up to date (%(unchanged)d unchanged).") % counts
        message = _(
            "Schedules: %(created)d created, %(updated)d updated, "
            "%(unchanged)d unchanged, %(removed)d removed."
        )
        return self.style.SUCCESS(message % counts)
