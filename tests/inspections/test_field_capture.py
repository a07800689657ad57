"""Field capture on the server's side: work recorded on a phone without network arrives later,
carrying its submission key and the time it was recorded.

- A patrol is judged at its observation time (a patrol recorded at 10:05 and sent at 17:00
  has photos 10 minutes old, not 7 hours; it belongs to the month it was observed in); one
  that waited on the phone longer than the county allows is flagged; a phone clock ahead or
  years behind is not believed.
- The queue's sends get a short JSON answer (recorded + where, or the reasons), and a resend
  of the same key — a patrol or a rectification submit — is "recorded already", never twice.
- The pack a phone downloads holds exactly the user's patrol sites and field jobs, in a
  constant number of queries; the service worker, the manifest and the offline pages are
  served as a browser needs them.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.dates import FIELD_TIME_OLDEST, field_time
from inspections.models import Patrol, PatrolPolicy, Presence
from tests.factories import make_household, make_user, membership
from tests.inspections.conftest import (
    ANDROID_UA,
    camera_upload,
    make_site,
)
from tests.inspections.test_presence_checks import patrol_post, results
from villages.models import Role
from workflows.models import TicketEvent
from workflows.tickets import services as tickets

YESTERDAY = timezone.localdate() - timedelta(days=1)  # before any test moves the clock
JSON = {"HTTP_ACCEPT": "application/json", "HTTP_USER_AGENT": ANDROID_UA}


def at(hour: int, minute: int = 0, day: date | None = None) -> datetime:
    """A moment of yesterday (a past day: the test's login session is still valid then)."""
    day = day or YESTERDAY
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour, minute))


@pytest.fixture
def freezer(monkeypatch):
    """The server's clock, set by the test (services and model defaults read timezone.now)."""

    class Clock:
        now = timezone.now()

        def move_to(self, moment: datetime) -> None:
            self.now = moment

    clock = Clock()
    monkeypatch.setattr(timezone, "now", lambda: clock.now)
    return clock


@pytest.fixture
def phone(client, inspector):
    client.force_login(inspector)
    return client


def send(client, site, data, **headers):
    return client.post(reverse("scan", args=[site.token]), data, **(JSON | headers))


# --- the time a phone says ------------------------------------------------------------------------


def test_a_phone_time_is_believed_within_bounds():
    received = at(17)
    assert field_time(None, received=received) == received
    assert field_time(at(10, 5), received=received) == at(10, 5)
    assert field_time(at(17, 20), received=received) == received  # a clock ahead: now
    too_old = received - FIELD_TIME_OLDEST - timedelta(minutes=1)
    assert field_time(too_old, received=received) == received  # a clock set wrong


def test_a_patrol_recorded_offline_in_the_morning_is_judged_at_that_time(phone, huji_site, freezer):
    freezer.move_to(at(17))
    observed = at(10, 5)
    photo = camera_upload(taken_at=at(10, 3))  # 7 hours old when it arrives; the limit is 24
    PatrolPolicy.objects.update_or_create(
        county_id="370828000000", defaults={"photo_max_age_hours": 2}
    )
    data = patrol_post(huji_site, photos=[photo]) | {"observed_at": observed.isoformat()}
    response = send(phone, huji_site, data)
    assert response.status_code == 200, response.content
    patrol = Patrol.objects.get()
    assert patrol.observed_at == observed and patrol.created_at == at(17)
    assert not patrol.flagged, patrol.flags  # 2 minutes old at 10:05, not 7 hours
    assert results(patrol)[Presence.LATE_UPLOAD] == "passed"
    assert results(patrol)[Presence.OLD_PHOTO] == "passed"
    page = phone.get(reverse("patrol_detail", args=[patrol.pk]))
    assert "10:05" in page.content.decode() and "17:00" in page.content.decode()


def test_the_same_patrol_sent_at_once_would_be_flagged_for_its_old_photo(phone, huji_site, freezer):
    freezer.move_to(at(17))
    PatrolPolicy.objects.update_or_create(
        county_id="370828000000", defaults={"photo_max_age_hours": 2}
    )
    photo = camera_upload(taken_at=at(10, 3))
    send(phone, huji_site, patrol_post(huji_site, photos=[photo]))
    patrol = Patrol.objects.get()
    assert [flag["code"] for flag in patrol.flags] == [Presence.OLD_PHOTO]


