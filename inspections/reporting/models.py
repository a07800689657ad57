"""Rollup tables of the dashboard and the rankings: ticket counts kept exact by database triggers.

Each table is the count of tickets per key that the dashboard used to compute by scanning every
ticket (see inspections/reporting/dashboard.py for what reads them). The triggers installed by
inspections/reporting/rollups.py move a count on every INSERT, UPDATE and DELETE of a ticket —
bulk_create and queryset.update() included, which is why triggers and not signals — and
`manage.py rebuild_rollups` recomputes them from the tickets. A count that falls to zero loses
its row, so the tables hold exactly the rows a rebuild would write.

They live in inspections (as `inspections.*` models, in the reporting sub-package that reads
them) because workflows, upstream, must not know what the reports need: the triggers watch
workflows' tables from here. The town is a plain foreign key without a database constraint: the
rows are derived data, written by triggers, and a town that still has tickets cannot be deleted
anyway (the tickets protect it).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from core.indexes import CoveringIndex
from villages.models import Town


def _town():
    return models.ForeignKey(
        Town,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # each table's key (or index) starts with the town
        related_name="+",
    )


def _zero_rows(name: str) -> models.Index:
    # The triggers' `DELETE … WHERE n = 0` after each change: only the rows just brought to zero.
    return models.Index(fields=["n"], condition=Q(n=0), name=name)


def _covering(name: str, *fields: str) -> models.Index:
    # A town's rows summed over every month (the city dashboard, a county's open and overdue
    # counts, the ticket list's counts per state) read from the index alone: the count rides in
    # it (INCLUDE on PostgreSQL, the key's last column on SQLite).
    return CoveringIndex(fields=list(fields), include=["n"], name=name)


class RectificationMonthCount(models.Model):
    """Rectification tickets per town × local month of opening × state × source.

    Answers the counts by state and source (all months), the open tickets per town, and per
    town and month of the 12-month window the tickets opened, closed and still open."""

    town = _town()
    month = models.DateField()  # first day of the local (TIME_ZONE) month of created_at
    state = models.CharField(max_length=24)
    source_kind = models.CharField(max_length=16)
    n = models.IntegerField()

    class Meta:
        db_table = "rollup_rect_month"
        constraints = [
            models.UniqueConstraint(
                fields=["town", "month", "state", "source_kind"], name="rollup_rect_month_key"
            )
        ]
        indexes = [
            _zero_rows("rollup_rect_month_zero"),
            # The open tickets of a city's or county's towns: their open states' rows, index
            # only (PostgreSQL; a scan of every row took 77 ms at 865k rows, this 6 ms).
            _covering("rollup_rect_month_open", "town", "state"),
        ]

    def __str__(self) -> str:
        return f"{self.town_id} {self.month:%Y-%m} {self.state} {self.source_kind}: {self.n}"


class ClosedDaysCount(models.Model):
    """Closed rectification tickets per town × local month of closing × whole days to close.

    The closed-per-month trend, and the histogram the median time to close is located in: the
    day bucket holding each town's middle ticket(s) (then ClosedHoursCount, ClosedMinutesCount).
    Whole days, hours and minutes are the duration's floor (rollups.py), so each bucket is the
    exact union of the finer buckets under it."""

    town = _town()
    month = models.DateField()  # first day of the local month of closed_at
    days = models.IntegerField()  # the days to close, rounded down to whole days
    n = models.IntegerField()

    class Meta:
        db_table = "rollup_closed_days"
        constraints = [
            models.UniqueConstraint(fields=["town", "month", "days"], name="rollup_closed_days_key")
        ]
        indexes = [_zero_rows("rollup_closed_days_zero")]

    def __str__(self) -> str:
        return f"{self.town_id} {self.month:%Y-%m} {self.days} d: {self.n}"


class ClosedHoursCount(models.Model):
    """The same closed tickets per town × month of closing × whole days × whole hours to close:
    within the day bucket holding a town's middle ticket(s), the hour holding them (at most 24
    buckets a month)."""

    town = _town()
    month = models.DateField()
    days = models.IntegerField()
    hours = models.IntegerField()  # the hours to close, rounded down (days * 24 ≤ hours)
    n = models.IntegerField()

    class Meta:
        db_table = "rollup_closed_hours"
        constraints = [
            # Key and index of the median's second step: a town's day bucket, by hour.
            models.UniqueConstraint(
                fields=["town", "days", "hours", "month"], name="rollup_closed_hours_key"
            )
        ]
        indexes = [_zero_rows("rollup_closed_hours_zero")]

    def __str__(self) -> str:
        return f"{self.town_id} {self.month:%Y-%m} {self.hours} h: {self.n}"


class ClosedMinutesCount(models.Model):
    """The same closed tickets per town × month of closing × whole hours × whole minutes to
    close: within the hour bucket holding a town's middle ticket(s), the minute holding them (at
    most 60 buckets a month). The median is that minute — exact to the minute, read from
    counts only, however many tickets closed."""

    town = _town()
    month = models.DateField()
    hours = models.IntegerField()
    minutes = models.IntegerField()  # the minutes to close, rounded down (hours * 60 ≤ minutes)
    n = models.IntegerField()

    class Meta:
        db_table = "rollup_closed_minutes"
        constraints = [
            # Key and index of the median's last step: a town's hour bucket, by minute.
            models.UniqueConstraint(
                fields=["town", "hours", "minutes", "month"], name="rollup_closed_minutes_key"
            )
        ]
        indexes = [_zero_rows("rollup_closed_minutes_zero")]

    def __str__(self) -> str:
        return f"{self.town_id} {self.month:%Y-%m} {self.minutes} min: {self.n}"


class ClosedLateCount(models.Model):
    """Closed rectification tickets per town × local month of closing × late: closed on a local
    day after the deadline (a ticket without a deadline is never late, as it is never overdue).
    The city dashboard's tickets closed on time and late, county by county."""

    town = _town()
    month = models.DateField()  # first day of the local month of closed_at
    late = models.BooleanField()
    n = models.IntegerField()

    class Meta:
        db_table = "rollup_closed_late"
        constraints = [
            models.UniqueConstraint(fields=["town", "month", "late"], name="rollup_closed_late_key")
        ]
        indexes = [
            _zero_rows("rollup_closed_late_zero"),
            _covering("rollup_closed_late_town", "town", "late"),
        ]

    def __str__(self) -> str:
        return f"{self.town_id} {self.month:%Y-%m} {'late' if self.late else 'on time'}: {self.n}"


class RunningDeadlineCount(models.Model):
    """Running rectification tickets (the town owes work: RECTIFICATION_RUNNING_STATES) per town
    × deadline: overdue on day D is the sum over deadline < D (rectification_overdue)."""

    town = _town()
    deadline = models.DateField()
    n = models.IntegerField()

    class Meta:
        db_table = "rollup_running_deadline"
        constraints = [
            models.UniqueConstraint(fields=["town", "deadline"], name="rollup_running_key")
        ]
        indexes = [
            _zero_rows("rollup_running_zero"),
            _covering("rollup_running_town", "town", "deadline"),
        ]

    def __str__(self) -> str:
        return f"{self.town_id} due {self.deadline}: {self.n}"


class ToiletCount(models.Model):
    """Toilet tickets per town × state × kind."""

    town = _town()
    state = models.CharField(max_length=16)
    kind = models.CharField(max_length=12)
    n = models.IntegerField()

    class Meta:
        db_table = "rollup_toilet"
        constraints = [
            models.UniqueConstraint(fields=["town", "state", "kind"], name="rollup_toilet_key")
        ]
        indexes = [_zero_rows("rollup_toilet_zero")]

    def __str__(self) -> str:
        return f"{self.town_id} {self.state} {self.kind}: {self.n}"
