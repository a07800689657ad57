"""Checklist templates kept in Excel: the shipped default, import as new versions (never
editing one), export and round trip, the commands, and the admin.

Messages are translated, so failures are recognised by the lines, values and column headers
they name, never by their wording.
"""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from inspections.grading.checklists import (
    DEFAULT_NAME,
    ChecklistImportError,
    checklist_export,
    checklist_import,
    template_content,
)
from inspections.grading.scoring import template_total
from inspections.models import ChecklistItem, ChecklistTemplate, Dimension, GradingPolicy
from tests.villages.test_households_import import line_of, write_csv, write_xlsx
from villages.models import County

pytestmark = pytest.mark.usefixtures("divisions")

HEADER = ["编号", "维度", "检查内容", "分值", "每处扣分", "扣分上限", "需照片", "一票否决"]
NAME = "人居环境检查表"
HEADER_FIELDS = ("code", "dimension", "title", "max_points", "deduction", "cap", "veto")


def table(**changes) -> list[dict]:
    """Four items, 60 points; `changes` maps a row index to the cells it changes."""
    rows = [
        {"编号": "T1", "维度": "厕所革命", "检查内容": "厕所不能用", "分值": 20, "每处扣分": 2},
        {"编号": "G1", "维度": "垃圾治理", "检查内容": "垃圾桶满溢", "分值": 20, "每处扣分": 1},
        {
            "编号": "S1",
            "维度": "污水与黑臭水体",
            "检查内容": "黑臭水体返黑返臭",
            "分值": 10,
            "每处扣分": 10,
            "一票否决": "是",
        },
        {
            "编号": "M1",
            "维度": "长效管护",
            "检查内容": "管护台账缺失",
            "分值": 10,
            "每处扣分": 1,
            "扣分上限": 5,
            "需照片": "否",
        },
    ]
    for index, cells in changes.items():
        rows[int(index[1:])] |= cells
    return rows


def snapshot() -> list[tuple]:
    return list(
        ChecklistItem.objects.order_by("id").values_list("id", "template_id", *HEADER_FIELDS)
    )


@pytest.fixture
def default(db) -> ChecklistTemplate:
    call_command("load_default_checklist", verbosity=0)
    return ChecklistTemplate.objects.get(name=DEFAULT_NAME)


# --- the default -------------------------------------------------------------------------------


def test_the_default_is_a_100_point_table_over_all_five_dimensions(default):
    items = list(default.items.all())
    assert default.version == 1
    assert template_total(default) == 100
    assert len(items) >= 25
    assert {item.dimension for item in items} == set(Dimension.values)
    assert 1 <= sum(item.veto for item in items) <= 2
    assert sum(item.photos_required for item in items) > len(items) / 2
    assert all(0 < item.deduction <= item.cap <= item.max_points for item in items)


def test_the_default_points_per_dimension(default):
    points = {d: Decimal(0) for d in Dimension.values}
    for item in default.items.all():
        points[item.dimension] += item.max_points
    assert points == {
        "toilets": 25,
        "garbage": 25,
        "sewage": 20,
        "appearance": 20,
        "maintenance": 10,
    }


def test_loading_the_default_again_creates_nothing(default):
    out = StringIO()
    call_command("load_default_checklist", stdout=out)
    assert ChecklistTemplate.objects.filter(name=DEFAULT_NAME).count() == 1
    assert "v1" in out.getvalue() and "100" in out.getvalue()


def test_the_default_beside_a_version_in_use_becomes_the_next_version(active_round, checklist):
    before = template_content(checklist)
    call_command("load_default_checklist", verbosity=0)
    active_round.refresh_from_db()
    assert active_round.template == checklist
    assert template_content(checklist) == before
    assert ChecklistTemplate.objects.get(name=DEFAULT_NAME, version=2).items.count() >= 25


# --- versions ----------------------------------------------------------------------------------


def test_an_import_reports_items_and_points(db, tmp_path):
    summary = checklist_import(
        county=County.objects.get(), path=write_csv(tmp_path, table(), header=HEADER), name=NAME
    )
    assert summary.created and summary.items == 4 and summary.total == 60
    assert summary.points_by_dimension == {
        "toilets": 20,
        "garbage": 20,
        "sewage": 10,
        "maintenance": 10,
    }
    s1, m1 = summary.template.items.get(code="S1"), summary.template.items.get(code="M1")
    assert (s1.veto, s1.photos_required, s1.cap) == (True, True, 10)  # cap defaults to points
    assert (m1.veto, m1.photos_required, m1.cap) == (False, False, 5)


def test_importing_the_same_content_again_creates_no_version(db, tmp_path):
    first = checklist_import(
        county=County.objects.get(), path=write_csv(tmp_path, table(), header=HEADER), name=NAME
    )
    again = checklist_import(
        county=County.objects.get(), path=write_xlsx(tmp_path, table(), header=HEADER), name=NAME
    )
    assert not again.created and again.template == first.template
    assert ChecklistTemplate.objects.filter(name=NAME).count() == 1


