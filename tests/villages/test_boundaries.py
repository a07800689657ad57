from __future__ import annotations

import json
import math
from io import StringIO

import geopandas
import numpy as np
import pytest
import shapely
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import translation
from shapely.geometry import LineString, Point, Polygon, shape

from villages.boundaries import boundaries_import, normalise_code
from villages.models import County, Town, Village

FIXTURES = settings.BASE_DIR / "villages" / "fixtures" / "jinxiang"
GCJ_OUTLINE = FIXTURES / "county_boundary_gcj02.geojson"
WGS_OUTLINE = FIXTURES / "county_boundary_wgs84.geojson"
JINXIANG = "370828000000"
YANGSHAN = "370828101000"  # 羊山镇
JISHU = "370828104000"  # 鸡黍镇
ZHANGZHUANG_JISHU = "370828104255"  # 张庄村民委员会 of 鸡黍镇 (羊山镇 has another)
LIUZHUANG = "370828001209"  # 刘庄村民委员会 of 金乡街道, the only 刘庄 in the county

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    # Output assertions are on the English source strings, whatever the catalogue holds.
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def jinxiang_divisions():
    path = settings.BASE_DIR / "villages" / "fixtures" / "jinxiang" / "divisions_2023.csv"
    call_command("import_divisions", str(path), verbosity=0, stdout=StringIO(), stderr=StringIO())


def run(*args: object) -> str:
    out = StringIO()
    call_command("import_boundaries", *map(str, args), stdout=out, stderr=StringIO())
    return out.getvalue()


def square(lng: float, lat: float, half_m: float = 400.0) -> Polygon:
    """A square of 2 × half_m metres around a WGS-84 point."""
    dlat = half_m / 111_320
    dlng = half_m / (111_320 * math.cos(math.radians(lat)))
    return Polygon(
        [(lng - dlng, lat - dlat), (lng + dlng, lat - dlat), (lng + dlng, lat + dlat),
         (lng - dlng, lat + dlat)]
    )  # fmt: skip


def layer(rows: list[dict], geometries: list, crs: object = 4326) -> geopandas.GeoDataFrame:
    return geopandas.GeoDataFrame(rows, geometry=geometries, crs=crs)


def write(frame: geopandas.GeoDataFrame, path) -> object:
    frame.to_file(path, engine="pyogrio")
    return path


def towns_layer() -> geopandas.GeoDataFrame:
    return layer(
        [{"code": int(YANGSHAN), "name": "羊山镇"}, {"code": int(JISHU), "name": "鸡黍镇"}],
        [square(116.25, 35.10, 3000), square(116.40, 34.95, 3000)],
    )


def same_shape(stored: dict, expected: Polygon, tolerance: float) -> bool:
    """Vertex by vertex, whatever ring orientation and start the file format imposed
    (a Shapefile stores exterior rings clockwise)."""
    return shapely.equals_exact(shape(stored).normalize(), expected.normalize(), tolerance)


def without_crs(frame: geopandas.GeoDataFrame, path) -> object:
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        return write(frame.set_crs(None, allow_override=True), path)


def stored_ring(model, code: str) -> np.ndarray:
    boundary = model.objects.get(code=code).boundary
    return np.array(shape(boundary).exterior.coords)


def nothing_written() -> bool:
    return not any(
        model.objects.exclude(geo_updated_at=None).exists() for model in (County, Town, Village)
    )


# --- the county outline -----------------------------------------------------------------------


def test_gcj02_outline_is_stored_as_the_wgs84_outline():
    output = run(GCJ_OUTLINE, "--crs", "gcj02")

    wgs = np.array(json.loads(WGS_OUTLINE.read_text())["features"][0]["geometry"]["coordinates"][0])
    county = County.objects.get(code=JINXIANG)
    assert county.boundary["type"] == "Polygon"
    assert np.abs(stored_ring(County, JINXIANG) - wgs).max() < 1e-6
    assert shape(county.boundary).contains(Point(county.centroid_lng, county.centroid_lat))
    assert county.geo_updated_at is not None
    assert "Counties: 1 matched, 1 updated, 0 unchanged" in output


def test_stored_coordinates_are_rounded_to_7_decimals():
    run(GCJ_OUTLINE, "--crs", "gcj02")

    ring = stored_ring(County, JINXIANG)
    assert np.array_equal(ring, ring.round(7))


