"""Open311 GeoReport v2 at /open311/v2/ (workflows/open311): every endpoint in JSON and XML, the
JSON validated against schemas written from the specification (tests/data/open311/, provenance
https://wiki.open311.org/GeoReport_v2 in each file), the XML holding the same values under the
specification's element names; a POST becomes a draft ticket in its town's inbox; bad input and
bad keys answer 4xx with the standard's error body and store nothing."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from xml.etree import ElementTree

import jsonschema_rs
import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inspections.grading.models import Dimension
from villages import lookup
from villages.models import AccessToken, Role
from villages.people import api_auth
from villages.people.tokens import token_create, token_revoke
from workflows.bulletins.selectors import FINDING_SOURCES
from workflows.models import (
    RECTIFICATION_DONE_STATES,
    RECTIFICATION_OPEN_STATES,
    Category,
    RectificationState,
    RectificationTicket,
    Source,
)
from workflows.open311 import selectors
from workflows.open311.catalog import SERVICES
from workflows.tickets import services as tickets

pytestmark = pytest.mark.django_db

SCHEMAS = Path(settings.BASE_DIR) / "tests" / "data" / "open311"
BASE = "/open311/v2/"
# Squares drawn for the tests inside 金乡县: 胡集镇 and, in it, 胡集村; 鸡黍镇 to the south-west.
HUJI_AT = (35.13, 116.35)  # (lat, long)
JISHU_AT = (35.00, 116.20)
NOWHERE = (35.40, 116.80)  # outside every town (and the county)


def square(lat: float, lng: float, half_m: float) -> dict:
    dlat = half_m / 111_320
    dlng = half_m / (111_320 * math.cos(math.radians(lat)))
    ring = [
        [lng - dlng, lat - dlat],
        [lng + dlng, lat - dlat],
        [lng + dlng, lat + dlat],
        [lng - dlng, lat + dlat],
        [lng - dlng, lat - dlat],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture(autouse=True)
def outlines(huji, jishu, huji_village):
    """Town boundaries (and one village's), as the boundary importer stores them."""
    now = timezone.now()
    for place, at, half in ((huji, HUJI_AT, 3000), (jishu, JISHU_AT, 3000)):
        place.boundary, place.geo_updated_at = square(*at, half), now
        place.save(update_fields=["boundary", "geo_updated_at"])
    huji_village.boundary, huji_village.geo_updated_at = square(*HUJI_AT, 500), now
    huji_village.save(update_fields=["boundary", "geo_updated_at"])
    lookup.reset_cache()
    yield
    lookup.reset_cache()


def make_token(by, role, where=None, **kwargs) -> str:
    place = {"town": where} if where is not None else {}
    return token_create(by=by, name=f"12345 {role}", role=role, **place, **kwargs)[1]


@pytest.fixture
def hotline(task_force):
    """The 12345 platform's key: a county-wide inspector (opens tickets anywhere, sees all)."""
    return make_token(task_force, Role.INSPECTOR)


@pytest.fixture
def jishu_key(task_force, jishu):
    """A key acting as 鸡黍镇's town officer: nothing of 胡集镇."""
    return make_token(task_force, Role.TOWN_OFFICER, jishu)


def validate(name: str, data) -> None:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    validator = jsonschema_rs.validator_for(schema, validate_formats=True)
    errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(data)]
    assert not errors, errors


def xml_items(response, root: str, item: str) -> list[dict]:
    """The XML document's items as {element: text}, after checking the declaration, type and
    element names."""
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    text = response.content.decode()
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    document = ElementTree.fromstring(response.content)
    assert document.tag == root
    assert all(child.tag == item for child in document)
    return [{field.tag: field.text for field in child} for child in document]


def as_text(value) -> str | None:
    """A JSON value as the XML writes it: null an empty element, booleans true/false."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def same_in_xml(json_items: list[dict], xml: list[dict]) -> None:
    assert xml == [{key: as_text(value) for key, value in item.items()} for item in json_items]


def get(client, path: str, **params):
    return client.get(BASE + path, params)


def post(client, fmt: str = "json", **params):
    return client.post(f"{BASE}requests.{fmt}", params)


def garbage_in_huji(key: str, **extra) -> dict:
    lat, lng = HUJI_AT
    return {
        "api_key": key,
        "service_code": "garbage",
        "lat": lat,
        "long": lng,
        "description": "村口垃圾堆放多日无人清运",
        **extra,
    }


def assert_errors(response, status: int, fmt: str = "json") -> list[str]:
    """The standard's error body with `status`; the descriptions."""
    assert response.status_code == status, response.content.decode()
    if fmt == "xml":
        items = xml_items(response, "errors", "error")
        assert all(set(item) == {"code", "description"} for item in items)
        assert {item["code"] for item in items} == {str(status)}
        return [item["description"] for item in items]
    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    validate("errors", body)
    assert {error["code"] for error in body} == {status}
    return [error["description"] for error in body]