def test_a_patrol_of_the_last_evening_of_a_month_counts_for_that_month(phone, huji_site, freezer):
    freezer.move_to(at(8, 0, day=date(2026, 12, 1)))
    observed = at(21, 30, day=date(2026, 11, 30))
    photo = camera_upload(taken_at=observed)
    send(phone, huji_site, patrol_post(huji_site, photos=[photo]) | {"observed_at": observed})
    patrol = Patrol.objects.get()
    assert patrol.local_date == date(2026, 11, 30)
    assert not patrol.flagged, patrol.flags


@pytest.mark.parametrize("rule", ["flag", "refuse"])
def test_a_record_kept_on_the_phone_too_long_gets_the_county_rule(phone, huji_site, freezer, rule):
    PatrolPolicy.objects.update_or_create(
        county_id="370828000000",
        defaults={"max_offline_hours": 48, "late_upload": rule, "old_photo": "flag"},
    )
    observed = timezone.now() - timedelta(hours=50)
    photo = camera_upload(taken_at=observed)
    data = patrol_post(huji_site, photos=[photo]) | {"observed_at": observed.isoformat()}
    response = send(phone, huji_site, data)
    if rule == "refuse":
        assert response.status_code == 400
        assert response.json()["ok"] is False
        assert "50.0" in " ".join(response.json()["errors"])
        assert not Patrol.objects.exists()
    else:
        patrol = Patrol.objects.get()
        assert patrol.flagged
        assert {"code": "late_upload", "hours": 50.0, "limit_h": 48} in patrol.flags


# --- the queue's answers ------------------------------------------------------------------------


def test_the_queue_gets_json_and_a_resend_is_recorded_already(phone, huji_site):
    data = patrol_post(huji_site, photos=[camera_upload()])
    first = send(phone, huji_site, data)
    assert first.status_code == 200
    body = first.json()
    patrol = Patrol.objects.get()
    assert body["ok"] and body["url"] == reverse("patrol_detail", args=[patrol.pk])
    assert body["again"] is False and body["messages"]
    data["photos"] = [camera_upload()]  # the resend uploads the photos again
    again = send(phone, huji_site, data)
    assert again.json() | {"messages": []} == body | {"again": True, "messages": []}
    assert Patrol.objects.count() == 1
    # A background send leaves no message for the next page; a watched one does (below).
    page = phone.get(body["url"])
    assert not list(page.context["messages"])


def test_a_watched_send_greets_the_user_on_the_result_page(phone, huji_site):
    data = patrol_post(huji_site, photos=[camera_upload()])
    body = send(phone, huji_site, data, HTTP_X_FIELD_THEN="open").json()
    page = phone.get(body["url"])
    assert [str(m) for m in page.context["messages"]] == ["巡查已记录。"]


def test_a_refused_patrol_says_why_in_json(phone, huji_site):
    data = patrol_post(huji_site, photos=[]) | {"result": "problem"}
    response = send(phone, huji_site, data)
    assert response.status_code == 400
    assert response.json()["ok"] is False and response.json()["errors"]
    assert not Patrol.objects.exists()


def test_a_bad_form_names_its_field_in_json(phone, huji_site):
    data = patrol_post(huji_site, photos=[camera_upload()]) | {"result": "nonsense"}
    response = send(phone, huji_site, data)
    assert response.status_code == 400
    assert any(error.startswith("巡查结果") for error in response.json()["errors"])


@pytest.fixture
def running(huji, huji_village, inspector, task_force):
    ticket = tickets.rectification_create(
        by=inspector, town=huji, village=huji_village, description="岸边垃圾", source_kind="patrol"
    )
    return tickets.rectification_assign(
        ticket=ticket, by=task_force, deadline=timezone.localdate() + timedelta(days=5)
    )


def submit_data(ticket, key, **extra):
    return {
        "state": ticket.state,
        "note": "已清理",
        "key": str(key),
        "photos": [camera_upload()],
    } | extra


