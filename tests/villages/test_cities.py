"""Cities (地级市) as data (issue 20): the division list's city row, a county's parent as its
city's code, migration 0006 making stored counties so, and the city supervisor's membership
shape (a city, no county) held by the database's constraints."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.translation import gettext

from tests.factories import make_user
from tests.villages.test_import_page import counts_of, token_of
from tests.villages.test_membership_county_migration import _manage
from villages import access, imports_page
from villages.models import City, County, Membership, Role, Town, city_code_of

HEADER = "区划代码,名称,级别,上级代码"
JINING = "370800000000,济宁市,地级市,370000000000"
JINXIANG = "370828000000,金乡县,县,370800000000"
HUJI = "370828102000,胡集镇,镇,370828000000"


def _import(tmp_path, *rows: str) -> str:
    path = tmp_path / "divisions.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    out = StringIO()
    call_command("import_divisions", path, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_the_city_row_is_imported_and_a_county_is_its_citys(db, tmp_path):
    out = _import(tmp_path, JINING, JINXIANG, HUJI)
    assert list(City.objects.values_list("code", "name")) == [("370800000000", "济宁市")]
    assert County.objects.get().parent_code == "370800000000"
    assert gettext("Cities") in out  # the city's line of the summary
    # Again: nothing changes; a blank county parent is its city, told by the code.
    _import(tmp_path, "370828000000,金乡县,县,", "370829000000,嘉祥县,区,")
    assert dict(County.objects.values_list("code", "parent_code")) == {
        "370828000000": "370800000000",
        "370829000000": "370800000000",
    }
    assert City.objects.count() == 1


@pytest.mark.parametrize(
    "rows",
    [
        ("370828000000,金乡县,县,370900000000",),  # a county under another city
        ("370828000000,金乡县,县,370828000000",),  # its own code as parent
        ("370801000000,济宁市,地级市,370000000000",),  # a city code that is a county's
        ("370800000000,济宁市,市,37",),  # a malformed parent
    ],
)
def test_a_city_or_parent_that_does_not_fit_stops_the_import(db, tmp_path, rows):
    with pytest.raises(CommandError, match="2"):  # names line 2
        _import(tmp_path, *rows, HUJI)
    assert not City.objects.exists() and not County.objects.exists()


def test_a_county_names_its_city_in_the_database(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        County.objects.create(code="370828000000", name="金乡县", parent_code="510700000000")
    with pytest.raises(IntegrityError), transaction.atomic():
        City.objects.create(code="370828000000", name="金乡县")
    County.objects.create(code="370828000000", name="金乡县")  # blank: told by its code
    assert city_code_of("370828102000") == "370800000000"


def test_a_city_supervisor_names_a_city_and_nothing_else(db, tmp_path):
    _import(tmp_path, JINING, JINXIANG, HUJI)
    city, county, town = City.objects.get(), County.objects.get(), Town.objects.get()
    user = make_user("zhanghua")
    refused = [
        {"role": Role.CITY_SUPERVISOR},  # no city
        {"role": Role.CITY_SUPERVISOR, "city": city, "county": county},
        {"role": Role.CITY_SUPERVISOR, "city": city, "county": county, "town": town},
        {"role": Role.TASK_FORCE, "city": city},  # a county's role in a city
        {"role": Role.INSPECTOR, "city": city, "county": county},
    ]
    for fields in refused:
        with pytest.raises(IntegrityError), transaction.atomic():
            Membership.objects.create(user=user, **fields)
    Membership.objects.create(user=user, role=Role.CITY_SUPERVISOR, city=city)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=user, role=Role.CITY_SUPERVISOR, city=city)
    assert access.scope_of(user).county_codes == {"370828000000"}
    # The people pages and the roster give a county's roles only.
    assert not access.jurisdiction_fits(Role.CITY_SUPERVISOR, town=False, village=False)


PARENTS = """
import json
from villages.models import County
print(json.dumps(dict(County.objects.values_list("code", "parent_code"))))
"""
COUNTIES = """
from django.db import connection
with connection.cursor() as cursor:
    for code, parent in [("370828000000", ""), ("510722000000", "510799999999")]:
        cursor.execute(
            "INSERT INTO villages_county (code, name, parent_code) VALUES (%s, %s, %s)",
            [code, "县" + code[:6], parent],
        )
"""


def test_migration_0006_makes_each_countys_parent_its_city(tmp_path):
    """Stored counties of the release before: a blank parent and one naming another code (the
    import took any 12 digits) both become the city told by the code."""
    done = _manage(tmp_path, "migrate", "villages", "0004_membership_county", "--verbosity=0")
    assert done.returncode == 0, done.stderr
    filled = _manage(tmp_path, "shell", "-c", COUNTIES)
    assert filled.returncode == 0, filled.stderr
    done = _manage(tmp_path, "migrate", "villages", "0006_cities", "--verbosity=0")
    assert done.returncode == 0, done.stderr
    read = _manage(tmp_path, "shell", "-c", PARENTS)
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout.strip().splitlines()[-1]) == {
        "370828000000": "370800000000",
        "510722000000": "510700000000",
    }


def test_the_import_page_takes_the_city_row(task_force, tmp_path, monkeypatch, client):
    monkeypatch.setattr(imports_page, "PENDING_ROOT", tmp_path / "pending")
    client.force_login(task_force)
    text = "\n".join([HEADER, JINING, JINXIANG]) + "\n"
    upload = SimpleUploadedFile("济宁市.csv", text.encode())
    preview = client.post(reverse("import_preview", args=["divisions"]), {"file": upload})
    assert preview.status_code == 200
    page = preview.content.decode()
    assert counts_of(page)["created"] == 1 and not City.objects.exists()
    confirmed = client.post(
        reverse("import_confirm", args=["divisions"]), {"token": token_of(page)}
    )
    assert confirmed.status_code == 303
    assert list(City.objects.values_list("name", flat=True)) == ["济宁市"]


def test_the_import_page_refuses_another_citys_row(task_force, tmp_path, monkeypatch, client):
    """A county's list may begin with its own city's row; another city's is outside it."""
    monkeypatch.setattr(imports_page, "PENDING_ROOT", tmp_path / "pending")
    client.force_login(task_force)
    text = "\n".join([HEADER, "370900000000,泰安市,地级市,370000000000", JINXIANG]) + "\n"
    upload = SimpleUploadedFile("泰安市.csv", text.encode())
    preview = client.post(reverse("import_preview", args=["divisions"]), {"file": upload})
    assert preview.status_code == 400
    assert "370900000000" in preview.content.decode()
    assert not City.objects.exists()