def test_importing_twice_changes_nothing():
    run(GCJ_OUTLINE, "--crs", "gcj02")
    first = County.objects.get(code=JINXIANG)

    output = run(GCJ_OUTLINE, "--crs", "gcj02")

    second = County.objects.get(code=JINXIANG)
    assert (second.boundary, second.centroid_lng, second.centroid_lat, second.geo_updated_at) == (
        first.boundary,
        first.centroid_lng,
        first.centroid_lat,
        first.geo_updated_at,
    )
    assert "0 updated, 1 unchanged" in output
    assert "Nothing changed" in output


def test_the_derived_wgs84_file_matches_what_the_gcj02_import_stored():
    run(GCJ_OUTLINE, "--crs", "gcj02")

    result = boundaries_import(path=WGS_OUTLINE)

    assert result.source_crs == "EPSG:4326"
    assert result.unchanged["county"] == 1


def test_a_6_digit_adcode_is_padded_to_the_county_code():
    result = boundaries_import(path=GCJ_OUTLINE, crs="gcj02")

    assert result.code_field == "adcode"
    assert result.matched == {"county": 1}
    assert result.unmatched == []


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("370828", "370828000000"),
        ("370828101", "370828101000"),
        (370828101230, "370828101230"),
        (370828101230.0, "370828101230"),
        (" 370828101230 ", "370828101230"),
        ("370828101230001", "370828101230001"),
        (None, ""),
        (float("nan"), ""),
    ],
)
def test_codes_are_normalised(raw, code):
    assert normalise_code(raw) == code


def test_dry_run_reports_but_writes_nothing():
    output = run(GCJ_OUTLINE, "--crs", "gcj02", "--dry-run")

    assert "Counties: 1 matched, 1 updated" in output
    assert "Dry run: nothing was written." in output
    assert nothing_written()


# --- matching ---------------------------------------------------------------------------------


def test_unmatched_features_are_listed_with_their_code_and_name(tmp_path):
    frame = layer(
        [
            {"code": "370828101", "name": "羊山镇"},
            {"code": "370828999999", "name": "不存在村"},
            {"code": None, "name": None},
        ],
        [square(116.25, 35.10), square(116.26, 35.11), square(116.27, 35.12)],
    )

    output = run(write(frame, tmp_path / "towns.geojson"))

    assert Town.objects.get(code=YANGSHAN).boundary is not None
    assert "Towns: 1 matched" in output
    assert "Unmatched (2):" in output
    assert "feature #1 370828999999 不存在村: no division has code 370828999999" in output
    assert "feature #2 (no code or name): neither a code nor a name" in output


def test_a_name_shared_by_two_villages_is_ambiguous_not_guessed(tmp_path):
    frame = layer([{"name": "张庄村"}], [Point(116.3, 35.0)])

    result = boundaries_import(path=write(frame, tmp_path / "v.geojson"))

    assert result.matched == {}
    [ambiguous] = result.ambiguous
    assert (ambiguous.index, ambiguous.name) == (0, "张庄村")
    assert "370828101230" in ambiguous.reason and ZHANGZHUANG_JISHU in ambiguous.reason
    assert nothing_written()


def test_the_town_column_settles_a_shared_village_name(tmp_path):
    frame = layer(
        [{"mc": "张庄村", "xzmc": "鸡黍镇"}, {"mc": "张庄", "xzmc": "370828104"}],
        [Point(116.3, 35.0), Point(116.3, 35.0)],
    )

    result = boundaries_import(path=write(frame, tmp_path / "v.geojson"))

    assert (result.name_field, result.town_field) == ("mc", "xzmc")
    assert result.matched == {"village": 1}
    assert result.ambiguous == []
    assert Village.objects.get(code=ZHANGZHUANG_JISHU).centroid_lat == 35.0


@pytest.mark.parametrize("name", ["刘庄村民委员会", "刘庄村", "刘庄"])
def test_a_village_matches_by_full_or_short_name(tmp_path, name):
    frame = layer([{"name": name, "town": "金乡街道"}], [square(116.31, 35.07)])

    result = boundaries_import(path=write(frame, tmp_path / "v.geojson"))

    assert result.matched == {"village": 1}
    assert Village.objects.get(code=LIUZHUANG).boundary["type"] == "Polygon"


def test_a_village_missing_from_its_town_is_unmatched(tmp_path):
    frame = layer([{"name": "刘庄村", "town": "羊山镇"}, {"name": "刘庄村", "town": "无此镇"}],
                  [Point(116.3, 35.0), Point(116.3, 35.0)])  # fmt: skip

    result = boundaries_import(path=write(frame, tmp_path / "v.geojson"))

    assert [(r.index, r.reason) for r in result.unmatched] == [
        (0, "no village named 刘庄村 in that town"),
        (1, "no town 无此镇"),
    ]