def test_a_rectification_submitted_twice_with_one_key_is_one_step(
    client, running, hj_officer, freezer
):
    freezer.move_to(at(16))
    client.force_login(hj_officer)
    url = reverse("ticket_action", args=[running.number, "submit"])
    key = uuid.uuid4()
    data = submit_data(running, key, observed_at=at(9, 30).isoformat())
    first = client.post(url, data, **JSON)
    assert first.status_code == 200 and first.json()["ok"], first.content
    again = client.post(url, submit_data(running, key), **JSON)  # the state it saw is stale now
    assert again.status_code == 200 and again.json()["again"] is True
    step = TicketEvent.objects.get(rectification=running, action="submit")
    assert step.key == key and step.observed_at == at(9, 30) and step.at == at(16)
    page = client.get(reverse("ticket_detail", args=[running.number])).content.decode()
    assert "09:30" in page and "16:00" in page
    # Without JSON (a page's own POST sent twice): the ticket page, not a 409.
    response = client.post(url, submit_data(running, key))
    assert response.status_code == 303


def test_another_users_key_is_not_his_step(client, running, hj_officer, huji):
    other = make_user("hj_officer2", membership(Role.TOWN_OFFICER, huji))
    key = uuid.uuid4()
    client.force_login(hj_officer)
    url = reverse("ticket_action", args=[running.number, "submit"])
    client.post(url, submit_data(running, key), **JSON)
    client.force_login(other)
    response = client.post(url, submit_data(running, key), **JSON)
    assert response.status_code == 409 and response.json()["ok"] is False


def test_a_stale_submit_in_json_is_409_with_the_reason(client, running, hj_officer):
    client.force_login(hj_officer)
    url = reverse("ticket_action", args=[running.number, "submit"])
    response = client.post(url, submit_data(running, uuid.uuid4(), state="draft"), **JSON)
    assert response.status_code == 409
    assert response.json()["errors"] and response.json()["url"].endswith(f"{running.number}/")


# --- the day's pack -------------------------------------------------------------------------------


def test_the_pack_holds_the_users_sites_and_field_jobs(
    client, huji, jishu, huji_village, jishu_village, running, hj_officer
):
    own = make_site(huji, huji_village, state="maintained")
    make_site(jishu, jishu_village, state="maintained")  # another town's
    make_site(huji, huji_village, state="delisted")  # no longer patrolled
    town_inspector = make_user("hj_inspector", membership(Role.INSPECTOR, huji))
    client.force_login(town_inspector)
    pack = client.get(reverse("field_pack")).json()
    assert [site["token"] for site in pack["sites"]] == [own.token]
    site = pack["sites"][0]
    assert site["url"] == reverse("scan", args=[own.token])
    assert site["lat"] == own.lat and site["patrolled"] is False
    assert reverse("scan_shell") in pack["pages"] and pack["user"] == str(town_inspector.pk)
    assert pack["jobs"] == []

    client.force_login(hj_officer)  # town officers patrol their town's sites too (FINDERS)
    pack = client.get(reverse("field_pack")).json()
    assert [site["token"] for site in pack["sites"]] == [own.token]
    assert [job["number"] for job in pack["jobs"]] == [running.number]
    assert reverse("ticket_detail", args=[running.number]) in pack["pages"]


def test_the_pack_costs_the_same_queries_for_3_and_30_sites(client, huji, huji_village, inspector):
    client.force_login(inspector)

    def queries(n):
        for _ in range(n):
            make_site(huji, huji_village, state="maintained")
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("field_pack")).status_code == 200
        return len(captured)

    assert queries(3) == queries(27)


def test_a_sites_open_tickets_and_this_months_patrols_are_in_the_pack(phone, huji_site, inspector):
    data = patrol_post(huji_site, photos=[camera_upload()]) | {
        "result": "problem",
        "checks": ["bank_garbage"],
    }
    send(phone, huji_site, data)
    (site,) = phone.get(reverse("field_pack")).json()["sites"]
    patrol = Patrol.objects.get()
    assert not patrol.flagged and site["patrolled"] is True
    assert [t["number"] for t in site["tickets"]] == [patrol.ticket.number]


# --- what the browser loads -----------------------------------------------------------------------


