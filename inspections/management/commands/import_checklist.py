from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext as _

from inspections.grading.checklists import (
    ChecklistImportError,
    ChecklistImportSummary,
    checklist_import,
    report_lines,
)
from inspections.management.county import add_county_argument, county_named
from villages.management.importing import FileImportCommand


class Command(FileImportCommand):
    help = (
        "Import a checklist (检查评分表) from an .xlsx workbook or a CSV file as a new version of "
        "the county's NAME; a file equal to the latest version changes nothing."
    )
    file_help = "XLSX or CSV: 编号, 维度, 检查内容, 分值, 每处扣分, 扣分上限, 需照片, 一票否决"
    error_class = ChecklistImportError

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--name", required=True, help="the checklist's name, e.g. 村村到检查表")
        parser.add_argument("--note", default="", help="a note kept with the new version")
        add_county_argument(parser)

    def handle(self, *args, name: str, note: str, county: str | None, **options):
        self.name, self.note, self.county = name, note, county_named(county)
        super().handle(*args, **options)

    def progress_unit(self) -> str:
        return _("items")

    def run_import(self, path: Path, progress) -> ChecklistImportSummary:
        summary = checklist_import(path=path, name=self.name, county=self.county, note=self.note)
        progress.total = summary.items
        progress.update(summary.items)
        return summary

    def report(self, summary: ChecklistImportSummary) -> None:
        for line in report_lines(summary):
            self.stdout.write(line)