def test_named_columns_override_the_detection(tmp_path):
    frame = layer([{"code": "garbage", "village_code": LIUZHUANG}], [square(116.31, 35.07)])

    result = boundaries_import(path=write(frame, tmp_path / "v.geojson"), code_field="village_code")

    assert result.matched == {"village": 1}


def test_an_explicit_level_does_not_match_codes_of_another_level(tmp_path):
    frame = layer([{"code": YANGSHAN}], [square(116.25, 35.10)])

    result = boundaries_import(path=write(frame, tmp_path / "t.geojson"), level="village")

    assert result.matched == {}
    assert result.unmatched[0].reason == f"no division has code {YANGSHAN}"


def test_one_file_may_hold_several_levels(tmp_path):
    frame = layer([{"code": YANGSHAN}, {"code": ZHANGZHUANG_JISHU}],
                  [square(116.25, 35.10, 3000), Point(116.40, 34.95)])  # fmt: skip

    result = boundaries_import(path=write(frame, tmp_path / "mixed.gpkg"))

    assert result.matched == {"town": 1, "village": 1}


# --- geometry ---------------------------------------------------------------------------------


def test_a_village_point_sets_the_centre_and_leaves_the_boundary_alone(tmp_path):
    frame = layer([{"code": LIUZHUANG}], [Point(116.312345678, 35.07)])

    output = run(write(frame, tmp_path / "points.geojson"))

    village = Village.objects.get(code=LIUZHUANG)
    assert village.boundary is None
    assert (village.centroid_lng, village.centroid_lat) == (116.3123457, 35.07)
    assert "Villages: 1 matched (1 as a point only)" in output


def test_a_point_does_not_erase_a_boundary_imported_before(tmp_path):
    run(write(layer([{"code": LIUZHUANG}], [square(116.31, 35.07)]), tmp_path / "poly.geojson"))

    run(write(layer([{"code": LIUZHUANG}], [Point(116.3101, 35.0701)]), tmp_path / "pt.geojson"))

    village = Village.objects.get(code=LIUZHUANG)
    assert village.boundary["type"] == "Polygon"
    assert (village.centroid_lng, village.centroid_lat) == (116.3101, 35.0701)


def test_a_self_intersecting_polygon_is_repaired(tmp_path):
    bow_tie = Polygon([(116.30, 35.00), (116.32, 35.02), (116.32, 35.00), (116.30, 35.02)])
    frame = layer([{"code": LIUZHUANG, "name": "刘庄村"}], [bow_tie])

    output = run(write(frame, tmp_path / "bad.geojson"))

    stored = shape(Village.objects.get(code=LIUZHUANG).boundary)
    assert stored.is_valid
    assert stored.area == pytest.approx(0.0002, rel=1e-6)
    assert "Repaired geometry (1):" in output
    assert f"feature #0 {LIUZHUANG} 刘庄村: invalid geometry repaired" in output


def test_a_line_is_refused_naming_the_feature(tmp_path):
    frame = layer(
        [{"code": LIUZHUANG, "name": "刘庄村"}, {"code": YANGSHAN, "name": "羊山镇"}],
        [LineString([(116.3, 35.0), (116.31, 35.01)]), square(116.25, 35.10)],
    )

    output = run(write(frame, tmp_path / "mixed.gpkg"))

    assert Village.objects.get(code=LIUZHUANG).geo_updated_at is None
    assert Town.objects.get(code=YANGSHAN).boundary is not None
    assert f"feature #0 {LIUZHUANG} 刘庄村: neither a polygon nor a point" in output


def test_a_centre_outside_a_c_shaped_village_is_moved_inside(tmp_path):
    c_shape = Polygon(
        [(116.30, 35.00), (116.33, 35.00), (116.33, 35.01), (116.31, 35.01),
         (116.31, 35.02), (116.33, 35.02), (116.33, 35.03), (116.30, 35.03)]
    )  # fmt: skip
    assert not c_shape.contains(c_shape.centroid)

    run(write(layer([{"code": LIUZHUANG}], [c_shape]), tmp_path / "c.geojson"))

    village = Village.objects.get(code=LIUZHUANG)
    assert c_shape.contains(Point(village.centroid_lng, village.centroid_lat))


