"""Opening tickets from the pages: the village admin's two-tap toilet report, a town officer's
phone call, a new rectification ticket; and the home page's links to the ticket pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_household
from tests.workflows.conftest import jpeg_upload
from tests.workflows.pages import body, get, media_files, page_url
from workflows.models import EvidencePhoto, RectificationTicket, TicketEvent, ToiletTicket

pytestmark = pytest.mark.django_db


class TestToiletReport:
    def test_village_admin_two_tap_report(self, client, household, village_admin, huji_village):
        make_household(huji_village, number="HJ-009", head_name="张三", phone="13911112222")
        response = get(client, village_admin, reverse("toilet_new"))
        assert response.status_code == 200
        html = body(response)
        assert "王建国" in html and "138****1234" in html and "13800001234" not in html
        assert 'value="pumping"' in html and "粪污抽运" in html
        # tap 1: the household; tap 2: the kind button, which submits
        response = client.post(
            reverse("toilet_new"), {"household": household.pk, "kind": "pumping"}
        )
        assert response.status_code == 303
        ticket = ToiletTicket.objects.get()
        assert response["Location"] == page_url(ticket)
        assert (ticket.household, ticket.kind, ticket.channel, ticket.created_by) == (
            household,
            "pumping",
            "village_admin",
            village_admin,
        )
        page = body(client.get(response["Location"]))
        assert "已报单" in page and "138****1234" in page and "13800001234" not in page

    def test_report_with_note_and_photo(self, client, household, village_admin):
        client.force_login(village_admin)
        response = client.post(
            reverse("toilet_new"),
            {
                "household": household.pk,
                "kind": "repair",
                "description": "冲水阀坏了",
                "photos": [jpeg_upload("toilet.jpg")],
            },
        )
        assert response.status_code == 303
        ticket = ToiletTicket.objects.get()
        assert ticket.description == "冲水阀坏了"
        event = TicketEvent.objects.get(toilet=ticket)
        assert event.photos.get().original_name == "toilet.jpg"

    def test_search_narrows_the_households(self, client, household, village_admin, huji_village):
        make_household(huji_village, number="HJ-010", head_name="赵六")
        response = get(client, village_admin, reverse("toilet_new"), q="赵六")
        assert [h.head_name for h in response.context["households"]] == ["赵六"]

    def test_household_of_another_village_is_refused(self, client, village_admin, jishu_village):
        stranger = make_household(jishu_village, number="JS-1", head_name="外村户")
        response = get(client, village_admin, reverse("toilet_new"))
        assert "外村户" not in body(response)
        response = client.post(reverse("toilet_new"), {"household": stranger.pk, "kind": "pumping"})
        assert response.status_code == 400
        assert ToiletTicket.objects.count() == 0

    def test_bad_kind_or_missing_household_is_a_400(self, client, household, village_admin):
        client.force_login(village_admin)
        for data in ({"household": household.pk, "kind": "x"}, {"kind": "pumping"}, {}):
            assert client.post(reverse("toilet_new"), data).status_code == 400
        assert ToiletTicket.objects.count() == 0

    def test_town_officer_reports_a_phone_call(self, client, household, hj_officer):
        client.force_login(hj_officer)
        response = client.get(reverse("toilet_new"))
        assert 'name="channel"' in body(response)
        response = client.post(
            reverse("toilet_new"),
            {"household": household.pk, "kind": "unblocking", "channel": "phone"},
        )
        assert response.status_code == 303
        assert ToiletTicket.objects.get().channel == "phone"

    def test_roles_that_do_not_report_get_a_403(self, client, service_worker, inspector):
        for user in (service_worker, inspector):
            assert get(client, user, reverse("toilet_new")).status_code == 403


class TestNewRectification:
    def test_inspector_opens_a_draft_with_before_photos(
        self, client, inspector, huji, huji_village
    ):
        response = get(client, inspector, reverse("ticket_new"))
        assert response.status_code == 200
        assert 'name="deadline"' not in body(response)
        response = client.post(
            reverse("ticket_new"),
            {
                "town": huji.code,
                "village": huji_village.code,
                "site_label": "村东坑塘",
                "description": "坑塘水面漂浮垃圾",
                "photos": [jpeg_upload("before.jpg")],
            },
        )
        assert response.status_code == 303
        ticket = RectificationTicket.objects.get()
        assert response["Location"] == page_url(ticket)
        assert (ticket.state, ticket.site_label, ticket.created_by) == (
            "draft",
            "村东坑塘",
            inspector,
        )
        assert ticket.before_photos.get().original_name == "before.jpg"

    def test_task_force_assigns_at_once(self, client, task_force, huji):
        deadline = timezone.localdate() + timedelta(days=7)
        client.force_login(task_force)
        response = client.post(
            reverse("ticket_new"),
            {"town": huji.code, "description": "垃圾堆放", "deadline": deadline.isoformat()},
        )
        assert response.status_code == 303
        ticket = RectificationTicket.objects.get()
        assert (ticket.state, ticket.deadline) == ("assigned", deadline)

    def test_bad_input_is_a_400(self, client, task_force, hj_officer, huji, jishu, jishu_village):
        client.force_login(task_force)
        cases = [
            {"town": huji.code, "description": "x", "deadline": "2025-13-01"},
            {"town": huji.code, "description": "x", "deadline": "2000-01-01"},
            {"town": huji.code, "village": jishu_village.code, "description": "x"},
            {"town": huji.code, "description": ""},
            {"description": "x"},
        ]
        for data in cases:
            assert client.post(reverse("ticket_new"), data).status_code == 400, data
        client.force_login(hj_officer)  # a town officer: his own town only
        response = client.post(reverse("ticket_new"), {"town": jishu.code, "description": "x"})
        assert response.status_code == 400
        assert RectificationTicket.objects.count() == 0

    def test_bad_photo_is_a_400_and_nothing_is_stored(self, client, inspector, huji, settings):
        client.force_login(inspector)
        fake = SimpleUploadedFile("notes.jpg", b"hello", content_type="image/jpeg")
        response = client.post(
            reverse("ticket_new"), {"town": huji.code, "description": "x", "photos": [fake]}
        )
        assert response.status_code == 400
        assert "notes.jpg" in body(response)
        assert RectificationTicket.objects.count() == 0
        assert EvidencePhoto.objects.count() == 0
        assert media_files(settings) == []

    def test_village_admin_and_worker_may_not(self, client, village_admin, service_worker):
        for user in (village_admin, service_worker):
            assert get(client, user, reverse("ticket_new")).status_code == 403


def test_home_links_by_role(client, hj_officer, task_force, huji_worker, village_admin):
    links = {
        hj_officer: [reverse("ticket_list"), reverse("toilet_list")],
        task_force: [reverse("ticket_list"), reverse("ticket_new")],
        huji_worker: [reverse("toilet_list")],
        village_admin: [reverse("toilet_new"), reverse("ticket_list"), reverse("toilet_list")],
    }
    for user, urls in links.items():
        html = body(get(client, user, reverse("home")))
        for url in urls:
            assert f'href="{url}"' in html, (user.username, url)
    assert f'href="{reverse("ticket_list")}"' not in body(get(client, huji_worker, reverse("home")))
