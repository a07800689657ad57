"""The water-site register import (黑臭水体清单 → WaterSite), through its service and command.

Registers are built as the county office keeps them (a title row above Chinese headers, number
cells in the workbook, a GB18030 CSV saved from Excel) with the household ledger tests' writers.
Messages are translated, so failures are recognised by the lines, values and column headers
they name, never by their wording.
"""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import openpyxl
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils.translation import gettext

from core.tables import MAX_REPORTED_ERRORS
from inspections.models import WaterSite
from inspections.sites.imports import WaterSiteImportError, parse_degrees, water_sites_import
from tests.factories import HUJI_CODE, JISHU_CODE
from tests.inspections.conftest import HUJI_SITE, make_site, moved
from tests.villages.test_households_import import line_of, numbers_in, write_csv, write_xlsx
from villages.geo import distance_m, wgs84_to_gcj02

HEADER = [
    "编号",
    "名称",
    "乡镇",
    "行政村",
    "类型",
    "面积(m²)",
    "经度",
    "纬度",
    "坐标系",
    "级别",
    "治理措施",
    "县级责任人",
    "县级电话",
    "镇级责任人",
    "镇级电话",
    "村级责任人",
    "村级电话",
    "巡查频次",
    "状态",
]
FIRST_LINE = 3  # below write_xlsx's title row and the header row
HUJI_VILLAGE = "370828102200"  # 胡集村民委员会
QIUSI_VILLAGE = "370828102201"  # 仇寺村民委员会
JISHU_VILLAGE = "370828104200"  # 鸡黍村民委员会, in another town
VILLAGES = ("胡集村", "仇寺村", "三皇庙村", "湾里村", "金店村")
KINDS = ("坑塘", "沟渠", "河流", "坑塘", "湖泊", "水库")
LEVELS = ("县级", "县级", "省级", "国家级")
SAMPLE = settings.BASE_DIR / "inspections" / "fixtures" / "sites_example.csv"
OUTLINE = settings.BASE_DIR / "villages" / "fixtures" / "jinxiang" / "county_boundary_wgs84.geojson"
JINING = (35.415, 116.587)  # the prefecture seat, 46 km from 金乡: in China, not near the county
QUERY_CEILING = 8