def test_changed_content_makes_the_next_version_and_leaves_the_old_one(db, tmp_path):
    first = checklist_import(
        county=County.objects.get(), path=write_csv(tmp_path, table(), header=HEADER), name=NAME
    )
    stored = snapshot()
    changed = table(r1={"每处扣分": 2, "扣分上限": 10})
    second = checklist_import(
        county=County.objects.get(), path=write_xlsx(tmp_path, changed, header=HEADER), name=NAME
    )
    assert second.created and second.template.version == 2
    assert snapshot()[: len(stored)] == stored
    assert second.template.items.get(code="G1").cap == 10
    assert first.template.items.get(code="G1").cap == 20


def test_other_names_have_their_own_versions(db, tmp_path):
    path = write_csv(tmp_path, table(), header=HEADER)
    checklist_import(county=County.objects.get(), path=path, name=NAME)
    other = checklist_import(county=County.objects.get(), path=path, name="验收检查表")
    assert other.created and other.template.version == 1


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "line", "column", "value"),
    [
        ({"r1": {"维度": "绿化美化"}}, 3, "维度", "绿化美化"),
        ({"r2": {"分值": "十分"}}, 4, "分值", "十分"),
        ({"r0": {"每处扣分": "-1"}}, 2, "每处扣分", "-1"),
        ({"r3": {"扣分上限": 12}}, 5, "扣分上限", "12"),
        ({"r0": {"每处扣分": 5, "扣分上限": 4}}, 2, "每处扣分", "5"),
        ({"r3": {"编号": "G1"}}, 5, "编号", "G1"),
        ({"r1": {"检查内容": ""}}, 3, "检查内容", ""),
        ({"r2": {"一票否决": "也许"}}, 4, "一票否决", "也许"),
    ],
    ids=[
        "unknown dimension",
        "points not a number",
        "negative deduction",
        "cap above points",
        "deduction above cap",
        "duplicate code",
        "empty title",
        "neither yes nor no",
    ],
)
def test_a_bad_row_names_its_line_and_column_and_nothing_is_written(
    checklist, tmp_path, changes, line, column, value
):
    stored = snapshot()
    path = write_csv(tmp_path, table(**changes), header=HEADER)
    with pytest.raises(ChecklistImportError) as error:
        checklist_import(county=County.objects.get(), path=path, name=checklist.name)
    [message] = error.value.errors
    assert line_of(message) == line
    assert column in message and value in message
    assert snapshot() == stored
    assert ChecklistTemplate.objects.count() == 1


def test_errors_of_several_rows_come_in_line_order(db, tmp_path):
    rows = table(r3={"分值": "x"}, r0={"维度": "绿化"})
    with pytest.raises(ChecklistImportError) as error:
        checklist_import(
            county=County.objects.get(), path=write_xlsx(tmp_path, rows, header=HEADER), name=NAME
        )
    assert [line_of(e) for e in error.value.errors] == [3, 6]  # below a title row
    assert not ChecklistTemplate.objects.exists()


def test_a_table_of_no_points_is_refused(db, tmp_path):
    rows = [row | {"分值": 0, "每处扣分": 0, "扣分上限": 0} for row in table()]
    with pytest.raises(ChecklistImportError) as error:
        checklist_import(
            county=County.objects.get(), path=write_csv(tmp_path, rows, header=HEADER), name=NAME
        )
    [message] = error.value.errors
    assert line_of(message) == 1 and "分值" in message  # the header's line
    assert not ChecklistTemplate.objects.exists()


def test_a_missing_column_is_named(db, tmp_path):
    header = [c for c in HEADER if c != "每处扣分"]
    with pytest.raises(ChecklistImportError) as error:
        checklist_import(
            county=County.objects.get(), path=write_csv(tmp_path, table(), header=header), name=NAME
        )
    assert "每处扣分" in error.value.errors[0]


def test_optional_columns_take_their_defaults(db, tmp_path):
    header = HEADER[:5]
    summary = checklist_import(
        county=County.objects.get(), path=write_csv(tmp_path, table(), header=header), name=NAME
    )
    m1 = summary.template.items.get(code="M1")
    assert (m1.cap, m1.photos_required, m1.veto) == (10, True, False)


def test_an_empty_name_is_refused(db, tmp_path):
    with pytest.raises(ChecklistImportError):
        checklist_import(
            county=County.objects.get(), path=write_csv(tmp_path, table(), header=HEADER), name="  "
        )


# --- export ------------------------------------------------------------------------------------


def test_an_export_imports_back_equal(default, tmp_path):
    path = tmp_path / "export.xlsx"
    path.write_bytes(checklist_export(template=default))
    same = checklist_import(county=County.objects.get(), path=path, name=DEFAULT_NAME)
    assert not same.created
    copy = checklist_import(county=County.objects.get(), path=path, name="副本")
    assert template_content(copy.template) == template_content(default)


