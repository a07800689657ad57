"""The dashboard's rollup tables, kept by database triggers, equal the tickets' own aggregates:

- after seeded random sequences of real steps through the services (create, assign, submit,
  close, reject, cancel, extensions; toilet jobs from report to confirmation) mixed with bulk
  writes (bulk_create, queryset.update of dates, states and towns, queryset.delete);
- local months: a ticket opened at 00:00 on 1 June, Beijing time (16:00 UTC on 31 May), counts
  in June; one second earlier, in May;
- rebuild_rollups recounts the same rows, as often as it is run;
- the dashboard and the rankings computed from the rollups equal the numbers computed from the
  tickets (tests/inspections/raw_dashboard.py), for the county and for one town, today and on a
  past day (when later tickets count in the window's last month);
- a trigger lost to a table rebuild (SQLite) is put back, with the counts, after migrate; the
  migration counts the tickets already there; a TRUNCATE (PostgreSQL) empties the counts.

Runs on SQLite and, with DATABASE_URL, on PostgreSQL (statement triggers there).
"""

from __future__ import annotations

import contextlib
import importlib
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.errors import ApplicationError
from inspections.models import (
    ClosedDaysCount,
    ClosedLateCount,
    ClosedMinutesCount,
    RectificationMonthCount,
    RunningDeadlineCount,
    ToiletCount,
)
from inspections.reporting import dashboard, rollups
from tests.factories import make_household, make_user, membership
from tests.inspections.raw_dashboard import (
    MEDIAN_TOLERANCE,
    assert_rollups_exact,
    board_numbers,
    raw_numbers,
    stored_rollups,
)
from tests.workflows.conftest import jpeg_upload
from villages.models import Role, Town
from workflows.evidence.services import evidence_photo_create
from workflows.models import RectificationState, RectificationTicket, ToiletTicket
from workflows.tickets import services

pytestmark = pytest.mark.django_db

TOWNS = 3  # the towns the random tickets are spread over


# --- the random walk ----------------------------------------------------------------------------


