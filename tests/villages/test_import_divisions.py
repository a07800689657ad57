"""The division importer (统计用区划代码 → County / Town / Village), through its command.

Messages are translated, so failures are recognised by the line numbers and codes they name,
never by their wording.
"""

from __future__ import annotations

import csv
import re
from io import StringIO
from pathlib import Path

import openpyxl
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils.translation import gettext

from tests.factories import COUNTY_CODE, DIVISIONS_CSV, HUJI_CODE
from villages.imports import DivisionImportError, divisions_import
from villages.models import County, Town, Village

REAL_CSV = settings.BASE_DIR / DIVISIONS_CSV
HEADER = "code,name,level,parent_code,urban_rural_code,committee_type"
HUJI_VILLAGE = "370828102200"  # 胡集村民委员会


def write_csv(tmp_path: Path, *lines: str, header: str = HEADER, encoding="utf-8") -> Path:
    path = tmp_path / "divisions.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding=encoding)
    return path


def run_import(path: Path) -> str:
    out = StringIO()
    call_command("import_divisions", path, stdout=out, stderr=StringIO())
    return out.getvalue()


def row_counts() -> tuple[int, int, int]:
    return County.objects.count(), Town.objects.count(), Village.objects.count()


def numbers_in(text: str) -> set[str]:
    """Every run of digits: line numbers and codes, whatever language the text is in."""
    return set(re.findall(r"\d+", text))


def test_it_imports_the_real_list_of_jinxiang(db):
    run_import(REAL_CSV)

    assert row_counts() == (1, 13, 558)
    county = County.objects.get()
    assert (county.code, county.name, county.parent_code) == (COUNTY_CODE, "金乡县", "370800000000")
    kinds = dict(Town.objects.values_list("code", "kind"))
    assert sorted(kinds.values()).count(Town.Kind.SUBDISTRICT) == 4
    assert sorted(kinds.values()).count(Town.Kind.TOWN) == 9
    assert kinds["370828001000"] == Town.Kind.SUBDISTRICT  # 金乡街道
    assert kinds[HUJI_CODE] == Town.Kind.TOWN  # 胡集镇
    assert Town.objects.get(code=HUJI_CODE).villages.count() == 77


def test_it_sets_the_committee_type_of_every_village(db):
    run_import(REAL_CSV)

    villages = Village.objects.all()
    assert villages.filter(committee_type=Village.Committee.VILLAGERS).count() == 540
    assert villages.filter(committee_type=Village.Committee.RESIDENTS).count() == 18
    assert not villages.filter(level=Village.Level.NATURAL).exists()
    assert not villages.filter(parent__isnull=False).exists()
    assert Village.objects.get(code="370828001009").committee_type == "residents"  # 金府社区


def test_it_takes_the_2016_urban_rural_code_where_2023_is_blank(db):
    run_import(REAL_CSV)

    # The 2023 column is blank throughout the real file; 495 rows carry a 2016 code.
    assert Village.objects.get(code="370828001209").urban_rural_code == "122"  # 刘庄
    assert Village.objects.get(code=HUJI_VILLAGE).urban_rural_code == "121"  # 胡集
    assert Village.objects.get(code="370828001210").urban_rural_code == ""  # 霍古: neither
    assert Village.objects.exclude(urban_rural_code="").count() == 495


def test_the_2023_urban_rural_code_wins_over_2016(db, tmp_path):
    path = write_csv(
        tmp_path,
        "370828000000,金乡县,county,370800000000,,",
        "370828102000,胡集镇,town,370828000000,,",
        "370828102200,胡集村民委员会,village,370828102000,112,121",
        header="code,name,level,parent_code,urban_rural_code,"
        "urban_rural_code_2016_if_same_code_and_name",
    )
    run_import(path)

    assert Village.objects.get(code=HUJI_VILLAGE).urban_rural_code == "112"


def test_a_second_run_of_the_same_file_changes_nothing_and_says_so(db):
    run_import(REAL_CSV)
    before = list(Village.objects.values_list("code", "name", "town_id", "committee_type"))

    out = run_import(REAL_CSV)

    assert gettext("Nothing changed: the database already matches this file.") in out
    assert "558" in numbers_in(out)
    assert row_counts() == (1, 13, 558)
    assert list(Village.objects.values_list("code", "name", "town_id", "committee_type")) == before
    summary = divisions_import(path=REAL_CSV)
    assert not summary.changed_anything
    assert summary.unchanged == {"county": 1, "town": 13, "village": 558}


