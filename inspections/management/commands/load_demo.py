"""Load the demo county: real 金乡县 geography plus one demo user per role.

It lives in `inspections`, the most downstream app, because the demo seeds every app and only
this app may import the others. Safe to run again: every step is an upsert.

The demo never touches real data: it refuses a database that holds another county or any
account it did not create (a real county's people, an administrator made by hand), so running
it by mistake against a county's database writes nothing. `make demo` keeps the demo in its
own data directory (var/demo), marked as such by the file DEMO_MARK it writes there.

The demo is for trying the system on one's own computer: it refuses to run with DEBUG=0 (the
production setting), and the superuser it creates gets the demo's known password only inside a
marked demo data directory; anywhere else he gets a one-time password, shown once.

At its end it runs each daily scheduled job once for today, as the cluster does at dawn, so a
fresh demo shows the notices they issue (overdue tickets, late toilet jobs, missed patrols)
instead of waiting for 06:30.
"""

from __future__ import annotations

import functools
import random
import re
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django_q.models import Schedule

from inspections.demo import demo_patrols_seed, demo_site_tickets_seed, demo_sites_seed
from inspections.demo_grading import demo_campaign_seed
from villages.demo import demo_households_seed
from villages.models import County, Membership, Person, Role, Town, Village
from villages.people.services import one_time_password
from workflows.demo import (
    Staff,
    demo_photos,
    demo_rectifications_seed,
    demo_toilet_seed,
)
from workflows.demo_bulletins import demo_bulletins_seed
from workflows.models import Bulletin, RectificationTicket, ToiletTicket
from workflows.schedules import SCHEDULES

FIXTURES = settings.BASE_DIR / "villages" / "fixtures" / "jinxiang"
DEMO_COUNTY = "370828000000"  # 金乡县
DEMO_TOWN = "370828102000"  # 胡集镇
DEMO_PASSWORD = "jinxiang2024"
# The per-town officers and workers the demo adds (zhuangan102, guanhu102, …).
DEMO_STAFF = re.compile(r"(zhuangan|guanhu)[0-9]{3}")
# `make demo` writes this file into its data directory (DEMO_DATA_DIR): the one place where
# the demo administrator may have a password printed in the README.
DEMO_MARK = "DEMO"


