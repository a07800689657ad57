from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from villages.imports import LEVELS, DivisionImportError, ImportSummary, divisions_import


class Command(BaseCommand):
    help = "Import the statistics-bureau division code list (统计用区划代码) from a CSV file."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="CSV: code,name,level,parent_code,…")

    def handle(self, *args, file: Path, **options):
        if not file.is_file():
            raise CommandError(_("File not found: %(file)s") % {"file": file})
        verbosity = options["verbosity"]
        started = time.perf_counter()
        with tqdm(unit=_("rows"), file=self.stderr._out, disable=verbosity < 1) as bar:
            try:
                summary = divisions_import(path=file, progress=bar)
            except DivisionImportError as exc:
                raise CommandError(
                    _("Nothing was imported.") + "\n" + "\n".join(exc.errors)
                ) from None
        # -v 0 (make demo, the test fixtures) means quiet; errors still raise CommandError.
        if verbosity >= 1:
            self._report(summary, time.perf_counter() - started)

    def _report(self, summary: ImportSummary, elapsed: float) -> None:
        for level in LEVELS:
            counts = {
                "level": level_labels()[level],
                "created": summary.created[level],
                "updated": summary.updated[level],
                "unchanged": summary.unchanged[level],
            }
            if counts["created"] or counts["updated"] or counts["unchanged"]:
                self.stdout.write(
                    _(
                        "%(level)s: %(created)d created, %(updated)d updated, "
                        "%(unchanged)d unchanged"
                    )
                    % counts
                )
        if summary.missing_from_file:
            self.stdout.write(
                _("%(count)d stored villages are not in this file; they were kept.")
                % {"count": summary.missing_from_file}
            )
        if summary.changed_anything:
            self.stdout.write(self.style.SUCCESS(_("Import done in %(s).2f s.") % {"s": elapsed}))
        else:
            self.stdout.write(
                self.style.SUCCESS(_("Nothing changed: the database already matches this file."))
            )


def level_labels() -> dict[str, str]:
    return {
        "county": _("Counties"),
        "town": _("Towns"),
        "village": _("Administrative villages"),
        "natural": _("Natural villages"),
    }
