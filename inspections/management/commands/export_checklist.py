from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from inspections.grading.checklists import checklist_export
from inspections.management.county import add_county_argument, county_named
from inspections.models import ChecklistTemplate


class Command(BaseCommand):
    help = "Export a checklist version to an .xlsx workbook that import_checklist reads back."

    def add_base_argument(self, parser, *args, **kwargs):
        # --version here is the checklist's, not Django's version number.
        if "--version" not in args:
            super().add_base_argument(parser, *args, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("name", help="the checklist's name, e.g. 村村到检查表")
        parser.add_argument("--version", type=int, help="the version (default: the latest)")
        parser.add_argument("-o", "--output", type=Path, required=True, help="the .xlsx to write")
        add_county_argument(parser)

    def handle(self, *args, name: str, version: int | None, output: Path, **options):
        county = county_named(options["county"])
        versions = ChecklistTemplate.objects.filter(county=county, name=name)
        template = (versions.filter(version=version) if version else versions).first()
        if template is None:
            raise CommandError(_("No checklist “%(name)s” of that version.") % {"name": name})
        output.write_bytes(checklist_export(template=template))
        if options["verbosity"] >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    _("Wrote %(checklist)s to %(file)s.") % {"checklist": template, "file": output}
                )
            )