# --- services ---------------------------------------------------------------------------------


def test_the_services_are_the_rectification_categories(client):
    response = get(client, "services.json")
    assert response.status_code == 200
    services = response.json()
    validate("services", services)
    assert [s["service_code"] for s in services] == list(Category.values)
    garbage = next(s for s in services if s["service_code"] == "garbage")
    assert garbage["service_name"] == "垃圾治理"  # the category's label, in Chinese by default
    assert garbage["type"] == "realtime" and garbage["metadata"] is False
    same_in_xml(services, xml_items(get(client, "services.xml"), "services", "service"))


def test_every_checklist_dimension_is_a_service():
    # A deduction's ticket takes its item's dimension as its category (and so its service).
    assert set(Dimension.values) <= set(Category.values) == set(SERVICES)


@pytest.mark.parametrize("code", Category.values)
def test_each_service_has_a_definition(client, code):
    definition = get(client, f"services/{code}.json").json()
    validate("service_definition", definition)
    assert definition == {"service_code": code, "attributes": []}
    response = get(client, f"services/{code}.xml")
    document = ElementTree.fromstring(response.content)
    assert document.tag == "service_definition"
    assert [child.tag for child in document] == ["service_code", "attributes"]
    assert document.findtext("service_code") == code and len(document.find("attributes")) == 0


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unknown_service_is_404(client, fmt):
    (description,) = assert_errors(get(client, f"services/potholes.{fmt}"), 404, fmt)
    assert "potholes" in description


# --- POST requests ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_request_in_huji_becomes_a_draft_in_hujis_inbox(
    client, fmt, hotline, huji, huji_village, hj_officer, other_officer
):
    response = post(client, fmt, **garbage_in_huji(hotline, account_id="caller-77"))
    assert response.status_code == 200, response.content.decode()
    if fmt == "json":
        created = response.json()
        validate("request_created", created)
    else:
        created = xml_items(response, "service_requests", "request")
    (answer,) = created
    assert set(answer) == {"service_request_id", "service_notice", "account_id"}
    assert answer["account_id"] == "caller-77" and "胡集镇" in answer["service_notice"]
    ticket = RectificationTicket.objects.get(number=answer["service_request_id"])
    assert (ticket.state, ticket.town, ticket.village) == ("draft", huji, huji_village)
    assert (ticket.source_kind, ticket.category) == (Source.HOTLINE, "garbage")
    assert ticket.created_by.access_token.name == "12345 inspector"
    assert (ticket.location_lat, ticket.location_lng) == HUJI_AT
    assert ticket.description == "村口垃圾堆放多日无人清运"
    assert ticket.events.get().action == "create"

    # 胡集镇's officer finds it among what waits for the county; 鸡黍镇's does not see it.
    client.force_login(hj_officer)
    inbox = client.get(reverse("ticket_list")).context["inbox"]
    assert ticket.number in client.get(inbox["waiting"]["url"]).content.decode()
    client.force_login(other_officer)
    page = client.get(reverse("ticket_list") + "?state=draft").content.decode()
    assert ticket.number not in page


def test_a_position_outside_a_village_outline_gives_the_town_only(client, hotline, huji):
    params = garbage_in_huji(hotline, lat=HUJI_AT[0] + 0.02, address_string="胡集镇北外环路边")
    number = post(client, **params).json()[0]["service_request_id"]
    ticket = RectificationTicket.objects.get(number=number)
    assert (ticket.town, ticket.village, ticket.site_label) == (huji, None, "胡集镇北外环路边")


def test_a_media_url_is_kept_under_the_description_not_fetched(client, hotline):
    url = "https://hotline.example/media/123.jpg"
    number = post(client, **garbage_in_huji(hotline, media_url=url)).json()[0]
    ticket = RectificationTicket.objects.get(number=number["service_request_id"])
    assert ticket.description.startswith("村口垃圾堆放多日无人清运\n") and url in ticket.description
    assert not ticket.before_photos.exists()


def test_a_hotline_draft_is_a_finding_for_the_next_bulletin():
    assert Source.HOTLINE in FINDING_SOURCES


