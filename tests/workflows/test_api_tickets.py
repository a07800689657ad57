"""The tickets through the JSON API (/api/v1/tickets, /api/v1/toilet), as another system would
use them with a personal access token, and as the site's own pages with the session: the same
scope, the same actions table, the same services — and nothing stored for a refused call."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from tests.workflows.conftest import jpeg_upload
from villages.models import Role
from villages.people.tokens import token_create
from workflows.models import RectificationTicket, TicketEvent, ToiletTicket
from workflows.tickets import services


def bearer(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.fixture
def town_token(task_force, huji):
    """What the task force makes on the people page for 胡集镇's own system."""
    _token, secret = token_create(
        by=task_force, name="胡集镇政务平台", role=Role.TOWN_OFFICER, town=huji
    )
    return secret


@pytest.fixture
def county_token(task_force):
    _token, secret = token_create(by=task_force, name="县数据中心", role=Role.TASK_FORCE)
    return secret


@pytest.fixture
def jishu_assigned(jishu, jishu_village, inspector, task_force, deadline, make_photo):
    ticket = services.rectification_create(
        by=inspector, town=jishu, village=jishu_village, description="坑塘漂浮垃圾"
    )
    return services.rectification_assign(ticket=ticket, by=task_force, deadline=deadline)


@pytest.mark.django_db
def test_a_town_token_lists_its_towns_tickets_only(client, town_token, assigned, jishu_assigned):
    answer = client.get("/api/v1/tickets", **bearer(town_token))
    assert answer.status_code == 200
    numbers = [row["number"] for row in answer.json()["results"]]
    assert numbers == [assigned.number]
    row = answer.json()["results"][0]
    assert (row["state"], row["town_code"]) == ("assigned", assigned.town_id)
    assert row["url"].endswith(f"/api/v1/tickets/{assigned.number}")
    # Another town's ticket does not exist for it.
    other = client.get(f"/api/v1/tickets/{jishu_assigned.number}", **bearer(town_token))
    assert other.status_code == 404
    assert other.json()["detail"]


@pytest.mark.django_db
def test_the_detail_lists_events_photos_and_the_actions_allowed_now(client, town_token, assigned):
    answer = client.get(f"/api/v1/tickets/{assigned.number}", **bearer(town_token))
    assert answer.status_code == 200
    body = answer.json()
    assert [event["action"] for event in body["events"]] == ["create", "assign"]
    assert len(body["before_photos"]) == 1
    assert body["before_photos"][0]["url"].startswith("http://testserver/")
    assert {action["name"] for action in body["actions"]} == {"submit", "request_extension"}


@pytest.mark.django_db
def test_a_town_token_submits_a_rectification_with_a_photo(client, town_token, assigned):
    key = str(uuid.uuid4())
    body = {
        "state": "assigned",
        "note": "已清理，设置警示牌",
        "key": key,
        "photos": [jpeg_upload("after.jpg")],
    }
    url = f"/api/v1/tickets/{assigned.number}/actions/submit"
    answer = client.post(url, body, **bearer(town_token))
    assert answer.status_code == 200, answer.content
    assert answer.json()["state"] == "submitted"
    assigned.refresh_from_db()
    assert assigned.state == "submitted"
    submit = TicketEvent.objects.get(rectification=assigned, action="submit")
    assert submit.actor.access_token.name == "胡集镇政务平台"
    assert submit.photos.count() == 1
    # The same key again (the answer was lost): recorded once, answered 200.
    again = client.post(url, body | {"photos": [jpeg_upload("after.jpg")]}, **bearer(town_token))
    assert again.status_code == 200
    assert TicketEvent.objects.filter(rectification=assigned, action="submit").count() == 1


@pytest.mark.django_db
def test_nothing_else_a_town_token_may_not_close_or_assign(client, town_token, submitted):
    answer = client.post(
        f"/api/v1/tickets/{submitted.number}/actions/close",
        {"state": "submitted"},
        **bearer(town_token),
        content_type="application/json",
    )
    assert answer.status_code == 403
    assert answer.json()["detail"]
    submitted.refresh_from_db()
    assert submitted.state == "submitted"


