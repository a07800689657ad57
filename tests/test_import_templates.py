"""Import templates (导入模板): every kind an office can download, filled with nothing but its
own example row, imports cleanly through its real import service, in either language; its
notes sheet explains every column; code columns are text, so Excel keeps their digits.

The staff roster's import is the people module's (villages/people/roster.py): the template is
imported through it like the others, and the column definition kept with the templates must
find the template's header and read the example row's cells.
"""

from __future__ import annotations

from io import BytesIO, StringIO
from pathlib import Path

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation

from core.tables import Problems, TableImportError, TableLayout, find_header, parse_rows, read_table
from inspections.grading.checklists import checklist_import
from inspections.models import ChecklistTemplate, WaterSite
from inspections.sites.imports import water_sites_import
from villages.access import Role
from villages.households import households_import
from villages.import_templates import (
    STAFF_CODE_COLUMNS,
    STAFF_COLUMN_ALIASES,
    STAFF_REQUIRED_COLUMNS,
    TEMPLATES,
    template_get,
    template_xlsx,
)
from villages.imports import divisions_import
from villages.models import County, Household, Membership, Village
from villages.people.roster import staff_import

HUJI_VILLAGE = "370828102200"


def read_staff(path: Path) -> list[dict]:
    """The roster as the people import will read it: the header by the column definition, each
    row's cells by column name."""
    layout = TableLayout(STAFF_COLUMN_ALIASES, STAFF_REQUIRED_COLUMNS, TableImportError)
    table = read_table(path, error=TableImportError)
    header_line, columns = find_header(table, layout)
    problems = Problems(error=TableImportError)
    rows = parse_rows(
        table, header_line, columns, problems, lambda line, cells: cells, codes=STAFF_CODE_COLUMNS
    )
    problems.raise_if_any()
    return rows


IMPORTS = {
    "divisions": lambda path: divisions_import(path=path),
    "households": lambda path: households_import(path=path),
    "staff": lambda path: staff_import(path=path),
    "sites": lambda path: water_sites_import(path=path),
    "checklist": lambda path: checklist_import(
        county=County.objects.get(), path=path, name="村村到检查表"
    ),
}
LANGUAGES = ["zh-hans", "en"]


