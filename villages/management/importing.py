"""What every file importer's command does the same way: check the file, show a progress bar,
turn the importer's line errors into one CommandError (nothing was written), report, time it.

The bar is drawn only once the importer has read the file and set its total: a tqdm bar made
before (as it was) printed "0 rows [00:00, ?rows/s]" first. On a terminal it then moves as the
rows are written; in a log, a pipe or a test, where every redraw would stay on the line, one
summary line is written when the import is over.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TextIO

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm


class ImportProgress:
    """What the importers report to (`total = n`, `refresh()`, `update(n)`, as on a tqdm bar)."""

    def __init__(self, stream: TextIO, *, unit: str, enabled: bool = True):
        self.stream, self.unit, self.enabled = stream, unit, enabled
        self.interactive = enabled and stream.isatty()
        self.n, self._total = 0, None
        self._bar = None
        self._started = time.perf_counter()

    @property
    def total(self) -> int | None:
        return self._total

    @total.setter
    def total(self, value: int | None) -> None:
        self._total = value
        if self._bar is not None:
            self._bar.total = value

    def refresh(self) -> None:
        bar = self._shown()
        if bar is not None:
            bar.refresh()

    def update(self, n: int = 1) -> None:
        self.n += n
        bar = self._shown()
        if bar is not None:
            bar.update(n)

    def _shown(self) -> tqdm | None:
        # Made at the first report, when the importer knows its total.
        if self.interactive and self._bar is None:
            self._bar = tqdm(total=self._total, unit=self.unit, file=self.stream)
        return self._bar

    def close(self, *, summary: bool = True) -> None:
        if self._bar is not None:
            self._bar.close()
        elif summary and self.enabled and (self.n or self._total):
            elapsed = time.perf_counter() - self._started
            line = tqdm.format_meter(self.n, self._total, elapsed, unit=self.unit, ncols=0)
            self.stream.write(line.strip() + "\n")

    def __enter__(self) -> ImportProgress:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        # A refused file says so in its CommandError; no count of rows written before it.
        self.close(summary=exc_type is None)


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
        progress = ImportProgress(
            self.stderr._out, unit=self.progress_unit(), enabled=verbosity >= 1
        )
        with progress as bar:
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
