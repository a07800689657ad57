"""Recount the dashboard's rollup tables from the tickets (inspections/reporting/rollups.py).

    manage.py rebuild_rollups

The triggers keep the counts exact; this is for after something that bypassed them (a restore
of the ticket tables alone, triggers dropped by hand) or to check them: one transaction, and
running it again writes the same rows. The migration that created the rollups ran it once.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS
from django.utils.translation import gettext as _

from inspections.reporting import rollups


class Command(BaseCommand):
    help = _("Recount the dashboard's rollup tables from the tickets.")

    def add_arguments(self, parser):
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help=_("database alias"))

    def handle(self, *args, database: str, **options):
        rollups.install(database)  # in case they were dropped: the counts must stay exact after
        rollups.rebuild(database)
        self.stdout.write(_("Rollups rebuilt."))