def test_the_service_worker_is_served_for_the_whole_site(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response["Cache-Control"]
    body = response.content.decode()
    assert body.startswith("const FIELD = {") and "importScripts(FIELD.store)" in body


def test_the_manifest_opens_the_field_page(client):
    response = client.get("/manifest.webmanifest")
    assert response["Content-Type"] == "application/manifest+json"
    data = response.json()
    assert data["start_url"] == reverse("field_home") and data["display"] == "standalone"
    assert {icon["sizes"] for icon in data["icons"]} == {"192x192", "512x512"}


def test_who_am_i_sends_the_logged_out_to_the_login_page(client, inspector):
    assert client.get(reverse("field_me")).status_code == 302
    client.force_login(inspector)
    data = client.get(reverse("field_me")).json()
    assert data["user"] == str(inspector.pk) and len(data["csrf"]) >= 32


def test_the_offline_scan_page_has_the_patrol_form(client, inspector):
    client.force_login(inspector)
    page = client.get(reverse("scan_shell")).content.decode()
    assert 'data-queue="patrol"' in page and 'name="observed_at"' in page
    assert client.get(reverse("field_home")).status_code == 200


def test_a_ticket_form_done_in_the_field_is_queued_and_others_are_not(client, running, hj_officer):
    client.force_login(hj_officer)
    page = client.get(reverse("ticket_detail", args=[running.number])).content.decode()
    assert 'data-queue="submit"' in page
    assert 'data-queue="request_extension"' not in page


def test_a_service_workers_job_in_service_is_in_his_pack_and_completes_once(
    client, huji, huji_village, hj_officer, village_admin
):
    worker = make_user("huji_worker", membership(Role.SERVICE_WORKER, huji))
    household = make_household(huji_village, number="HJ-001", head_name="王建国")
    ticket = tickets.toilet_report(
        by=village_admin, household=household, kind="pumping", channel="village_admin"
    )
    tickets.toilet_dispatch(ticket=ticket, by=hj_officer, worker=worker)
    client.force_login(worker)
    assert client.get(reverse("field_pack")).json()["jobs"] == []  # not accepted yet
    tickets.toilet_accept(ticket=ticket, by=worker)
    tickets.toilet_start(ticket=ticket, by=worker)
    (job,) = client.get(reverse("field_pack")).json()["jobs"]
    assert job["number"] == ticket.number and job["url"] == reverse(
        "toilet_detail", args=[ticket.number]
    )
    page = client.get(job["url"]).content.decode()
    assert 'data-queue="complete"' in page
    url, key = reverse("toilet_action", args=[ticket.number, "complete"]), uuid.uuid4()

    def data():
        return {
            "state": "in_service",
            "key": str(key),
            "volume_m3": "2.5",
            "disposal_site": "县污水处理厂",
            "photos": [camera_upload()],
        }

    assert client.post(url, data(), **JSON).json()["again"] is False
    assert client.post(url, data(), **JSON).json()["again"] is True
    assert TicketEvent.objects.filter(toilet=ticket, action="complete").count() == 1


def test_a_key_of_a_step_the_ticket_moved_on_from_is_new_work(
    client, running, hj_officer, task_force
):
    """A page restored by the browser after a reload may bring back the old hidden key: sent
    back and submitted again, the second submit is recorded, not taken for the first."""
    client.force_login(hj_officer)
    url = reverse("ticket_action", args=[running.number, "submit"])
    key = uuid.uuid4()
    assert client.post(url, submit_data(running, key), **JSON).json()["again"] is False
    running.refresh_from_db()
    tickets.rectification_reject(ticket=running, by=task_force, reason="照片不清晰")
    again = client.post(url, submit_data(running, key, state="rejected"), **JSON)
    assert again.status_code == 200 and again.json()["again"] is False
    steps = TicketEvent.objects.filter(rectification=running, action="submit").order_by("pk")
    assert [step.key for step in steps] == [key, None]


def test_the_field_page_lists_the_sites_still_owed_this_month(
    client, huji, huji_village, inspector
):
    due = make_site(huji, huji_village, state="maintained")
    twice = make_site(huji, huji_village, state="maintained", patrols_per_month=2)
    done = make_site(huji, huji_village, state="maintained")
    Site = type(due)
    Site.objects.update(created_at=timezone.now() - timedelta(days=90))  # owed this month
    new = make_site(huji, huji_village, state="maintained")  # registered now: owes nothing yet
    client.force_login(inspector)
    for site in (done, twice):
        send(client, site, patrol_post(site, photos=[camera_upload()]))
    page = client.get(reverse("field_home")).content.decode()
    listed = re.findall(r'<li data-lat="[^"]+" data-lng="[^"]+"><a href="/s/([^"]+)"', page)
    assert listed == [due.token, twice.token]
    assert new.token not in listed and "本月待巡水体 2 处" in page
    assert "1/2" in page
    home = client.get(reverse("home")).content.decode()
    assert reverse("field_home") in home and "今日巡查" in home
