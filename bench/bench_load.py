"""A bounded mixed load (issue 8): 50 users scanning, patrolling, reading inbox and dashboard.

Everything but the mix comes from bench_scan: the same gunicorn (4 sync workers on 127.0.0.1,
DEBUG off), its own database (a SQLite file in a scratch DATA_DIR, or with DATABASE_URL a fresh
PostgreSQL database, dropped afterwards) filled by a child process with 金乡县's divisions, 133
water sites with a year of monthly patrols, plus 2,000 rectification tickets over every town.

Users (BENCH_LOAD_USERS, default 50), each with a server-side session: one in five of the county
task force, the others town officers of a town holding water sites (a membership of that town:
their inbox and dashboard are the town's, they scan and patrol its sites only). Each user sends
requests back to back for BENCH_LOAD_SECONDS (default 60), drawing each one from the mix: 40 %
scan page GET, 10 % patrol POST with 3 photos (accepted: answered 303), 30 % ticket inbox GET
/tickets/, 20 % dashboard GET /dashboard/. Then the same users load the logged-in floor view of
bench_scan (routing, middleware, session and user, no query) for a quarter as long, for the
ratio. Latencies are of successful requests; any other status is an error, and errors must be 0
(a row of its own, and the bench raises on any).

Target (the bench's own; issue 8 set none): every kind and the mix ≤ 10× the minimal view under
the same load, at p50 and p99 — on 2 cores, 50 users queue behind the patrol POSTs' photo work.
"""

from __future__ import annotations

import http.client
import io
import math
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from bench_scan import (
    PHOTOS,
    WORKERS,
    Inspector,
    Phase,
    check_stored,
    child,
    child_call,
    create_history,
    create_sites,
    phone_jpeg,
    run_phase,
    server_database,
    server_env,
    session_for,
    start_server,
    stop_server,
)
from common import COUNTY, record

JINXIANG = "370828000000"  # the county the benchmarks build (金乡县)

USERS = int(os.environ.get("BENCH_LOAD_USERS", "50"))
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "60"))
FLOOR_SECONDS = SECONDS / 4
WARM_UP_SECONDS = 1.0
TICKETS = 2_000
TASK_FORCE_EVERY = 5  # user 0, 5, 10, … is of the county task force
MIX = {"scan GET": 40, "patrol POST": 10, "inbox GET": 30, "dashboard GET": 20}
TARGET = 10


def run() -> None:
    with ExitStack() as cleanup:
        workdir = Path(tempfile.mkdtemp(prefix="renju-bench-load-"))
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        env = server_env(workdir)
        database = server_database(env, cleanup)
        started = time.perf_counter()
        data = child_call("prepare", env, __file__)
        photos = [phone_jpeg(n) for n in range(PHOTOS)]
        print(
            f"prepared {len(data['sites'])} sites, {data['history']} earlier patrols, "
            f"{data['tickets']} rectification tickets, {USERS} users ({data['task_force']} task "
            f"force, {USERS - data['task_force']} town officers of {data['towns']} towns) in "
            f"{time.perf_counter() - started:.0f} s"
        )
        server = start_server(env, workdir)
        cleanup.callback(stop_server, server)
        pairs = zip(data["sessions"], data["user_sites"], strict=True)
        users = [
            User(server.port, session, sites, seed=n, photos=photos)
            for n, (session, sites) in enumerate(pairs)
        ]
        busy, began, cpu = os.getloadavg()[0], time.perf_counter(), time.process_time()
        mixed, floor = load(users)
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        print(
            f"gunicorn, {WORKERS} sync workers, DEBUG off, {database}; {USERS} client threads "
            f"on 127.0.0.1 used {cpu:.0f} CPU-s in {elapsed:.0f} s; load average {busy:.1f} "
            f"before, {os.getloadavg()[0]:.1f} after, {os.cpu_count()} CPUs"
        )
        errors = report(users, mixed, floor)
        if errors:
            print("  server log, last lines:\n" + "".join(server.log_tail()))
        stored = check_stored(users, child_call("count", env, __file__), data["history"])
        if errors or not stored:
            raise RuntimeError(f"bench_load: {errors} errors, patrols stored OK: {stored}")


# --- the load ---------------------------------------------------------------------------------


