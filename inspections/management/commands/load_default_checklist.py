from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from inspections.grading.checklists import (
    DEFAULT_CHECKLIST,
    DEFAULT_NAME,
    ChecklistImportError,
    checklist_import,
    report_lines,
)
from inspections.management.county import add_county_argument, county_named


class Command(BaseCommand):
    help = (
        f"Load the example 100-point checklist ({DEFAULT_NAME}) from "
        "inspections/fixtures/checklist_default.csv, unless its latest version already has "
        "the same items, as the county's own."
    )

    def add_arguments(self, parser):
        add_county_argument(parser)

    def handle(self, *args, **options):
        county = county_named(options["county"])
        try:
            summary = checklist_import(path=DEFAULT_CHECKLIST, name=DEFAULT_NAME, county=county)
        except ChecklistImportError as exc:  # only if the shipped file was broken
            raise CommandError("\n".join(exc.errors)) from None
        if options["verbosity"] >= 1:
            for line in report_lines(summary):
                self.stdout.write(line)
