from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from villages.households import HouseholdImportError, HouseholdImportSummary, households_import


class Command(BaseCommand):
    help = "Import a household ledger (农户台账) from an .xlsx workbook or a CSV file."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="XLSX or CSV: 村代码 (or 乡镇 + 村), 户号, …")

    def handle(self, *args, file: Path, **options):
        if not file.is_file():
            raise CommandError(_("File not found: %(file)s") % {"file": file})
        verbosity = options["verbosity"]
        started = time.perf_counter()
        with tqdm(unit=_("households"), file=self.stderr._out, disable=verbosity < 1) as bar:
            try:
                summary = households_import(path=file, progress=bar)
            except HouseholdImportError as exc:
                raise CommandError(
                    _("Nothing was imported.") + "\n" + "\n".join(exc.errors)
                ) from None
        if verbosity >= 1:
            self._report(summary, time.perf_counter() - started)

    def _report(self, summary: HouseholdImportSummary, elapsed: float) -> None:
        self.stdout.write(
            _(
                "Households: %(created)d created, %(updated)d updated, %(unchanged)d unchanged "
                "in %(villages)d villages"
            )
            % {
                "created": summary.created,
                "updated": summary.updated,
                "unchanged": summary.unchanged,
                "villages": summary.villages,
            }
        )
        if summary.missing_from_file:
            self.stdout.write(
                _(
                    "%(count)d stored households of these villages are not in this file; "
                    "they were kept."
                )
                % {"count": summary.missing_from_file}
            )
        if summary.changed_anything:
            self.stdout.write(self.style.SUCCESS(_("Import done in %(s).2f s.") % {"s": elapsed}))
        else:
            self.stdout.write(
                self.style.SUCCESS(_("Nothing changed: the database already matches this file."))
            )