def test_the_first_run_reports_what_it_created(db):
    out = run_import(REAL_CSV)

    assert gettext("Nothing changed: the database already matches this file.") not in out
    assert {"1", "13", "558"} <= numbers_in(out)


def test_it_is_quiet_at_verbosity_0(db):
    out = StringIO()
    call_command("import_divisions", REAL_CSV, verbosity=0, stdout=out, stderr=StringIO())

    assert out.getvalue() == ""
    assert Village.objects.count() == 558


def test_a_changed_name_updates_exactly_that_village_and_keeps_its_geometry(db, tmp_path):
    run_import(REAL_CSV)
    Village.objects.filter(code=HUJI_VILLAGE).update(centroid_lng=116.3, centroid_lat=35.1)
    text = REAL_CSV.read_text(encoding="utf-8")
    assert text.count(",胡集村民委员会,") == 1
    changed = tmp_path / "renamed.csv"
    changed.write_text(text.replace(",胡集村民委员会,", ",胡集新村村民委员会,"), encoding="utf-8")

    summary = divisions_import(path=changed)

    assert summary.updated == {"village": 1}
    assert summary.created == {}
    assert summary.unchanged["village"] == 557
    village = Village.objects.get(code=HUJI_VILLAGE)
    assert village.name == "胡集新村村民委员会"
    assert (village.centroid_lng, village.centroid_lat) == (116.3, 35.1)
    assert row_counts() == (1, 13, 558)


def test_a_village_dropped_from_the_file_is_kept_and_counted(db, tmp_path):
    run_import(REAL_CSV)
    lines = REAL_CSV.read_text(encoding="utf-8").splitlines()
    shorter = tmp_path / "shorter.csv"
    shorter.write_text(
        "\n".join(line for line in lines if not line.startswith(HUJI_VILLAGE)), encoding="utf-8"
    )

    summary = divisions_import(path=shorter)

    assert summary.missing_from_file == 1
    assert Village.objects.filter(code=HUJI_VILLAGE).exists()


# --- refused files: the line is named and nothing at all is written -------------------------

GOOD_NEW_ROWS = (
    # Valid, new, and before the bad row: none of them may be written.
    "370828199000,新设镇,town,370828000000,,",
    "370828199200,新设村民委员会,village,370828199000,,村民委员会",
    "370828102200,胡集村民委员会改,village,370828102000,,村民委员会",
)
BAD_ROWS = {
    # id: (bad row, what the message must quote besides the line number)
    "malformed code": ("37082810220,短码村民委员会,village,370828102000,,", {"37082810220"}),
    "letters in code": ("37082810220X,字母村民委员会,village,370828102000,,", {"37082810220X"}),
    "full-width digits": (
        "３７０８２８１０２２９９,全角村民委员会,village,370828102000,,",
        {"３７０８２８１０２２９９"},
    ),
    "unknown parent": ("370828198200,孤村民委员会,village,370828198000,,", {"370828198000"}),
    "parent is a village": ("370828102299,错村民委员会,village,370828102200,,", {"370828102200"}),
    "code not under parent": (
        "370828104299,错镇村民委员会,village,370828102000,,",
        {"370828104299", "370828102000"},
    ),
    "unknown level": ("370828102299,某村民委员会,hamlet,370828102000,,", {"hamlet"}),
    "empty name": ("370828102299,,village,370828102000,,", set()),
    "town name too long": ("370828198000," + "镇" * 51 + ",town,370828000000,,", {"50"}),
    "county parent too long": ("370829000000,某县,county,3708000000001,,", {"3708000000001"}),
    "bad urban-rural code": ("370828102299,某村民委员会,village,370828102000,12,", {"12"}),
    "bad committee type": ("370828102299,某村民委员会,village,370828102000,,公司", {"公司"}),
    "code stored as another level": ("370828102201,胡集镇二,town,370828000000,,", {"370828102201"}),
    "natural village with 12 digits": (
        "370828102299,某庄,natural_village,370828102200,,",
        {"370828102299"},
    ),
}


