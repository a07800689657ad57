"""Calendar arithmetic in the county's time zone: months as their first day, local midnights.

A month is the date of its first day, so months compare and group as plain dates on SQLite and
PostgreSQL alike. A day's start as a moment is its local (TIME_ZONE, Asia/Shanghai) midnight:
a ticket opened at 01:00 on 1 June, Beijing time, belongs to June although it is still 31 May
in UTC. Which months a rule counts is the rule's own business (e.g. inspections.sites.rules).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import timezone


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, n: int) -> date:
    """The first day of the month `n` months after `month`'s (n may be negative)."""
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def previous_month(day: date) -> date:
    """The first day of the month before `day`'s."""
    return add_months(day, -1)


def months_ending(month: date, count: int) -> list[date]:
    """The first days of the `count` months ending with `month`'s, oldest first."""
    return [add_months(month, n) for n in range(1 - count, 1)]


def local_midnight(day: date) -> datetime:
    """The aware moment `day` begins in the county's time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


# Work recorded on a phone without network reaches the server later, carrying the phone's time
# of the record. A phone's clock may run minutes ahead; one claiming a time further back than
# this was set wrong (or by hand) and says nothing believable about when the work was done.
FIELD_TIME_OLDEST = timedelta(days=30)


def field_time(observed: datetime | None, *, received: datetime) -> datetime:
    """When work sent from the field was done: the phone's `observed` time when it is
    believable — not after it arrived (a clock ahead is read as "now") and not more than
    FIELD_TIME_OLDEST before — else the time it was `received`."""
    if observed is None or observed > received or received - observed > FIELD_TIME_OLDEST:
        return received
    return observed
