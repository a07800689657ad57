from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext as _

from villages.management.importing import FileImportCommand
from villages.people.roster import StaffImportError, StaffImportSummary, staff_import


class Command(FileImportCommand):
    help = (
        "Import the staff roster (花名册) from an .xlsx workbook or a CSV file: people, their "
        "roles and jurisdictions. New people's one-time passwords are printed once."
    )
    file_help = ".xlsx or CSV: 姓名 (name), 手机号 (phone), 用户名 (username), 角色 (role), …"
    error_class = StaffImportError

    def progress_unit(self) -> str:
        return _("people")

    def handle(self, *args, **options):
        self._summary = None
        super().handle(*args, **options)
        if options["verbosity"] < 1 and self._summary is not None:
            self._passwords(self._summary)  # quiet or not, they are printed: the only time

    def run_import(self, path: Path, progress) -> StaffImportSummary:
        # The command line answers to whoever runs the server: no actor, no rank check.
        self._summary = staff_import(path=path, progress=progress)
        return self._summary

    def report(self, summary: StaffImportSummary) -> None:
        self.stdout.write(
            _(
                "People: %(created)d added, %(roles)d with changed roles, %(details)d with a "
                "changed name or number, %(unchanged)d unchanged"
            )
            % {
                "created": summary.created,
                "roles": summary.roles_changed,
                "details": summary.details_changed,
                "unchanged": summary.unchanged,
            }
        )
        self._passwords(summary)

    def _passwords(self, summary: StaffImportSummary) -> None:
        if summary.passwords:
            self.stdout.write(
                _(
                    "One-time passwords (shown only now, stored nowhere in clear; each person "
                    "must choose their own at the first login):"
                )
            )
            for name, username, password in summary.passwords:
                self.stdout.write(f"  {name}\t{username}\t{password}")