class Walk:
    """Random steps over a few towns' tickets, each a real call (a service, or a bulk write as
    an import or a data fix would do). A step the ticket's state refuses is skipped, as the page
    would not offer it."""

    def __init__(self, rng: random.Random, towns: list[Town], task_force, inspector):
        self.rng = rng
        self.towns = towns
        self.task_force = task_force
        self.inspector = inspector
        self.officers = {
            t.code: make_user(f"officer_{t.code}", membership(Role.TOWN_OFFICER, t)) for t in towns
        }
        self.workers = {
            t.code: make_user(f"worker_{t.code}", membership(Role.SERVICE_WORKER, t)) for t in towns
        }
        self.households = [
            make_household(
                t.villages.administrative().order_by("code").first(), number=f"H{t.code}"
            )
            for t in towns
        ]
        self.photo = evidence_photo_create(file=jpeg_upload(), uploaded_by=task_force)
        self.counter = 0

    def deadline(self) -> date:
        return timezone.localdate() + timedelta(days=self.rng.randint(1, 30))

    def ticket(self) -> RectificationTicket | None:
        ids = list(RectificationTicket.objects.values_list("pk", flat=True))
        return RectificationTicket.objects.get(pk=self.rng.choice(ids)) if ids else None

    def toilet(self) -> ToiletTicket | None:
        ids = list(ToiletTicket.objects.values_list("pk", flat=True))
        return ToiletTicket.objects.get(pk=self.rng.choice(ids)) if ids else None

    def step(self) -> None:
        action = self.rng.choice(STEPS)
        with contextlib.suppress(ApplicationError):  # not a step this ticket's state allows
            action(self)

    # Services: rectification tickets.

    def create(self) -> None:
        town = self.rng.choice(self.towns)
        source = self.rng.choice(["patrol", "assessment", "bulletin", "revisit", "report"])
        by = self.task_force if self.rng.random() < 0.5 else self.inspector
        deadline = self.deadline() if by == self.task_force and self.rng.random() < 0.5 else None
        services.rectification_create(
            by=by, town=town, description="沟渠黑臭", source_kind=source, deadline=deadline
        )

    def assign(self) -> None:
        if ticket := self.ticket():
            services.rectification_assign(
                ticket=ticket, by=self.task_force, deadline=self.deadline()
            )

    def submit(self) -> None:
        if ticket := self.ticket():
            officer = self.officers[ticket.town_id]
            services.rectification_submit(
                ticket=ticket, by=officer, note="已清理", photos=[self.photo]
            )

    def close(self) -> None:
        if ticket := self.ticket():
            services.rectification_close(ticket=ticket, by=self.task_force)

    def reject(self) -> None:
        if ticket := self.ticket():
            services.rectification_reject(ticket=ticket, by=self.task_force, reason="未整改到位")

    def cancel(self) -> None:
        if ticket := self.ticket():
            services.rectification_cancel(ticket=ticket, by=self.task_force, reason="重复")

    def request_extension(self) -> None:
        if (ticket := self.ticket()) and ticket.deadline:
            services.rectification_request_extension(
                ticket=ticket,
                by=self.officers[ticket.town_id],
                new_deadline=ticket.deadline + timedelta(days=self.rng.randint(1, 20)),
                reason="雨季",
            )

    def decide_extension(self) -> None:
        if ticket := self.ticket():
            if self.rng.random() < 0.5:
                services.rectification_approve_extension(ticket=ticket, by=self.task_force)
            else:
                services.rectification_refuse_extension(
                    ticket=ticket, by=self.task_force, reason="不批准"
                )

    # Services: toilet tickets.

    def toilet_report(self) -> None:
        household = self.rng.choice(self.households)
        kind = self.rng.choice(["pumping", "repair", "unblocking", "other"])
        services.toilet_report(by=self.task_force, household=household, kind=kind, channel="phone")

    def toilet_step(self) -> None:
        if not (ticket := self.toilet()):
            return
        officer, worker = self.officers[ticket.town_id], self.workers[ticket.town_id]
        step = self.rng.choice(["dispatch", "accept", "start", "complete", "confirm", "cancel"])
        if step == "dispatch":
            services.toilet_dispatch(ticket=ticket, by=officer, worker=worker)
        elif step == "accept":
            services.toilet_accept(ticket=ticket, by=worker)
        elif step == "start":
            services.toilet_start(ticket=ticket, by=worker)
        elif step == "complete":
            services.toilet_complete(
                ticket=ticket,
                by=worker,
                photos=[self.photo],
                volume_m3=Decimal("2"),
                disposal_site="污水处理厂",
                parts_used="无",
            )
        elif step == "confirm":
            services.toilet_confirm(ticket=ticket, by=officer, satisfaction="satisfied")
        else:
            services.toilet_cancel(ticket=ticket, by=officer, reason="重复")

    # Bulk writes: no save(), no signal — only the triggers see them.

    def bulk_create(self) -> None:
        now = timezone.now()
        rows = []
        for _ in range(self.rng.randint(1, 8)):
            self.counter += 1
            created = now - timedelta(days=self.rng.uniform(0, 420))
            state = self.rng.choice(["draft", "assigned", "submitted", "closed", "cancelled"])
            closed = (
                created + timedelta(days=self.rng.uniform(0, 60)) if state == "closed" else None
            )
            rows.append(
                RectificationTicket(
                    number=f"ZG-R-{self.counter:06d}",
                    town=self.rng.choice(self.towns),
                    description="坑塘垃圾",
                    state=state,
                    source_kind=self.rng.choice(["patrol", "report"]),
                    created_at=created,
                    closed_at=min(closed, now) if closed else None,
                    deadline=timezone.localdate(created) + timedelta(days=15)
                    if state not in ("draft", "cancelled")
                    else None,
                )
            )
        RectificationTicket.objects.bulk_create(rows)

    def bulk_update(self) -> None:
        """One column changed on a few tickets at once, the tickets it matters for."""
        change = self.rng.choice(["opened", "closed", "deadline", "town", "state"])
        relevant = {
            "closed": ["closed"],
            "deadline": ["assigned", "rejected", "extension_requested"],
            "state": ["draft"],
        }
        ids = list(
            RectificationTicket.objects.filter(
                state__in=relevant.get(change, [s for s, _label in RectificationState.choices])
            ).values_list("pk", flat=True)
        )
        chosen = self.rng.sample(ids, min(len(ids), self.rng.randint(1, 6)))
        tickets = RectificationTicket.objects.filter(pk__in=chosen)
        if change == "opened":  # a data fix: the tickets were opened earlier
            tickets.update(created_at=F("created_at") - timedelta(days=self.rng.uniform(1, 200)))
        elif change == "closed":
            tickets.update(closed_at=F("closed_at") + timedelta(hours=self.rng.uniform(-30, 30)))
        elif change == "deadline":
            days = self.rng.randint(-40, 40)
            tickets.update(deadline=timezone.localdate() + timedelta(days=days))
        elif change == "town":
            tickets.update(town=self.rng.choice(self.towns))
        else:
            tickets.update(state="assigned", deadline=self.deadline())
        if self.rng.random() < 0.3:
            ToiletTicket.objects.filter(state="reported").update(kind="other")

    def delete(self) -> None:
        ids = list(RectificationTicket.objects.values_list("pk", flat=True))
        chosen = self.rng.sample(ids, min(len(ids), self.rng.randint(1, 3)))
        RectificationTicket.objects.filter(pk__in=chosen).delete()
        if self.rng.random() < 0.3 and (toilet := self.toilet()):
            toilet.delete()