def test_two_features_of_one_village_are_merged(tmp_path):
    frame = layer([{"code": LIUZHUANG}, {"code": LIUZHUANG}],
                  [square(116.31, 35.07), square(116.33, 35.07)])  # fmt: skip

    result = boundaries_import(path=write(frame, tmp_path / "parts.geojson"))

    assert result.matched == {"village": 1}
    assert shape(Village.objects.get(code=LIUZHUANG).boundary).geom_type == "MultiPolygon"
    assert any("merged" in note for note in result.notes)


def test_a_z_coordinate_is_dropped(tmp_path):
    polygon_z = shapely.force_3d(square(116.25, 35.10), 40.0)

    run(write(layer([{"code": YANGSHAN}], [polygon_z]), tmp_path / "z.gpkg"))

    ring = Town.objects.get(code=YANGSHAN).boundary["coordinates"][0]
    assert all(len(vertex) == 2 for vertex in ring)


# --- formats and coordinate systems -----------------------------------------------------------


@pytest.mark.parametrize("filename", ["towns.gpkg", "towns.shp", "towns.geojson"])
def test_geopackage_shapefile_and_geojson_import(tmp_path, filename):
    path = write(towns_layer(), tmp_path / filename)

    result = boundaries_import(path=path)

    assert result.matched == {"town": 2}
    boundary = Town.objects.get(code=JISHU).boundary
    assert same_shape(boundary, square(116.40, 34.95, 3000), 1e-7)


@pytest.mark.parametrize("epsg", [3857, 4527])  # web mercator; CGCS2000 3° Gauss-Krüger zone 39
def test_a_projected_file_is_reprojected_to_wgs84(tmp_path, epsg):
    path = write(towns_layer().to_crs(epsg=epsg), tmp_path / "projected.gpkg")

    result = boundaries_import(path=path)

    assert result.source_crs == f"EPSG:{epsg}"
    boundary = Town.objects.get(code=JISHU).boundary
    assert same_shape(boundary, square(116.40, 34.95, 3000), 1e-6)


def test_a_file_without_crs_is_taken_as_wgs84_and_the_output_says_so(tmp_path):
    path = without_crs(towns_layer(), tmp_path / "nocrs.shp")
    assert not (tmp_path / "nocrs.prj").exists()

    output = run(path)

    assert "EPSG:4326 (WGS-84) was assumed" in output
    assert Town.objects.get(code=YANGSHAN).boundary is not None


def test_crs_option_declares_the_crs_of_a_file_without_one(tmp_path):
    path = without_crs(towns_layer().to_crs(epsg=4527), tmp_path / "gk.shp")

    with pytest.raises(CommandError, match="not longitude/latitude degrees"):
        run(path)
    run(path, "--crs", "EPSG:4527")

    boundary = Town.objects.get(code=YANGSHAN).boundary
    assert same_shape(boundary, square(116.25, 35.10, 3000), 1e-6)


# --- bad input --------------------------------------------------------------------------------


def test_bad_input_gives_a_command_error_and_writes_nothing(tmp_path):
    garbage = tmp_path / "garbage.geojson"
    garbage.write_bytes(b"\x00\x01 not a map")
    no_columns = write(layer([{"area": 1.0}], [square(116.3, 35.0)]), tmp_path / "n.geojson")
    table = tmp_path / "table.csv"
    table.write_text("code,name\n370828000000,金乡县\n")
    cases = [
        ((tmp_path / "missing.geojson",), "File not found"),
        ((garbage,), "Cannot read"),
        ((table,), "has no geometry column"),
        ((no_columns,), "No code or name column found \\(columns: area\\)"),
        ((GCJ_OUTLINE, "--code-field", "xzqdm"), "Column “xzqdm” is not in the file"),
        ((GCJ_OUTLINE, "--crs", "gcj03"), "Unknown CRS “gcj03”"),
        ((write(towns_layer().to_crs(3857), tmp_path / "m.gpkg"), "--crs", "gcj02"), "projected"),
    ]
    for args, message in cases:
        with pytest.raises(CommandError, match=message):
            run(*args)
    assert nothing_written()


def test_an_epsg_override_is_accepted():
    output = run(WGS_OUTLINE, "--crs", "EPSG:4490")  # CGCS2000, equal to WGS-84 at this scale

    assert "coordinates in EPSG:4490" in output
    assert County.objects.get(code=JINXIANG).boundary is not None


def test_the_command_lists_ambiguous_features(tmp_path):
    frame = layer([{"name": "王庄村"}], [Point(116.3, 35.0)])

    output = run(write(frame, tmp_path / "v.geojson"))

    assert "Ambiguous (not imported) (1):" in output
    assert "feature #0 王庄村: “王庄村” fits 2 divisions: 370828001215 王庄村民委员会;" in output


