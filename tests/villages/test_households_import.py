"""The household ledger import (农户台账 → Household), through its service and its command.

The ledgers are built here as a town office writes them: a title row above Chinese headers,
Excel date cells, a second village named only by town and village, a GB18030 CSV saved from
Excel. Messages are translated, so failures are recognised by the line numbers and values they
name, never by their wording.
"""

from __future__ import annotations

import csv
import datetime
import re
from decimal import Decimal
from io import StringIO
from pathlib import Path

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.translation import gettext

from core.tables import MAX_REPORTED_ERRORS
from tests.factories import HUJI_CODE, make_household
from villages.households import (
    HouseholdImportError,
    check_id_number,
    households_import,
    normalise_phone,
)
from villages.models import Household, Village, id_number_digest

HUJI_VILLAGE = "370828102200"  # 胡集村民委员会, written in the ledger by code
QIUSI_VILLAGE = "370828102201"  # 仇寺村民委员会, written by town and village name only
HEADER = [
    "乡镇",
    "村代码",
    "村",
    "户号",
    "户主姓名",
    "身份证号",
    "联系电话",
    "地址",
    "厕所类型",
    "化粪池容积(m³)",
    "上次清掏日期",
    "问题",
]
TITLE = "胡集镇农户改厕台账（2024年）"
FIRST_LINE = 3  # below the title row and the header row
HUJI_ROWS, QIUSI_ROWS = 20, 16
SURNAMES = "王李张刘陈杨赵黄周吴"
GIVEN = ("建国", "秀英", "桂兰", "玉梅", "振华", "庆海", "凤英", "德胜")
TOILETS = ("三格式", "双瓮", "双瓮式", "水冲式", "沼气池式", "其他")
PROBLEMS = ("", "", "", "不能用", "不好用", "不愿用")