BAD_INPUT = {
    "no service_code": ({"service_code": ""}, 400, "service_code"),
    "no lat": ({"lat": ""}, 400, "lat"),
    "no long": ({"long": ""}, 400, "long"),
    "an address instead of a position": (
        {"lat": "", "long": "", "address_string": "胡集镇政府"},
        400,
        "lat",
    ),
    "lat out of range": ({"lat": 91}, 400, "lat"),
    "long out of range": ({"long": -181}, 400, "long"),
    "lat not a number": ({"lat": "north"}, 400, "lat"),
    "lat NaN": ({"lat": "nan"}, 400, "lat"),
    "long infinite": ({"long": "inf"}, 400, "long"),
    "outside every town": ({"lat": NOWHERE[0], "long": NOWHERE[1]}, 400, ""),
    "no description": ({"description": "  "}, 400, ""),
    "description over 4000 characters": ({"description": "垃" * 4001}, 400, "description"),
    "address over 120 characters": ({"address_string": "路" * 121}, 400, "address_string"),
    "media_url not a web address": ({"media_url": "file:///etc/passwd"}, 400, "media_url"),
    "unknown service_code": ({"service_code": "potholes"}, 404, "potholes"),
}


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("case", BAD_INPUT, ids=list(BAD_INPUT))
def test_bad_input_is_refused_with_the_standards_error_and_nothing_stored(
    client, hotline, case, fmt
):
    change, status, mentions = BAD_INPUT[case]
    descriptions = assert_errors(
        post(client, fmt, **garbage_in_huji(hotline, **change)), status, fmt
    )
    assert all(descriptions) and any(mentions in text for text in descriptions)
    assert not RectificationTicket.objects.exists()


@pytest.fixture
def keys(task_force, huji_village, jishu_key):
    revoked, revoked_secret = token_create(by=task_force, name="旧平台", role=Role.INSPECTOR)
    token_revoke(by=task_force, token=revoked)
    expired, expired_secret = token_create(by=task_force, name="过期", role=Role.INSPECTOR)
    AccessToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    village_admin = token_create(
        by=task_force, name="村管员", role=Role.VILLAGE_ADMIN, village=huji_village
    )[1]
    return {
        "missing": "",
        "unknown": "rjt_" + "x" * 43,
        "not a token": "let-me-in",
        "revoked": revoked_secret,
        "expired": expired_secret,
        "a village admin's (may not open tickets)": village_admin,
        "鸡黍镇's officer's (胡集镇 is outside)": jishu_key,
    }


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_bad_or_powerless_api_key_is_403_and_nothing_stored(client, keys, fmt):
    for name, key in keys.items():
        response = post(client, fmt, **garbage_in_huji(key))
        (description,) = assert_errors(response, 403, fmt)
        assert description, name
    assert not RectificationTicket.objects.exists()


def test_a_key_from_the_authorization_header_works_too(client, hotline):
    params = garbage_in_huji("")
    response = client.post(BASE + "requests.json", params, HTTP_AUTHORIZATION=f"Bearer {hotline}")
    assert response.status_code == 200


def test_a_keys_rate_is_kept_with_429_and_retry_after(client, task_force, monkeypatch):
    key = make_token(task_force, Role.INSPECTOR, rate_per_minute=1)
    # One fixed clock minute: two calls never straddle a minute's boundary.
    monkeypatch.setattr(api_auth, "time", SimpleNamespace(time=lambda: 1_800_000_030.0))
    assert get(client, "requests.json", api_key=key).status_code == 200
    response = get(client, "requests.json", api_key=key)
    assert_errors(response, 429)
    assert response["Retry-After"] == "30"


# --- GET requests -----------------------------------------------------------------------------


@pytest.fixture
def requests_made(client, hotline, task_force, make_photo, huji, huji_village, inspector):
    """Three hotline requests (garbage, sewage, a cancelled one) and an inspector's ticket with a
    photo, newest last."""
    made = {}
    for name, code in (("garbage", "garbage"), ("sewage", "sewage"), ("cancelled", "toilets")):
        answer = post(client, **garbage_in_huji(hotline, service_code=code)).json()[0]
        made[name] = RectificationTicket.objects.get(number=answer["service_request_id"])
    tickets.rectification_cancel(ticket=made["cancelled"], by=task_force, reason="重复投诉")
    made["photographed"] = tickets.rectification_create(
        by=inspector,
        town=huji,
        village=huji_village,
        description="坑塘漂浮物",
        category="sewage",
        before_photos=[make_photo(inspector)],
        location=HUJI_AT,
    )
    return made


def numbers(response) -> list[str]:
    assert response.status_code == 200, response.content.decode()
    body = response.json()
    validate("service_requests", body)
    return [item["service_request_id"] for item in body]


