from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from villages.boundaries import (
    LEVELS,
    BoundaryImportError,
    BoundaryImportResult,
    FeatureRef,
    boundaries_import,
)


class Command(BaseCommand):
    help = (
        "Import county/town/village boundaries or village points from a GeoJSON, GeoPackage or "
        "Shapefile, matched to the stored divisions by code (or by name)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="GeoJSON, GeoPackage (.gpkg) or Shapefile")
        parser.add_argument("--level", choices=["auto", *LEVELS], default="auto")
        parser.add_argument("--code-field", help="column holding the division code")
        parser.add_argument("--name-field", help="column holding the name (when there is no code)")
        parser.add_argument("--town-field", help="column holding a village's town (name or code)")
        parser.add_argument(
            "--code",
            help="the county, town or village the whole file outlines (510722, 510722101 or 12 "
            "digits), for a file without code or name columns: a bare geometry, a Feature, or "
            "features that are parts of that one division",
        )
        parser.add_argument(
            "--crs", help="gcj02 for AMap/Gaode coordinates, or e.g. EPSG:4527 to override"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="match and report, write nothing"
        )

    def handle(self, *args, file: Path, **options):
        started = time.perf_counter()
        try:
            result = boundaries_import(
                path=file,
                level=options["level"],
                code_field=options["code_field"],
                name_field=options["name_field"],
                town_field=options["town_field"],
                crs=options["crs"],
                code=options["code"],
                dry_run=options["dry_run"],
            )
        except BoundaryImportError as exc:
            raise CommandError(_("Nothing was imported.") + "\n" + str(exc)) from None
        self._report(file, result)
        self._finish(result, time.perf_counter() - started)

    def _report(self, file: Path, result: BoundaryImportResult) -> None:
        self.stdout.write(
            ngettext(
                "%(file)s: %(count)d feature, coordinates in %(crs)s.",
                "%(file)s: %(count)d features, coordinates in %(crs)s.",
                result.features,
            )
            % {"file": file, "count": result.features, "crs": result.source_crs}
        )
        if result.crs_assumed:
            self.stdout.write(
                self.style.WARNING(_("The file declares no CRS; EPSG:4326 (WGS-84) was assumed."))
            )
        columns = [
            _("%(role)s “%(column)s”") % {"role": role, "column": column}
            for role, column in (
                (_("code"), result.code_field),
                (_("name"), result.name_field),
                (_("town"), result.town_field),
            )
            if column
        ]
        if result.unit:
            self.stdout.write(
                _("The whole file outlines %(division)s (--code).") % {"division": result.unit}
            )
        else:
            self.stdout.write(_("Columns used: %(columns)s.") % {"columns": ", ".join(columns)})
        for note in result.notes:
            self.stdout.write(note)
        for level in LEVELS:
            if result.matched[level]:
                self.stdout.write(level_line(level, result))
        self._list(_("Unmatched"), result.unmatched)
        self._list(_("Ambiguous (not imported)"), result.ambiguous)
        self._list(_("Refused geometry"), result.refused)
        self._list(_("Repaired geometry"), result.repaired)

    def _list(self, title: str, refs: list[FeatureRef]) -> None:
        if not refs:
            return
        self.stdout.write(self.style.WARNING(f"{title} ({len(refs)}):"))
        for ref in refs:
            self.stdout.write("  " + feature_line(ref))

    def _finish(self, result: BoundaryImportResult, elapsed: float) -> None:
        if result.dry_run:
            self.stdout.write(self.style.WARNING(_("Dry run: nothing was written.")))
        elif result.changed_anything:
            self.stdout.write(self.style.SUCCESS(_("Import done in %(s).2f s.") % {"s": elapsed}))
        else:
            self.stdout.write(
                self.style.SUCCESS(_("Nothing changed: the database already matches this file."))
            )


def level_line(level: str, result: BoundaryImportResult) -> str:
    labels = {"county": _("Counties"), "town": _("Towns"), "village": _("Villages")}
    values = {
        "level": labels[level],
        "matched": result.matched[level],
        "points": result.points[level],
        "updated": result.updated[level],
        "unchanged": result.unchanged[level],
    }
    if result.points[level]:
        return (
            _(
                "%(level)s: %(matched)d matched (%(points)d as a point only), "
                "%(updated)d updated, %(unchanged)d unchanged"
            )
            % values
        )
    return (
        _("%(level)s: %(matched)d matched, %(updated)d updated, %(unchanged)d unchanged") % values
    )


def feature_line(ref: FeatureRef) -> str:
    what = " ".join(part for part in (ref.code, ref.name) if part) or _("(no code or name)")
    return _("feature #%(index)d %(what)s: %(reason)s") % {
        "index": ref.index,
        "what": what,
        "reason": ref.reason,
    }
