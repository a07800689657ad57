from __future__ import annotations

import math
from io import StringIO

import geopandas
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from shapely.geometry import Point, Polygon

from villages import lookup
from villages.geo import distance_m
from villages.lookup import COUNTY, NEAREST, Place, locate
from villages.models import Village

FIXTURES = settings.BASE_DIR / "villages" / "fixtures" / "jinxiang"
JINXIANG = Place("370828000000", "金乡县")
JINXIANG_STREET = Place("370828001000", "金乡街道")
YANGSHAN = Place("370828101000", "羊山镇")
LIUZHUANG = Place("370828001209", "刘庄村民委员会")  # 金乡街道
DONGSAN = Place("370828101200", "东三村民委员会")  # 羊山镇
DONGYI = Place("370828101201", "东一村民委员会")  # 羊山镇
# Inside the county outline, well away from its edges.
LIUZHUANG_AT = (116.31, 35.07)
DONGSAN_AT = (116.25, 35.10)
FAR_INSIDE_COUNTY = (116.40, 34.95)
OUTSIDE_COUNTY = (116.80, 35.40)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    lookup.reset_cache()
    yield
    lookup.reset_cache()


@pytest.fixture(autouse=True)
def jinxiang():
    """The demo county: divisions and the county outline, no village or town geometry."""
    quiet = {"verbosity": 0, "stdout": StringIO(), "stderr": StringIO()}
    call_command("import_divisions", str(FIXTURES / "divisions_2023.csv"), **quiet)
    call_command(
        "import_boundaries", str(FIXTURES / "county_boundary_gcj02.geojson"), "--crs", "gcj02",
        **quiet,
    )  # fmt: skip


def square(lng: float, lat: float, half_m: float) -> Polygon:
    dlat = half_m / 111_320
    dlng = half_m / (111_320 * math.cos(math.radians(lat)))
    return Polygon(
        [(lng - dlng, lat - dlat), (lng + dlng, lat - dlat), (lng + dlng, lat + dlat),
         (lng - dlng, lat + dlat)]
    )  # fmt: skip


def east_of(lng: float, lat: float, metres: float) -> tuple[float, float]:
    return lng + metres / (111_320 * math.cos(math.radians(lat))), lat


def import_shapes(tmp_path, rows: list[tuple[str, object]], name: str = "shapes.gpkg") -> None:
    frame = geopandas.GeoDataFrame(
        [{"code": code} for code, _geom in rows], geometry=[g for _c, g in rows], crs=4326
    )
    frame.to_file(tmp_path / name, engine="pyogrio")
    call_command("import_boundaries", str(tmp_path / name), stdout=StringIO())


@pytest.fixture
def two_villages(tmp_path):
    import_shapes(
        tmp_path,
        [
            (LIUZHUANG.code, square(*LIUZHUANG_AT, 500)),
            (DONGSAN.code, square(*DONGSAN_AT, 500)),
        ],
    )


def test_a_point_in_a_village_polygon_is_in_that_village(two_villages):
    location = locate(lng=LIUZHUANG_AT[0] + 0.003, lat=LIUZHUANG_AT[1] - 0.002)

    assert (location.village, location.town, location.county) == (
        LIUZHUANG,
        JINXIANG_STREET,
        JINXIANG,
    )
    assert location.method == "contains"
    assert not location.approximate
    assert location.distance_m is None


def test_a_point_just_outside_is_in_the_nearest_village_approximately(two_villages):
    lng, lat = east_of(*DONGSAN_AT, 800)  # 300 m beyond the square's edge

    location = locate(lng=lng, lat=lat)

    assert (location.village, location.town) == (DONGSAN, YANGSHAN)
    assert location.method == NEAREST
    assert location.approximate
    assert location.distance_m == pytest.approx(distance_m(lng, lat, *DONGSAN_AT), abs=1)
    assert 790 < location.distance_m < 810


def test_beyond_the_distance_limit_only_the_county_is_known(two_villages):
    lng, lat = east_of(*DONGSAN_AT, 3500)

    location = locate(lng=lng, lat=lat)

    assert (location.county, location.town, location.village) == (JINXIANG, None, None)
    assert location.method == COUNTY


