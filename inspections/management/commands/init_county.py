"""Go-live from an empty database: the county, its first task-force account, and what every
county starts with (README § Going live); a second county of the city goes live in the same
database the same way, with defaults of its own.

    manage.py init_county --divisions 三台县区划.xlsx --outline 三台县.geojson --crs gcj02 \\
        --admin wangfang --admin-name 王芳

One transaction: the division list (any file `import_divisions` takes), the county's outline if
given (a bare geometry is fine: it is told the county's code), the default checklist, the
patrol and grading policies, the scheduled jobs, and the first task-force account with a
one-time password printed once (changed at first login). Everyone else is added by that account
on the people pages (/people/). It lives in `inspections`, the most downstream app, because it
seeds every app. Running it again changes nothing and makes no second account.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import ApplicationError, Conflict
from core.tables import TableImportError
from inspections.models import GradingPolicy, PatrolPolicy
from villages.boundaries import BoundaryImportError, boundaries_import
from villages.imports import DivisionImportError, divisions_import
from villages.models import County
from villages.people.services import first_task_force_create


class Command(BaseCommand):
    help = _("Set up a county from an empty database: divisions, outline, first account.")

    def add_arguments(self, parser):
        parser.add_argument("--divisions", type=Path, required=True, help=_("division list"))
        parser.add_argument("--outline", type=Path, help=_("the county's outline (GeoJSON…)"))
        parser.add_argument("--crs", help=_("coordinates of the outline, e.g. gcj02"))
        parser.add_argument("--admin", required=True, help=_("user name of the first account"))
        parser.add_argument("--admin-name", default="", help=_("that person's name"))
        parser.add_argument("--admin-phone", default="", help=_("that person's mobile number"))

    def handle(self, *args, **options):
        try:
            with transaction.atomic():
                county = self._geography(options)
                self._defaults(county)
                password = self._first_account(options, county)
        except (DivisionImportError, BoundaryImportError, TableImportError) as exc:
            raise CommandError(_("Nothing was set up.") + "\n" + str(exc)) from None
        except ApplicationError as exc:
            raise CommandError(_("Nothing was set up.") + "\n" + exc.message) from None
        self._report(county, options["admin"], password)

    def _geography(self, options) -> County:
        summary = divisions_import(path=options["divisions"])
        if len(summary.counties) != 1:
            raise ApplicationError(
                _("The division list must hold one county; it holds %(count)d.")
                % {"count": len(summary.counties)}
            )
        # Another county already here is fine: one deployment serves the counties of a city,
        # each with its own defaults and accounts (the tenant).
        county = County.objects.get(code=summary.counties[0])
        counts = (summary.created, summary.updated, summary.unchanged)
        total = sum(sum(counter.values()) for counter in counts)
        self.stdout.write(
            _("%(county)s: %(created)d divisions created, %(total)d in the file.")
            % {"county": county.name, "created": sum(summary.created.values()), "total": total}
        )
        if options["outline"]:
            boundaries_import(path=options["outline"], crs=options["crs"], code=county.code)
            self.stdout.write(_("Outline stored for %(county)s.") % {"county": county.name})
        return county

    def _defaults(self, county: County) -> None:
        """The county's own checklist and policies (another county's are not shared)."""
        call_command("load_default_checklist", county=county.code, verbosity=0)
        PatrolPolicy.current(county)
        GradingPolicy.current(county)
        call_command("setup_schedules", verbosity=0, stdout=self.stdout)

    def _first_account(self, options, county: County) -> str:
        name = options["admin_name"] or options["admin"]
        try:
            _user, password = first_task_force_create(
                name=name,
                username=options["admin"],
                phone=options["admin_phone"],
                county=county.code,
            )
        except Conflict as exc:  # run again: the county has its account already
            self.stdout.write(exc.message)
            return ""
        return password

    def _report(self, county: County, username: str, password: str) -> None:
        self.stdout.write(self.style.SUCCESS(_("%(county)s is set up.") % {"county": county}))
        if password:
            self.stdout.write(
                _(
                    "First task-force account: %(username)s, one-time password %(password)s "
                    "(shown only now; it must be changed at the first login)."
                )
                % {"username": username, "password": password}
            )
        self.stdout.write(
            _(
                "Next: log in, then add people and give them roles on /people/ (or import the "
                "staff roster there)."
            )
        )
