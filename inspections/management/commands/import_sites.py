from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from inspections.sites.imports import (
    CRS_CHOICES,
    WGS84,
    WaterSiteImportError,
    WaterSiteImportSummary,
    water_sites_import,
)
from villages.management.importing import FileImportCommand


class Command(FileImportCommand):
    help = "Import the water-site register (黑臭水体清单) from an .xlsx workbook or a CSV file."
    file_help = "XLSX or CSV: 编号, 名称, 乡镇, 行政村, 类型, 经度, 纬度, 县级/镇级/村级责任人, …"
    error_class = WaterSiteImportError

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--crs",
            type=str.lower,
            choices=CRS_CHOICES,
            default=WGS84,
            help="coordinates of rows without a 坐标系 cell: wgs84 (GPS, 天地图; the default) "
            "or gcj02 (AMap/Gaode, Tencent maps), converted to WGS-84",
        )

    def handle(self, *args, crs: str, **options):
        self.crs = crs
        super().handle(*args, **options)

    def progress_unit(self) -> str:
        return _("sites")

    def run_import(self, path: Path, progress) -> WaterSiteImportSummary:
        return water_sites_import(path=path, crs=self.crs, progress=progress)

    def report(self, summary: WaterSiteImportSummary) -> None:
        self.stdout.write(
            _("Water sites: %(created)d created, %(updated)d updated, %(unchanged)d unchanged")
            % {
                "created": summary.created,
                "updated": summary.updated,
                "unchanged": summary.unchanged,
            }
        )
        if summary.converted:
            self.stdout.write(
                ngettext(
                    "%(count)d position was given in GCJ-02 and converted to WGS-84.",
                    "%(count)d positions were given in GCJ-02 and converted to WGS-84.",
                    summary.converted,
                )
                % {"count": summary.converted}
            )
        if summary.missing_from_file:
            self.stdout.write(
                ngettext(
                    "%(count)d stored water site is not in this file; it was kept "
                    "(a site leaves the register by 移出清单, not by an import).",
                    "%(count)d stored water sites are not in this file; they were kept "
                    "(a site leaves the register by 移出清单, not by an import).",
                    summary.missing_from_file,
                )
                % {"count": summary.missing_from_file}
            )
