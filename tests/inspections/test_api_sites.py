"""The API's water sites and patrols (inspections/sites/api.py): the register's scope and
filters, bbox and cursors, the QR token only for those who print labels, and patrols recorded
through the scan page's form and service — real phone photos, a resend answering the patrol
already recorded, nothing stored on a refusal. Each test runs with a personal access token and
with the browser's session."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from inspections.models import Patrol, PatrolPolicy, Presence, Rule
from inspections.sites.api import PatrolIn
from inspections.sites.forms import PatrolForm
from tests.api_callers import VIAS, body, caller
from tests.inspections.conftest import camera_upload, make_patrol, make_site, moved
from workflows.models import EvidencePhoto, RectificationTicket

PHOTOS = settings.BASE_DIR / "tests/data/photos"


@pytest.fixture(params=VIAS)
def via(request):
    return request.param


@pytest.fixture
def api(via, task_force):
    """api(user): the user calling the API by token or by session (the test's `via`)."""
    return lambda user: caller(via, user, manager=task_force)


def real_photo(name: str = "HTC_Desire.jpg") -> SimpleUploadedFile:
    """A real phone photo with its EXIF (tests/data/photos/MANIFEST.csv), uploaded afresh."""
    return SimpleUploadedFile(name, (PHOTOS / name).read_bytes(), content_type="image/jpeg")


def patrol_data(site, *, photos, key=None, result="normal", **fields) -> dict:
    lat, lng = moved((site.lat, site.lng), north_m=30)
    return {
        "key": str(key or uuid.uuid4()),
        "lat": f"{lat:.7f}",
        "lng": f"{lng:.7f}",
        "accuracy": "8",
        "result": result,
        "signboard": "good",
        "previous_fixed": "none",
        "photos": photos,
    } | fields


def codes(response) -> list[str]:
    return [row["code"] for row in body(response)["results"]]


# --- the list ---------------------------------------------------------------------------------


def test_a_town_officer_lists_his_towns_sites_only(api, hj_officer, huji_site, jishu_site):
    response = api(hj_officer).get("/sites")
    assert response.status_code == 200
    assert codes(response) == [huji_site.code]
    row = body(response)["results"][0]
    assert row["town_code"] == huji_site.town_id and row["state"] == "maintained"
    assert (row["lat"], row["lng"]) == (huji_site.lat, huji_site.lng)
    assert "qr_token" not in row and huji_site.token not in response.content.decode()


def test_the_task_force_lists_every_town_and_narrows_by_town(
    api, task_force, huji_site, jishu_site
):
    caller = api(task_force)
    assert codes(caller.get("/sites")) == sorted([huji_site.code, jishu_site.code])
    assert codes(caller.get("/sites", {"town": jishu_site.town_id})) == [jishu_site.code]
    assert codes(caller.get("/sites", {"town_id": huji_site.town_id})) == [huji_site.code]


def test_a_role_without_sites_sees_none(api, service_worker, huji_site):
    response = api(service_worker).get("/sites")
    assert response.status_code == 200 and body(response)["results"] == []


def test_bbox_keeps_the_sites_inside(api, task_force, huji_site, jishu_site):
    lat, lng = huji_site.lat, huji_site.lng
    around = f"{lng - 0.01},{lat - 0.01},{lng + 0.01},{lat + 0.01}"
    assert codes(api(task_force).get("/sites", {"bbox": around})) == [huji_site.code]
    nowhere = "100,10,100.5,10.5"
    assert codes(api(task_force).get("/sites", {"bbox": nowhere})) == []


@pytest.mark.parametrize(
    "bbox",
    ["116,35,117", "116,35,117,36,1", "a,b,c,d", "117,35,116,36", "116,36,117,35",
     "116,-91,117,35", "-181,35,117,36", "nan,35,117,36", "inf,35,117,36", ""],
)  # fmt: skip
def test_a_bad_bbox_is_400(api, task_force, huji_site, bbox):
    response = api(task_force).get("/sites", {"bbox": bbox})
    assert response.status_code == 400
    assert "bbox" in body(response)["detail"]


@pytest.mark.parametrize(
    "params",
    [{"town": "37082810"}, {"town": "370828102000", "town_id": "370828104000"},
     {"state": "flooded"}, {"kind": "sea"}, {"cursor": "!!"}, {"cursor": "é"}, {"cursor": "AA"},
     {"page_size": "many"}],
)  # fmt: skip
def test_bad_filters_and_cursors_are_400(api, task_force, huji_site, params):
    response = api(task_force).get("/sites", params)
    assert response.status_code == 400, params
    assert body(response)["detail"]


def test_another_towns_code_as_a_filter_is_400_like_on_the_page(
    api, hj_officer, jishu_site, huji_site
):
    response = api(hj_officer).get("/sites", {"town": jishu_site.town_id})
    assert response.status_code == 400
    assert jishu_site.code not in response.content.decode()


def test_the_pages_filters_apply(api, task_force, huji, huji_village, huji_site):
    delisted = make_site(huji, huji_village, state="delisted", kind="river")
    caller = api(task_force)
    assert codes(caller.get("/sites", {"state": "delisted"})) == [delisted.code]
    assert codes(caller.get("/sites", {"state": ["maintained", "delisted"]})) == sorted(
        [huji_site.code, delisted.code]
    )
    assert codes(caller.get("/sites", {"kind": "river"})) == [delisted.code]
    assert codes(caller.get("/sites", {"q": huji_site.code})) == [huji_site.code]


def test_cursor_pages_follow_the_codes(api, task_force, huji, huji_village):
    sites = sorted(make_site(huji, huji_village).code for _ in range(5))
    caller = api(task_force)
    seen, cursor = [], None
    for _page in range(3):
        params = {"page_size": 2} | ({"cursor": cursor} if cursor else {})
        page = body(caller.get("/sites", params))
        seen += [row["code"] for row in page["results"]]
        cursor = page["next"]
    assert seen == sites and cursor is None


def test_without_a_token_or_session_401(client, huji_site):
    response = client.get("/api/v1/sites")
    assert response.status_code == 401
    bad = client.get("/api/v1/sites", headers={"Authorization": "Bearer rjt_nothing"})
    assert bad.status_code == 401


@pytest.mark.parametrize("rows", [1, 20])
def test_the_list_costs_the_same_queries_for_1_and_20_sites(
    api, task_force, huji, huji_village, rows, django_assert_max_num_queries
):
    for _ in range(rows):
        make_site(huji, huji_village)
    caller = api(task_force)
    with django_assert_max_num_queries(4):
        response = caller.get("/sites")
    assert len(body(response)["results"]) == rows


# --- one site ---------------------------------------------------------------------------------


def test_a_site_shows_its_position_state_and_open_tickets(api, hj_officer, inspector, huji_site):
    recorded = api(inspector).post(
        f"/sites/{huji_site.code}/patrols",
        patrol_data(huji_site, photos=[camera_upload()], result="problem", checks=["odour"]),
    )
    assert recorded.status_code == 201
    number = body(recorded)["ticket"]
    assert RectificationTicket.objects.filter(number=number).exists()
    response = api(hj_officer).get(f"/sites/{huji_site.code}")
    assert response.status_code == 200
    site = body(response)
    assert site["open_tickets"] == [number]
    assert (site["lat"], site["lng"], site["state"]) == (huji_site.lat, huji_site.lng, "maintained")
    assert site["village_code"] == huji_site.village_id


@pytest.mark.parametrize(
    "who, sees_token",
    [("task_force", True), ("hj_officer", True), ("inspector", False),
     ("town_inspector", False), ("village_admin", False)],
)  # fmt: skip
def test_the_qr_token_only_for_who_prints_labels(api, request, huji_site, who, sees_token):
    site = body(api(request.getfixturevalue(who)).get(f"/sites/{huji_site.code}"))
    assert (site["qr_token"] == huji_site.token) is sees_token
    if sees_token:
        assert site["scan_url"].endswith(f"/s/{huji_site.token}")
    else:
        assert site["qr_token"] is site["scan_url"] is site["qr_issued_at"] is None


def test_another_towns_site_is_404_like_a_missing_one(api, other_officer, huji_site):
    caller = api(other_officer)
    paths = [f"/sites/{huji_site.code}", f"/sites/{huji_site.code}/patrols", "/sites/NO-SUCH"]
    # NUL is no code (and PostgreSQL refuses it in a query: a 500, were it looked up).
    for path in [*paths, "/sites/HC%00", f"/sites/{'X' * 33}/patrols"]:
        response = caller.get(path)
        assert response.status_code == 404, path
        assert huji_site.name not in response.content.decode()


# --- recording a patrol -----------------------------------------------------------------------


def test_a_patrol_with_a_real_phone_photo_is_recorded_once_per_key(api, inspector, huji_site):
    caller = api(inspector)
    data = patrol_data(huji_site, photos=[real_photo()])
    first = caller.post(f"/sites/{huji_site.code}/patrols", data)
    assert first.status_code == 201, first.content
    patrol = body(first)
    assert patrol["site_code"] == huji_site.code and patrol["key"] == data["key"]
    assert len(patrol["photos"]) == 1
    assert patrol["photos"][0]["display_url"].startswith("http")
    # The HTC's photo was taken in Milan in 2010: stored, with its doubts said.
    assert patrol["flagged"] and Presence.OLD_PHOTO in [d["code"] for d in patrol["doubts"]]
    photos = EvidencePhoto.objects.count()

    again = caller.post(f"/sites/{huji_site.code}/patrols", data | {"photos": [real_photo()]})
    assert again.status_code == 200
    assert body(again)["id"] == patrol["id"]
    assert Patrol.objects.count() == 1
    assert EvidencePhoto.objects.count() == photos  # the resent photo was not kept


def test_a_patrol_without_a_photo_is_refused_with_the_reason_and_nothing_stored(
    api, inspector, huji_site
):
    response = api(inspector).post(
        f"/sites/{huji_site.code}/patrols", patrol_data(huji_site, photos=[])
    )
    assert response.status_code == 400
    assert body(response)["errors"]  # the county's policy: no photo, no patrol
    assert Patrol.objects.count() == 0


def test_a_photo_already_evidence_elsewhere_is_refused_and_its_upload_removed(
    api, inspector, huji, huji_village, huji_site
):
    caller = api(inspector)
    other = make_site(
        huji,
        huji_village,
        position=moved((huji_site.lat, huji_site.lng), east_m=2000),
        state="maintained",
    )
    assert (
        caller.post(
            f"/sites/{huji_site.code}/patrols", patrol_data(huji_site, photos=[real_photo()])
        ).status_code
        == 201
    )
    photos = EvidencePhoto.objects.count()
    response = caller.post(
        f"/sites/{other.code}/patrols", patrol_data(other, photos=[real_photo()])
    )
    assert response.status_code == 400
    assert "HTC_Desire.jpg" in " ".join(body(response)["errors"])
    assert Patrol.objects.count() == 1
    assert EvidencePhoto.objects.count() == photos


@pytest.mark.parametrize(
    "change, field",
    [({"key": "not-a-uuid"}, "key"), ({"result": "fine"}, "result"), ({"key": ""}, "key"),
     ({"lat": "91"}, "lat"), ({"lng": ""}, ""), ({"checks": ["swimming"]}, "checks"),
     ({"observed_at": "yesterday"}, "observed_at")],
)  # fmt: skip
def test_bad_fields_are_400_naming_them(api, inspector, huji_site, change, field):
    data = patrol_data(huji_site, photos=[camera_upload()]) | change
    response = api(inspector).post(f"/sites/{huji_site.code}/patrols", data)
    assert response.status_code == 400
    assert any(line.startswith(field) for line in body(response)["errors"])
    assert Patrol.objects.count() == 0 and EvidencePhoto.objects.count() == 0


def test_a_damaged_photo_is_400_naming_it_and_nothing_stored(api, inspector, huji_site):
    files = [camera_upload(), real_photo("corrupt_fuzzed.jpg")]
    response = api(inspector).post(
        f"/sites/{huji_site.code}/patrols", patrol_data(huji_site, photos=files)
    )
    assert response.status_code == 400
    assert "corrupt_fuzzed.jpg" in " ".join(body(response)["errors"])
    assert Patrol.objects.count() == 0 and EvidencePhoto.objects.count() == 0


def test_a_json_body_is_400_not_500(api, inspector, huji_site):
    response = api(inspector).post(
        f"/sites/{huji_site.code}/patrols", {"result": "normal"}, content_type="application/json"
    )
    assert response.status_code == 400


def test_a_village_admin_may_not_patrol_403_with_the_reason(api, village_admin, huji_site):
    response = api(village_admin).post(
        f"/sites/{huji_site.code}/patrols", patrol_data(huji_site, photos=[camera_upload()])
    )
    assert response.status_code == 403
    assert body(response)["detail"]
    assert Patrol.objects.count() == 0 and EvidencePhoto.objects.count() == 0


def test_another_towns_officer_gets_404_and_stores_nothing(api, other_officer, huji_site):
    response = api(other_officer).post(
        f"/sites/{huji_site.code}/patrols", patrol_data(huji_site, photos=[camera_upload()])
    )
    assert response.status_code == 404
    assert Patrol.objects.count() == 0 and EvidencePhoto.objects.count() == 0


def test_a_delisted_site_is_409(api, inspector, huji, huji_village):
    site = make_site(huji, huji_village, state="delisted")
    response = api(inspector).post(
        f"/sites/{site.code}/patrols", patrol_data(site, photos=[camera_upload()])
    )
    assert response.status_code == 409
    assert Patrol.objects.count() == 0 and EvidencePhoto.objects.count() == 0


def test_a_flag_policy_records_a_patrol_without_photo_flagged(api, town_inspector, huji_site):
    policy = PatrolPolicy.current("370828000000")
    policy.no_photo = Rule.FLAG
    policy.save()
    response = api(town_inspector).post(
        f"/sites/{huji_site.code}/patrols", patrol_data(huji_site, photos=[])
    )
    assert response.status_code == 201
    assert [d["code"] for d in body(response)["doubts"]] == [Presence.NO_PHOTO]


def test_the_documented_fields_are_the_forms():
    assert set(PatrolIn.model_fields) == set(PatrolForm.base_fields)


# --- a site's patrols -------------------------------------------------------------------------


def test_a_sites_patrols_newest_first_in_pages(api, hj_officer, inspector, huji_site, jishu_site):
    from datetime import date

    older = make_patrol(huji_site, inspector, on=date(2026, 3, 1))
    newer = make_patrol(huji_site, inspector, on=date(2026, 3, 2))
    make_patrol(jishu_site, inspector, on=date(2026, 3, 2))
    caller = api(hj_officer)
    first = body(caller.get(f"/sites/{huji_site.code}/patrols", {"page_size": 1}))
    assert [row["id"] for row in first["results"]] == [newer.pk]
    second = body(caller.get(f"/sites/{huji_site.code}/patrols", {"cursor": first["next"]}))
    assert [row["id"] for row in second["results"]] == [older.pk] and second["next"] is None


@pytest.mark.parametrize("rows", [1, 20])
def test_a_sites_patrols_cost_the_same_queries_for_1_and_20(
    api, task_force, inspector, huji_site, make_photo, rows, django_assert_max_num_queries
):
    from datetime import date, timedelta

    for n in range(rows):
        patrol = make_patrol(huji_site, inspector, on=date(2026, 3, 1) + timedelta(days=n))
        patrol.photos.set([make_photo(inspector)])
    caller = api(task_force)
    with django_assert_max_num_queries(6):
        response = caller.get(f"/sites/{huji_site.code}/patrols")
    assert len(body(response)["results"]) == rows