@override_settings(VILLAGE_LOOKUP_MAX_DISTANCE_M=500)
def test_the_distance_limit_comes_from_the_settings(two_villages):
    assert locate(lng=east_of(*DONGSAN_AT, 450)[0], lat=DONGSAN_AT[1]).village == DONGSAN
    assert locate(lng=east_of(*DONGSAN_AT, 800)[0], lat=DONGSAN_AT[1]).village is None


def test_village_points_alone_are_enough_for_the_nearest_village(tmp_path):
    import_shapes(tmp_path, [(DONGSAN.code, Point(*DONGSAN_AT))])

    location = locate(lng=east_of(*DONGSAN_AT, 1000)[0], lat=DONGSAN_AT[1])

    assert location.village == DONGSAN
    assert location.distance_m == pytest.approx(1000, abs=2)


def test_the_demo_county_without_village_geometry_answers_the_county_only():
    assert not Village.objects.exclude(boundary=None).exists()

    location = locate(lng=FAR_INSIDE_COUNTY[0], lat=FAR_INSIDE_COUNTY[1])

    assert (location.county, location.town, location.village) == (JINXIANG, None, None)
    assert not location.approximate


def test_outside_everything_is_none(two_villages):
    assert locate(lng=OUTSIDE_COUNTY[0], lat=OUTSIDE_COUNTY[1]) is None
    assert locate(lng=-0.1276, lat=51.5072) is None


def test_a_point_in_a_town_far_from_its_villages_is_in_that_town(tmp_path):
    import_shapes(tmp_path, [(YANGSHAN.code, square(*DONGSAN_AT, 6000))])

    location = locate(lng=DONGSAN_AT[0], lat=DONGSAN_AT[1])

    assert (location.town, location.village, location.method) == (YANGSHAN, None, "contains")


def test_inside_a_town_the_nearest_village_is_one_of_that_town(tmp_path):
    # 刘庄 (金乡街道) lies 400 m west of the point, 东一 (羊山镇) 900 m east of it; the point
    # is inside 羊山镇's polygon, so 东一 it is.
    here = DONGSAN_AT
    import_shapes(
        tmp_path,
        [
            (YANGSHAN.code, square(*east_of(*here, 1500), 2000)),
            (LIUZHUANG.code, Point(*east_of(*here, -400))),
            (DONGYI.code, Point(*east_of(*here, 900))),
        ],
    )

    location = locate(lng=here[0], lat=here[1])

    assert (location.town, location.village, location.method) == (YANGSHAN, DONGYI, NEAREST)


def test_the_index_is_rebuilt_after_a_boundary_import(tmp_path):
    assert locate(lng=LIUZHUANG_AT[0], lat=LIUZHUANG_AT[1]).village is None

    import_shapes(tmp_path, [(LIUZHUANG.code, square(*LIUZHUANG_AT, 500))])

    assert locate(lng=LIUZHUANG_AT[0], lat=LIUZHUANG_AT[1]).village == LIUZHUANG


def test_the_index_is_rebuilt_when_a_geometry_is_removed(two_villages):
    assert locate(lng=LIUZHUANG_AT[0], lat=LIUZHUANG_AT[1]).village == LIUZHUANG

    Village.objects.filter(code=LIUZHUANG.code).update(
        boundary=None, centroid_lng=None, centroid_lat=None, geo_updated_at=None
    )

    assert locate(lng=LIUZHUANG_AT[0], lat=LIUZHUANG_AT[1]).village is None


def test_an_unchanged_index_costs_one_query_per_call(two_villages, django_assert_num_queries):
    locate(lng=LIUZHUANG_AT[0], lat=LIUZHUANG_AT[1])

    with django_assert_num_queries(1):
        locate(lng=DONGSAN_AT[0], lat=DONGSAN_AT[1])


def test_an_unreadable_stored_boundary_is_skipped(two_villages, caplog):
    Village.objects.filter(code=DONGSAN.code).update(boundary={"type": "Polygon"})

    location = locate(lng=LIUZHUANG_AT[0], lat=LIUZHUANG_AT[1])

    assert location.village == LIUZHUANG
    assert "Unreadable boundary of 370828101200" in caplog.text


@pytest.mark.parametrize(("lng", "lat"), [(float("nan"), 35.0), (116.3, 95.0), (200.0, 35.0)])
def test_a_position_that_is_not_one_is_refused(lng, lat):
    with pytest.raises(ValueError, match="not a WGS-84 position"):
        locate(lng=lng, lat=lat)
