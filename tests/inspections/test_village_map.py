"""Villages on the county map: the GeoJSON of the villages with a position (latest published
grade, open rectification tickets, the GCJ-02 shift, boundaries on request, scope, a constant
query count) and the page (layer switch, legends, the count of villages without a position)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inspections.grading import services as svc
from inspections.grading.scoring import grade_of
from inspections.models import Assessment, ChecklistItem, GradingPolicy, Round
from tests.inspections.test_site_map import embedded
from villages.geo import distance_m, wgs84_to_gcj02
from villages.models import Village
from workflows.models import RectificationTicket

pytestmark = pytest.mark.django_db

_numbers = itertools.count(1)
# Centres in 金乡县 (Jinxiang, Shandong), where GCJ-02 is about 500 m off WGS-84.
CENTRE = (35.07, 116.31)  # (lat, lng)
SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[116.30, 35.06], [116.32, 35.06], [116.32, 35.08], [116.30, 35.08], [116.30, 35.06]]
    ],
}


# --- builders ----------------------------------------------------------------------------------


def administrative(town, n=None) -> list[Village]:
    villages = town.villages.administrative().order_by("code")
    return list(villages[:n] if n else villages)


def place(*villages: Village, boundary=None) -> None:
    """Give the villages a centre (as import_boundaries would), a little apart."""
    for i, village in enumerate(villages):
        Village.objects.filter(code=village.code).update(
            centroid_lat=CENTRE[0] + i * 0.001,
            centroid_lng=CENTRE[1] + i * 0.001,
            boundary=boundary,
        )


def make_round(campaign, number) -> Round:
    return Round.objects.create(
        campaign=campaign,
        number=number,
        mode="sweep",
        starts_on=date(2024, number, 1),
        ends_on=date(2024, number, 20),
        state="published",
        template=campaign.template,
        published_at=timezone.now(),
    )


def publish_grades(round, inspector, scores: dict) -> None:
    """Published assessments of `round`, as publishing leaves them: {village: score}."""
    policy = GradingPolicy.current("370828000000")
    Assessment.objects.bulk_create(
        Assessment(
            round=round,
            village=village,
            inspector=inspector,
            state="published",
            score=Decimal(score),
            grade=grade_of(score=Decimal(score), veto=False, policy=policy),
            graded_by=policy.bands(),
        )
        for village, score in scores.items()
    )


def tickets(village, *states: str) -> None:
    RectificationTicket.objects.bulk_create(
        RectificationTicket(
            number=f"ZG-V-{next(_numbers):06d}",
            town_id=village.town_id,
            village=village,
            description="村内垃圾堆放",
            state=state,
            deadline=timezone.localdate() + timedelta(days=10),
        )
        for state in states
    )


def geojson(client, user, **params):
    client.force_login(user)
    return client.get(reverse("village_geojson"), params)


def by_code(response) -> dict[str, dict]:
    return {f["properties"]["code"]: f for f in response.json()["features"]}


def map_page(client, user):
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client.get(reverse("site_map"))


# --- GeoJSON -----------------------------------------------------------------------------------


def test_a_village_with_a_position_is_a_point_with_its_facts(client, task_force, huji):
    village = administrative(huji, 1)[0]
    place(village)

    response = geojson(client, task_force)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    (feature,) = response.json()["features"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [CENTRE[1], CENTRE[0]]}
    assert feature["properties"] == {
        "code": village.code,
        "name": village.short_name,
        "town": huji.name,
        "town_code": huji.code,
        "grade": "",
        "open_tickets": 0,
        "url": reverse("village_grades", args=[village.code]),
    }


def test_villages_without_a_position_are_left_out(client, task_force, huji, jishu):
    placed = administrative(huji, 2)
    place(*placed)

    features = by_code(geojson(client, task_force))

    assert set(features) == {v.code for v in placed}


def test_the_grade_is_the_one_published_through_the_services(
    client, task_force, inspector, huji, active_round
):
    village = administrative(huji, 1)[0]
    place(village)
    item = ChecklistItem.objects.get(template=active_round.template, code="T1")
    assessment = svc.assessment_open(round=active_round, village=village, by=inspector)
    svc.deduction_record(assessment=assessment, item=item, by=inspector, count=3)  # 100 - 15
    svc.assessment_submit(assessment=assessment, by=inspector)
    svc.assessment_approve(assessment=assessment, by=task_force)
    before = by_code(geojson(client, task_force))[village.code]["properties"]["grade"]
    svc.round_close(round=active_round, by=task_force)
    svc.round_publish(round=active_round, by=task_force)

    after = by_code(geojson(client, task_force))[village.code]["properties"]["grade"]

    assert before == ""  # approved is not published
    assert after == "B"


def test_the_latest_published_round_decides_the_grade(
    client, task_force, inspector, huji, campaign
):
    first, second, third = administrative(huji, 3)
    place(first, second, third)
    round1, round2 = make_round(campaign, 1), make_round(campaign, 2)
    publish_grades(round1, inspector, {first: "95", second: "50"})
    publish_grades(round2, inspector, {first: "70"})
    Round.objects.create(  # a later round, not published: its assessments do not count
        campaign=campaign,
        number=3,
        mode="sweep",
        starts_on=date(2024, 3, 1),
        ends_on=date(2024, 3, 20),
        template=campaign.template,
    )

    features = by_code(geojson(client, task_force))

    assert features[first.code]["properties"]["grade"] == "C"
    assert features[second.code]["properties"]["grade"] == "weak"
    assert features[third.code]["properties"]["grade"] == ""


def test_open_tickets_are_counted_per_village(client, task_force, huji):
    busy, calm = administrative(huji, 2)
    place(busy, calm)
    tickets(busy, "draft", "assigned", "submitted", "rejected", "extension_requested")
    tickets(busy, "closed", "cancelled")
    tickets(calm, "closed")

    features = by_code(geojson(client, task_force))

    assert features[busy.code]["properties"]["open_tickets"] == 5
    assert features[calm.code]["properties"]["open_tickets"] == 0


def test_a_natural_villages_tickets_count_for_its_administrative_village(client, task_force, huji):
    parent = administrative(huji, 1)[0]
    natural = Village.objects.create(
        code=parent.code[:-3] + "901", town=huji, name="小王庄", level="natural", parent=parent
    )
    place(parent)
    tickets(natural, "assigned")
    tickets(parent, "assigned")

    features = by_code(geojson(client, task_force))

    assert features[parent.code]["properties"]["open_tickets"] == 2
    assert natural.code not in features


def test_gcj02_shifts_the_villages_about_500_m_at_jinxiang(client, task_force, huji):
    villages = administrative(huji, 3)
    place(*villages)

    plain = by_code(geojson(client, task_force))
    shifted = by_code(geojson(client, task_force, crs="gcj02"))

    assert set(plain) == set(shifted) == {v.code for v in villages}
    for code, feature in plain.items():
        lng, lat = feature["geometry"]["coordinates"]
        gcj_lng, gcj_lat = shifted[code]["geometry"]["coordinates"]
        assert 450 < distance_m(lng, lat, gcj_lng, gcj_lat) < 600
        expected = wgs84_to_gcj02(lng, lat)
        assert gcj_lng == pytest.approx(expected[0], abs=1e-6)
        assert gcj_lat == pytest.approx(expected[1], abs=1e-6)


def test_an_unknown_crs_is_refused(client, task_force, huji):
    response = geojson(client, task_force, crs="bd09")

    assert response.status_code == 400
    assert "bd09" in response.json()["error"]


def test_boundaries_only_when_asked_for(client, task_force, huji):
    with_shape, without = administrative(huji, 2)
    place(with_shape, boundary=SQUARE)
    place(without)

    points = by_code(geojson(client, task_force))
    shapes = by_code(geojson(client, task_force, shape="1"))
    shifted = by_code(geojson(client, task_force, shape="1", crs="gcj02"))

    assert points[with_shape.code]["geometry"]["type"] == "Point"
    assert shapes[with_shape.code]["geometry"] == SQUARE
    assert shapes[without.code]["geometry"]["type"] == "Point"  # no boundary: its centre
    corner = shifted[with_shape.code]["geometry"]["coordinates"][0][0]
    assert corner == pytest.approx(wgs84_to_gcj02(116.30, 35.06), abs=1e-6)


def test_a_town_officer_gets_his_towns_villages_only(client, hj_officer, huji, jishu):
    ours, theirs = administrative(huji, 2), administrative(jishu, 2)
    place(*ours)
    place(*theirs)
    tickets(theirs[0], "assigned")

    response = geojson(client, hj_officer)

    assert set(by_code(response)) == {v.code for v in ours}
    assert theirs[0].short_name not in response.content.decode()


def test_a_town_inspector_gets_his_towns_villages_only(client, town_inspector, huji, jishu):
    ours, theirs = administrative(huji, 1), administrative(jishu, 1)
    place(*ours, *theirs)

    assert set(by_code(geojson(client, town_inspector))) == {ours[0].code}


def test_the_geojson_is_refused_without_a_role(client, nobody, village_admin, huji):
    place(*administrative(huji, 1))

    assert geojson(client, nobody).status_code == 403
    assert geojson(client, village_admin).status_code == 403


def test_the_geojson_needs_login(client, huji):
    assert client.get(reverse("village_geojson")).status_code == 302


def test_the_query_count_does_not_grow_with_villages(
    client, task_force, inspector, huji, jishu, campaign, django_assert_num_queries
):
    villages = administrative(huji) + administrative(jishu)
    assert len(villages) >= 20
    round1 = make_round(campaign, 1)
    publish_grades(round1, inspector, dict.fromkeys(villages[:20], "85"))
    for village in villages[:20]:
        tickets(village, "assigned")
    place(*villages[:3])
    client.force_login(task_force)
    url = reverse("village_geojson")
    with CaptureQueriesContext(connection) as few:
        client.get(url, {"crs": "gcj02"})
    place(*villages[:20])

    with django_assert_num_queries(len(few)):
        response = client.get(url, {"crs": "gcj02"})
    features = response.json()["features"]
    assert len(features) == 20
    assert {f["properties"]["grade"] for f in features} == {"B"}
    assert {f["properties"]["open_tickets"] for f in features} == {1}


# --- the page ----------------------------------------------------------------------------------


def test_the_page_offers_the_layers_and_their_legends(client, task_force, huji):
    response = map_page(client, task_force)

    assert response.status_code == 200
    body = response.content.decode()
    for value in ("sites", "grade", "tickets"):
        assert f'name="layer" value="{value}"' in body
    assert "Villages by grade" in body and "Villages by open tickets" in body
    for css in ("village-grade-A", "village-grade-weak", "village-grade-none"):
        assert f"swatch {css}" in body
    for band in ("t0", "t1", "t3", "t6"):
        assert f"swatch village-tickets-{band}" in body
    config = embedded(response, "site-map-config")
    assert config["villageGeojson"] == reverse("village_geojson") + "?crs=wgs84"
    assert config["gradeLabels"]["weak"] == "weak (薄弱)"


def test_the_page_counts_the_villages_without_a_position(client, hj_officer, huji, jishu):
    in_town = administrative(huji)
    place(*in_town[:2])

    body = map_page(client, hj_officer).content.decode()

    missing = len(in_town) - 2
    assert f"{missing} villages have no position yet" in body


def test_the_page_says_nothing_when_every_village_has_a_position(client, hj_officer, huji):
    place(*administrative(huji))

    assert "no position yet" not in map_page(client, hj_officer).content.decode()


def test_chinese_tiles_ask_for_shifted_villages(client, task_force, huji, settings):
    settings.MAP_TILE_URL = "https://tiles.example.cn/{z}/{x}/{y}.png"
    settings.MAP_TILE_GCJ02 = True

    config = embedded(map_page(client, task_force), "site-map-config")

    assert config["villageGeojson"] == reverse("village_geojson") + "?crs=gcj02"
