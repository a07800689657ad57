"""Village display names (villages.names.short_name): one rule that drops the committee and
never doubles 村 or 社区, checked on the examples, on every name of two real county lists
(金乡县 and 三台县, NBS 2023), and on the pages and labels a village's name is printed on."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from tests.factories import make_user, membership
from tests.inspections.conftest import make_site
from tests.inspections.test_labels import read_sheet
from villages.models import County, Role, Town, Village
from villages.names import short_name

JINXIANG = Path(settings.BASE_DIR) / "villages/fixtures/jinxiang/divisions_2023.csv"
SANTAI = Path(settings.BASE_DIR) / "tests/data/santai_510722_divisions_2023.csv"
FENGHUANG = "370828102998"  # a village added to 胡集镇 for these tests; no real code


def division_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def village_names(path: Path) -> list[str]:
    return [row["name"] for row in division_rows(path) if row["level"] == "village"]


# --- the rule ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("凤凰村民委员会", "凤凰村"),
        ("凤凰村村民委员会", "凤凰村"),
        ("凤凰村委会", "凤凰村"),
        ("凤凰村", "凤凰村"),
        ("凤凰村委", "凤凰村"),
        ("刘庄村民委员会", "刘庄村"),  # 金乡: the village 刘庄
        ("张村村民委员会", "张村"),  # 金乡: the village 张村, not 张村村
        ("周尚新村村民委员会", "周尚新村"),
        ("大村村村民委员会", "大村村"),  # 四川: the village really is 大村村
        ("城关社区居民委员会", "城关社区"),
        ("城关社区居委会", "城关社区"),
        ("城关社区", "城关社区"),
        ("城关居民委员会", "城关社区"),  # a 居委会 is printed as its 社区
        ("人民路居委会", "人民路社区"),
        ("联合社区居民居委会", "联合社区"),  # spellings found in the NBS lists
        ("渡口社区委员会", "渡口社区"),
        ("黄桷村村委员会", "黄桷村"),
        (" 凤凰村委会 ", "凤凰村"),
        ("王庄", "王庄"),  # a natural village: no committee, nothing added
        ("村民委员会", "村民委员会"),  # nothing but a committee: kept, never emptied
    ],
)
def test_short_name(name, expected):
    assert short_name(name) == expected
    assert short_name(expected) == expected


def test_the_model_uses_the_rule():
    assert Village(name="凤凰村村民委员会").short_name == "凤凰村"
    assert Village(name="凤凰村").short_name == "凤凰村"


@pytest.mark.parametrize("path", [JINXIANG, SANTAI], ids=["金乡县", "三台县"])
def test_every_real_name_shortens_cleanly(path):
    names = village_names(path)
    assert names

    for name in names:
        short = short_name(name)
        assert short, name
        assert not short.endswith(("村村", "社区社区")), (name, short)
        assert "委员会" not in short and "委会" not in short, (name, short)
        assert short.endswith(("村", "社区")), (name, short)
        assert short_name(short) == short, (name, short)
        # Only the committee goes: the name the statistics bureau gives is kept whole.
        assert name.startswith(short.removesuffix("社区").removesuffix("村")), (name, short)


def test_santai_prints_its_village_names_once():
    shorts = Counter(
        "社区" if short_name(name).endswith("社区") else "村" for name in village_names(SANTAI)
    )
    # 383 names end in 村村民委员会: each printed 凤凰村村 under the old rule.
    doubled = [name for name in village_names(SANTAI) if name.endswith("村村民委员会")]

    assert shorts == {"村": 383, "社区": 79}
    assert len(doubled) == 383


# --- the 三台县 fixture ------------------------------------------------------------------------


def test_the_santai_fixture_is_the_whole_county():
    rows = division_rows(SANTAI)
    with JINXIANG.open(encoding="utf-8", newline="") as f:
        assert rows[0].keys() == next(csv.DictReader(f)).keys()  # the 金乡 file's columns

    levels = Counter(row["level"] for row in rows)
    assert levels == {"county": 1, "town": 33, "village": 462}
    (county,) = [row for row in rows if row["level"] == "county"]
    assert (county["code"], county["name"], county["parent_code"]) == (
        "510722000000",
        "三台县",
        "510700000000",
    )
    towns = {row["code"] for row in rows if row["level"] == "town"}
    assert all(row["parent_code"] == county["code"] for row in rows if row["level"] == "town")
    villages = [row for row in rows if row["level"] == "village"]
    assert all(row["parent_code"] in towns for row in villages)
    assert all(row["code"][:9] == row["parent_code"][:9] for row in villages)
    assert len({row["code"] for row in rows}) == len(rows)
    assert Counter(row["committee_type"] for row in villages) == {
        "村民委员会": 383,
        "居民委员会": 79,
    }
    for row in villages:
        assert row["name"].endswith(row["committee_type"]), row


@pytest.mark.django_db
def test_the_santai_fixture_imports_and_its_pages_print_single_names(client, divisions):
    call_command("import_divisions", SANTAI, verbosity=0)
    assert Town.objects.filter(code__startswith="510722").count() == 33
    santai = Village.objects.filter(code__startswith="510722")
    assert santai.count() == 462
    village = santai.filter(name__endswith="村村民委员会").order_by("code").first()
    # 三台县's own task force: 金乡县's sees none of it (the county is the tenant).
    county = County.objects.get(code="510722000000")
    client.force_login(make_user("santai_tf", membership(Role.TASK_FORCE, county)))

    body = client.get(reverse("village_detail", args=[village.code])).content.decode()

    short = village.name.removesuffix("村民委员会")  # e.g. 凤凰村
    assert f"<h1>{short} <small" in body
    assert f"{short}村" not in body.replace(village.name, "")  # only the full name has 村村


# --- pages and labels --------------------------------------------------------------------------


@pytest.fixture(params=["凤凰村", "凤凰村村民委员会", "凤凰村委会"])
def fenghuang(request, huji) -> Village:
    return Village.objects.create(
        code=FENGHUANG, town=huji, name=request.param, committee_type="villagers"
    )


def test_the_village_page_prints_fenghuang_once(client, task_force, fenghuang):
    client.force_login(task_force)

    response = client.get(reverse("village_detail", args=[fenghuang.code]))

    assert response.status_code == 200
    body = response.content.decode()
    assert "<h1>凤凰村 <small" in body
    # The full name is shown as such under 全称; nowhere else may 凤凰村村 appear.
    assert "凤凰村村" not in body.replace(f"<dd>{fenghuang.name}</dd>", "")


def test_the_qr_label_prints_fenghuang_once(client, task_force, huji, fenghuang):
    site = make_site(huji, fenghuang, name="凤凰塘", state="maintained")
    client.force_login(task_force)

    sheet = read_sheet(client.get(reverse("site_labels"), {"site": site.code}))

    assert "胡集镇 凤凰村" in sheet.text
    assert "凤凰村村" not in sheet.text


def test_the_village_list_and_map_print_fenghuang_once(client, task_force, huji, fenghuang):
    Village.objects.filter(code=fenghuang.code).update(centroid_lat=35.03, centroid_lng=116.24)
    client.force_login(task_force)

    listed = client.get(reverse("village_list"), {"q": "凤凰"}).content.decode()
    features = client.get(reverse("village_geojson")).json()["features"]

    assert "凤凰村" in listed and "凤凰村村" not in listed
    (feature,) = [f for f in features if f["properties"]["code"] == fenghuang.code]
    assert feature["properties"]["name"] == "凤凰村"