def write_template(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.xlsx"
    path.write_bytes(template_xlsx(template_get(kind)))
    return path


def test_every_kind_of_template_is_imported_here():
    assert set(TEMPLATES) == set(IMPORTS)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", IMPORTS)
def test_a_template_with_its_example_row_imports_cleanly(divisions, tmp_path, kind, language):
    with translation.override(language):
        path = write_template(tmp_path, kind)

    IMPORTS[kind](path)  # raises, naming the lines, if the example row were refused


def test_the_example_rows_are_stored_as_written(divisions, tmp_path):
    before = Village.objects.get(code=HUJI_VILLAGE)

    summary = divisions_import(path=write_template(tmp_path, "divisions"))
    households_import(path=write_template(tmp_path, "households"))
    water_sites_import(path=write_template(tmp_path, "sites"))
    checklist_import(
        county=County.objects.get(), path=write_template(tmp_path, "checklist"), name="村村到检查表"
    )

    assert summary.unchanged == {"village": 1}  # the real 胡集村民委员会, as the list has it
    assert Village.objects.get(code=HUJI_VILLAGE).name == before.name
    household = Household.objects.get()
    assert (household.village_id, household.number, household.phone) == (
        HUJI_VILLAGE,
        "001",
        "13805370001",
    )
    assert household.id_number_masked.startswith("3708")
    site = WaterSite.objects.get()
    assert (site.code, site.town_id, site.village_id) == (
        "JX-HC-0001",
        "370828102000",
        HUJI_VILLAGE,
    )
    assert ChecklistTemplate.objects.get().items.get().code == "T1"


def test_the_staff_example_is_a_town_officer_of_huji(divisions, tmp_path):
    path = write_template(tmp_path, "staff")
    [row] = read_staff(path)

    assert row["role"] == str(Role.TOWN_OFFICER.label)
    assert row["town_code"] == "370828102000"
    assert row["phone"] == "13805370001"
    assert set(row) == set(STAFF_COLUMN_ALIASES)
    assert staff_import(path=path).created == 1
    membership = Membership.objects.get(user__username="zhangwei")
    assert (membership.role, membership.town_id) == (Role.TOWN_OFFICER, "370828102000")


@pytest.mark.parametrize("kind", IMPORTS)
def test_the_notes_sheet_explains_every_column(tmp_path, kind):
    with translation.override("zh-hans"):
        workbook = openpyxl.load_workbook(write_template(tmp_path, kind))

    data, notes = workbook.worksheets
    assert workbook.active.title == data.title
    assert notes.title == "说明"
    headers = [cell.value for cell in data[1]]
    explained = {row[0]: row for row in notes.iter_rows(values_only=True)}
    assert set(headers) <= set(explained)
    for header in headers:
        assert explained[header][1] in ("必填", "选填") or "必填" in explained[header][1]
    assert data.max_row == 2  # the header and one example row


def test_the_notes_sheet_is_called_notes_in_english(tmp_path):
    with translation.override("en"):
        workbook = openpyxl.load_workbook(write_template(tmp_path, "divisions"))

    assert [sheet.title for sheet in workbook.worksheets] == ["Division list", "Notes"]


def test_code_columns_are_formatted_as_text(tmp_path):
    workbook = openpyxl.load_workbook(write_template(tmp_path, "divisions"))
    sheet = workbook.worksheets[0]

    assert sheet["A1"].value == "区划代码"
    assert sheet["A2"].value == HUJI_VILLAGE and sheet["A2"].number_format == "@"
    assert sheet.column_dimensions["A"].number_format == "@"  # what Excel gives new cells
    assert sheet.column_dimensions["B"].number_format != "@"  # names stay General


def test_a_column_of_a_few_values_offers_them_as_a_list(tmp_path):
    workbook = openpyxl.load_workbook(write_template(tmp_path, "divisions"))

    [validation] = [
        v for v in workbook.worksheets[0].data_validations.dataValidation if "C2" in v.sqref
    ]
    assert validation.formula1 == '"市,县,乡镇,村,自然村"'  # a county's list begins with its city


def test_a_template_saved_while_its_notes_were_showing_still_imports(divisions, tmp_path):
    path = write_template(tmp_path, "households")
    workbook = openpyxl.load_workbook(path)
    workbook.active = 1  # the office last looked at 说明, and saved
    workbook.save(path)

    assert households_import(path=path).created == 1


# --- the command and the download ------------------------------------------------------------


def test_the_command_writes_the_template(divisions, tmp_path):
    path = tmp_path / "清单.xlsx"

    call_command("import_template", "sites", "-o", str(path), stdout=StringIO())

    assert water_sites_import(path=path).created == 1


def test_the_command_refuses_an_unknown_kind():
    with pytest.raises(CommandError):
        call_command("import_template", "tickets", stdout=StringIO(), stderr=StringIO())


def test_the_task_force_downloads_a_template(client, task_force):
    client.force_login(task_force)

    response = client.get(reverse("import_template", kwargs={"kind": "households"}))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in response["Content-Disposition"]
    workbook = openpyxl.load_workbook(BytesIO(b"".join(response.streaming_content)))
    assert workbook.worksheets[0]["D1"].value == "户号"


def test_an_unknown_kind_is_not_found(client, task_force):
    client.force_login(task_force)

    response = client.get(reverse("import_template", kwargs={"kind": "tickets"}))

    assert response.status_code == 404


def test_a_town_officer_may_not_download_templates(client, hj_officer):
    client.force_login(hj_officer)

    response = client.get(reverse("import_template", kwargs={"kind": "households"}))

    assert response.status_code == 403
