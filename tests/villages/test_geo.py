from __future__ import annotations

import json

import numpy as np
import pytest
from django.conf import settings
from shapely.geometry import Point, Polygon, shape

from villages.geo import (
    distance_m,
    gcj02_to_wgs84,
    geometry_gcj02_to_wgs84,
    geometry_wgs84_to_gcj02,
    wgs84_to_gcj02,
)

FIXTURES = settings.BASE_DIR / "villages" / "fixtures" / "jinxiang"


def outline(name: str) -> np.ndarray:
    """Exterior ring of the Jinxiang county outline as an (n, 2) array of lng, lat."""
    data = json.loads((FIXTURES / name).read_text())
    return np.array(data["features"][0]["geometry"]["coordinates"][0])


@pytest.fixture(scope="module")
def gcj_ring() -> np.ndarray:
    return outline("county_boundary_gcj02.geojson")


@pytest.fixture(scope="module")
def wgs_ring() -> np.ndarray:
    return outline("county_boundary_wgs84.geojson")


def random_points_in_china(count: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20231)
    return rng.uniform(73.5, 135.0, count), rng.uniform(18.0, 53.5, count)


def test_every_vertex_of_the_gcj02_outline_converts_to_the_wgs84_one(gcj_ring, wgs_ring):
    lng, lat = gcj02_to_wgs84(gcj_ring[:, 0], gcj_ring[:, 1])

    assert len(gcj_ring) == len(wgs_ring) == 800
    assert np.abs(lng - wgs_ring[:, 0]).max() < 1e-6
    assert np.abs(lat - wgs_ring[:, 1]).max() < 1e-6


def test_the_gcj02_offset_at_jinxiang_is_about_500_metres(gcj_ring):
    centre = Polygon(gcj_ring).centroid
    lng, lat = gcj02_to_wgs84(centre.x, centre.y)

    assert 480 < distance_m(centre.x, centre.y, lng, lat) < 540


def test_round_trip_wgs84_gcj02_wgs84_is_below_1e_8_degree():
    lng, lat = random_points_in_china(2000)

    back_lng, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lng, lat))

    assert np.abs(back_lng - lng).max() < 1e-8
    assert np.abs(back_lat - lat).max() < 1e-8


def test_the_inverse_is_exact_not_the_one_step_approximation():
    lng, lat = 116.30362983, 35.04725019
    gcj = wgs84_to_gcj02(lng, lat)

    back = gcj02_to_wgs84(*gcj)

    assert distance_m(*back, lng, lat) < 1e-4  # 0.1 mm; one step leaves decimetres or more


def test_arrays_give_the_same_results_as_floats():
    lng, lat = random_points_in_china(50)

    forward = wgs84_to_gcj02(lng, lat)
    inverse = gcj02_to_wgs84(lng, lat)

    for i in range(len(lng)):
        assert (forward[0][i], forward[1][i]) == wgs84_to_gcj02(float(lng[i]), float(lat[i]))
        assert (inverse[0][i], inverse[1][i]) == gcj02_to_wgs84(float(lng[i]), float(lat[i]))


def test_floats_in_give_floats_out():
    result = gcj02_to_wgs84(116.3, 35.0) + wgs84_to_gcj02(116.3, 35.0)

    assert all(type(value) is float for value in result)
    assert type(distance_m(116.3, 35.0, 116.4, 35.0)) is float


@pytest.mark.parametrize(
    ("lng", "lat"),
    [(-0.1276, 51.5072), (-74.006, 40.7128), (151.2093, -33.8688), (139.6917, 56.0)],
)
def test_points_outside_china_are_not_shifted(lng, lat):
    assert wgs84_to_gcj02(lng, lat) == (lng, lat)
    assert gcj02_to_wgs84(lng, lat) == (lng, lat)


def test_outside_china_points_in_an_array_are_left_alone_while_others_shift():
    lng, lat = np.array([-0.1276, 116.3]), np.array([51.5072, 35.0])

    out_lng, out_lat = gcj02_to_wgs84(lng, lat)

    assert (out_lng[0], out_lat[0]) == (-0.1276, 51.5072)
    assert out_lng[1] != 116.3


def test_distance_m_matches_known_lengths():
    # A degree of latitude is ~111.2 km; Jinxiang → Jining city centre is ~36 km.
    assert distance_m(116.3, 35.0, 116.3, 36.0) == pytest.approx(111_195, rel=1e-3)
    assert distance_m(116.3, 35.0, 116.3, 35.0) == 0.0
    assert distance_m(116.31, 35.07, 116.587, 35.415) == pytest.approx(46_000, rel=0.05)


def test_distance_m_is_vectorised():
    lng, lat = random_points_in_china(20)

    distances = distance_m(116.3, 35.0, lng, lat)

    assert distances.shape == (20,)
    assert distances[3] == distance_m(116.3, 35.0, float(lng[3]), float(lat[3]))


def test_a_whole_geometry_converts_vertex_by_vertex(gcj_ring, wgs_ring):
    converted = geometry_gcj02_to_wgs84(Polygon(gcj_ring))

    assert np.abs(np.array(converted.exterior.coords) - wgs_ring).max() < 1e-6
    assert geometry_wgs84_to_gcj02(converted).equals_exact(Polygon(gcj_ring), 1e-8)


def test_geometry_conversion_keeps_the_type_and_drops_z():
    point = shape({"type": "Point", "coordinates": [116.3, 35.0, 40.0]})

    converted = geometry_gcj02_to_wgs84(point)

    assert isinstance(converted, Point)
    assert not converted.has_z
    assert (converted.x, converted.y) == gcj02_to_wgs84(116.3, 35.0)
