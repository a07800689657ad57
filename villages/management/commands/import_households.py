from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext as _

from villages.households import HouseholdImportError, HouseholdImportSummary, households_import
from villages.management.importing import FileImportCommand


class Command(FileImportCommand):
    help = "Import a household ledger (农户台账) from an .xlsx workbook or a CSV file."
    file_help = "XLSX or CSV: 村代码 (or 乡镇 + 村), 户号, …"
    error_class = HouseholdImportError

    def progress_unit(self) -> str:
        return _("households")

    def run_import(self, path: Path, progress) -> HouseholdImportSummary:
        return households_import(path=path, progress=progress)

    def report(self, summary: HouseholdImportSummary) -> None:
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