STEPS = (
    [Walk.create] * 6
    + [Walk.assign] * 3
    + [Walk.submit] * 3
    + [Walk.close] * 3
    + [Walk.reject, Walk.cancel, Walk.request_extension, Walk.decide_extension]
    + [Walk.toilet_report] * 2
    + [Walk.toilet_step] * 3
    + [Walk.bulk_create] * 2
    + [Walk.bulk_update] * 2
    + [Walk.delete]
)


@pytest.fixture
def walk(divisions, task_force, inspector):
    def make(seed: int) -> Walk:
        towns = list(Town.objects.order_by("code")[:TOWNS])
        return Walk(random.Random(seed), towns, task_force, inspector)

    return make


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_steps_keep_the_rollups_exact(walk, seed):
    steps = walk(seed)
    for n in range(1, 151):
        steps.step()
        if n % 25 == 0:
            assert_rollups_exact()
    assert RectificationTicket.objects.filter(state="closed").exists()
    assert RunningDeadlineCount.objects.exists() and ToiletCount.objects.exists()
    assert set(ClosedLateCount.objects.values_list("late", flat=True)) == {False, True}


def test_rebuild_is_idempotent_and_equals_what_the_triggers_kept(walk):
    steps = walk(3)
    for _ in range(80):
        steps.step()
    kept = stored_rollups()
    call_command("rebuild_rollups", verbosity=0)
    rebuilt = stored_rollups()
    call_command("rebuild_rollups", verbosity=0)
    assert stored_rollups() == rebuilt == kept
    assert_rollups_exact()


def test_rebuild_repairs_counts_that_drifted(walk):
    steps = walk(4)
    for _ in range(40):
        steps.step()
    kept = stored_rollups()
    RectificationMonthCount.objects.update(n=F("n") + 5)
    ClosedMinutesCount.objects.all().delete()
    call_command("rebuild_rollups", verbosity=0)
    assert stored_rollups() == kept


# --- local months -------------------------------------------------------------------------------


def test_months_are_local_months(huji):
    last_of_may = datetime(2025, 5, 31, 15, 59, 59, tzinfo=UTC)  # 23:59:59 in Beijing
    first_of_june = datetime(2025, 5, 31, 16, 0, tzinfo=UTC)  # 00:00 on 1 June in Beijing
    RectificationTicket.objects.bulk_create(
        [
            RectificationTicket(
                number="ZG-M-1", town=huji, description="x", created_at=last_of_may
            ),
            RectificationTicket(
                number="ZG-M-2",
                town=huji,
                description="x",
                state="closed",
                created_at=first_of_june - timedelta(days=40),
                closed_at=first_of_june,
                deadline=date(2025, 5, 1),
            ),
            RectificationTicket(
                number="ZG-M-3", town=huji, description="x", created_at=first_of_june
            ),
        ]
    )
    opened = sorted(RectificationMonthCount.objects.values_list("month", "state", "n"))
    assert opened == [
        (date(2025, 4, 1), "closed", 1),
        (date(2025, 5, 1), "draft", 1),
        (date(2025, 6, 1), "draft", 1),
    ]
    assert list(ClosedDaysCount.objects.values_list("month", "days", "n")) == [
        (date(2025, 6, 1), 40, 1)
    ]
    assert list(ClosedMinutesCount.objects.values_list("month", "hours", "minutes", "n")) == [
        (date(2025, 6, 1), 40 * 24, 40 * 1440, 1)
    ]