def test_the_commands_export_and_import(default, tmp_path):
    path = tmp_path / "表.xlsx"
    call_command("export_checklist", DEFAULT_NAME, "--version", "1", "-o", str(path), verbosity=0)
    out = StringIO()
    call_command("import_checklist", str(path), "--name", NAME, stdout=out, stderr=StringIO())
    template = ChecklistTemplate.objects.get(name=NAME)
    assert template_content(template) == template_content(default)
    assert "100" in out.getvalue()


def test_the_export_command_refuses_an_unknown_version(default, tmp_path):
    with pytest.raises(CommandError):
        call_command("export_checklist", DEFAULT_NAME, "--version", "7", "-o", str(tmp_path / "x"))


def test_the_import_command_names_the_bad_lines(db, tmp_path):
    path = write_csv(tmp_path, table(r2={"分值": "十分"}), header=HEADER)
    with pytest.raises(CommandError) as error:
        call_command("import_checklist", str(path), "--name", NAME, stderr=StringIO())
    assert "4" in str(error.value) and "十分" in str(error.value)
    assert not ChecklistTemplate.objects.exists()


# --- admin -------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["checklisttemplate", "gradingpolicy", "campaign", "round"])
def test_the_admin_lists_load(admin_client, active_round, model):
    GradingPolicy.current("370828000000")
    response = admin_client.get(reverse(f"admin:inspections_{model}_changelist"))
    assert response.status_code == 200


def test_the_change_pages_load(admin_client, active_round):
    for model, pk in [
        ("checklisttemplate", active_round.template_id),
        ("campaign", active_round.campaign_id),
        ("round", active_round.pk),
        ("gradingpolicy", GradingPolicy.current("370828000000").pk),
    ]:
        response = admin_client.get(reverse(f"admin:inspections_{model}_change", args=[pk]))
        assert response.status_code == 200, model


def test_a_version_not_in_use_can_be_edited(admin_client, checklist):
    url = reverse("admin:inspections_checklisttemplate_change", args=[checklist.pk])
    assert 'name="items-0-title"' in admin_client.get(url).content.decode()


def test_a_version_in_use_is_read_only(admin_client, active_round, checklist):
    url = reverse("admin:inspections_checklisttemplate_change", args=[checklist.pk])
    page = admin_client.get(url).content.decode()
    assert "items-0-title" not in page and "垃圾桶满溢" in page
    stored = snapshot()
    response = admin_client.post(url, {"note": "改", "items-TOTAL_FORMS": "0"})
    assert response.status_code == 403
    assert snapshot() == stored


def test_the_copy_action_makes_the_next_version(admin_client, active_round, checklist):
    url = reverse("admin:inspections_checklisttemplate_changelist")
    data = {"action": "copy_as_new_version", "_selected_action": [checklist.pk]}
    assert admin_client.post(url, data).status_code == 302
    copy = ChecklistTemplate.objects.get(name=checklist.name, version=2)
    assert template_content(copy) == template_content(checklist)
    edit = reverse("admin:inspections_checklisttemplate_change", args=[copy.pk])
    assert 'name="items-0-title"' in admin_client.get(edit).content.decode()


def test_the_export_action_sends_the_workbook(admin_client, checklist):
    url = reverse("admin:inspections_checklisttemplate_changelist")
    data = {"action": "export_xlsx", "_selected_action": [checklist.pk]}
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert response.content[:2] == b"PK"


def test_a_new_template_in_the_admin_gets_the_next_version(admin_client, checklist):
    url = reverse("admin:inspections_checklisttemplate_add")
    data = {
        "county": checklist.county_id,
        "name": checklist.name,
        "note": "",
        "items-TOTAL_FORMS": "0",
        "items-INITIAL_FORMS": "0",
    }
    assert admin_client.post(url, data).status_code == 302
    assert ChecklistTemplate.objects.get(name=checklist.name, version=2).items.count() == 0


def test_the_policies_are_one_per_county(admin_client, db):
    """Each county has its policy (made with its defaults when first used): one can be added
    for a county that has none yet, none deleted, and a county's is edited on its own."""
    santai = County.objects.create(code="510722000000", name="三台县")
    jinxiang = GradingPolicy.current("370828000000")
    assert admin_client.get(reverse("admin:inspections_gradingpolicy_add")).status_code == 200
    added = admin_client.post(
        reverse("admin:inspections_gradingpolicy_add"),
        {"county": santai.pk, "a_min": 95, "b_min": 85, "c_min": 70, "top_n": 5, "bottom_n": 5},
    )
    assert added.status_code == 302
    assert GradingPolicy.current(santai).a_min == 95
    assert GradingPolicy.current("370828000000").a_min == jinxiang.a_min == 90
    assert admin_client.get(reverse("admin:inspections_gradingpolicy_add")).status_code == 403
    delete = reverse("admin:inspections_gradingpolicy_delete", args=[jinxiang.pk])
    assert admin_client.get(delete).status_code == 403
