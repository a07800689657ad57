"""The map of water sites: the GeoJSON of the sites (scope, content, the GCJ-02 shift for
Chinese tiles) and the page (only local static files, the county outline, tile settings)."""

from __future__ import annotations

import json
import re

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inspections.models import SiteState
from tests.factories import COUNTY_CODE
from tests.inspections.conftest import HUJI_SITE, JISHU_SITE, make_site
from villages.geo import distance_m, wgs84_to_gcj02
from villages.models import County

# A small square around the 胡集镇 pond, standing in for the county's boundary.
OUTLINE = {
    "type": "Polygon",
    "coordinates": [[[116.2, 35.0], [116.3, 35.0], [116.3, 35.1], [116.2, 35.1], [116.2, 35.0]]],
}
TILES = "https://tiles.example.cn/{z}/{x}/{y}.png"


def geojson(client, user, **params):
    client.force_login(user)
    return client.get(reverse("site_geojson"), params)


def map_page(client, user):
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client.get(reverse("site_map"))


def embedded(response, element_id: str):
    """The JSON a page hands its script through json_script."""
    body = response.content.decode()
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', body)
    assert match, element_id
    return json.loads(match[1])


def features_by_code(response) -> dict[str, dict]:
    return {f["properties"]["code"]: f for f in response.json()["features"]}


# --- GeoJSON -----------------------------------------------------------------------------------


def test_the_geojson_has_each_site_as_a_point(client, task_force, huji_site, huji):
    response = geojson(client, task_force)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    (feature,) = collection["features"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [HUJI_SITE[1], HUJI_SITE[0]]}
    assert feature["properties"] == {
        "code": huji_site.code,
        "name": huji_site.name,
        "state": "maintained",
        "town": huji.name,
        "town_code": huji.code,
        "url": reverse("site_detail", args=[huji_site.code]),
    }


def test_delisted_sites_are_in_the_geojson_with_their_state(client, task_force, huji):
    gone = make_site(huji, state=SiteState.DELISTED)

    feature = features_by_code(geojson(client, task_force))[gone.code]

    assert feature["properties"]["state"] == "delisted"


def test_gcj02_shifts_every_point_about_500_m_at_jinxiang(
    client, task_force, huji_site, jishu_site
):
    plain = features_by_code(geojson(client, task_force))
    shifted = features_by_code(geojson(client, task_force, crs="gcj02"))

    for code, feature in plain.items():
        lng, lat = feature["geometry"]["coordinates"]
        gcj_lng, gcj_lat = shifted[code]["geometry"]["coordinates"]
        assert 450 < distance_m(lng, lat, gcj_lng, gcj_lat) < 600
        expected = wgs84_to_gcj02(lng, lat)
        assert gcj_lng == pytest.approx(expected[0], abs=1e-6)
        assert gcj_lat == pytest.approx(expected[1], abs=1e-6)
        # Shifted east and slightly south, as GCJ-02 is in Shandong.
        assert gcj_lng > lng and gcj_lat < lat


def test_wgs84_is_the_default_and_can_be_named(client, task_force, huji_site):
    assert geojson(client, task_force, crs="wgs84").json() == geojson(client, task_force).json()


def test_an_unknown_crs_is_refused(client, task_force, huji_site):
    response = geojson(client, task_force, crs="bd09")

    assert response.status_code == 400
    assert "bd09" in response.json()["error"]


def test_a_town_officer_gets_his_towns_sites_only(
    client, hj_officer, other_officer, huji_site, jishu_site
):
    assert set(features_by_code(geojson(client, hj_officer))) == {huji_site.code}
    theirs = geojson(client, other_officer)
    assert set(features_by_code(theirs)) == {jishu_site.code}
    assert huji_site.name not in theirs.content.decode()


def test_the_geojson_is_refused_without_a_role(client, nobody, huji_site):
    assert geojson(client, nobody).status_code == 403


def test_the_geojson_needs_login(client, huji_site):
    assert client.get(reverse("site_geojson")).status_code == 302