@pytest.mark.parametrize("bad_row,quoted", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_a_bad_row_is_refused_with_its_line_and_nothing_is_written(
    divisions, tmp_path, bad_row, quoted
):
    path = write_csv(tmp_path, *GOOD_NEW_ROWS, bad_row)
    before = row_counts()

    with pytest.raises(CommandError) as refused:
        run_import(path)

    message = str(refused.value)
    bad_line = len(GOOD_NEW_ROWS) + 2  # after the header and the good rows
    assert str(bad_line) in numbers_in(message)
    assert str(bad_line - 1) not in numbers_in(message)  # the good rows are not blamed
    for fragment in quoted:
        assert fragment in message
    assert row_counts() == before
    assert not Town.objects.filter(code="370828199000").exists()
    assert Village.objects.get(code=HUJI_VILLAGE).name == "胡集村民委员会"


def test_a_duplicate_code_names_both_lines(db, tmp_path):
    path = write_csv(
        tmp_path,
        "370828000000,金乡县,county,370800000000,,",
        "370828102000,胡集镇,town,370828000000,,",
        "370828102200,胡集村民委员会,village,370828102000,,",
        "370828102201,仇寺村民委员会,village,370828102000,,",
        "370828102200,胡集村民委员会,village,370828102000,,",
    )

    with pytest.raises(CommandError) as refused:
        run_import(path)

    assert {"4", "6", HUJI_VILLAGE} <= numbers_in(str(refused.value))
    assert row_counts() == (0, 0, 0)


def test_a_missing_column_is_refused_on_line_1(db, tmp_path):
    path = write_csv(
        tmp_path, "370828000000,金乡县,county", header="code,name,level"
    )  # no parent_code

    with pytest.raises(CommandError) as refused:
        run_import(path)

    assert "parent_code" in str(refused.value)
    assert "1" in numbers_in(str(refused.value))
    assert row_counts() == (0, 0, 0)


def test_a_line_number_counts_blank_lines_and_quoted_line_breaks(db, tmp_path):
    path = write_csv(
        tmp_path,
        "370828000000,金乡县,county,370800000000,,,",
        "",
        '370828102000,胡集镇,town,370828000000,,,"a note',
        'over two lines"',
        "370828102200,胡集村民委员会,village,370828102000,,,",
        "",
        "370828102201,,village,370828102000,,,",
        header=HEADER + ",note",
    )

    with pytest.raises(CommandError) as refused:
        run_import(path)

    assert "8" in numbers_in(str(refused.value))
    assert row_counts() == (0, 0, 0)


def test_every_bad_line_is_reported_not_only_the_first(db, tmp_path):
    path = write_csv(
        tmp_path,
        "370828000000,金乡县,county,370800000000,,",
        "370828102000,,town,370828000000,,",
        "370828102200,胡集村民委员会,village,370828102000,,",
        "3708281022,仇寺村民委员会,village,370828102000,,",
    )

    with pytest.raises(CommandError) as refused:
        run_import(path)

    assert {"3", "5"} <= numbers_in(str(refused.value))


def test_a_missing_file_is_a_command_error(db, tmp_path):
    with pytest.raises(CommandError) as refused:
        run_import(tmp_path / "nowhere.csv")

    assert "nowhere.csv" in str(refused.value)


# --- encodings --------------------------------------------------------------------------------


def test_a_gb18030_file_from_excel_imports(db, tmp_path):
    text = REAL_CSV.read_text(encoding="utf-8")
    path = tmp_path / "excel.csv"
    path.write_bytes(text.encode("gb18030"))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # the file really is not UTF-8

    run_import(path)

    assert row_counts() == (1, 13, 558)
    assert Town.objects.get(code=HUJI_CODE).name == "胡集镇"
    assert Village.objects.get(code=HUJI_VILLAGE).name == "胡集村民委员会"


def test_a_utf8_file_with_a_byte_order_mark_imports(db, tmp_path):
    path = tmp_path / "bom.csv"
    path.write_text(REAL_CSV.read_text(encoding="utf-8"), encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")

    run_import(path)

    assert row_counts() == (1, 13, 558)


# --- natural villages -------------------------------------------------------------------------

NATURAL_HEADER = "code,name,level,parent_code"


def test_natural_villages_go_under_their_administrative_village_and_its_town(divisions, tmp_path):
    path = write_csv(
        tmp_path,
        "370828102200001,胡集东村,natural_village,370828102200",
        "370828102200002,胡集西村,自然村,370828102200",
        header=NATURAL_HEADER,
    )

    summary = divisions_import(path=path)

    assert summary.created == {"natural": 2}
    east = Village.objects.get(code="370828102200001")
    assert east.level == Village.Level.NATURAL
    assert east.parent_id == HUJI_VILLAGE
    assert east.town_id == HUJI_CODE
    assert Village.objects.get(code=HUJI_VILLAGE).natural_villages.count() == 2


def test_natural_villages_are_not_missing_from_the_statistics_list(divisions, tmp_path):
    naturals = write_csv(
        tmp_path,
        "370828102200001,胡集东村,natural_village,370828102200",
        header=NATURAL_HEADER,
    )
    divisions_import(path=naturals)

    summary = divisions_import(path=REAL_CSV)

    assert summary.missing_from_file == 0
    assert not summary.changed_anything
    assert Village.objects.filter(code="370828102200001").exists()


@pytest.mark.parametrize(
    "row,named",
    [
        # a town is not an administrative village
        ("370828102000001,某庄,natural_village,370828102000", "370828102000"),
        # the code must extend its parent's
        ("370828102201001,某庄,natural_village,370828102200", "370828102201001"),
    ],
    ids=["parent is a town", "code not under parent"],
)
def test_a_natural_village_needs_an_administrative_parent(divisions, tmp_path, row, named):
    path = write_csv(tmp_path, row, header=NATURAL_HEADER)
    before = row_counts()

    with pytest.raises(CommandError) as refused:
        run_import(path)

    assert {"2", named} <= numbers_in(str(refused.value))
    assert row_counts() == before


# --- workbooks and Chinese headers ------------------------------------------------------------

CHINESE_HEADERS = {
    "code": "统计用区划代码",
    "name": "名称",
    "level": "层级",
    "parent_code": "上级代码",
    "urban_rural_code": "城乡分类代码",
    "urban_rural_code_2016_if_same_code_and_name": "urban_rural_code_2016_if_same_code_and_name",
    "committee_type": "类型",
}
CHINESE_LEVELS = {"county": "县", "town": "乡镇", "village": "村"}


def real_rows() -> list[dict]:
    with REAL_CSV.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def write_xlsx(tmp_path: Path, header: list, rows: list[list], title: str | None = None) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    if title:
        sheet.append([title])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    path = tmp_path / "区划代码.xlsx"
    workbook.save(path)
    return path


def test_a_workbook_with_chinese_headers_and_number_cells_imports_like_the_csv(db, tmp_path):
    """As an office keeps the list: a title row, Chinese headers and levels, and the codes typed
    into General cells (numbers, which Excel keeps whole below 15 digits)."""
    header = list(CHINESE_HEADERS)
    rows = [
        [
            int(row[name]) if name in ("code", "parent_code") else row[name] or None
            for name in header
        ]
        for row in real_rows()
    ]
    for row in rows:
        row[2] = CHINESE_LEVELS[row[2]]
    path = write_xlsx(tmp_path, list(CHINESE_HEADERS.values()), rows, title="金乡县区划代码")

    out = run_import(path)

    assert "558" in numbers_in(out)
    assert row_counts() == (1, 13, 558)
    assert Village.objects.get(code=HUJI_VILLAGE).urban_rural_code == "121"
    assert Village.objects.get(code="370828001009").committee_type == "residents"
    assert not divisions_import(path=REAL_CSV).changed_anything  # the same divisions


@pytest.mark.parametrize(
    "header",
    [
        "区划代码,名称,级别,上级代码,城乡分类代码,类型",
        "代码,名称,层级,上级代码,城乡分类代码,类型",
        " *区划代码 ,名称（必填）,级别,上级区划代码,城乡分类,委员会类型",
    ],
)
def test_chinese_headers_in_a_csv(divisions, tmp_path, header):
    path = write_csv(
        tmp_path,
        "370828102000,胡集镇,乡镇,370828000000,,",
        "370828102299,胡集新村村民委员会,村,370828102000,121,村民委员会",
        header=header,
    )

    summary = divisions_import(path=path)

    assert summary.created == {"village": 1}
    new = Village.objects.get(code="370828102299")
    assert (new.town_id, new.urban_rural_code, new.committee_type) == (
        HUJI_CODE,
        "121",
        "villagers",
    )


def test_a_missing_chinese_column_is_named_on_its_header_line(db, tmp_path):
    path = write_xlsx(tmp_path, ["区划代码", "名称", "级别"], [["370828000000", "金乡县", "县"]],
                      title="金乡县")  # fmt: skip

    with pytest.raises(CommandError) as refused:
        run_import(path)

    assert "上级代码" in str(refused.value)
    assert "2" in numbers_in(str(refused.value))  # below the title row
    assert row_counts() == (0, 0, 0)


def test_an_old_xls_file_is_refused_as_such(db, tmp_path):
    path = tmp_path / "区划代码.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0 not a zip")

    with pytest.raises(CommandError) as refused:
        run_import(path)

    assert ".xlsx" in str(refused.value)


# --- codes Excel put in scientific notation ---------------------------------------------------

SCIENTIFIC = "0.00E+00"  # what Excel gives a cell it read "3.70828E+11" into


def test_codes_formatted_as_scientific_numbers_get_one_message_per_column(db, tmp_path):
    """A workbook saved after Excel read a CSV of codes: 3.70828E+11 everywhere, the digits
    after the sixth gone (370828102200 came back as 370828000000)."""
    rows = [[370828000000, "金乡县", "县", 370800000000]]
    rows += [[370828000000, f"第{i}镇", "乡镇", 370828000000] for i in range(1, 25)]
    path = write_xlsx(tmp_path, ["区划代码", "名称", "级别", "上级代码"], rows)
    workbook = openpyxl.load_workbook(path)
    for row in workbook.active.iter_rows(min_row=2):
        row[0].number_format = row[3].number_format = SCIENTIFIC
    workbook.save(path)

    with pytest.raises(DivisionImportError) as refused:
        divisions_import(path=path)

    errors = refused.value.errors
    assert len(errors) == 2  # one per column, not one per line
    code_error, parent_error = errors
    assert {"区划代码", "3.70828E+11", "25"} <= set(re.split(r"[\s,:：（）()，、]+", code_error))
    assert "上级代码" in parent_error and "3.70800E+11" in parent_error
    assert numbers_in(code_error) >= {"2"}  # the first line of the column
    assert row_counts() == (0, 0, 0)


def test_scientific_notation_in_a_csv_saved_by_excel_gets_one_message_per_column(db, tmp_path):
    lines = ["5.10722E+11,三台县,county,5.107E+11,,"]
    lines += [f"5.10722E+11,第{i}镇,town,5.10722E+11,," for i in range(1, 30)]
    path = write_csv(tmp_path, *lines, encoding="gb18030")

    with pytest.raises(CommandError) as refused:
        run_import(path)

    message = str(refused.value)
    # One message per column, quoting its first mangled cell: the county's code and parent.
    assert message.count("5.10722E+11") == 1
    assert message.count("5.107E+11") == 1
    assert {"2", "30"} <= numbers_in(message)  # the first line, and how many cells
    assert "code" in message and "parent_code" in message
    assert row_counts() == (0, 0, 0)


def test_a_mangled_column_does_not_hide_other_bad_lines(divisions, tmp_path):
    path = write_csv(
        tmp_path,
        "370828102298,某村民委员会,village,3.70828E+11,,",
        "370828102299,某某村民委员会,hamlet,370828102000,,",
        "370828102297,又一村民委员会,village,3.70828E+11,,",
    )

    with pytest.raises(DivisionImportError) as refused:
        divisions_import(path=path)

    errors = refused.value.errors
    assert len(errors) == 2
    assert "3.70828E+11" in errors[0] and "2" in numbers_in(errors[0])
    assert "hamlet" in errors[1] and "3" in numbers_in(errors[1])
