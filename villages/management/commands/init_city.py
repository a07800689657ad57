"""A city's first supervisor (市级督导, issue 20; README § A city of counties).

    manage.py init_city --city 370800000000 --city-name 济宁市 --admin zhanghua --admin-name 张华

The city's counties are set up first (init_county, or import_divisions for each further county).
The supervisor reads every county of the city, never writes; his one-time password is printed
once (changed at first login). The city's row is made with --city-name when the division list's
city row was not imported. Running it again changes nothing and makes no second account: later
supervisors of the city are given by a superuser in the Django admin, audited there.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import ApplicationError, Conflict
from villages.people.services import first_city_supervisor_create


class Command(BaseCommand):
    help = _("Give a city its first city supervisor (市级督导).")

    def add_arguments(self, parser):
        parser.add_argument("--city", required=True, help=_("the city's code, e.g. 370800000000"))
        parser.add_argument("--city-name", default="", help=_("the city's name, e.g. 济宁市"))
        parser.add_argument("--admin", required=True, help=_("user name of the first account"))
        parser.add_argument("--admin-name", default="", help=_("that person's name"))
        parser.add_argument("--admin-phone", default="", help=_("that person's mobile number"))

    def handle(self, *args, **options):
        try:
            with transaction.atomic():
                user, password = first_city_supervisor_create(
                    city=options["city"],
                    city_name=options["city_name"],
                    name=options["admin_name"] or options["admin"],
                    username=options["admin"],
                    phone=options["admin_phone"],
                )
        except Conflict as exc:  # run again: the city has its supervisor already
            self.stdout.write(exc.message)
            return
        except ApplicationError as exc:
            raise CommandError(_("Nothing was set up.") + "\n" + exc.message) from None
        city = user.memberships.get().city
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "City supervisor of %(city)s: %(username)s, one-time password %(password)s "
                    "(shown only now; it must be changed at the first login)."
                )
                % {"city": city.name, "username": user.username, "password": password}
            )
        )