@pytest.mark.django_db
def test_a_stale_state_is_409_with_the_state_now(client, county_token, submitted):
    answer = client.post(
        f"/api/v1/tickets/{submitted.number}/actions/close",
        {"state": "assigned", "note": "ok"},
        content_type="application/json",
        **bearer(county_token),
    )
    assert answer.status_code == 409
    assert answer.json()["state"] == "submitted"
    closes = TicketEvent.objects.filter(rectification=submitted, action="close")
    assert not closes.exists()


@pytest.mark.django_db
def test_the_county_closes_with_json(client, county_token, submitted):
    answer = client.post(
        f"/api/v1/tickets/{submitted.number}/actions/close",
        {"state": "submitted", "note": "复核合格"},
        content_type="application/json",
        **bearer(county_token),
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["state"] == "closed"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"state": "draft"}, "deadline"),
        ({"state": "draft", "deadline": "2026-02-30"}, "deadline"),
        ({"deadline": "2099-01-01"}, "state"),
    ],
)
def test_bad_input_is_400_naming_the_field(client, county_token, draft, body, field):
    answer = client.post(
        f"/api/v1/tickets/{draft.number}/actions/assign",
        body,
        content_type="application/json",
        **bearer(county_token),
    )
    assert answer.status_code == 400
    assert any(line.startswith(f"{field}:") for line in answer.json()["errors"])
    draft.refresh_from_db()
    assert draft.state == "draft"


@pytest.mark.django_db
def test_a_body_that_is_not_an_object_is_400(client, county_token, draft):
    for body in ("[1, 2]", "{not json", '"text"'):
        answer = client.post(
            f"/api/v1/tickets/{draft.number}/actions/assign",
            body,
            content_type="application/json",
            **bearer(county_token),
        )
        assert answer.status_code == 400, body


@pytest.mark.django_db
def test_opening_a_ticket_in_its_town_and_not_in_another(client, town_token, huji, jishu):
    body = {"town": huji.code, "description": "沟渠内有垃圾", "photos": [jpeg_upload()]}
    answer = client.post("/api/v1/tickets", body, **bearer(town_token))
    assert answer.status_code == 201, answer.content
    created = RectificationTicket.objects.get(number=answer.json()["number"])
    assert (created.town_id, created.state, created.before_photos.count()) == (
        huji.code,
        "draft",
        1,
    )
    elsewhere = client.post(
        "/api/v1/tickets", {"town": jishu.code, "description": "x"}, **bearer(town_token)
    )
    assert elsewhere.status_code == 400
    assert RectificationTicket.objects.filter(town=jishu).count() == 0


@pytest.mark.django_db
def test_lists_take_the_pages_filters_and_refuse_bad_ones(
    client, county_token, assigned, jishu_assigned, inspector, huji
):
    draft = services.rectification_create(by=inspector, town=huji, description="待交办的")
    answer = client.get("/api/v1/tickets?state=draft", **bearer(county_token))
    assert [row["number"] for row in answer.json()["results"]] == [draft.number]
    bad = client.get("/api/v1/tickets?state=nonsense", **bearer(county_token))
    assert bad.status_code == 400
    bad_town = client.get("/api/v1/tickets?town_id=999999999999", **bearer(county_token))
    assert bad_town.status_code == 400


@pytest.mark.django_db
def test_cursor_pages_walk_every_ticket_once(client, county_token, huji, inspector):
    for index in range(7):
        services.rectification_create(by=inspector, town=huji, description=f"问题{index}")
    seen, url = [], "/api/v1/tickets?page_size=3"
    while url:
        page = client.get(url, **bearer(county_token)).json()
        seen += [row["number"] for row in page["results"]]
        url = page["next"] and f"/api/v1/tickets?page_size=3&cursor={page['next']}"
    assert len(seen) == len(set(seen)) == 7
    assert client.get("/api/v1/tickets?cursor=@@", **bearer(county_token)).status_code == 400


