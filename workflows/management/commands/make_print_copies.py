"""`manage.py make_print_copies`: a print copy for every evidence photo stored before the
pipeline made them (workflows.evidence.services.print_copies_make).

Until a photo has one, PDFs embed its display copy, shrunk while the PDF is made. Safe to run
again, or at the same time as uploads and another run: it only touches photos without a print
copy, and a run stopped half-way continues where it stopped.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from workflows.evidence.services import PRINT_COPY_BATCH, PrintCopyCounts, print_copies_make


class Command(BaseCommand):
    help = _("Make the missing print copies of evidence photos (what PDFs embed).")

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=PRINT_COPY_BATCH,
            help=_("Photos read per query (default %(default)s)."),
        )

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        verbose = options["verbosity"] > 1
        counts = print_copies_make(
            batch_size=max(1, batch_size),
            progress=(lambda counts: self.stdout.write(self._summary(counts))) if verbose else None,
        )
        self.stdout.write(self._summary(counts))

    @staticmethod
    def _summary(counts: PrintCopyCounts) -> str:
        return _(
            "Print copies made: %(made)d; display copy missing or unreadable: %(unreadable)d; "
            "made by another run meanwhile: %(taken)d."
        ) % {"made": counts.made, "unreadable": counts.unreadable, "taken": counts.taken}