@dataclass
class User(Inspector):
    """An inspector's phone of bench_scan that also opens the inbox and the dashboard, and
    keeps its own figures per kind of request (run_phase only sees the mix)."""

    photos: list[bytes] = field(default_factory=list)
    measuring: bool = False
    kinds: dict[str, Phase] = field(default_factory=dict)

    def inbox_get(self) -> str:
        status, content, _headers = self.send("GET", "/tickets/")
        # The inbox of every user holds open tickets: a page without one shows nothing.
        return "" if status == 200 and b"ZG-" in content else failure_of(status, "/tickets/")

    def dashboard_get(self) -> str:
        return self.expect(200, "GET", "/dashboard/")

    def actions(self) -> dict[str, Callable[[], str]]:
        return {
            "scan GET": self.scan_get,
            "patrol POST": lambda: self.patrol_post(self.photos),
            "inbox GET": self.inbox_get,
            "dashboard GET": self.dashboard_get,
        }

    def mixed(self) -> str:
        """One request drawn from MIX, timed and counted under its kind."""
        kind = self.rng.choices(list(MIX), weights=list(MIX.values()))[0]
        began = time.perf_counter()
        try:
            error = self.actions()[kind]()
        except (OSError, http.client.HTTPException) as failure:
            self.connection.close()
            error = f"{type(failure).__name__}: {failure}"
        if self.measuring:
            phase = self.kinds.setdefault(kind, Phase(kind, [], 0, 0.0))
            if error:
                phase.errors += 1
                phase.first_error = phase.first_error or error
            else:
                phase.latencies_ms.append((time.perf_counter() - began) * 1000)
        return error


def failure_of(status: int, path: str) -> str:
    return f"{status} {path} (no ticket listed)" if status == 200 else f"{status} {path}"


def load(users: list[User]) -> tuple[Phase, Phase]:
    # A scan page first (the CSRF cookie and the form's token), then each kind once unmeasured
    # so every worker has loaded its code.
    run_phase("csrf", users, Inspector.scan_get, 0)
    for kind in MIX:
        run_phase(kind, users, lambda user, kind=kind: user.actions()[kind](), WARM_UP_SECONDS)
    run_phase("floor GET", users, Inspector.floor_get, WARM_UP_SECONDS)
    for user in users:
        user.measuring = True
    mixed = run_phase("mix", users, User.mixed, SECONDS)
    for user in users:
        user.measuring = False
    floor = run_phase("floor GET", users, Inspector.floor_get, FLOOR_SECONDS)
    return mixed, floor


# --- figures ----------------------------------------------------------------------------------