def test_late_is_told_by_the_local_day_of_closing(huji):
    """The deadline is a local day: closed at 23:30 in Beijing on it is on time, at 00:10 the
    next day late — both the same UTC day."""
    deadline = date(2025, 5, 1)
    on_its_day = datetime(2025, 5, 1, 15, 30, tzinfo=UTC)  # 23:30 on 1 May in Beijing
    next_day = datetime(2025, 5, 1, 16, 10, tzinfo=UTC)  # 00:10 on 2 May in Beijing
    RectificationTicket.objects.bulk_create(
        RectificationTicket(
            number=f"ZG-L-{n}",
            town=huji,
            description="x",
            state="closed",
            created_at=closed - timedelta(days=20),
            closed_at=closed,
            deadline=due,
        )
        for n, (closed, due) in enumerate(
            [(on_its_day, deadline), (next_day, deadline), (next_day, date(2025, 5, 2))]
        )
    )
    assert sorted(ClosedLateCount.objects.values_list("month", "late", "n")) == [
        (date(2025, 5, 1), False, 2),
        (date(2025, 5, 1), True, 1),
    ]
    # Moving the deadline a day later makes the late one on time (an UPDATE moves the counts).
    RectificationTicket.objects.filter(number="ZG-L-1").update(deadline=date(2025, 5, 2))
    assert list(ClosedLateCount.objects.values_list("late", "n")) == [(False, 3)]
    assert_rollups_exact()


# --- the dashboard from the rollups -------------------------------------------------------------


def assert_same_numbers(board: dashboard.Dashboard, scope, as_of: date) -> None:
    raw, shown = raw_numbers(scope, as_of=as_of), board_numbers(board)
    for name in ("by_state", "by_source", "toilet_state", "toilet_kind", "opened", "closed"):
        assert getattr(shown, name) == getattr(raw, name), name
    assert shown.towns.keys() == raw.towns.keys()
    for town, numbers in raw.towns.items():
        assert shown.towns[town][:7] == numbers[:7], town
        # The middle minute's midpoint: within half a minute of the exact median (a page shows
        # tenths of a day, 144 minutes).
        median = shown.towns[town][7]
        expected = None if numbers[7] is None else pytest.approx(numbers[7], abs=MEDIAN_TOLERANCE)
        assert median == expected


@pytest.mark.parametrize("seed", [5, 6])
def test_the_dashboard_equals_the_tickets_own_numbers(walk, task_force, seed):
    steps = walk(seed)
    for _ in range(120):
        steps.step()
    town = steps.towns[0]
    one_town = dashboard.DashboardScope(county_wide=False, town_codes=(town.code,))
    today = timezone.localdate()
    for as_of in (today, today - timedelta(days=75)):
        for scope in (dashboard.COUNTY, one_town):
            board = dashboard.county_dashboard(user=task_force, scope=scope, as_of=as_of)
            assert_same_numbers(board, scope, as_of)


def closed_after(durations: dict[Town, list[timedelta]]) -> None:
    closed = timezone.now() - timedelta(days=1)
    RectificationTicket.objects.bulk_create(
        RectificationTicket(
            number=f"ZG-D-{town.code[-6:]}-{i}",
            town=town,
            description="x",
            state="closed",
            created_at=closed - duration,
            closed_at=closed,
            deadline=timezone.localdate(),
        )
        for town, values in durations.items()
        for i, duration in enumerate(values)
    )


def medians_now() -> dict[str, tuple[float, int]]:
    return dashboard.median_days_by_town(
        dashboard.COUNTY, dashboard.window_months(timezone.localdate())
    )


def test_many_tickets_in_the_middle_day_give_the_median_to_the_minute(huji, jishu):
    """Durations that share whole days: the median is the middle ticket's minute, not its day's;
    for an even count the two middle ones may sit in different days."""
    hours = {huji: [30, 31.5, 33, 47.01, 49, 50, 75], jishu: [47.5, 48.5, 10, 100]}
    closed_after({town: [timedelta(hours=h) for h in values] for town, values in hours.items()})
    medians = medians_now()
    # 47.01 h is 2820 whole minutes (and 36 s): the minute's midpoint, 2820.5 min.
    assert medians[huji.code] == (pytest.approx(2820.5 / 1440), 7)
    assert medians[jishu.code] == (pytest.approx(48 / 24, abs=MEDIAN_TOLERANCE), 4)


