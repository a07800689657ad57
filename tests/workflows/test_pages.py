"""The ticket pages as each role uses them: lists and their scope, filters, sorting and query
counts; one ticket with its photos and history; the action endpoints' answers (303, 400, 403,
404, 409). Opening tickets: test_pages_new.py; the action matrix: test_pages_actions.py."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from tests.factories import make_household, make_user, membership
from tests.workflows.conftest import jpeg_upload
from tests.workflows.pages import (
    body,
    fresh,
    get,
    media_files,
    numbers,
    page_url,
    photo,
    post_action,
    rectification_in,
    toilet_in,
)
from villages.models import Role
from workflows.models import EvidencePhoto, RectificationTicket, TicketEvent, ToiletTicket
from workflows.tickets import services, views

pytestmark = pytest.mark.django_db


@pytest.fixture
def build(huji, huji_village, inspector, task_force, hj_officer):
    def make(state, **overrides):
        people = {
            "town": huji,
            "village": huji_village,
            "inspector": inspector,
            "task_force": task_force,
            "officer": hj_officer,
        }
        return rectification_in(state, **(people | overrides))

    return make


@pytest.fixture
def jishu_officer_ticket(jishu, jishu_village, inspector, task_force, other_officer):
    return rectification_in(
        "assigned",
        town=jishu,
        village=jishu_village,
        inspector=inspector,
        task_force=task_force,
        officer=other_officer,
    )


# --- lists ------------------------------------------------------------------------------------


class TestRectificationList:
    def test_needs_login(self, client):
        for name in ("ticket_list", "toilet_list", "ticket_new", "toilet_new"):
            response = client.get(reverse(name))
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("login"))

    def test_town_officer_sees_his_towns_open_tickets_by_deadline(
        self, client, build, hj_officer, jishu_officer_ticket
    ):
        late, soon = build("assigned"), build("assigned")
        RectificationTicket.objects.filter(pk=late.pk).update(
            deadline=timezone.localdate() + timedelta(days=30)
        )
        closed = build("closed")
        response = get(client, hj_officer, reverse("ticket_list"))
        assert response.status_code == 200
        assert numbers(response) == [soon.number, late.number]
        assert closed.number not in body(response)
        assert jishu_officer_ticket.number not in body(response)
        assert "整改单" in body(response)

    def test_other_officer_sees_nothing_of_huji(self, client, build, other_officer):
        ticket = build("assigned")
        response = get(client, other_officer, reverse("ticket_list"), state="assigned")
        assert numbers(response) == []
        assert ticket.number not in body(response)
        assert get(client, other_officer, page_url(ticket)).status_code == 404

    def test_task_force_gets_the_county_list(self, client, build, task_force, jishu_officer_ticket):
        ticket = build("draft")
        response = get(client, task_force, reverse("ticket_list"))
        # Its default is the county's own to-do (a draft to assign); the towns' work is a tab.
        assert set(numbers(response)) == {ticket.number}
        assert "全县" in body(response)
        waiting = response.context["inbox"]["waiting"]
        assert waiting["label"] == "等待乡镇办理" and waiting["count"] == 1
        response = client.get(waiting["url"])
        assert set(numbers(response)) == {jishu_officer_ticket.number}

    def test_village_admin_sees_his_villages_tickets(
        self, client, build, village_admin, jishu_officer_ticket
    ):
        ticket = build("assigned")
        response = get(client, village_admin, reverse("ticket_list"))
        assert numbers(response) == [ticket.number]
        assert get(client, village_admin, page_url(ticket)).status_code == 200

    def test_service_worker_and_nobody_see_no_rectification(
        self, client, build, service_worker, nobody
    ):
        ticket = build("assigned")
        for user in (service_worker, nobody):
            assert numbers(get(client, user, reverse("ticket_list"))) == []
            assert get(client, user, page_url(ticket)).status_code == 404

    def test_row_shows_place_state_deadline_overdue_and_source(self, client, build, hj_officer):
        ticket = build("assigned")
        RectificationTicket.objects.filter(pk=ticket.pk).update(
            deadline=timezone.localdate() - timedelta(days=3)
        )
        html = body(get(client, hj_officer, reverse("ticket_list")))
        assert ticket.number in html
        assert "胡集镇" in html and "胡集村" in html
        assert "整改中" in html
        assert "逾期 3 天" in html
        assert "巡查" in html  # source: water-site patrol

    def test_filter_by_state(self, client, build, task_force):
        draft, submitted = build("draft"), build("submitted")
        response = get(client, task_force, reverse("ticket_list"), state="submitted")
        assert numbers(response) == [submitted.number]
        response = get(client, task_force, reverse("ticket_list"), state=["draft", "submitted"])
        assert set(numbers(response)) == {draft.number, submitted.number}

    def test_the_states_are_one_in_list(self, client, build, task_force):
        """Several states filter as `state IN (…)`, which PostgreSQL reads from an index, not as
        an OR of equalities (planned as scans of the whole table at 10M tickets)."""
        build("draft")
        with CaptureQueriesContext(connection) as queries:
            get(client, task_force, reverse("ticket_list"), state=["submitted", "draft"])
        # On PostgreSQL the page's ids are each state's first rows, one state a part
        # (test_list_by_state.py): that query names them one by one by design.
        sqls = [q["sql"] for q in queries.captured_queries]
        state = '"workflows_rectificationticket"."state"'
        assert not [s for s in sqls if f"{state} = 'draft'" in s and "UNION ALL" not in s]
        assert [sql for sql in sqls if f"{state} IN ('draft', 'submitted')" in sql]

    def test_filter_overdue_in_local_dates(self, client, build, hj_officer):
        late, on_time, submitted = build("assigned"), build("assigned"), build("submitted")
        today = timezone.localdate()
        RectificationTicket.objects.filter(pk__in=[late.pk, submitted.pk]).update(
            deadline=today - timedelta(days=1)
        )
        RectificationTicket.objects.filter(pk=on_time.pk).update(deadline=today)
        url = reverse("ticket_list")
        assert numbers(get(client, hj_officer, url, overdue="true")) == [late.number]
        assert set(numbers(get(client, hj_officer, url, overdue="false"))) == {
            on_time.number,
            submitted.number,
        }

    def test_search_number_description_site_and_village(self, client, build, hj_officer):
        ticket = build("assigned")
        RectificationTicket.objects.filter(pk=ticket.pk).update(description="坑塘漂浮物")
        other = build("assigned")
        url = reverse("ticket_list")
        for q in (ticket.number.lower(), "漂浮", "东沟", "胡集村"):
            found = numbers(get(client, hj_officer, url, q=q))
            assert ticket.number in found, q
        assert numbers(get(client, hj_officer, url, q="漂浮")) == [ticket.number]
        assert other.number not in numbers(get(client, hj_officer, url, q="漂浮"))

    def test_deadline_range(self, client, build, hj_officer):
        first, second = build("assigned"), build("assigned")
        today = timezone.localdate()
        RectificationTicket.objects.filter(pk=first.pk).update(deadline=today + timedelta(days=2))
        RectificationTicket.objects.filter(pk=second.pk).update(deadline=today + timedelta(days=9))
        url = reverse("ticket_list")
        after = (today + timedelta(days=5)).isoformat()
        assert numbers(get(client, hj_officer, url, deadline_after=after)) == [second.number]
        assert numbers(get(client, hj_officer, url, deadline_before=after)) == [first.number]

    def test_garbage_filter_values_are_a_400_not_a_500(self, client, build, hj_officer, jishu):
        build("assigned")
        url = reverse("ticket_list")
        for params in (
            {"deadline_after": "2025-02-30"},
            {"o": "password"},
            {"state": "nonsense"},
            {"town_id": jishu.code},  # outside his scope: not a choice
            {"q": "x" * 5000},
        ):
            response = get(client, hj_officer, url, **params)
            assert response.status_code == 400, params
            assert response.context["filter"].errors

    def test_town_filter_is_limited_to_visible_towns(self, client, hj_officer, huji):
        response = get(client, hj_officer, reverse("ticket_list"))
        towns = list(response.context["filter"].form.fields["town_id"].queryset)
        assert towns == [huji]

    def test_sorting_both_directions(self, client, build, task_force, jishu_officer_ticket):
        first, second = build("assigned"), build("assigned")
        url = reverse("ticket_list")
        by_number = sorted([first.number, second.number, jishu_officer_ticket.number])
        assert numbers(get(client, task_force, url, o="number")) == by_number
        assert numbers(get(client, task_force, url, o="-number")) == by_number[::-1]
        by_town = numbers(get(client, task_force, url, o="town"))
        assert by_town[-1] == jishu_officer_ticket.number  # 370828104 after 370828102
        assert numbers(get(client, task_force, url, o="-town"))[0] == jishu_officer_ticket.number
        assert get(client, task_force, url, o="-created").status_code == 200

    def test_without_an_order_the_list_is_by_deadline_as_its_sort_select_shows(
        self, client, build, hj_officer
    ):
        """A dashboard's link (?overdue=true, no order): the most overdue first, and the sort
        select says so; not newest first under a select saying "deadline". A search without
        an order keeps its own: newest match first."""
        today = timezone.localdate()
        late = {}
        for days in (3, 30, 10):  # made in this order: the newest is 10 days late
            ticket = build("assigned")
            RectificationTicket.objects.filter(pk=ticket.pk).update(
                deadline=today - timedelta(days=days), description="坑塘漂浮物"
            )
            late[days] = ticket.number
        url = reverse("ticket_list")
        response = get(client, hj_officer, url, overdue="true")
        assert numbers(response) == [late[30], late[10], late[3]]
        assert response.context["sorted_by"] == "deadline"
        assert 'value="deadline" selected' in body(response)
        assert numbers(get(client, hj_officer, url, overdue="true", o="-deadline")) == [
            late[3],
            late[10],
            late[30],
        ]
        assert numbers(get(client, hj_officer, url, q="坑塘")) == [late[10], late[30], late[3]]

    def test_pagination_keeps_the_filters(self, client, build, task_force, monkeypatch):
        monkeypatch.setattr(views, "PAGE_SIZE", 2)
        for _ in range(3):
            build("draft")
        build("submitted")
        url = reverse("ticket_list")
        response = get(client, task_force, url, state=["draft", "submitted"], o="number")
        assert "state=draft&amp;state=submitted" in body(response)
        response = get(client, task_force, url, state=["draft", "submitted"], o="number", page=2)
        assert len(numbers(response)) == 2


class TestToiletList:
    def test_worker_sees_his_jobs_with_masked_phones(
        self, client, household, hj_officer, huji_worker
    ):
        mine = toilet_in("dispatched", household=household, officer=hj_officer, worker=huji_worker)
        toilet_in("reported", household=household, officer=hj_officer, worker=huji_worker)
        response = get(client, huji_worker, reverse("toilet_list"))
        assert response.status_code == 200
        assert numbers(response) == [mine.number]
        html = body(response)
        assert "我的工单" in html
        assert "138****1234" in html and "13800001234" not in html

    def test_town_officer_list_masks_phones(self, client, household, hj_officer, huji_worker):
        ticket = toilet_in("reported", household=household, officer=hj_officer, worker=huji_worker)
        html = body(get(client, hj_officer, reverse("toilet_list")))
        assert ticket.number in html
        assert "138****1234" in html and "13800001234" not in html
        assert "王建国" in html

    def test_other_officer_sees_nothing(
        self, client, household, hj_officer, huji_worker, other_officer
    ):
        ticket = toilet_in("reported", household=household, officer=hj_officer, worker=huji_worker)
        assert numbers(get(client, other_officer, reverse("toilet_list"))) == []
        assert get(client, other_officer, page_url(ticket)).status_code == 404

    def test_filters(self, client, household, hj_officer, huji_worker, huji_village):
        pumping = toilet_in("reported", household=household, officer=hj_officer, worker=huji_worker)
        other = make_household(huji_village, number="HJ-002", head_name="李秀英")
        repair = toilet_in(
            "dispatched", household=other, officer=hj_officer, worker=huji_worker, kind="repair"
        )
        ToiletTicket.objects.filter(pk=pumping.pk).update(
            sla_due_at=timezone.now() - timedelta(hours=1)
        )
        url = reverse("toilet_list")
        assert numbers(get(client, hj_officer, url, kind="repair")) == [repair.number]
        assert numbers(get(client, hj_officer, url, state="reported")) == [pumping.number]
        assert numbers(get(client, hj_officer, url, sla_breached="true")) == [pumping.number]
        assert numbers(get(client, hj_officer, url, sla_breached="false")) == [repair.number]
        assert numbers(get(client, hj_officer, url, q="李秀英")) == [repair.number]
        assert numbers(get(client, hj_officer, url, q="HJ-001")) == [pumping.number]
        assert numbers(get(client, hj_officer, url, channel="qr")) == []
        late = body(get(client, hj_officer, url, sla_breached="true"))
        assert "超时" in late


# --- query counts -----------------------------------------------------------------------------


def _count_queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(queries)


def test_rectification_list_query_count_is_constant(client, build, task_force, hj_officer):
    for _ in range(3):
        build("assigned")
    counts = {}
    # The county's own to-do has no assigned ticket: its tab of the towns' work.
    urls = {
        task_force: reverse("ticket_list") + "?state=assigned",
        hj_officer: reverse("ticket_list"),
    }
    for user, url in urls.items():
        client.force_login(user)
        few = _count_queries(client, url)
        for _ in range(30):
            build("assigned")
        many = _count_queries(client, url)
        assert len(client.get(url).context["page"]) > 30
        assert many == few, (user.username, few, many)
        counts[user.username] = many
    # session, user, memberships, unread-notifications badge, towns of the filter, villages of
    # the filter (town officer), the inbox's counts, count, rows, and for a town officer the
    # badge of bulletins not yet acknowledged (for the task force: the city's): nothing grows
    # with the rows.
    assert counts["task_force"] <= 10 and counts["hj_officer"] <= 11, counts


def test_toilet_list_query_count_is_constant(
    client, huji_village, hj_officer, huji_worker, task_force
):
    def add(n):
        for i in range(n):
            household = make_household(huji_village, phone=f"1390000{i:04d}")
            toilet_in("dispatched", household=household, officer=hj_officer, worker=huji_worker)

    add(3)
    url = reverse("toilet_list")
    for user in (hj_officer, huji_worker, task_force):
        client.force_login(user)
        few = _count_queries(client, url)
        add(30)
        many = _count_queries(client, url)
        assert many == few, (user.username, few, many)


def test_ticket_page_query_count_does_not_grow_with_history(client, build, task_force, hj_officer):
    ticket = build("submitted")
    client.force_login(task_force)
    url = page_url(ticket)
    few = _count_queries(client, url)
    for _ in range(5):  # reject and resubmit: two more events each, with photos
        services.rectification_reject(ticket=ticket, by=task_force, reason="再拍")
        services.rectification_submit(ticket=ticket, by=hj_officer, note="补拍", photos=[photo()])
    assert _count_queries(client, url) == few


# --- one ticket -------------------------------------------------------------------------------


class TestTicketPage:
    def test_before_and_after_photos_side_by_side(self, client, build, task_force):
        ticket = build("rejected")
        response = get(client, task_force, page_url(ticket))
        assert response.status_code == 200
        before = response.context["before_photos"]
        after = response.context["after_photos"]
        assert len(before) == 1 and len(after) == 1
        submit = TicketEvent.objects.filter(rectification=ticket, action="submit").last()
        assert after == list(submit.photos.all())
        html = body(response)
        for p in before + after:
            assert p.thumbnail_url in html and p.display_url in html
        assert "整改前" in html and "整改后" in html

    def test_after_photos_are_those_of_the_latest_submission(
        self, client, build, task_force, hj_officer
    ):
        ticket = build("rejected")
        services.rectification_submit(ticket=ticket, by=hj_officer, note="补拍", photos=[photo()])
        latest = TicketEvent.objects.filter(rectification=ticket, action="submit").last()
        response = get(client, task_force, page_url(ticket))
        assert response.context["after_photos"] == list(latest.photos.all())

    def test_timeline_in_beijing_time_with_labels(self, client, build, task_force):
        ticket = build("submitted")
        event = TicketEvent.objects.filter(rectification=ticket, action="submit").get()
        TicketEvent.objects.filter(pk=event.pk).update(at=datetime(2025, 1, 1, 16, 30, tzinfo=UTC))
        html = body(get(client, task_force, page_url(ticket)))
        assert "2025-01-02 00:30" in html
        assert "hj_officer" in html
        assert "已清理" in html
        assert "整改中" in html and "待复核" in html
        assert "提交复核" in html

    def test_only_the_actions_of_this_user_are_shown(self, client, build, task_force, hj_officer):
        ticket = build("assigned")
        officer_page = body(get(client, hj_officer, page_url(ticket)))
        assert 'name="photos"' in officer_page
        assert 'accept="image/*"' in officer_page and 'capture="environment"' in officer_page
        assert "multiple" in officer_page
        assert "提交复核" in officer_page and "延期申请" in officer_page
        assert "/do/cancel/" not in officer_page
        county_page = get(client, task_force, page_url(ticket))
        assert [p.name for p in county_page.context["actions"]] == ["cancel"]

    def test_full_phone_only_for_worker_and_officers(
        self, client, household, hj_officer, huji_worker, village_admin, task_force
    ):
        ticket = toilet_in(
            "dispatched", household=household, officer=hj_officer, worker=huji_worker
        )
        for user in (huji_worker, hj_officer, task_force):
            html = body(get(client, user, page_url(ticket)))
            assert "13800001234" in html, user.username
        html = body(get(client, village_admin, page_url(ticket)))
        assert "13800001234" not in html and "138****1234" in html


# --- actions ----------------------------------------------------------------------------------


class TestSubmitFlow:
    def test_submit_with_a_real_photo(self, client, build, hj_officer):
        ticket = build("assigned")
        client.force_login(hj_officer)
        response = post_action(
            client,
            ticket,
            "submit",
            {"note": "已清理垃圾并设置警示牌", "photos": [jpeg_upload("after.jpg")]},
        )
        assert response.status_code == 303
        assert response["Location"] == page_url(ticket)
        ticket = fresh(ticket)
        assert ticket.state == "submitted"
        event = TicketEvent.objects.filter(rectification=ticket).last()
        assert (event.action, event.actor, event.note) == (
            "submit",
            hj_officer,
            "已清理垃圾并设置警示牌",
        )
        (stored,) = event.photos.all()
        assert stored.original_name == "after.jpg" and stored.uploaded_by == hj_officer
        page = client.get(response["Location"])
        html = body(page)
        assert "待复核" in html
        assert "已完成" in html  # the success message
        assert stored.thumbnail_url in html

    def test_several_photos_in_one_submit(self, client, build, hj_officer):
        ticket = build("assigned")
        client.force_login(hj_officer)
        files = [jpeg_upload("a.jpg"), jpeg_upload("b.jpg", colour=(10, 20, 30))]
        response = post_action(client, ticket, "submit", {"note": "ok", "photos": files})
        assert response.status_code == 303
        event = TicketEvent.objects.filter(rectification=ticket, action="submit").get()
        assert event.photos.count() == 2

    def test_stale_state_is_a_409_and_keeps_the_note(self, client, build, hj_officer, task_force):
        ticket = build("assigned")
        client.force_login(hj_officer)
        seen = ticket.state
        services.rectification_cancel(ticket=ticket, by=task_force, reason="重复立案")
        photos_before = EvidencePhoto.objects.count()
        response = post_action(
            client,
            ticket,
            "submit",
            {"note": "我写了很长的整改说明", "photos": [jpeg_upload()]},
            state=seen,
        )
        assert response.status_code == 409
        html = body(response)
        assert "此工单已被他人修改" in html
        assert "我写了很长的整改说明" in html
        assert "请重新选择" in html  # photos must be chosen again
        (kept,) = response.context["actions"]  # cancelled: submitting is no longer possible
        assert (kept.name, kept.enabled) == ("submit", False)
        kept_form = html.split('id="action-submit"')[1].split("</form>")[0]
        assert "我写了很长的整改说明" in kept_form and 'type="submit"' not in kept_form
        assert EvidencePhoto.objects.count() == photos_before
        assert fresh(ticket).state == "cancelled"

    def test_conflict_inside_the_service_is_a_409_and_stores_nothing(
        self, client, build, hj_officer, task_force, monkeypatch, settings
    ):
        """Someone acts between this request's read and its write: the service's
        compare-and-set loses, the page says so, and the photos already stored are removed."""
        ticket = build("assigned")
        real_submit = services.rectification_submit

        def submit_after_a_rival(*, ticket, **kwargs):
            rival = RectificationTicket.objects.get(pk=ticket.pk)
            services.rectification_cancel(ticket=rival, by=task_force, reason="撤销")
            return real_submit(ticket=ticket, **kwargs)

        monkeypatch.setitem(views.RECTIFICATION_SERVICES, "submit", submit_after_a_rival)
        photos_before, files_before = EvidencePhoto.objects.count(), media_files(settings)
        client.force_login(hj_officer)
        response = post_action(
            client, ticket, "submit", {"note": "整改说明保留", "photos": [jpeg_upload()]}
        )
        assert response.status_code == 409
        assert "整改说明保留" in body(response)
        assert EvidencePhoto.objects.count() == photos_before
        assert media_files(settings) == files_before
        # The simulated rival ran inside this request's transaction (photos and step are one
        # since evidence_record), so it rolled back with it; what matters: nothing submitted.
        assert fresh(ticket).state != "submitted"
        assert not TicketEvent.objects.filter(rectification=ticket, action="submit").exists()

    def test_bad_photo_is_a_400_naming_it_and_nothing_is_stored(
        self, client, build, hj_officer, settings
    ):
        ticket = build("assigned")
        photos_before, files_before = EvidencePhoto.objects.count(), media_files(settings)
        client.force_login(hj_officer)
        fake = SimpleUploadedFile("scan.jpg", b"%PDF-1.4 not a photo", content_type="image/jpeg")
        response = post_action(
            client, ticket, "submit", {"note": "整改说明", "photos": [jpeg_upload("ok.jpg"), fake]}
        )
        assert response.status_code == 400
        html = body(response)
        assert "scan.jpg" in html
        assert "整改说明" in html
        assert EvidencePhoto.objects.count() == photos_before
        assert media_files(settings) == files_before
        assert fresh(ticket).state == "assigned"

    def test_missing_photo_or_note_is_a_400(self, client, build, hj_officer):
        ticket = build("assigned")
        client.force_login(hj_officer)
        response = post_action(client, ticket, "submit", {"note": "只有说明"})
        assert response.status_code == 400
        assert "请至少添加一张整改后照片" in body(response)
        response = post_action(client, ticket, "submit", {"note": " ", "photos": [jpeg_upload()]})
        assert response.status_code == 400
        assert (
            EvidencePhoto.objects.filter(original_name="photo.jpg", uploaded_by=hj_officer).count()
            == 0
        )
        assert fresh(ticket).state == "assigned"

    def test_missing_state_and_huge_text_are_400(self, client, build, task_force):
        ticket = build("submitted")
        client.force_login(task_force)
        url = reverse("ticket_action", args=[ticket.number, "reject"])
        assert client.post(url, {"reason": "x"}).status_code == 400
        response = post_action(client, ticket, "reject", {"reason": "长" * 5000})
        assert response.status_code == 400
        assert fresh(ticket).state == "submitted"

    def test_bad_date_is_a_400(self, client, build, hj_officer):
        ticket = build("assigned")
        client.force_login(hj_officer)
        for value in ("2025-02-30", "tomorrow", "", "9999999-01-01"):
            response = post_action(
                client, ticket, "request_extension", {"new_deadline": value, "reason": "雨季"}
            )
            assert response.status_code == 400, value
            assert "雨季" in body(response)
        assert fresh(ticket).state == "assigned"

    def test_service_refusal_is_a_400_with_its_message(self, client, build, hj_officer):
        ticket = build("assigned")
        client.force_login(hj_officer)
        response = post_action(
            client,
            ticket,
            "request_extension",
            {"new_deadline": ticket.deadline.isoformat(), "reason": "雨季"},
        )
        assert response.status_code == 400
        assert "新的整改时限必须晚于当前时限" in body(response)

    def test_bad_decimal_is_a_400(self, client, household, hj_officer, huji_worker):
        ticket = toilet_in(
            "in_service", household=household, officer=hj_officer, worker=huji_worker
        )
        client.force_login(huji_worker)
        for volume in ("abc", "-1", "1e9", ""):
            response = post_action(
                client,
                ticket,
                "complete",
                {"volume_m3": volume, "disposal_site": "厂", "photos": [jpeg_upload()]},
            )
            assert response.status_code == 400, volume
        assert fresh(ticket).state == "in_service"
        assert (
            not EvidencePhoto.objects.filter(uploaded_by=huji_worker)
            .exclude(pk__in=TicketEvent.objects.values("photos"))
            .exists()
        )


class TestRefusals:
    def test_hidden_action_posted_anyway_is_a_403_with_the_reason(
        self, client, build, hj_officer, inspector, task_force
    ):
        submitted = build("submitted")
        client.force_login(hj_officer)
        response = post_action(client, submitted, "close", {"note": ""})
        assert response.status_code == 403
        assert "您的角色不能对此工单执行此操作" in body(response)
        client.force_login(inspector)
        response = post_action(
            client, build("assigned"), "submit", {"note": "x", "photos": [jpeg_upload()]}
        )
        assert response.status_code == 403
        client.force_login(task_force)
        response = post_action(client, build("assigned"), "close", {"note": ""})
        assert response.status_code == 403  # not in this state
        assert "当前为“整改中”，不能执行此操作" in body(response)
        assert fresh(submitted).state == "submitted"

    def test_refused_action_stores_no_photo(self, client, build, inspector, settings):
        ticket = build("assigned")
        photos_before, files_before = EvidencePhoto.objects.count(), media_files(settings)
        client.force_login(inspector)
        response = post_action(client, ticket, "submit", {"note": "x", "photos": [jpeg_upload()]})
        assert response.status_code == 403
        assert EvidencePhoto.objects.count() == photos_before
        assert media_files(settings) == files_before

    def test_forged_action_name_is_a_404(self, client, build, task_force):
        ticket = build("submitted")
        client.force_login(task_force)
        for action in ("delete", "save", "__class__", "return_for_redispatch", "dispatch"):
            response = post_action(client, ticket, action, {})
            assert response.status_code == 404, action
        assert fresh(ticket).state == "submitted"

    def test_out_of_scope_action_is_a_404(self, client, build, other_officer):
        ticket = build("assigned")
        client.force_login(other_officer)
        response = post_action(client, ticket, "submit", {"note": "x", "photos": [jpeg_upload()]})
        assert response.status_code == 404

    def test_get_on_an_action_is_refused(self, client, build, hj_officer):
        ticket = build("assigned")
        client.force_login(hj_officer)
        assert (
            client.get(reverse("ticket_action", args=[ticket.number, "submit"])).status_code == 405
        )

    def test_worker_steps_only_for_the_assigned_worker(
        self, client, household, hj_officer, huji_worker, service_worker
    ):
        ticket = toilet_in(
            "dispatched", household=household, officer=hj_officer, worker=huji_worker
        )
        client.force_login(hj_officer)
        response = post_action(client, ticket, "accept", {})
        assert response.status_code == 403
        assert "只有接到此派单的管护员才能执行此操作" in body(response)
        client.force_login(service_worker)  # county-wide, but not his job: not even visible
        assert post_action(client, ticket, "accept", {}).status_code == 404
        client.force_login(huji_worker)
        assert post_action(client, ticket, "accept", {}).status_code == 303
        assert fresh(ticket).state == "accepted"


def test_large_photo_is_refused_by_name(client, build, hj_officer, settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 1000
    ticket = build("assigned")
    buffer = io.BytesIO()
    Image.effect_noise((200, 200), 50).convert("RGB").save(buffer, "JPEG", quality=95)
    big = SimpleUploadedFile("huge.jpg", buffer.getvalue(), content_type="image/jpeg")
    client.force_login(hj_officer)
    response = post_action(client, ticket, "submit", {"note": "x", "photos": [big]})
    assert response.status_code == 400
    assert "huge.jpg" in body(response)


def test_the_page_is_in_english_when_chosen(client, build, hj_officer):
    ticket = build("assigned")
    client.cookies["django_language"] = "en"
    html = body(get(client, hj_officer, page_url(ticket)))
    assert "Submit for review" in html


def test_worker_of_another_town_is_not_offered(client, household, hj_officer, jishu):
    ticket = toilet_in("reported", household=household, officer=hj_officer, worker=None)
    make_user("jishu_worker", membership(Role.SERVICE_WORKER, jishu))
    response = get(client, hj_officer, page_url(ticket))
    (panel,) = [p for p in response.context["actions"] if p.name == "dispatch"]
    assert "jishu_worker" not in [u.username for u in panel.form.fields["worker"].queryset]