def with_check_digit(body: str) -> str:
    """GB 11643: the 18th character makes the weighted sum of all 18 ≡ 1 (mod 11)."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def with_wrong_check_digit(body: str) -> str:
    right = with_check_digit(body)[-1]
    return body + ("1" if right == "0" else "0")


def id_number_for(n: int) -> str:
    born = datetime.date(1950, 1, 1) + datetime.timedelta(days=211 * n % 25000)
    return with_check_digit(f"370828{born:%Y%m%d}{n % 1000:03d}")


def ledger(start: int = 1) -> list[dict]:
    """36 households: 20 of 胡集村 (by code) and 16 of 仇寺村 (by town and name)."""
    rows = []
    for i in range(HUJI_ROWS + QIUSI_ROWS):
        n = start + i
        in_huji = i < HUJI_ROWS
        rows.append(
            {
                "乡镇": "胡集镇",
                "村代码": HUJI_VILLAGE if in_huji else "",
                "村": "胡集村" if in_huji else "仇寺村",
                "户号": f"{(i if in_huji else i - HUJI_ROWS) + start:03d}",
                "户主姓名": SURNAMES[n % 10] + GIVEN[n % 8],
                "身份证号": id_number_for(n),
                # Mobiles as typed with spaces, every fifth household a landline.
                "联系电话": f"0537-87{n:05d}" if n % 5 == 0 else f"138 0537 {n:04d}",
                "地址": f"胡集镇{'胡集' if in_huji else '仇寺'}村{n}号",
                "厕所类型": TOILETS[n % 6],
                "化粪池容积(m³)": (1.5, 2, 2.5)[n % 3],
                "上次清掏日期": datetime.date(2024, 1 + n % 12, 1 + n % 28) if n % 4 else None,
                "问题": PROBLEMS[n % 6],
            }
        )
    return rows


def write_xlsx(tmp_path: Path, rows: list[dict], header=HEADER, name="台账.xlsx") -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([TITLE])
    sheet.append(header)
    for row in rows:
        sheet.append([row.get(column) for column in header])
    path = tmp_path / name
    workbook.save(path)
    return path


def write_csv(tmp_path: Path, rows: list[dict], header=HEADER, encoding="gb18030") -> Path:
    """As Excel saves "CSV": text everywhere, dates as 2024/3/5, no title row."""

    def cell(value) -> str:
        if isinstance(value, datetime.date):
            return f"{value.year}/{value.month}/{value.day}"
        return "" if value is None else str(value)

    path = tmp_path / "台账.csv"
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows([cell(row.get(column)) for column in header] for row in rows)
    return path


def run_command(path: Path) -> str:
    out = StringIO()
    call_command("import_households", path, stdout=out, stderr=StringIO())
    return out.getvalue()


def import_errors(path: Path) -> list[str]:
    with pytest.raises(HouseholdImportError) as caught:
        households_import(path=path)
    return caught.value.errors


def line_of(error: str) -> int:
    """The line an error names comes first, whatever language it is written in."""
    return int(re.search(r"\d+", error)[0])


def numbers_in(text: str) -> set[str]:
    return set(re.findall(r"\d+", text))


def table_snapshot() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {Household._meta.db_table} ORDER BY id")
        return cursor.fetchall()


@pytest.fixture
def imported(divisions, tmp_path) -> list[dict]:
    rows = ledger()
    households_import(path=write_xlsx(tmp_path, rows))
    return rows


def test_it_imports_a_realistic_ledger(divisions, tmp_path):
    rows = ledger()

    summary = households_import(path=write_xlsx(tmp_path, rows))

    assert (summary.created, summary.updated, summary.unchanged) == (36, 0, 0)
    assert summary.villages == 2
    assert Household.objects.filter(village_id=HUJI_VILLAGE).count() == HUJI_ROWS
    assert Household.objects.filter(village_id=QIUSI_VILLAGE).count() == QIUSI_ROWS
    # Both villages number their households from 001: the key is (village, number).
    assert Household.objects.filter(number="001").count() == 2
    first = Household.objects.get(village_id=HUJI_VILLAGE, number="001")
    assert first.head_name == rows[0]["户主姓名"] == "李秀英"
    assert first.phone == "13805370001"
    assert first.address == "胡集镇胡集村1号"
    assert first.toilet_type == Household.ToiletType.DOUBLE_URN  # 双瓮
    assert first.tank_volume_m3 == Decimal("2.00")
    assert first.last_pumped_on == datetime.date(2024, 2, 2)  # an Excel date cell
    assert first.problem == ""


def test_it_maps_every_label_of_the_ledger(imported):
    stored = {h.number: h for h in Household.objects.filter(village_id=HUJI_VILLAGE)}
    fifth = stored["005"]  # n = 5
    assert fifth.phone == "0537-8700005"  # a landline keeps its area code
    assert fifth.toilet_type == Household.ToiletType.OTHER  # 其他
    assert fifth.tank_volume_m3 == Decimal("2.50")
    assert fifth.problem == Household.Problem.UNWILLING
    assert stored["004"].last_pumped_on is None  # a blank date cell
    assert stored["003"].problem == Household.Problem.UNUSABLE
    assert stored["004"].problem == Household.Problem.POOR
    assert stored["003"].toilet_type == Household.ToiletType.FLUSH
    assert stored["006"].toilet_type == Household.ToiletType.THREE_COMPARTMENT
    assert stored["002"].toilet_type == Household.ToiletType.DOUBLE_URN  # 双瓮式
    assert stored["004"].toilet_type == Household.ToiletType.BIOGAS


def test_it_imports_a_gb18030_csv_saved_from_excel(divisions, tmp_path):
    summary = households_import(path=write_csv(tmp_path, ledger()))

    assert (summary.created, summary.updated, summary.unchanged) == (36, 0, 0)
    household = Household.objects.get(village_id=QIUSI_VILLAGE, number="001")  # n = 21
    assert household.head_name == "李庆海"
    assert household.last_pumped_on == datetime.date(2024, 10, 22)  # written 2024/10/22
    assert household.tank_volume_m3 == Decimal("1.50")


def test_the_csv_of_the_same_ledger_matches_the_workbook(imported, tmp_path):
    before = table_snapshot()

    summary = households_import(path=write_csv(tmp_path, imported))

    assert (summary.created, summary.updated, summary.unchanged) == (0, 0, 36)
    assert table_snapshot() == before


def test_a_utf8_csv_is_read_too(divisions, tmp_path):
    summary = households_import(path=write_csv(tmp_path, ledger(), encoding="utf-8-sig"))

    assert summary.created == 36


def test_a_second_run_changes_nothing_and_says_so(imported, tmp_path):
    before = table_snapshot()

    out = run_command(write_xlsx(tmp_path, imported))

    assert gettext("Nothing changed: the database already matches this file.") in out
    assert {"0", "36", "2"} <= numbers_in(out)
    assert table_snapshot() == before
    summary = households_import(path=write_xlsx(tmp_path, imported))
    assert (summary.created, summary.updated, summary.unchanged) == (0, 0, 36)


def test_the_first_run_reports_what_it_created(divisions, tmp_path):
    out = run_command(write_xlsx(tmp_path, ledger()))

    assert gettext("Nothing changed: the database already matches this file.") not in out
    assert "36" in numbers_in(out)


def test_a_changed_phone_is_one_update(imported, tmp_path):
    imported[7]["联系电话"] = "139-0537-8888"

    summary = households_import(path=write_xlsx(tmp_path, imported))

    assert (summary.created, summary.updated, summary.unchanged) == (0, 1, 35)
    assert Household.objects.get(village_id=HUJI_VILLAGE, number="008").phone == "13905378888"


def test_a_new_household_is_created_and_a_missing_one_is_kept(imported, tmp_path):
    gone = imported.pop(0)
    new = {**imported[0], "户号": "099", "身份证号": id_number_for(99)}

    summary = households_import(path=write_xlsx(tmp_path, [*imported, new]))

    assert (summary.created, summary.updated, summary.unchanged) == (1, 0, 35)
    assert summary.missing_from_file == 1
    assert Household.objects.filter(village_id=HUJI_VILLAGE, number=gone["户号"]).exists()


def test_a_file_without_a_column_leaves_that_column_as_stored(imported, tmp_path):
    before = table_snapshot()
    header = [c for c in HEADER if c != "身份证号"]

    summary = households_import(path=write_xlsx(tmp_path, imported, header=header))

    assert summary.unchanged == 36
    assert table_snapshot() == before
    assert not Household.objects.filter(id_number_digest="").exists()


def test_a_blank_cell_clears_the_stored_value(imported, tmp_path):
    imported[0]["身份证号"] = ""
    imported[1]["上次清掏日期"] = None

    summary = households_import(path=write_xlsx(tmp_path, imported))

    assert summary.updated == 2
    first, second = Household.objects.filter(village_id=HUJI_VILLAGE)[:2]
    assert (first.id_number_masked, first.id_number_digest) == ("", "")
    assert second.last_pumped_on is None


# --- privacy -------------------------------------------------------------------------------


def test_the_full_id_number_is_stored_nowhere(imported):
    cells = [str(value) for row in table_snapshot() for value in row if value is not None]

    for row in imported:
        full = row["身份证号"]
        assert not any(full in cell for cell in cells)
        # The birth date is the hidden middle; no column may keep it either.
        assert not any(full[6:14] in cell for cell in cells)


def test_the_id_number_is_kept_masked_with_its_digest(imported):
    household = Household.objects.get(village_id=HUJI_VILLAGE, number="001")
    full = imported[0]["身份证号"]

    assert re.fullmatch(r"370828\*{8}\d{3}[\dX]", household.id_number_masked)
    assert household.id_number_masked == f"{full[:6]}********{full[-4:]}"
    assert household.id_number_digest == id_number_digest(full)


def test_an_id_number_re_imported_unchanged_counts_as_unchanged(imported, tmp_path):
    assert imported[11]["身份证号"].endswith("X")
    imported[11]["身份证号"] = imported[11]["身份证号"].lower()  # a lower-case x is the same ID
    imported[3]["身份证号"] = id_number_for(1003)  # same mask shape, another person

    summary = households_import(path=write_xlsx(tmp_path, imported))

    assert (summary.updated, summary.unchanged) == (1, 35)


def test_the_phone_is_masked_for_lists(imported):
    household = Household.objects.get(village_id=HUJI_VILLAGE, number="001")

    assert household.phone_masked == "138****0001"


# --- refused files: nothing written, the line named -----------------------------------------

BAD_CELLS = [
    pytest.param(4, "村代码", "370828102299", id="unknown village code"),
    pytest.param(5, "村代码", "37082810220", id="malformed village code"),
    pytest.param(22, "村", "刘庄村", id="unknown village name"),
    pytest.param(23, "乡镇", "胡家镇", id="unknown town"),
    pytest.param(6, "村", "仇寺村", id="code and name disagree"),
    pytest.param(
        7, "身份证号", with_wrong_check_digit("37082819650102123"), id="bad ID check digit"
    ),
    pytest.param(8, "身份证号", "37082819650102123", id="ID too short"),
    pytest.param(9, "身份证号", with_check_digit("37082819650230123"), id="ID birth date"),
    pytest.param(10, "联系电话", "1380537123", id="phone 10 digits"),
    pytest.param(11, "联系电话", "8721234", id="landline without area code"),
    pytest.param(12, "厕所类型", "马桶", id="bad toilet type"),
    pytest.param(13, "化粪池容积(m³)", 0, id="volume zero"),
    pytest.param(14, "化粪池容积(m³)", 120, id="volume too big"),
    pytest.param(15, "化粪池容积(m³)", "两方", id="volume not a number"),
    pytest.param(16, "上次清掏日期", "2024-02-30", id="no such date"),
    pytest.param(17, "上次清掏日期", "3/5/2024", id="date the wrong way round"),
    pytest.param(18, "问题", "坏了", id="bad problem"),
    pytest.param(19, "户主姓名", "", id="no head of household"),
    pytest.param(20, "户号", "", id="no household number"),
]


@pytest.mark.parametrize(("index", "column", "value"), BAD_CELLS)
def test_a_bad_cell_is_refused_with_its_line_and_nothing_is_written(
    imported, tmp_path, index, column, value
):
    before = table_snapshot()
    imported[0]["联系电话"] = "139 0000 0000"  # a valid change that must not be written either
    imported[index][column] = value

    errors = import_errors(write_xlsx(tmp_path, imported))

    assert [line_of(e) for e in errors] == [FIRST_LINE + index]
    assert table_snapshot() == before


def test_a_future_pumping_date_is_refused(imported, tmp_path):
    imported[5]["上次清掏日期"] = timezone.localdate() + datetime.timedelta(days=1)

    errors = import_errors(write_xlsx(tmp_path, imported))

    assert [line_of(e) for e in errors] == [FIRST_LINE + 5]


def test_an_ambiguous_village_name_is_refused(imported, tmp_path):
    # The natural village 仇寺 under 仇寺村民委员会: "仇寺" now names two villages of 胡集镇.
    Village.objects.create(
        code=QIUSI_VILLAGE + "001",
        town_id=HUJI_CODE,
        name="仇寺",
        level=Village.Level.NATURAL,
        parent_id=QIUSI_VILLAGE,
    )
    before = table_snapshot()
    imported[25]["村"] = "仇寺"

    errors = import_errors(write_xlsx(tmp_path, imported))

    assert [line_of(e) for e in errors] == [FIRST_LINE + 25]
    assert {QIUSI_VILLAGE, QIUSI_VILLAGE + "001"} <= numbers_in(errors[0])
    assert table_snapshot() == before
    # The full name is unambiguous, and so is the natural village's own code.
    imported[25]["村"] = "仇寺村民委员会"
    assert households_import(path=write_xlsx(tmp_path, imported)).unchanged == 36


def test_a_household_number_twice_names_both_lines(imported, tmp_path):
    before = table_snapshot()
    imported[12]["户号"] = imported[3]["户号"]

    errors = import_errors(write_xlsx(tmp_path, imported))

    assert len(errors) == 1
    assert line_of(errors[0]) == FIRST_LINE + 12
    assert str(FIRST_LINE + 3) in numbers_in(errors[0])
    assert table_snapshot() == before


def test_the_same_number_in_two_villages_is_no_duplicate(divisions, tmp_path):
    rows = ledger()
    assert rows[0]["户号"] == rows[HUJI_ROWS]["户号"] == "001"

    assert households_import(path=write_xlsx(tmp_path, rows)).created == 36


def test_an_id_number_in_a_number_cell_is_refused(divisions, tmp_path):
    rows = ledger()
    rows[2]["身份证号"] = int(rows[2]["身份证号"][:17])  # Excel keeps 15 significant digits

    errors = import_errors(write_xlsx(tmp_path, rows))

    assert [line_of(e) for e in errors] == [FIRST_LINE + 2]


def test_all_bad_lines_are_reported_in_order_up_to_a_limit(divisions, tmp_path):
    rows = ledger()
    for row in rows[:30]:
        row["厕所类型"] = "马桶"
    rows[33]["村"] = "刘庄村"  # found by another check, still reported in line order

    errors = import_errors(write_xlsx(tmp_path, rows))

    assert len(errors) == MAX_REPORTED_ERRORS
    lines = [line_of(e) for e in errors]
    assert lines == sorted(lines)
    assert lines[0] == FIRST_LINE
    assert not Household.objects.exists()


def test_the_command_lists_the_bad_lines(imported, tmp_path):
    imported[7]["身份证号"] = with_wrong_check_digit("37082819650102123")
    imported[9]["联系电话"] = "12345"

    with pytest.raises(CommandError) as caught:
        run_command(write_xlsx(tmp_path, imported))

    message = str(caught.value)
    assert gettext("Nothing was imported.") in message
    assert {str(FIRST_LINE + 7), str(FIRST_LINE + 9)} <= numbers_in(message)


def test_the_command_refuses_a_missing_file(tmp_path, db):
    with pytest.raises(CommandError):
        run_command(tmp_path / "missing.xlsx")


def test_a_file_without_the_household_columns_is_refused(divisions, tmp_path):
    header = [c for c in HEADER if c != "户号"]

    errors = import_errors(write_xlsx(tmp_path, ledger(), header=header))

    assert len(errors) == 1


def test_a_file_without_any_village_column_is_refused(divisions, tmp_path):
    header = [c for c in HEADER if c not in ("村代码", "村")]

    errors = import_errors(write_xlsx(tmp_path, ledger(), header=header))

    assert line_of(errors[0]) == 2  # the header row


def test_an_old_xls_file_is_refused(divisions, tmp_path):
    path = tmp_path / "台账.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0 not a zip")

    assert len(import_errors(path)) == 1


# --- other ways of writing the same ledger --------------------------------------------------


def test_english_headers_are_accepted(divisions, tmp_path):
    english = {
        "乡镇": "town",
        "村代码": "village_code",
        "村": "village",
        "户号": "number",
        "户主姓名": "head_name",
        "身份证号": "id_number",
        "联系电话": "phone",
        "地址": "address",
        "厕所类型": "toilet_type",
        "化粪池容积(m³)": "tank_volume_m3",
        "上次清掏日期": "last_pumped_on",
        "问题": "problem",
    }
    rows = [{english[k]: v for k, v in row.items()} for row in ledger()]

    summary = households_import(path=write_csv(tmp_path, rows, header=list(english.values())))

    assert summary.created == 36


def test_a_village_by_code_alone_and_a_natural_village(divisions, tmp_path):
    Village.objects.create(
        code=HUJI_VILLAGE + "001",
        town_id=HUJI_CODE,
        name="后胡集",
        level=Village.Level.NATURAL,
        parent_id=HUJI_VILLAGE,
    )
    rows = [
        {"村代码": HUJI_VILLAGE + "001", "户号": "1", "户主姓名": "王建国"},
        {"村代码": float(HUJI_VILLAGE), "户号": 2.0, "户主姓名": "李秀英"},  # number cells
    ]

    households_import(path=write_xlsx(tmp_path, rows, header=["村代码", "户号", "户主姓名"]))

    assert set(Household.objects.values_list("village_id", "number")) == {
        (HUJI_VILLAGE + "001", "1"),
        (HUJI_VILLAGE, "2"),
    }


@pytest.mark.parametrize("written", ["胡集村民委员会", "胡集村委会", "胡集村", "胡集", " 胡集村 "])
def test_a_village_name_in_any_usual_form(divisions, tmp_path, written):
    rows = [{"乡镇": "胡集", "村": written, "户号": "1", "户主姓名": "王建国"}]

    households_import(path=write_csv(tmp_path, rows, header=["乡镇", "村", "户号", "户主姓名"]))

    assert Household.objects.get().village_id == HUJI_VILLAGE


def test_it_uses_a_constant_number_of_queries(divisions, tmp_path):
    def queries_for(rows: list[dict]) -> int:
        path = write_xlsx(tmp_path, rows)
        with CaptureQueriesContext(connection) as captured:
            households_import(path=path)
        return len(captured)

    short = queries_for(ledger())
    long = queries_for(ledger(start=101) + ledger(start=201))

    assert short == long <= 8


def test_existing_households_are_updated_in_place(divisions, tmp_path):
    village = Village.objects.get(code=HUJI_VILLAGE)
    kept = make_household(village, number="001", head_name="旧户主")
    rows = ledger()[:1]

    summary = households_import(path=write_xlsx(tmp_path, rows))

    assert summary.updated == 1
    kept.refresh_from_db()
    assert kept.head_name == rows[0]["户主姓名"]


# --- the checks on their own ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("13805371234", "13805371234"),
        ("138 0537 1234", "13805371234"),
        ("138-0537-1234", "13805371234"),
        ("+86 138 0537 1234", "13805371234"),
        ("１３８０５３７１２３４", "13805371234"),
        ("0537-8721234", "0537-8721234"),
        ("(0537) 872 1234", "0537-8721234"),
        ("０５３７－８７２１２３４", "0537-8721234"),
        ("010 62345678", "010-62345678"),
        ("", ""),
    ],
)
def test_phone_numbers_are_normalised(written, stored):
    from unicodedata import normalize

    assert normalise_phone(normalize("NFKC", written)) == stored


@pytest.mark.parametrize(
    "written", ["8721234", "1380537123", "23805371234", "138053712345", "0537-123", "电话"]
)
def test_bad_phone_numbers_are_refused(written):
    with pytest.raises(ValueError):
        normalise_phone(written)


def test_the_id_check_digit_follows_gb_11643():
    check_id_number("11010519491231002X")  # the standard's own example

    with pytest.raises(ValueError):
        check_id_number("110105194912310021")


# --- codes Excel put in scientific notation ---------------------------------------------------


def test_village_codes_in_scientific_notation_get_one_message_not_one_per_line(divisions, tmp_path):
    """A ledger saved as CSV by Excel: every 村代码 shown, and so saved, as 3.70828E+11."""
    rows = ledger()[:HUJI_ROWS]
    for row in rows:
        row["村代码"] = "3.70828E+11"
    before = table_snapshot()

    errors = import_errors(write_csv(tmp_path, rows))

    [error] = errors
    assert line_of(error) == 2  # the CSV's first line below its header
    assert "村代码" in error and "3.70828E+11" in error
    assert str(HUJI_ROWS) in numbers_in(error)
    assert table_snapshot() == before


def test_id_numbers_in_number_cells_get_one_message_for_the_column(divisions, tmp_path):
    rows = ledger()
    for row in rows[4:30]:
        row["身份证号"] = int(row["身份证号"][:17] + "0")  # 18 digits: Excel keeps 15
    rows[33]["厕所类型"] = "马桶"  # another column's error on another line still shows

    errors = import_errors(write_xlsx(tmp_path, rows))

    assert [line_of(e) for e in errors] == [FIRST_LINE + 4, FIRST_LINE + 33]
    assert "身份证号" in errors[0] and "26" in numbers_in(errors[0])