def test_the_requests_of_the_last_90_days_newest_first(client, hotline, requests_made):
    response = get(client, "requests.json", api_key=hotline)
    expected = [t.number for t in reversed(requests_made.values())]
    assert numbers(response) == expected
    items = response.json()
    same_in_xml(
        items,
        xml_items(get(client, "requests.xml", api_key=hotline), "service_requests", "request"),
    )


def test_a_request_shows_the_tickets_facts(client, hotline, requests_made, huji_village):
    garbage = requests_made["garbage"]
    (item,) = get(client, f"requests/{garbage.number}.json", api_key=hotline).json()
    assert item["status"] == "open" and item["status_notes"] == "待交办"
    assert (item["service_code"], item["service_name"]) == ("garbage", "垃圾治理")
    assert item["agency_responsible"] == "胡集镇"
    assert item["address"] == f"{huji_village.short_name}, 胡集镇, 金乡县"
    assert item["address_id"] == huji_village.code
    assert (item["lat"], item["long"]) == HUJI_AT
    assert item["expected_datetime"] is None and item["media_url"] is None
    assert item["requested_datetime"].endswith("+08:00")

    (cancelled,) = get(
        client, f"requests/{requests_made['cancelled'].number}.json", api_key=hotline
    ).json()
    assert (cancelled["status"], cancelled["status_notes"]) == ("closed", "已撤销")


def test_the_deadline_is_the_expected_datetime(client, hotline, requests_made, task_force):
    deadline = timezone.localdate() + timedelta(days=7)
    tickets.rectification_assign(ticket=requests_made["garbage"], by=task_force, deadline=deadline)
    (item,) = get(
        client, f"requests/{requests_made['garbage'].number}.json", api_key=hotline
    ).json()
    assert item["expected_datetime"] == f"{deadline.isoformat()}T23:59:59+08:00"
    assert item["status_notes"] == "整改中"


def test_media_url_is_the_first_photo_behind_the_login(client, hotline, requests_made):
    ticket = requests_made["photographed"]
    (item,) = get(client, f"requests/{ticket.number}.json", api_key=hotline).json()
    photo = ticket.before_photos.get()
    assert item["media_url"] == f"http://testserver/photos/{photo.pk}/display.jpg"
    client.logout()
    assert client.get(item["media_url"]).status_code == 302  # to the login page


def test_status_maps_every_state():
    for state in RECTIFICATION_OPEN_STATES:
        assert selectors.status_of(state) == "open"
    for state in RECTIFICATION_DONE_STATES:
        assert selectors.status_of(state) == "closed"
    assert set(RECTIFICATION_OPEN_STATES) | set(RECTIFICATION_DONE_STATES) == set(
        RectificationState
    )


def test_the_filters(client, hotline, requests_made):
    made = requests_made
    by_status = get(client, "requests.json", api_key=hotline, status="closed")
    assert numbers(by_status) == [made["cancelled"].number]
    both = get(client, "requests.json", api_key=hotline, status="open,closed")
    assert len(numbers(both)) == 4
    by_code = get(client, "requests.json", api_key=hotline, service_code="sewage,toilets")
    expected = [made["photographed"].number, made["cancelled"].number, made["sewage"].number]
    assert numbers(by_code) == expected
    open_sewage = get(
        client, "requests.json", api_key=hotline, service_code="sewage", status="open"
    )
    assert numbers(open_sewage) == [made["photographed"].number, made["sewage"].number]
    ids = f"{made['garbage'].number}, {made['cancelled'].number},ZG-1999-000001"
    by_id = get(client, "requests.json", api_key=hotline, service_request_id=ids, status="open")
    # The ids override every other argument (the status here).
    assert set(numbers(by_id)) == {made["garbage"].number, made["cancelled"].number}