def test_only_the_first_layer_of_a_geopackage_is_read_and_the_output_says_so(tmp_path):
    path = tmp_path / "two.gpkg"
    towns_layer().to_file(path, layer="towns", engine="pyogrio")
    layer([{"code": LIUZHUANG}], [Point(116.31, 35.07)]).to_file(
        path, layer="villages", engine="pyogrio"
    )

    output = run(path)

    assert "The file has 2 layers; only the first, “towns”, was read." in output
    assert Town.objects.exclude(boundary=None).count() == 2
    assert Village.objects.get(code=LIUZHUANG).centroid_lng is None


# --- a file of one unit's outline, without columns: --code -----------------------------------


def outline_geometry() -> dict:
    """The real 金乡县 fence, as a bare GeoJSON geometry."""
    return json.loads(WGS_OUTLINE.read_text())["features"][0]["geometry"]


def write_json(path, data: object):
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_a_bare_geometry_is_the_division_named_by_code(tmp_path):
    path = write_json(tmp_path / "370828.geojson", outline_geometry())

    output = run(path, "--code", "370828")

    assert "The whole file outlines 370828000000 金乡县 (--code)." in output
    assert "Counties: 1 matched, 1 updated, 0 unchanged" in output
    assert County.objects.get(code=JINXIANG).boundary["type"] == "Polygon"
    assert not boundaries_import(path=WGS_OUTLINE).changed_anything  # the same outline


def test_a_feature_without_properties_is_the_town_named_by_code(tmp_path):
    feature = {
        "type": "Feature",
        "properties": None,
        "geometry": square(116.25, 35.10).__geo_interface__,
    }
    path = write_json(tmp_path / "yangshan.json", feature)

    result = boundaries_import(path=path, code="370828101")

    assert result.unit == f"{YANGSHAN} 羊山镇"
    assert result.matched == {"town": 1}
    assert same_shape(Town.objects.get(code=YANGSHAN).boundary, square(116.25, 35.10), 1e-7)


def test_the_features_of_a_collection_are_parts_of_the_division_named_by_code(tmp_path):
    parts = [square(116.31, 35.07), square(116.33, 35.07)]  # the village and its exclave
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {}, "geometry": p.__geo_interface__} for p in parts
        ],
    }
    path = write_json(tmp_path / "liuzhuang.geojson", collection)

    output = run(path, "--code", LIUZHUANG)

    assert shape(Village.objects.get(code=LIUZHUANG).boundary).geom_type == "MultiPolygon"
    assert "Features #0, #1 all belong to" in output


def test_several_features_without_columns_or_code_are_refused(tmp_path):
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": square(116.25, 35.10).__geo_interface__,
            },
            {
                "type": "Feature",
                "properties": {},
                "geometry": square(116.40, 34.95).__geo_interface__,
            },
        ],
    }
    path = write_json(tmp_path / "towns.geojson", collection)

    with pytest.raises(CommandError, match=r"2 features and no code or name column.*--code"):
        run(path)
    assert nothing_written()


def test_one_geometry_without_a_code_is_refused_asking_for_one(tmp_path):
    path = write_json(tmp_path / "fence.geojson", outline_geometry())

    with pytest.raises(CommandError, match=r"No code or name column found \(columns: —\).*--code"):
        run(path)
    assert nothing_written()


def test_a_code_that_names_no_division_is_refused(tmp_path):
    path = write_json(tmp_path / "fence.geojson", outline_geometry())

    with pytest.raises(CommandError, match="510722000000"):
        run(path, "--code", "510722")
    assert nothing_written()


def test_code_may_not_merge_a_file_of_several_divisions(tmp_path):
    path = write(towns_layer(), tmp_path / "towns.geojson")

    with pytest.raises(CommandError, match=f"{YANGSHAN}, {JISHU}"):
        run(path, "--code", "370828")
    assert nothing_written()


def test_code_agrees_with_a_code_column_naming_the_same_division():
    result = boundaries_import(path=GCJ_OUTLINE, crs="gcj02", code="370828000000")

    assert result.matched == {"county": 1}
    assert result.unit == f"{JINXIANG} 金乡县"


def test_a_nested_json_list_of_divisions_is_named_as_such(tmp_path):
    tree = [
        {
            "code": "370828000000",
            "name": "金乡县",
            "children": [{"code": YANGSHAN, "name": "羊山镇"}],
        }
    ]
    path = write_json(tmp_path / "divisions.json", tree)

    with pytest.raises(CommandError, match=r"nested JSON list of divisions.*import_divisions"):
        run(path)
