"""What every file importer's command does the same way: check the file, show a progress bar,
turn the importer's line errors into one CommandError (nothing was written), report, time it."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm


class FileImportCommand(BaseCommand):
    file_help = ""
    error_class: type[Exception] = Exception  # has .errors, one message per bad line

    def progress_unit(self) -> str:
        return _("rows")

    def run_import(self, path: Path, progress):
        raise NotImplementedError

    def report(self, summary) -> None:
        raise NotImplementedError

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help=self.file_help)

    def handle(self, *args, file: Path, **options):
        if not file.is_file():
            raise CommandError(_("File not found: %(file)s") % {"file": file})
        verbosity = options["verbosity"]
        started = time.perf_counter()
        with tqdm(unit=self.progress_unit(), file=self.stderr._out, disable=verbosity < 1) as bar:
            try:
                summary = self.run_import(file, bar)
            except self.error_class as exc:
                raise CommandError(
                    _("Nothing was imported.") + "\n" + "\n".join(exc.errors)
                ) from None
        # -v 0 (make demo, the test fixtures) means quiet; errors still raise CommandError.
        if verbosity >= 1:
            self.report(summary)
            self._outcome(summary.changed_anything, time.perf_counter() - started)

    def _outcome(self, changed: bool, elapsed: float) -> None:
        if changed:
            self.stdout.write(self.style.SUCCESS(_("Import done in %(s).2f s.") % {"s": elapsed}))
        else:
            self.stdout.write(
                self.style.SUCCESS(_("Nothing changed: the database already matches this file."))
            )