def test_the_window_defaults_to_90_days_and_may_span_no_more(client, hotline, requests_made):
    old = requests_made["garbage"]
    RectificationTicket.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=100)
    )
    assert old.number not in numbers(get(client, "requests.json", api_key=hotline))
    start = (timezone.now() - timedelta(days=120)).isoformat()
    then = numbers(get(client, "requests.json", api_key=hotline, start_date=start))
    assert then == [old.number]  # start alone: the 90 days from it
    end = (timezone.now() - timedelta(days=95)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert numbers(get(client, "requests.json", api_key=hotline, end_date=end)) == [old.number]
    today = timezone.localdate().isoformat()
    assert old.number not in numbers(get(client, "requests.json", api_key=hotline, end_date=today))


BAD_QUERIES = {
    "a span over 90 days": {
        "start_date": "2025-01-01T00:00:00Z",
        "end_date": "2025-06-01T00:00:00Z",
    },
    "end before start": {"start_date": "2025-03-01T00:00:00Z", "end_date": "2025-02-01T00:00:00Z"},
    "not a date": {"start_date": "last week"},
    "an impossible date": {"end_date": "2025-02-30T00:00:00Z"},
    "out of the calendar": {"start_date": "9999-12-31T00:00:00"},
    "an unknown status": {"status": "pending"},
    "an unknown service_code": {"service_code": "garbage,potholes"},
}


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("case", BAD_QUERIES, ids=list(BAD_QUERIES))
def test_a_bad_query_is_400(client, hotline, case, fmt):
    response = get(client, f"requests.{fmt}", api_key=hotline, **BAD_QUERIES[case])
    assert all(assert_errors(response, 400, fmt))


def test_at_most_the_newest_limit(client, hotline, requests_made, monkeypatch):
    monkeypatch.setattr(selectors, "MAX_REQUESTS", 2)
    assert numbers(get(client, "requests.json", api_key=hotline)) == [
        requests_made["photographed"].number,
        requests_made["cancelled"].number,
    ]


def test_a_list_costs_the_same_queries_for_more_rows(client, hotline, requests_made):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert get(client, "requests.json", api_key=hotline).status_code == 200
        # Not the key's last-used time, written at most once a minute whatever the rows.
        return len(
            [q for q in captured if not q["sql"].startswith('UPDATE "villages_accesstoken"')]
        )

    few = queries()
    for _ in range(3):
        post(client, **garbage_in_huji(hotline))
    assert queries() == few


# --- reads follow the key's jurisdiction -------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_reading_needs_an_api_key(client, requests_made, fmt):
    number = requests_made["garbage"].number
    for path in (f"requests.{fmt}", f"requests/{number}.{fmt}", f"tokens/{number}.{fmt}"):
        assert_errors(get(client, path), 403, fmt)
        assert_errors(get(client, path, api_key="rjt_nope"), 403, fmt)


def test_another_towns_key_sees_nothing_of_huji(client, jishu_key, requests_made):
    number = requests_made["garbage"].number
    assert numbers(get(client, "requests.json", api_key=jishu_key)) == []
    assert_errors(get(client, f"requests/{number}.json", api_key=jishu_key), 404)
    assert_errors(get(client, f"tokens/{number}.json", api_key=jishu_key), 404)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unknown_request_is_404(client, hotline, fmt):
    assert_errors(get(client, f"requests/ZG-1999-000001.{fmt}", api_key=hotline), 404, fmt)


def test_one_request_in_both_formats(client, hotline, requests_made):
    number = requests_made["photographed"].number
    body = get(client, f"requests/{number}.json", api_key=hotline).json()
    validate("service_requests", body)
    xml = xml_items(
        get(client, f"requests/{number}.xml", api_key=hotline), "service_requests", "request"
    )
    same_in_xml(body, xml)


def test_the_token_is_the_request_id(client, hotline, requests_made):
    number = requests_made["garbage"].number
    body = get(client, f"tokens/{number}.json", api_key=hotline).json()
    validate("token", body)
    assert body == [{"service_request_id": number, "token": number}]
    xml = xml_items(
        get(client, f"tokens/{number}.xml", api_key=hotline), "service_requests", "request"
    )
    same_in_xml(body, xml)


def test_text_xml_cannot_hold_is_left_out_of_the_xml(client, hotline):
    number = post(client, **garbage_in_huji(hotline, description="垃圾\x0b堆放")).json()[0]
    response = get(client, f"requests/{number['service_request_id']}.xml", api_key=hotline)
    (item,) = xml_items(response, "service_requests", "request")
    assert item["description"] == "垃圾堆放"


# --- the rest of the address space ------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_other_methods_are_405(client, fmt):
    response = client.put(f"{BASE}services.{fmt}")
    assert_errors(response, 405, fmt)
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unknown_resource_is_404_in_the_standards_body(client, fmt):
    assert_errors(client.get(f"{BASE}discovery.{fmt}"), 404, fmt)
    assert_errors(client.get(f"{BASE}requests.{fmt}/"), 404, fmt)


def test_the_browsers_session_is_no_api_key(client, task_force, requests_made):
    client.force_login(task_force)
    assert_errors(get(client, "requests.json"), 403)
    assert_errors(get(client, f"requests/{requests_made['garbage'].number}.json"), 403)
    before = RectificationTicket.objects.count()
    assert_errors(post(client, **garbage_in_huji("")), 403)
    assert RectificationTicket.objects.count() == before