@pytest.mark.django_db
def test_the_list_costs_the_same_queries_for_1_and_20_rows(
    client, county_token, huji, inspector, django_assert_max_num_queries
):
    services.rectification_create(by=inspector, town=huji, description="一")
    with django_assert_max_num_queries(8) as one:
        assert client.get("/api/v1/tickets", **bearer(county_token)).status_code == 200
    for index in range(19):
        services.rectification_create(by=inspector, town=huji, description=f"问题{index}")
    with django_assert_max_num_queries(len(one.captured_queries)):
        answer = client.get("/api/v1/tickets", **bearer(county_token))
    assert len(answer.json()["results"]) == 20


@pytest.mark.django_db
def test_the_session_works_for_the_sites_own_pages_with_csrf(hj_officer, assigned):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(hj_officer)
    assert browser.get("/api/v1/tickets").status_code == 200
    # A write with the session needs the CSRF token, as any form of the site does.
    url = f"/api/v1/tickets/{assigned.number}/actions/request_extension"
    refused = browser.post(url, {"state": "assigned", "new_deadline": "2099-01-01", "reason": "x"})
    assert refused.status_code == 403
    assigned.refresh_from_db()
    assert assigned.state == "assigned"


@pytest.mark.django_db
def test_no_token_or_a_wrong_one_is_401(client, assigned):
    assert client.get("/api/v1/tickets").status_code == 401
    wrong = client.get("/api/v1/tickets", **bearer("rjt_" + "x" * 43))
    assert wrong.status_code == 401
    assert wrong.json()["detail"]


@pytest.mark.django_db
def test_toilet_tickets_reported_and_accepted_through_the_api(
    client, town_token, household, hj_officer, huji_worker
):
    report = {"household": household.pk, "kind": "pumping", "channel": "phone"}
    answer = client.post("/api/v1/toilet", report, **bearer(town_token))
    assert answer.status_code == 201, answer.content
    number = answer.json()["number"]
    ticket = services.toilet_dispatch(
        ticket=ToiletTicket.objects.get(number=number), by=hj_officer, worker=huji_worker
    )
    worker = Client()
    worker.force_login(huji_worker)
    mine = worker.get("/api/v1/toilet?mine=true").json()["results"]
    assert [row["number"] for row in mine] == [number]
    accepted = worker.post(
        f"/api/v1/toilet/{number}/actions/accept",
        {"state": ticket.state},
        content_type="application/json",
    )
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["state"] == "accepted"
    # The town's system may not take the worker's own step.
    refused = client.post(
        f"/api/v1/toilet/{number}/actions/start",
        {"state": "accepted"},
        content_type="application/json",
        **bearer(town_token),
    )
    assert refused.status_code == 403


@pytest.mark.django_db
def test_the_photo_urls_open_with_the_same_token_and_its_scope(
    client, town_token, assigned, jishu_assigned, make_photo, inspector
):
    detail = client.get(f"/api/v1/tickets/{assigned.number}", **bearer(town_token)).json()
    url = detail["before_photos"][0]["url"].removeprefix("http://testserver")
    photo = client.get(url, **bearer(town_token))
    assert photo.status_code == 200
    assert photo["Content-Type"] == "image/jpeg"
    assert b"".join(photo.streaming_content)[:2] == b"\xff\xd8"
    # Without the token it is the login, as for any page; a wrong token is 401.
    assert client.get(url).status_code == 302
    assert client.get(url, **bearer("rjt_" + "y" * 43)).status_code == 401
    # Another town's photo does not exist for this token.
    other = make_photo(inspector)
    jishu_assigned.before_photos.add(other)
    assert client.get(other.display_url, **bearer(town_token)).status_code == 404
