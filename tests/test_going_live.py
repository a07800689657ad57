"""README § Going live, step by step, on an empty database with a county that is not the demo:
三台县 (Sichuan, 510722), its real NBS 2023 division list (tests/data/README.md) written as an
office would keep it — an .xlsx with Chinese headers and levels — and a bare GeoJSON outline."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import openpyxl
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse

from inspections.models import ChecklistTemplate, GradingPolicy, PatrolPolicy
from villages.access import Role
from villages.models import County, Membership, Town, Village

pytestmark = pytest.mark.django_db

JINXIANG, SANTAI_CODE = "370828000000", "510722000000"
SANTAI = Path(settings.BASE_DIR) / "tests" / "data" / "santai_510722_divisions_2023.csv"
LEVELS = {"county": "县", "town": "乡镇", "village": "村"}
NEW_PASSWORD = "Santai-county-2026!"
# A rectangle around 三台县's seat, as a fence file from a GCJ-02 map is usually saved: a bare
# geometry, no properties (synthetic: no public outline of the county is in this repository).
OUTLINE = {
    "type": "Polygon",
    "coordinates": [[[104.8, 30.8], [105.5, 30.8], [105.5, 31.4], [104.8, 31.4], [104.8, 30.8]]],
}


def divisions_xlsx(folder: Path) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["三台县统计用区划代码（2023）"])
    sheet.append(["区划代码", "名称", "级别", "上级代码", "类型"])
    with SANTAI.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            level = LEVELS[row["level"]]
            sheet.append(
                [row["code"], row["name"], level, row["parent_code"], row["committee_type"]]
            )
    path = folder / "三台县区划.xlsx"
    workbook.save(path)
    return path


def staff_xlsx(folder: Path, rows: list[list]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["姓名", "手机号", "用户名", "角色", "乡镇代码", "村代码"])
    for row in rows:
        sheet.append(row)
    path = folder / "花名册.xlsx"
    workbook.save(path)
    return path


def log_in_and_change_password(client, username: str, password: str) -> None:
    client.logout()
    assert (
        client.post(reverse("login"), {"username": username, "password": password}).status_code
        == 302
    )
    assert client.get(reverse("home"))["Location"] == reverse("password_change")
    changed = client.post(
        reverse("password_change"),
        {"old_password": password, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert changed.status_code == 302


def test_a_county_goes_live_from_the_readme(client, tmp_path, settings):
    # Step 2: init_county with the division list, the outline and the first account.
    outline = tmp_path / "三台县.geojson"
    outline.write_text(json.dumps(OUTLINE))
    out = io.StringIO()
    call_command(
        "init_county",
        divisions=divisions_xlsx(tmp_path),
        outline=outline,
        crs="gcj02",
        admin="wangfang",
        admin_name="王芳",
        stdout=out,
    )
    county = County.objects.get()
    assert (county.code, county.name) == ("510722000000", "三台县")
    assert county.boundary["type"] in {"Polygon", "MultiPolygon"}
    assert Town.objects.count() == 33 and Village.objects.count() == 462
    password = re.search(r"one-time password (\S+)|一次性密码\s*(\S+?)（", out.getvalue())
    assert password, out.getvalue()
    first = password[1] or password[2]

    # Step 3: the task force logs in and chooses a password.
    log_in_and_change_password(client, "wangfang", first)

    # Step 4: the staff roster from the template's columns, on the people page.
    towns = list(Town.objects.order_by("code")[:2])
    village = Village.objects.filter(town=towns[1]).order_by("code").first()
    roster = staff_xlsx(
        tmp_path,
        [
            ["李明", "13900000001", "liming", "巡查员", "", ""],
            ["刘洋", "13900000002", "liuyang", "村管员", "", village.code],
        ],
    )
    assert client.get("/imports/templates/staff.xlsx").status_code == 200
    with roster.open("rb") as handle:
        assert client.post(reverse("person_import"), {"file": handle}).status_code == 303
    assert set(Membership.objects.values_list("user__username", "role")) == {
        ("wangfang", Role.TASK_FORCE),
        ("liming", Role.INSPECTOR),
        ("liuyang", Role.VILLAGE_ADMIN),
    }

    # Step 5: a town officer given his role on the people page.
    added = client.post(
        reverse("person_new"),
        {
            "name": "张伟",
            "username": "zhangwei",
            "phone": "13900000003",
            "role": Role.TOWN_OFFICER,
            "town": towns[0].code,
        },
    )
    assert added.status_code == 303
    page = client.get(added["Location"]).content.decode()
    officer_password = re.search(r'id="one-time-password">([^<]+)<', page)[1]

    # Step 6: he logs in, chooses his password, and sees his town only.
    log_in_and_change_password(client, "zhangwei", officer_password)
    home = client.get(reverse("home"))
    assert list(home.context["towns"]) == [towns[0]]
    listed = client.get(reverse("town_list")).content.decode()
    assert towns[0].name in listed and towns[1].name not in listed

    # The demo can never be loaded into this database (not even with DEBUG=1, as make demo).
    settings.DEBUG = True
    with pytest.raises(CommandError, match="三台县"):
        call_command("load_demo", verbosity=0)
    assert get_user_model().objects.count() == 4


def test_init_county_twice_changes_nothing_and_makes_no_second_account(tmp_path):
    path = divisions_xlsx(tmp_path)
    call_command("init_county", divisions=path, admin="wangfang", stdout=io.StringIO())
    out = io.StringIO()
    call_command("init_county", divisions=path, admin="other", stdout=out)
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["wangfang"]
    assert "one-time password" not in out.getvalue() and "一次性密码" not in out.getvalue()


def test_a_second_county_goes_live_beside_the_first_with_its_own_defaults(tmp_path, divisions):
    """One deployment for a city's counties: 三台县 goes live in 金乡县's database and gets its
    own checklist, patrol and grading policies and first account; 金乡县's are left alone."""
    call_command("load_default_checklist", county=JINXIANG, verbosity=0)
    jinxiang_policy = PatrolPolicy.current(JINXIANG)
    jinxiang_policy.max_distance_m = 500
    jinxiang_policy.save()

    call_command("init_county", divisions=divisions_xlsx(tmp_path), admin="wangfang", verbosity=0)

    assert list(County.objects.values_list("code", flat=True)) == [JINXIANG, SANTAI_CODE]
    checklists = ChecklistTemplate.objects.order_by("county_id")
    assert [(c.county_id, c.version) for c in checklists] == [(JINXIANG, 1), (SANTAI_CODE, 1)]
    assert PatrolPolicy.current(SANTAI_CODE).max_distance_m == 200  # the defaults, not 金乡县's
    assert PatrolPolicy.current(JINXIANG).max_distance_m == 500
    assert GradingPolicy.objects.filter(county_id=SANTAI_CODE).exists()
    [membership] = Membership.objects.filter(user__username="wangfang")
    assert (membership.role, membership.county_id) == (Role.TASK_FORCE, SANTAI_CODE)
