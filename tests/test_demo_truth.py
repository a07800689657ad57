"""A demo that tells the truth (user testing): after `load_demo` every ticket's deadline is the
one its assignment (or approved extension) recorded, its steps follow one another over hours and
days as a county's would, towns take days to close, the day's scheduled jobs have run (so 胡集镇's
officer has his overdue notices), and a newcomer's first commands and pages look finished."""

from __future__ import annotations

import io
import re
from collections import defaultdict
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from django_q.models import Schedule

from inspections.reporting.dashboard import COUNTY, median_days_by_town, window_months
from tests.factories import DIVISIONS_CSV, HUJI_CODE
from workflows.models import (
    JobRun,
    NoticeKind,
    Notification,
    OverdueNotice,
    RectificationTicket,
    TicketEvent,
    ToiletTicket,
)
from workflows.schedules import SCHEDULES

OVERDUE_KINDS = (NoticeKind.REMINDER, NoticeKind.SUPERVISION, NoticeKind.BULLETIN)


def loaded(test):
    """A test of the loaded demo (the `demo` fixture: ~30 s, once for the module)."""
    return pytest.mark.slow(pytest.mark.django_db(test))


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker, tmp_path_factory):
    """The demo, loaded once for the module (smaller than `make demo`'s, same code paths)."""
    media = tmp_path_factory.mktemp("demo-media")
    hashers = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with (
        override_settings(DEBUG=True, MEDIA_ROOT=media, PASSWORD_HASHERS=hashers),
        django_db_blocker.unblock(),
        transaction.atomic(),
    ):
        out = io.StringIO()
        call_command(
            "load_demo",
            rectifications=80,
            toilet_tickets=150,
            households_per_village=1,
            stdout=out,
            stderr=io.StringIO(),
        )
        yield out.getvalue()
        transaction.set_rollback(True)


def _events(link: str) -> dict[int, list[TicketEvent]]:
    steps = defaultdict(list)
    for event in TicketEvent.objects.filter(**{f"{link}__isnull": False}).order_by("id"):
        steps[getattr(event, f"{link}_id")].append(event)
    return steps


@loaded
def test_every_deadline_is_the_one_its_assignment_or_extension_recorded(demo):
    events = _events("rectification")
    tickets = RectificationTicket.objects.exclude(deadline=None)
    assert tickets.count() > 100  # the demo's own and the bulletins'
    for ticket in tickets:
        given = [
            e.data["deadline"]
            for e in events[ticket.pk]
            if e.action in ("assign", "approve_extension")
        ]
        assert given, ticket.number
        assert ticket.deadline.isoformat() == given[-1], ticket.number
        if ticket.requested_deadline:
            asked = [e for e in events[ticket.pk] if e.action == "request_extension"][-1]
            assert asked.data["requested_deadline"] == ticket.requested_deadline.isoformat()


@loaded
def test_steps_follow_one_another_over_hours_and_days(demo):
    now = timezone.now()
    stamps = {"assigned_at": "assign", "submitted_at": "submit", "closed_at": "close"}
    rectification = _events("rectification")
    for ticket in RectificationTicket.objects.all():
        _check_steps(ticket, rectification[ticket.pk], stamps, now)
        if ticket.closed_at:
            # A town rectifies, the county checks on site: never within the hour.
            assert ticket.closed_at - ticket.assigned_at > timedelta(days=1), ticket.number
    stamps = {"dispatched_at": "dispatch", "completed_at": "complete", "confirmed_at": "confirm"}
    toilet = _events("toilet")
    for ticket in ToiletTicket.objects.all():
        _check_steps(ticket, toilet[ticket.pk], stamps, now)
        if ticket.confirmed_at:
            assert ticket.confirmed_at - ticket.created_at > timedelta(hours=12), ticket.number


def _check_steps(ticket, events: list[TicketEvent], stamps: dict[str, str], now) -> None:
    times = [event.at for event in events]
    assert times == sorted(times), ticket.number
    assert ticket.created_at <= times[0] and times[-1] <= now, ticket.number
    for field, action in stamps.items():
        if getattr(ticket, field) is not None:
            last = [event.at for event in events if event.action == action][-1]
            assert getattr(ticket, field) == last, (ticket.number, field)


@loaded
def test_towns_take_days_to_close_their_tickets(demo):
    medians = median_days_by_town(COUNTY, window_months(timezone.localdate()))
    assert len(medians) >= 5
    for town, (days, closed) in medians.items():
        assert closed > 0 and days >= 1, (town, days)


@loaded
def test_the_days_jobs_ran_and_huji_has_its_overdue_notices(demo):
    today = timezone.localdate()
    daily = {spec.name for spec in SCHEDULES if spec.schedule_type == Schedule.DAILY}
    ran = set(JobRun.objects.filter(as_of=today, error="").values_list("name", flat=True))
    assert daily <= ran
    overdue = RectificationTicket.objects.filter(town_id=HUJI_CODE).overdue(as_of=today)
    assert overdue.exists()
    assert OverdueNotice.objects.filter(ticket__in=overdue).count() >= overdue.count()
    huji = get_user_model().objects.get(username="huji")
    received = Notification.objects.filter(user=huji, document__kind__in=OVERDUE_KINDS)
    assert received.filter(document__town_id=HUJI_CODE, document__issued_on=today).exists()
    assert "issue_overdue_notices" in demo


@pytest.mark.django_db
def test_the_importers_progress_shows_the_row_count():
    err = io.StringIO()
    path = settings.BASE_DIR / DIVISIONS_CSV
    call_command("import_divisions", path, stdout=io.StringIO(), stderr=err)
    lines = [line for line in re.split(r"[\r\n]+", err.getvalue()) if line.strip()]
    # One line with the count (a log or a test has no terminal to redraw a bar on).
    assert len(lines) == 1, lines
    assert "572/572" in lines[0] and "?" not in lines[0]


@pytest.mark.django_db  # closing a response closes old connections (request_finished)
def test_the_favicon_is_the_app_icon(client):
    response = client.get("/favicon.ico")
    if response.status_code == 200:
        assert response["Content-Type"] in ("image/png", "image/x-icon")
        return
    assert response.status_code == 302
    assert "max-age" in response["Cache-Control"]
    target = response["Location"]
    assert target.startswith("/static/"), target
    assert finders.find(target.removeprefix("/static/")), target
    icon = client.get(target)
    icon.close()  # WhiteNoise's file response holds the file open
    assert icon.status_code == 200