def test_the_geojson_query_count_does_not_grow_with_sites(
    client, task_force, huji, jishu, django_assert_num_queries
):
    for _ in range(3):
        make_site(huji)
    client.force_login(task_force)
    url = reverse("site_geojson")
    with CaptureQueriesContext(connection) as few:
        client.get(url, {"crs": "gcj02"})
    for _ in range(27):
        make_site(jishu, position=JISHU_SITE)

    with django_assert_num_queries(len(few)):
        response = client.get(url, {"crs": "gcj02"})
    assert len(response.json()["features"]) == 30


# --- the page ----------------------------------------------------------------------------------


def test_the_page_uses_only_local_static_files(client, task_force, huji_site):
    response = map_page(client, task_force)

    assert response.status_code == 200
    body = response.content.decode()
    scripts = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", body)
    styles = re.findall(r"<link[^>]*\bhref=\"([^\"]+)\"", body)
    assert f"{settings.STATIC_URL}vendor/leaflet/leaflet.js" in " ".join(scripts)
    assert f"{settings.STATIC_URL}js/site_map.js" in " ".join(scripts)
    assert f"{settings.STATIC_URL}vendor/leaflet/leaflet.css" in " ".join(styles)
    for url in scripts + styles:
        assert not re.match(r"^(https?:)?//", url), url
    assert not re.search(r"(src|href)=\"(https?:)?//", body)


def test_leaflet_is_vendored_with_its_licence():
    for name in ("leaflet.js", "leaflet.css", "LICENSE", "images/layers.png"):
        assert finders.find(f"vendor/leaflet/{name}"), name


def test_the_page_has_no_tiles_by_default(client, task_force, huji_site):
    response = map_page(client, task_force)

    config = embedded(response, "site-map-config")
    assert config["tileUrl"] == ""
    assert config["geojson"] == reverse("site_geojson") + "?crs=wgs84"
    assert config["labels"]["maintained"] == str(SiteState.MAINTAINED.label)
    assert 'class="no-tiles"' in response.content.decode()


def test_the_page_draws_the_county_outline(client, task_force, huji_site):
    County.objects.filter(code=COUNTY_CODE).update(boundary=OUTLINE)

    outline = embedded(map_page(client, task_force), "county-outline")

    (feature,) = outline["features"]
    assert feature["geometry"] == OUTLINE
    assert feature["properties"]["code"] == COUNTY_CODE


def test_the_page_works_without_a_county_outline(client, task_force, huji_site):
    response = map_page(client, task_force)

    assert response.status_code == 200
    assert embedded(response, "county-outline") == {"type": "FeatureCollection", "features": []}


def test_chinese_tiles_shift_the_outline_and_the_sites(client, task_force, huji_site, settings):
    settings.MAP_TILE_URL = TILES
    settings.MAP_TILE_GCJ02 = True
    County.objects.filter(code=COUNTY_CODE).update(boundary=OUTLINE)

    response = map_page(client, task_force)

    config = embedded(response, "site-map-config")
    assert config["tileUrl"] == TILES
    assert config["geojson"] == reverse("site_geojson") + "?crs=gcj02"
    corner = embedded(response, "county-outline")["features"][0]["geometry"]["coordinates"][0][0]
    assert corner == pytest.approx(wgs84_to_gcj02(116.2, 35.0), abs=1e-6)
    assert 'class="no-tiles"' not in response.content.decode()


def test_tiles_in_wgs84_are_not_shifted(client, task_force, huji_site, settings):
    settings.MAP_TILE_URL = TILES
    settings.MAP_TILE_GCJ02 = False
    County.objects.filter(code=COUNTY_CODE).update(boundary=OUTLINE)

    response = map_page(client, task_force)

    assert embedded(response, "site-map-config")["geojson"].endswith("?crs=wgs84")
    assert embedded(response, "county-outline")["features"][0]["geometry"] == OUTLINE


def test_the_page_offers_the_filters(client, hj_officer, huji, huji_site):
    body = map_page(client, hj_officer).content.decode()

    for state, label in SiteState.choices:
        checked = "" if state == SiteState.DELISTED else " checked"
        assert f'name="state" value="{state}"{checked}>' in body
        assert str(label) in body
    assert f'<option value="{huji.code}">{huji.name}</option>' in body
    assert body.count('<option value="3708') == 1  # his town only


def test_the_page_is_refused_without_a_role(client, nobody, village_admin):
    assert map_page(client, nobody).status_code == 403
    assert map_page(client, village_admin).status_code == 403