def report(users: list[User], mixed: Phase, floor: Phase) -> int:
    kinds = {kind: Phase(kind, [], 0, mixed.seconds) for kind in MIX}
    for user in users:
        for kind, phase in user.kinds.items():
            kinds[kind].latencies_ms += phase.latencies_ms
            kinds[kind].errors += phase.errors
            kinds[kind].first_error = kinds[kind].first_error or phase.first_error
    mixed.label = "all (mix)"
    rows = [*kinds.values(), mixed, floor]
    columns = ("requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "×p50", "×p95", "×p99")
    print(f"{'':<15}" + "".join(f"{column:>9}" for column in columns))
    for phase in rows:
        done = len(phase.latencies_ms)
        ratios = [phase.percentile(p) / floor.percentile(p) for p in (50, 95, 99)]
        print(
            f"{phase.label:<15}{done:>9}{done / phase.seconds:>9.1f}"
            + "".join(f"{phase.percentile(p):>9.1f}" for p in (50, 95, 99))
            + f"{phase.errors:>9}"
            + "".join(f"{ratio:>8.2f}x" for ratio in ratios)
        )
    rates = [len(phase.latencies_ms) / phase.seconds for phase in (mixed, floor)]
    throughput = rates[0] / rates[1] if rates[1] else math.nan
    print(
        f"{len(users)} users, mix {mixed.seconds:.0f} s, floor {floor.seconds:.0f} s; ×: latency "
        f"against the logged-in floor view under the same load; mix throughput "
        f"{throughput:.2f}x the floor's"
    )
    errors = mixed.errors + floor.errors
    print(f"errors: {errors} ({'OK' if errors == 0 else 'NOT OK: must be 0'})")
    for phase in (mixed, *kinds.values()):
        for p in (50, 99):
            record(
                benchmark=__name__,
                measured=f"{phase.label} p{p}",
                value=phase.percentile(p),
                unit="ms",
                floor=f"logged-in minimal view p{p}",
                floor_value=floor.percentile(p),
                target=TARGET,
                note=f"{len(users)} users, mix {mixed.seconds:.0f} s, same load; {errors} errors",
            )
    record(
        benchmark=__name__,
        measured="errors, mix and floor",
        value=errors,
        unit="",
        floor="none",
        floor_value=math.nan,
        limit=0,
        note=f"{len(mixed.latencies_ms) + len(floor.latencies_ms)} requests answered",
    )
    for phase in rows:
        if phase.first_error:
            print(f"  first error of {phase.label}: {phase.first_error}")
    return errors


# --- inside the child process: the server's database -----------------------------------------


def prepare() -> dict:
    """bench_scan's sites and history, the users of the mix, and tickets for them to read."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from inspections.models import PatrolPolicy
    from villages.models import Membership, Role

    call_command("migrate", interactive=False, verbosity=0)
    divisions = settings.BASE_DIR / "villages/fixtures/jinxiang/divisions_2023.csv"
    call_command("import_divisions", str(divisions), verbosity=0, stdout=io.StringIO())
    rng = random.Random(8)
    sites = create_sites(rng)
    towns = sorted({site.town_id for site in sites})
    memberships, user_sites, users = [], [], []
    for n in range(USERS):
        # No password: sessions are made server-side, and hashing 50 would take seconds.
        user = get_user_model().objects.create_user(f"load{n:02d}", password=None)
        users.append(user)
        if n % TASK_FORCE_EVERY == 0:
            memberships.append(Membership(user=user, role=Role.TASK_FORCE, county_id=COUNTY))
            user_sites.append(sites)
        else:
            town = towns[n % len(towns)]
            memberships.append(
                Membership(user=user, role=Role.TOWN_OFFICER, town_id=town, county_id=COUNTY)
            )
            user_sites.append([site for site in sites if site.town_id == town])
    Membership.objects.bulk_create(memberships)
    history = create_history(rng, sites, users)
    PatrolPolicy.current(JINXIANG)  # the county's defaults: 200 m, photos required
    return {
        "sites": [site.token for site in sites],
        "user_sites": [[[s.token, s.lat, s.lng] for s in mine] for mine in user_sites],
        "sessions": [session_for(user) for user in users],
        "history": history,
        "tickets": create_tickets(rng, sites, users),
        "task_force": len(range(0, USERS, TASK_FORCE_EVERY)),
        "towns": len({m.town_id for m in memberships if m.town_id}),
    }


def create_tickets(rng: random.Random, sites: list, users: list) -> int:
    """Rectification tickets at the sites, most still open, some overdue, numbered ZG-<year>-n."""
    from datetime import timedelta

    from django.utils import timezone

    from workflows.models import RectificationTicket, Source

    today, now = timezone.localdate(), timezone.now()
    states = ["draft", "assigned", "assigned", "assigned", "submitted", "rejected"]
    states += ["extension_requested", "closed", "closed", "cancelled"]
    tickets = []
    for n in range(1, TICKETS + 1):
        site = rng.choice(sites)
        state = rng.choice(states)
        created = now - timedelta(days=rng.randint(0, 365), minutes=rng.randint(0, 1440))
        tickets.append(
            RectificationTicket(
                number=f"ZG-{today.year}-{n:06d}",
                town_id=site.town_id,
                village_id=site.village_id,
                description=rng.choice(["河道岸边堆放生活垃圾", "坑塘漂浮物", "沟渠黑臭"]),
                location_lat=site.lat,
                location_lng=site.lng,
                created_at=created,
                created_by=rng.choice(users),
                state=state,
                source_kind=rng.choice([Source.PATROL, Source.REPORT, Source.BULLETIN]),
                site_label=site.name,
                deadline=None
                if state in ("draft", "cancelled")
                else today + timedelta(days=rng.randint(-30, 30)),
                assigned_at=None if state in ("draft", "cancelled") else created,
                closed_at=created + timedelta(days=10) if state == "closed" else None,
            )
        )
    return len(RectificationTicket.objects.bulk_create(tickets, batch_size=500))


if __name__ == "__main__":
    import sys

    child(sys.argv[1], prepare)