def in_demo_directory() -> bool:
    """The database is the embedded SQLite file of a data directory `make demo` marked."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.sqlite3":
        return False
    data_dir = settings.DATA_DIR.resolve()
    return (data_dir / DEMO_MARK).is_file() and data_dir in Path(database["NAME"]).resolve().parents


def demo_users() -> list[dict]:
    """(username, display name, role, town code, village code) of the demo accounts."""
    return [
        {"username": "zhuanban", "name": "县专班·王主任", "role": Role.TASK_FORCE},
        {"username": "xuncha", "name": "巡查员·李明", "role": Role.INSPECTOR},
        {
            "username": "huji",
            "name": "胡集镇专干·张强",
            "role": Role.TOWN_OFFICER,
            "town": DEMO_TOWN,
        },
        {"username": "guanhu", "name": "管护员·赵师傅", "role": Role.SERVICE_WORKER},
        {"username": "cunguan", "name": "村管员·刘芳", "role": Role.VILLAGE_ADMIN, "village": True},
    ]


def demo_refusal() -> str:
    """Why this database must not receive the demo ("" when it may): it holds a county other
    than 金乡县, or an account the demo did not create."""
    other = County.objects.exclude(code=DEMO_COUNTY).first()
    if other is not None:
        return _(
            "This database holds %(county)s: the demo is never loaded into a real county's "
            "database. Run `make demo` (its own data directory, var/demo), or set DATA_DIR to "
            "an empty folder."
        ) % {"county": other.name}
    demo_names = {spec["username"] for spec in demo_users()} | {"admin"}
    for username in get_user_model().objects.values_list("username", flat=True).iterator():
        if username not in demo_names and not DEMO_STAFF.fullmatch(username):
            return _(
                "This database has the account %(username)s, which the demo did not create: "
                "the demo is never loaded next to real people. Run `make demo` (its own data "
                "directory, var/demo), or set DATA_DIR to an empty folder."
            ) % {"username": username}
    return ""


class Command(BaseCommand):
    help = "Load the demo county (金乡县) and demo users. Re-running duplicates nothing."

    def add_arguments(self, parser):
        parser.add_argument("--rectifications", type=int, default=300)
        parser.add_argument("--toilet-tickets", type=int, default=2000)
        parser.add_argument("--households-per-village", type=int, default=8)

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError(
                _(
                    "The demo is for trying the system and runs only with DEBUG=1 (make demo "
                    "sets it); this is a production setup (DEBUG=0), so nothing was loaded."
                )
            )
        refusal = demo_refusal()
        if refusal:
            raise CommandError(refusal)
        verbosity = options["verbosity"]
        call_command("import_divisions", FIXTURES / "divisions_2023.csv", verbosity=verbosity)
        # The published outline is in GCJ-02, as every map published in China; stored as WGS-84.
        call_command(
            "import_boundaries",
            FIXTURES / "county_boundary_gcj02.geojson",
            crs="gcj02",
            level="county",
            verbosity=verbosity,
        )
        with transaction.atomic():
            logins = [self._user(spec) for spec in demo_users()]
            logins.append(self._admin())
            staff = self._staff()
        self._tickets(staff, options)
        self._water_sites(staff)
        self._campaign(staff)
        self._bulletins(staff)
        self._daily_jobs()
        self.stdout.write(
            self.style.SUCCESS(_("Demo logins (password for all: %(pw)s):") % {"pw": DEMO_PASSWORD})
        )
        for username, label in logins:
            self.stdout.write(f"  {username:<10} {label}")

    def _user(self, spec: dict) -> tuple[str, str]:
        user = self._account(spec["username"], spec["name"], staff=False)
        village = None
        if spec.get("village"):
            village = Village.objects.administrative().filter(town_id=DEMO_TOWN).first()
        town = Town.objects.get(code=spec["town"]) if spec.get("town") else None
        Membership.objects.get_or_create(
            user=user, role=spec["role"], county_id=DEMO_COUNTY, town=town, village=village
        )
        where = village.name if village else (town.name if town else _("whole county"))
        return spec["username"], f"{Role(spec['role']).label} · {where}"

    def _staff(self) -> Staff:
        """One town officer and one service worker per town besides the demo logins, so every
        town's tickets move; the demo logins act for 胡集镇."""
        User = get_user_model()
        officers, workers = {}, {}
        for town in Town.objects.filter(county_id=DEMO_COUNTY):
            suffix = town.code[6:9]
            if town.code == DEMO_TOWN:
                officers[town.code] = User.objects.get(username="huji")
                workers[town.code] = User.objects.get(username="guanhu")
                continue
            officer = self._account(f"zhuangan{suffix}", f"{town.name}专干", staff=False)
            Membership.objects.get_or_create(
                user=officer, role=Role.TOWN_OFFICER, county_id=DEMO_COUNTY, town=town
            )
            worker = self._account(f"guanhu{suffix}", f"{town.name}管护员", staff=False)
            Membership.objects.get_or_create(
                user=worker, role=Role.SERVICE_WORKER, county_id=DEMO_COUNTY, town=town
            )
            officers[town.code], workers[town.code] = officer, worker
        return Staff(
            task_force=User.objects.get(username="zhuanban"),
            inspector=User.objects.get(username="xuncha"),
            officers=officers,
            workers=workers,
        )

    def _tickets(self, staff: Staff, options) -> None:
        rng = random.Random(370828)  # the same demo every time
        added = demo_households_seed(per_village=options["households_per_village"], rng=rng)
        self.stdout.write(_("Households: %(n)d added.") % {"n": added})
        if RectificationTicket.objects.exists() or ToiletTicket.objects.exists():
            self.stdout.write(_("Demo tickets already loaded; left as they are."))
            return
        started = time.perf_counter()
        photos = demo_photos(count=40, rng=rng, by=staff.inspector)
        rect = demo_rectifications_seed(
            staff=staff, count=options["rectifications"], rng=rng, photos=photos
        )
        toilet = demo_toilet_seed(
            staff=staff, count=options["toilet_tickets"], rng=rng, photos=photos
        )
        self.stdout.write(
            _("Demo tickets: %(rect)d rectification, %(toilet)d toilet service (%(s).0f s).")
            % {"rect": rect, "toilet": toilet, "s": time.perf_counter() - started}
        )

    def _water_sites(self, staff: Staff) -> None:
        rng = random.Random(133)
        sites = demo_sites_seed(rng=rng, county=DEMO_COUNTY)
        if not sites:
            self.stdout.write(_("Demo water sites already loaded; left as they are."))
            return
        photos = demo_photos(count=12, rng=rng, by=staff.inspector)
        patrols = demo_patrols_seed(
            rng=rng, inspector=staff.inspector, officers=staff.officers, photos=photos
        )
        opened = demo_site_tickets_seed()
        self.stdout.write(
            _("Water sites: %(sites)d, patrols: %(patrols)d, tickets from patrols: %(tickets)d.")
            % {"sites": sites, "patrols": patrols, "tickets": opened}
        )

    def _campaign(self, staff: Staff) -> None:
        # Again: no new version.
        call_command("load_default_checklist", county=DEMO_COUNTY, verbosity=0)
        seeded = demo_campaign_seed(
            rng=random.Random(2024),
            county=DEMO_COUNTY,
            task_force=staff.task_force,
            inspector=staff.inspector,
        )
        if not seeded:
            self.stdout.write(_("Demo campaign already loaded; left as it is."))
            return
        self.stdout.write(
            _("Campaign 2024年村村到: %(n)d assessments in 11 published rounds.")
            % {"n": seeded.get("assessments", 0)}
        )

    def _bulletins(self, staff: Staff) -> None:
        rng = random.Random(18)
        if Bulletin.objects.exists():
            self.stdout.write(_("Demo bulletins already loaded; left as they are."))
            return
        photos = demo_photos(count=8, rng=rng, by=staff.inspector)
        seeded = demo_bulletins_seed(staff=staff, rng=rng, photos=photos)
        self.stdout.write(
            _("Bulletins of 2024: %(bulletins)d issued, %(problems)d problems.") % seeded
        )

    def _daily_jobs(self) -> None:
        """Each daily job of the registry, in the order of the day, through the function the
        schedule calls (so each run is logged as a job run, as the cluster's are); again on a
        second load, they add nothing."""
        today = timezone.localdate()
        self.stdout.write(_("Today's scheduled jobs (%(day)s):") % {"day": today.isoformat()})
        daily = sorted(
            (spec for spec in SCHEDULES if spec.schedule_type == Schedule.DAILY),
            key=lambda spec: spec.at,
        )
        for spec in daily:
            message = import_string(spec.func)(as_of=today)
            self.stdout.write(f"  {spec.name}: {message}")

    def _admin(self) -> tuple[str, str]:
        label = _("system administrator (Django admin)")
        known = in_demo_directory()
        user = self._account("admin", "系统管理员", staff=True, known_password=known)
        if not user.is_superuser:
            user.is_superuser = True
            user.save(update_fields=["is_superuser"])
        if not known and self._one_time:
            # Outside `make demo`'s directory a superuser never has a password anyone can read
            # in the README: a one-time one, shown once, changed at the first page.
            Person.objects.update_or_create(user=user, defaults={"must_change_password": True})
            label = _("%(label)s — one-time password %(password)s, changed at first login") % {
                "label": label,
                "password": self._one_time,
            }
        return "admin", label

    @functools.cache  # noqa: B019 — one command run: hashing once saves ~1 s per account
    def _demo_password(self) -> str:
        return make_password(DEMO_PASSWORD)

    _one_time = ""

    def _account(self, username: str, name: str, *, staff: bool, known_password: bool = True):
        user, created = get_user_model().objects.get_or_create(
            username=username, defaults={"first_name": name, "is_staff": staff}
        )
        if created:
            if known_password:
                user.password = self._demo_password()
            else:
                self._one_time = one_time_password(user)
                user.set_password(self._one_time)
            user.save(update_fields=["password"])
        return user
