from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext as _

from villages.imports import LEVELS, DivisionImportError, ImportSummary, divisions_import
from villages.management.importing import FileImportCommand


class Command(FileImportCommand):
    help = (
        "Import the statistics-bureau division code list (统计用区划代码) from an .xlsx workbook "
        "or a CSV file (UTF-8 or GB18030); `import_template divisions` writes a blank one."
    )
    file_help = ".xlsx or CSV: 区划代码 (code), 名称 (name), 级别 (level), 上级代码 (parent_code)"
    error_class = DivisionImportError

    def run_import(self, path: Path, progress) -> ImportSummary:
        return divisions_import(path=path, progress=progress)

    def report(self, summary: ImportSummary) -> None:
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


def level_labels() -> dict[str, str]:
    return {
        "city": _("Cities"),
        "county": _("Counties"),
        "town": _("Towns"),
        "village": _("Administrative villages"),
        "natural": _("Natural villages"),
    }