def register(n: int = 10) -> list[dict]:
    """`n` sites of 胡集镇 on a 150 m grid north-east of HUJI_SITE, in WGS-84."""
    rows = []
    for i in range(n):
        lat, lng = moved(HUJI_SITE, north_m=(i % 20) * 150, east_m=(i // 20) * 150)
        village = VILLAGES[i % len(VILLAGES)]
        rows.append(
            {
                "编号": f"JX-HC-{i + 1:04d}",
                "名称": f"{village}{KINDS[i % 6]}{i + 1}号",
                "乡镇": "胡集镇",
                "行政村": village,
                "类型": KINDS[i % 6],
                "面积(m²)": 1200 + 100 * i,
                "经度": round(lng, 6),
                "纬度": round(lat, 6),
                "坐标系": "WGS84",
                "级别": LEVELS[i % 4],
                "治理措施": "清淤疏浚、控源截污",
                "县级责任人": "王立新",
                "县级电话": "0537-8700001",
                "镇级责任人": "李建华",
                "镇级电话": "138 0000 0101",
                "村级责任人": f"张守义{i + 1}",
                "村级电话": f"1390000{i:04d}",
                "巡查频次": 1 + i % 3,
                "状态": "已验收·管护中" if i % 4 == 0 else "治理中",
            }
        )
    return rows


def xlsx(tmp_path, rows, header=HEADER, name="黑臭水体清单.xlsx"):
    return write_xlsx(tmp_path, rows, header=header, name=name)


def import_errors(path, **options) -> list[str]:
    with pytest.raises(WaterSiteImportError) as caught:
        water_sites_import(path=path, **options)
    return caught.value.errors


def run_command(*args) -> str:
    out = StringIO()
    call_command("import_sites", *map(str, args), stdout=out, stderr=StringIO())
    return out.getvalue()


def table_snapshot() -> list[tuple]:
    """Every column of every site, tokens and timestamps included."""
    return list(WaterSite.objects.order_by("id").values_list())


@pytest.fixture
def imported(divisions, tmp_path) -> list[dict]:
    rows = register()
    water_sites_import(path=xlsx(tmp_path, rows))
    return rows


def test_it_imports_a_register_workbook(divisions, tmp_path):
    rows = register()

    summary = water_sites_import(path=xlsx(tmp_path, rows))

    assert (summary.created, summary.updated, summary.unchanged) == (10, 0, 0)
    assert WaterSite.objects.filter(town_id=HUJI_CODE).count() == 10
    first = WaterSite.objects.get(code="JX-HC-0001")
    assert first.name == "胡集村坑塘1号"
    assert first.village_id == HUJI_VILLAGE
    assert (first.kind, first.list_level) == ("pond", "county")
    assert first.area_m2 == Decimal("1200.0")
    assert (first.lat, first.lng) == (rows[0]["纬度"], rows[0]["经度"])
    assert first.treatment == "清淤疏浚、控源截污"
    assert (first.county_person, first.county_phone) == ("王立新", "0537-8700001")
    assert (first.town_person, first.town_phone) == ("李建华", "13800000101")
    assert (first.village_person, first.village_phone) == ("张守义1", "13900000000")
    assert first.patrols_per_month == 1
    assert first.state == "maintained"  # 已验收·管护中
    assert first.token
    second = WaterSite.objects.get(code="JX-HC-0002")
    assert (second.village_id, second.kind, second.state) == (QIUSI_VILLAGE, "ditch", "governing")
    assert WaterSite.objects.get(code="JX-HC-0004").list_level == "national"
    assert WaterSite.objects.get(code="JX-HC-0006").kind == "reservoir"
    assert len(set(WaterSite.objects.values_list("token", flat=True))) == 10


def test_it_imports_a_gb18030_csv_saved_from_excel(divisions, tmp_path):
    summary = water_sites_import(path=write_csv(tmp_path, register(), header=HEADER))

    assert summary.created == 10
    assert WaterSite.objects.get(code="JX-HC-0003").kind == "river"


def test_the_csv_of_the_same_register_matches_the_workbook(imported, tmp_path):
    before = table_snapshot()

    summary = water_sites_import(path=write_csv(tmp_path, imported, header=HEADER))

    assert (summary.created, summary.updated, summary.unchanged) == (0, 0, 10)
    assert table_snapshot() == before


def test_the_sample_register_imports(divisions):
    out = run_command(SAMPLE)

    assert "5" in numbers_in(out)
    assert WaterSite.objects.count() == 5
    pond = WaterSite.objects.get(code="JX-HC-003")  # given in GCJ-02
    assert (pond.town_id, pond.village_id) == (JISHU_CODE, JISHU_VILLAGE)
    assert (pond.list_level, pond.state) == ("national", "maintained")
    assert distance_m(pond.lng, pond.lat, 116.376669, 35.107595) == pytest.approx(518, abs=10)
    assert gettext("Nothing changed: the database already matches this file.") in run_command(
        SAMPLE
    )


def test_an_area_in_mu_is_stored_in_square_metres(divisions, tmp_path):
    header = ["面积（亩）" if column == "面积(m²)" else column for column in HEADER]
    rows = register(2)
    rows[0]["面积（亩）"], rows[1]["面积（亩）"] = 3.6, "1.25"

    water_sites_import(path=xlsx(tmp_path, rows, header=header))

    assert list(WaterSite.objects.order_by("code").values_list("area_m2", flat=True)) == [
        Decimal("2400.0"),  # 1 亩 = 10000/15 m²
        Decimal("833.3"),
    ]


# --- coordinates ---------------------------------------------------------------------------


def test_a_gcj02_position_is_stored_in_wgs84(divisions, tmp_path):
    rows = register(2)
    lng, lat = wgs84_to_gcj02(HUJI_SITE[1], HUJI_SITE[0])  # as AMap shows HUJI_SITE
    rows[1].update({"经度": round(lng, 7), "纬度": round(lat, 7), "坐标系": "GCJ-02"})

    summary = water_sites_import(path=xlsx(tmp_path, rows))

    assert summary.converted == 1
    site = WaterSite.objects.get(code="JX-HC-0002")
    # The GCJ-02 shift at 金乡 is about half a kilometre; the stored point is the true one.
    assert 400 < distance_m(lng, lat, site.lng, site.lat) < 650
    assert distance_m(HUJI_SITE[1], HUJI_SITE[0], site.lng, site.lat) < 0.05
    unshifted = WaterSite.objects.get(code="JX-HC-0001")
    assert (unshifted.lat, unshifted.lng) == (rows[0]["纬度"], rows[0]["经度"])


def test_the_crs_option_applies_to_rows_without_a_crs_cell(divisions, tmp_path):
    rows = register(3)
    given = []
    for row in rows:
        row["经度"], row["纬度"] = (round(v, 7) for v in wgs84_to_gcj02(row["经度"], row["纬度"]))
        given.append((row["经度"], row["纬度"]))
        row["坐标系"] = ""
    rows[2]["坐标系"] = "WGS84"  # a row that says so is left as it is

    run_command(xlsx(tmp_path, rows), "--crs", "GCJ02")

    stored = {
        code: (lng, lat) for code, lng, lat in WaterSite.objects.values_list("code", "lng", "lat")
    }
    assert 400 < distance_m(*given[0], *stored["JX-HC-0001"]) < 650
    assert 400 < distance_m(*given[1], *stored["JX-HC-0002"]) < 650
    assert stored["JX-HC-0003"] == given[2]


@pytest.mark.parametrize(
    ("written", "degrees"),
    [
        (116.239, 116.239),
        ("116.239", 116.239),
        (" １１６.２３９ ", 116.239),
        ("116.239°", 116.239),
        ("116°14′20.4″", 116.239),
        ("116度14分20.4秒", 116.239),
        ("35°1'", 35 + 1 / 60),
    ],
)
def test_degrees_are_read_as_registers_write_them(written, degrees):
    assert parse_degrees(written) == pytest.approx(degrees, abs=1e-9)


@pytest.mark.parametrize("written", ["东经116", "116,239", "116°75′", "1e2", "nan", "116.2.3"])
def test_what_is_not_a_number_of_degrees_is_refused(written):
    with pytest.raises(ValueError):
        parse_degrees(written)


def test_with_the_county_outline_a_position_must_lie_near_the_county(imported, tmp_path):
    call_command("import_boundaries", str(OUTLINE), stdout=StringIO(), stderr=StringIO())
    before = table_snapshot()
    imported[4]["纬度"], imported[4]["经度"] = JINING
    imported[6]["纬度"], imported[6]["经度"] = imported[6]["经度"], imported[6]["纬度"]

    errors = import_errors(xlsx(tmp_path, imported))

    assert [line_of(e) for e in errors] == [FIRST_LINE + 4, FIRST_LINE + 6]
    assert all("经度" in e and "纬度" in e for e in errors)
    assert gettext("Are longitude and latitude swapped?") in errors[1]
    assert table_snapshot() == before


def test_without_an_outline_a_position_must_lie_in_china(imported, tmp_path):
    imported[4]["纬度"], imported[4]["经度"] = JINING  # no outline imported: accepted
    imported[5]["经度"] = 16.239  # the leading 1 lost

    errors = import_errors(xlsx(tmp_path, imported))

    assert [line_of(e) for e in errors] == [FIRST_LINE + 5]


# --- refused files: nothing written, the line and column named -------------------------------

BAD_CELLS = [
    pytest.param(1, "乡镇", "胡家镇", id="unknown town"),
    pytest.param(2, "行政村", "鸡黍村", id="village of another town, by name"),
    pytest.param(3, "行政村", JISHU_VILLAGE, id="village of another town, by code"),
    pytest.param(4, "行政村", "370828102299", id="unknown village code"),
    pytest.param(5, "类型", "水沟塘", id="unknown type"),
    pytest.param(6, "级别", "市级", id="unknown level"),
    pytest.param(7, "经度", "东经116度", id="longitude not a number"),
    pytest.param(8, "纬度", "", id="no latitude"),
    pytest.param(9, "编号", "", id="no code"),
    pytest.param(1, "名称", "", id="no name"),
    pytest.param(2, "县级责任人", "", id="no county-level person"),
    pytest.param(3, "村级责任人", "张" * 51, id="person too long"),
    pytest.param(4, "镇级电话", "1380000010", id="phone of 10 digits"),
    pytest.param(5, "面积(m²)", "两亩", id="area not a number"),
    pytest.param(6, "面积(m²)", 0, id="area zero"),
    pytest.param(7, "巡查频次", 0, id="no patrols"),
    pytest.param(8, "坐标系", "BD09", id="unknown coordinate system"),
    pytest.param(9, "状态", "疑似反弹", id="state a new site cannot have"),
]


@pytest.mark.parametrize(("index", "column", "value"), BAD_CELLS)
def test_a_bad_cell_is_refused_with_its_line_and_column_and_nothing_is_written(
    imported, tmp_path, index, column, value
):
    before = table_snapshot()
    imported[0]["名称"] = "改了名的坑塘"  # a valid change that must not be written either
    imported.append({**register(11)[10], "编号": "JX-HC-NEW"})  # nor a new site
    imported[index][column] = value

    errors = import_errors(xlsx(tmp_path, imported))

    assert [line_of(e) for e in errors] == [FIRST_LINE + index]
    assert column in errors[0]
    assert table_snapshot() == before


def test_a_code_twice_names_both_lines(imported, tmp_path):
    before = table_snapshot()
    imported[7]["编号"] = imported[2]["编号"]

    errors = import_errors(xlsx(tmp_path, imported))

    assert [line_of(e) for e in errors] == [FIRST_LINE + 7]
    assert {imported[2]["编号"].split("-")[-1], str(FIRST_LINE + 2)} <= numbers_in(errors[0])
    assert table_snapshot() == before


def test_every_bad_line_is_reported_in_order_up_to_a_limit(divisions, tmp_path):
    rows = register(40)
    for row in rows[5:35]:
        row["类型"] = "水沟塘"
    rows[0]["乡镇"] = "胡家镇"  # found by a later check, still reported in line order

    errors = import_errors(xlsx(tmp_path, rows))

    lines = [line_of(e) for e in errors]
    assert len(errors) == MAX_REPORTED_ERRORS
    assert lines == sorted(lines)
    assert lines[0] == FIRST_LINE
    assert not WaterSite.objects.exists()


@pytest.mark.parametrize("column", ["经度", "县级责任人", "乡镇"])
def test_a_register_without_a_required_column_is_refused_at_its_header(divisions, tmp_path, column):
    header = [c for c in HEADER if c != column]

    errors = import_errors(xlsx(tmp_path, register(), header=header))

    assert [line_of(e) for e in errors] == [2]
    assert column in errors[0]


def test_the_command_refuses_a_bad_register_naming_its_lines(imported, tmp_path):
    imported[2]["类型"] = "水沟塘"  # FileImportCommand does the rest, as for every importer

    with pytest.raises(CommandError, match=rf"(?<![0-9]){FIRST_LINE + 2}(?![0-9]).*水沟塘"):
        run_command(xlsx(tmp_path, imported))


# --- a second run ----------------------------------------------------------------------------


def test_a_second_run_changes_nothing_and_says_so(imported, tmp_path):
    before = table_snapshot()

    out = run_command(xlsx(tmp_path, imported))

    assert gettext("Nothing changed: the database already matches this file.") in out
    assert "10" in numbers_in(out)
    assert table_snapshot() == before


def test_a_re_import_takes_the_same_few_queries_for_10_or_200_sites(
    divisions, tmp_path, django_assert_max_num_queries
):
    counts = []
    for n in (10, 200):
        path = xlsx(tmp_path, register(n), name=f"{n}.xlsx")
        water_sites_import(path=path)
        with django_assert_max_num_queries(QUERY_CEILING) as captured:
            summary = water_sites_import(path=path)
        assert summary.unchanged == n
        counts.append(len(captured))

    assert counts[0] == counts[1]


def test_an_edited_row_updates_its_site_and_keeps_token_and_state(imported, tmp_path):
    site = WaterSite.objects.get(code="JX-HC-0002")
    site.accept()  # 治理中 → 已验收·管护中 since the first import
    site.save()
    token, issued = site.token, site.token_issued_at
    imported[1].update({"名称": "仇寺村排水沟", "村级电话": "13900009999", "面积(m²)": 1850.55})
    imported[1]["状态"] = "治理中"  # read for new sites only
    imported[1]["纬度"], imported[1]["经度"] = moved(HUJI_SITE, north_m=-300)

    summary = water_sites_import(path=xlsx(tmp_path, imported))

    assert (summary.created, summary.updated, summary.unchanged) == (0, 1, 9)
    site.refresh_from_db()
    assert (site.name, site.village_phone, site.area_m2) == (
        "仇寺村排水沟",
        "13900009999",
        Decimal("1850.6"),
    )
    assert (site.lat, site.lng) == pytest.approx(
        (imported[1]["纬度"], imported[1]["经度"]), abs=1e-7
    )
    assert (site.token, site.token_issued_at, site.state) == (token, issued, "maintained")


def test_a_site_entered_by_hand_is_updated_in_place(divisions, huji, tmp_path):
    existing = make_site(huji, code="JX-HC-0001", name="旧名称", state="maintained")
    token = existing.token

    summary = water_sites_import(path=xlsx(tmp_path, register(1)))

    assert summary.updated == 1
    existing.refresh_from_db()
    assert (existing.name, existing.token, existing.state) == ("胡集村坑塘1号", token, "maintained")
    assert existing.village_id == HUJI_VILLAGE


def test_sites_absent_from_the_file_are_kept_and_counted(imported, tmp_path):
    gone = imported.pop(3)

    out = run_command(xlsx(tmp_path, imported))

    assert WaterSite.objects.filter(code=gone["编号"]).exists()
    assert {"1", "9"} <= numbers_in(out)
    assert water_sites_import(path=xlsx(tmp_path, imported)).missing_from_file == 1
    delisted = WaterSite.objects.get(code=gone["编号"])
    delisted.delist()
    delisted.save()
    assert water_sites_import(path=xlsx(tmp_path, imported)).missing_from_file == 0


def test_a_file_without_optional_columns_leaves_them_as_stored(imported, tmp_path):
    before = table_snapshot()
    header = [c for c in HEADER if c not in ("行政村", "面积(m²)", "县级电话", "巡查频次", "状态")]

    summary = water_sites_import(path=xlsx(tmp_path, imported, header=header))

    assert summary.unchanged == 10
    assert table_snapshot() == before


def test_a_blank_optional_cell_clears_or_defaults(imported, tmp_path):
    imported[1].update({"行政村": "", "面积(m²)": None, "县级电话": "", "巡查频次": None})

    water_sites_import(path=xlsx(tmp_path, imported))

    site = WaterSite.objects.get(code="JX-HC-0002")
    assert (site.village_id, site.area_m2, site.county_phone) == (None, None, "")
    assert site.patrols_per_month == 1


# --- other ways of writing the same register -----------------------------------------------


def test_towns_and_villages_by_code_or_in_any_usual_form(divisions, tmp_path):
    rows = register(4)
    rows[0].update({"乡镇": HUJI_CODE, "行政村": HUJI_VILLAGE})
    rows[1].update({"乡镇": float(HUJI_CODE), "行政村": "仇寺村民委员会"})  # number cells
    rows[2].update({"乡镇": "胡集", "行政村": "三皇庙"})
    rows[3].update({"乡镇": " 胡集镇 ", "行政村": "湾里村委会"})

    water_sites_import(path=xlsx(tmp_path, rows))

    assert list(WaterSite.objects.order_by("code").values_list("town_id", "village__name")) == [
        (HUJI_CODE, "胡集村民委员会"),
        (HUJI_CODE, "仇寺村民委员会"),
        (HUJI_CODE, "三皇庙村民委员会"),
        (HUJI_CODE, "湾里村民委员会"),
    ]


def test_english_headers_and_values_are_accepted(divisions, tmp_path):
    english = dict(
        zip(
            HEADER,
            [
                *("code", "name", "town", "village", "type", "area", "lng", "lat", "crs"),
                *("level", "treatment", "county_person", "county_phone", "town_person"),
                *("town_phone", "village_person", "village_phone", "patrols", "state"),
            ],
            strict=True,
        )
    )
    rows = [{english[k]: v for k, v in row.items()} for row in register(3)]
    rows[0].update({"type": "Pond", "level": "provincial", "state": "maintained", "crs": "wgs-84"})

    summary = water_sites_import(
        path=write_csv(tmp_path, rows, header=list(english.values()), encoding="utf-8-sig")
    )

    assert summary.created == 3
    site = WaterSite.objects.get(code="JX-HC-0001")
    assert (site.kind, site.list_level, site.state) == ("pond", "provincial", "maintained")


# --- codes Excel put in scientific notation ---------------------------------------------------


def test_town_codes_shown_in_scientific_notation_get_one_message(divisions, tmp_path):
    """Towns given by code, in number cells Excel formatted 0.00E+00 when it read them from a
    CSV: 370828102000 came back as 370828000000, the county's code."""
    rows = [row | {"乡镇": 370828000000} for row in register(25)]
    path = xlsx(tmp_path, rows)
    workbook = openpyxl.load_workbook(path)
    column = HEADER.index("乡镇")
    for row in workbook.active.iter_rows(min_row=FIRST_LINE):
        row[column].number_format = "0.00E+00"
    workbook.save(path)

    errors = import_errors(path)

    [error] = errors
    assert line_of(error) == FIRST_LINE
    assert "乡镇" in error and "3.70828E+11" in error and "25" in numbers_in(error)
    assert not WaterSite.objects.exists()


def test_town_codes_in_general_number_cells_are_read_whole(divisions, tmp_path):
    rows = [row | {"乡镇": int(HUJI_CODE)} for row in register(3)]

    assert water_sites_import(path=xlsx(tmp_path, rows)).created == 3
    assert set(WaterSite.objects.values_list("town_id", flat=True)) == {HUJI_CODE}