def test_the_middle_hour_is_told_apart_to_the_minute(huji, jishu):
    """Tickets that share the middle hour (and its day): the minutes within it decide."""
    minutes = {huji: [1.2, 5.7, 12.3, 40.1, 59.9], jishu: [3.5, 3.9, 7.25, 58]}
    closed_after(
        {town: [timedelta(hours=47, minutes=m) for m in values] for town, values in minutes.items()}
    )
    medians = medians_now()
    assert medians[huji.code] == (pytest.approx((47 * 60 + 12.5) / 1440), 5)
    # The mean of the middle two, 3.9 and 7.25 min: of their minutes' midpoints, 3.5 and 7.5.
    assert medians[jishu.code] == (pytest.approx((47 * 60 + 5.5) / 1440), 4)
    for town, values in minutes.items():
        exact = dashboard.median([(47 * 60 + m) / 1440 for m in values])
        assert abs(medians[town.code][0] - exact) <= MEDIAN_TOLERANCE


def test_the_rankings_read_the_same_numbers(walk, task_force):
    steps = walk(7)
    for _ in range(100):
        steps.step()
    today = timezone.localdate()
    rankings = dashboard.town_rankings(scope=dashboard.COUNTY)
    raw = raw_numbers(dashboard.COUNTY, as_of=today)
    for row in rankings.rows:
        numbers = raw.towns.get(row.stats.town.code)
        if numbers is None:
            assert (row.stats.opened, row.stats.overdue) == (0, 0)
            continue
        assert (row.stats.overdue, row.stats.opened, row.stats.window_closed) == (
            numbers[2],
            numbers[3],
            numbers[4],
        )
        assert row.stats.window_open == numbers[5]


def test_overdue_is_the_rule_of_the_ticket_list(walk):
    """The rollup repeats rectification_overdue in SQL: both select the same tickets' towns on
    days before, on and after the deadlines."""
    steps = walk(8)
    for _ in range(80):
        steps.step()
    RectificationTicket.objects.filter(state="assigned").update(
        deadline=timezone.localdate() - timedelta(days=3)
    )
    today = timezone.localdate()
    for as_of in (
        today - timedelta(days=4),
        today - timedelta(days=3),
        today,
        today + timedelta(days=40),
    ):
        overdue = RectificationTicket.objects.overdue(as_of=as_of).order_by()
        raw = dict(overdue.values_list("town_id").annotate(n=Count("pk")))
        assert dashboard.overdue_by_town(dashboard.COUNTY, as_of=as_of) == raw, as_of


# --- the triggers themselves --------------------------------------------------------------------


def test_lost_triggers_come_back_with_their_counts_after_migrate(huji):
    rollups.uninstall()
    RectificationTicket.objects.create(number="ZG-L-1", town=huji, description="x")
    assert not RectificationMonthCount.objects.exists()  # unseen without the triggers
    assert rollups.ensure_installed() is True
    assert rollups.ensure_installed() is False  # nothing missing now
    assert_rollups_exact()
    RectificationTicket.objects.create(number="ZG-L-2", town=huji, description="x")
    assert RectificationMonthCount.objects.get().n == 2


def test_the_triggers_exist_for_this_database():
    assert rollups.trigger_names(connection.vendor) <= rollups.installed_triggers()


def test_the_migration_counts_the_tickets_already_there(huji):
    """The migration installs the triggers and counts what the tickets table holds then."""
    rollups.uninstall()
    RectificationTicket.objects.bulk_create(
        RectificationTicket(number=f"ZG-E-{i}", town=huji, description="x") for i in range(3)
    )
    migration = importlib.import_module("inspections.migrations.0009_closed_late")
    migration.install_and_count(None, SimpleNamespace(connection=connection))
    assert RectificationMonthCount.objects.get().n == 3
    assert_rollups_exact()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE triggers: PostgreSQL")
def test_a_truncated_ticket_table_takes_its_counts_along(walk):
    steps = walk(9)
    for _ in range(30):
        steps.step()
    assert RectificationMonthCount.objects.exists()
    with connection.cursor() as cursor:
        # The test's transaction holds deferred foreign-key checks, which TRUNCATE refuses.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"TRUNCATE {rollups.RECT_TABLE}, {rollups.TOILET_TABLE} CASCADE")
    assert_rollups_exact()
    assert not RectificationMonthCount.objects.exists() and not ToiletCount.objects.exists()


def test_a_town_officers_dashboard_reads_his_towns_rows_only(walk, hj_officer, huji):
    steps = walk(10)
    for _ in range(30):
        steps.step()
    scope = dashboard.dashboard_scope(hj_officer)
    with CaptureQueriesContext(connection) as queries:
        dashboard.county_dashboard(user=hj_officer, scope=scope)
    read = [q["sql"] for q in queries.captured_queries if "rollup_" in q["sql"]]
    assert len(read) == 6  # counts, overdue, toilet, opened, closed, median
    for sql in read:
        assert huji.code in sql, sql
