"""A city of counties on one deployment (issue 20): the city supervisor (市级督导) of 济宁市 reads
both of its counties stored here and nothing of 绵阳市's 三台县, changes nothing anywhere, and
compares the city's counties on the city dashboard.

The counties: 金乡县 (370828, the scope matrix's world of 胡集镇 and 鸡黍镇), 三台县 (510722 of
绵阳市, tests/data/santai_510722_divisions_2023.csv, 潼川镇's world of tests/test_two_counties.py)
and a second county of 济宁市, 嘉祥县. 嘉祥县's code (370829) is real (济宁市's county list), but no
division list of its towns and villages was at hand: its one town and three villages below are
TEST DATA, made up under the real county code (JIAXIANG_CSV), named as such. The cases are the
scope matrix's (tests/test_scope_matrix.py, generated from the URL conf), sent by the city
supervisor to each county's objects.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inspections.models import WaterSite
from tests.factories import make_user
from tests.test_scope_matrix import CASES, TOWNS, build_world, text_of, ticket_state
from tests.test_scope_matrix import _send as send
from tests.test_two_counties import (
    SANTAI_CSV,
    SANTAI_PROBE,
    _applies,
    _marks,
    _santai_users,
    _santai_world,
    county_users,
    county_world,
    names_a_place,
)
from villages import access
from villages.models import City, Membership, Role
from workflows.models import RectificationState, RectificationTicket

JINING = "370800000000"  # 济宁市
MIANYANG = "510700000000"  # 绵阳市, 三台县's city
JINXIANG, JIAXIANG, SANTAI = "370828000000", "370829000000", "510722000000"
JIAXIANG_TOWN = "370829100000"  # TEST DATA: a made-up town under 嘉祥县's real code
JIAXIANG_SITE = (35.4080, 116.3420)  # lat, lng near 嘉祥县's seat
# 济宁市's row as the statistics list writes it, and 嘉祥县 with TEST DATA towns and villages.
JIAXIANG_CSV = """区划代码,名称,级别,上级代码
370800000000,济宁市,地级市,370000000000
370829000000,嘉祥县,县,370800000000
370829100000,测试镇（测试数据）,镇,370829000000
370829100001,测试一村村民委员会,村,370829100000
370829100002,测试二村村民委员会,村,370829100000
370829100003,测试三村村民委员会,村,370829100000
"""

# What the city supervisor reads in each county of his city (200), and the forms he never gets.
READS = [
    *("ticket_list", "ticket_detail", "ticket_export", "toilet_list", "toilet_detail"),
    *("site_list", "site_detail", "site_coverage", "grades_home", "round_grades"),
    *("village_grades", "bulletin_list", "bulletin_detail", "notice_detail", "dashboard"),
    *("town_rankings", "city_dashboard", "api-v1:ticket_detail", "api-v1:toilet_detail"),
]
FORMS = ["ticket_new", "toilet_new", "bulletin_new", "person_new", "person_list", "import_list"]
# His city's bulletins (市级通报), drafts too, and their forms: the city's own pages.
READS += ["city_bulletin_list", "city_bulletin_list[unissued]", "city_bulletin_new"]
READS += ["city_bulletin_detail", "city_bulletin_detail[unissued]", "city_bulletin_compose"]
READS += ["city_bulletin_pdf", "city_bulletin_pdf[unissued]"]
# His only writes: his city's bulletins, each answered so to him (tests/workflows/
# test_city_bulletins.py follows them); a county's objects change through them only by an event
# row on a named ticket.
CITY_WRITES = {
    "city_bulletin_new[post]": 303,
    "city_bulletin_compose[post]": 303,
    "city_bulletin_compose[issued]": 409,
    "city_bulletin_issue": 400,  # a POST without the confirmation of its number
    "city_bulletin_issue[issued]": 409,
    "city_bulletin_acknowledge": 403,  # a named county's task force acknowledges
    "city_bulletin_acknowledge[unissued]": 403,
}


@dataclass
class Cities:
    jinxiang: object  # tests.test_scope_matrix.World
    jiaxiang: SimpleNamespace  # 测试镇's objects, under the matrix's names
    santai: SimpleNamespace  # 潼川镇's objects
    supervisor: object  # 济宁市's 市级督导


def jining_supervisor():
    city = City.objects.get(code=JINING)
    user = make_user("jining_city")
    Membership.objects.create(user=user, role=Role.CITY_SUPERVISOR, city=city)
    return user


@pytest.fixture(scope="module")
def cities(django_db_setup, django_db_blocker, tmp_path_factory):
    folder = tmp_path_factory.mktemp("city")
    divisions = folder / "嘉祥县.csv"
    divisions.write_text(JIAXIANG_CSV, encoding="utf-8")
    hashers = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with (
        override_settings(MEDIA_ROOT=folder, PASSWORD_HASHERS=hashers),
        django_db_blocker.unblock(),
        transaction.atomic(),
    ):
        jinxiang = build_world()
        call_command("import_divisions", SANTAI_CSV, verbosity=0)
        call_command("import_divisions", divisions, verbosity=0)
        santai = _santai_world(_santai_users())
        users = county_users("jiaxiang", JIAXIANG_TOWN)
        jiaxiang = county_world(
            "jiaxiang", users, town_code=JIAXIANG_TOWN, position=JIAXIANG_SITE, site_code="JX-1"
        )
        yield Cities(jinxiang, jiaxiang, santai, jining_supervisor())
        transaction.set_rollback(True)


# --- the scope matrix's cases -------------------------------------------------------------------

# (the world's attribute, its town keys): 金乡县's two towns, 嘉祥县's and 三台县's one each.
JINING_TOWNS = [("jinxiang", "huji"), ("jinxiang", "jishu"), ("jiaxiang", "huji")]
JIAXIANG_PROBE = SANTAI_PROBE  # 嘉祥县's world builds 三台县's kinds


def _jining_params(method: str):
    params = []
    for key, case in CASES.items():
        if case.method != method or key in CITY_WRITES:
            continue
        for world, town in JINING_TOWNS if case.scoped else [("jinxiang", "-")]:
            if world != "jinxiang" and not _applies(case, JIAXIANG_PROBE):
                continue
            params.append(pytest.param(key, world, town, id=f"{key}-{world}-{town}"))
    return params


@pytest.mark.django_db
@pytest.mark.parametrize(("key", "world", "town"), _jining_params("GET"))
def test_the_city_supervisor_reads_every_county_of_his_city(client, cities, key, world, town):
    case, objects = CASES[key], getattr(cities, world)
    client.force_login(cities.supervisor)
    response, body, _path = send(client, case, key, objects, town)
    status = response.status_code
    if key in READS:
        assert status == 200, f"{key} of {world}: {status}"
    elif "[draft]" in key:  # drafts are the task force's (bulletin.view_all, county-wide)
        if case.hides and status == 200:  # the list of drafts: none of them
            for t in TOWNS:
                mark = CASES[case.hides].mark(objects, t)
                assert mark not in text_of(response, body), f"{key} shows {mark}"
        else:
            assert status in (403, 404), f"{key} of {world}: {status}"
    elif key in FORMS:
        assert status == 403, f"{key} of {world}: {status}"
    else:
        # What he may not read (a draft bulletin, the people pages…) is refused, never a 500.
        assert status in (200, 403, 404), f"{key} of {world}: {status}"


@pytest.mark.django_db
@pytest.mark.parametrize(("key", "world", "town"), _jining_params("POST"))
def test_the_city_supervisor_changes_nothing(client, cities, key, world, town):
    case = CASES[key]
    objects = getattr(cities, world)
    before = case.state(objects, town if town != "-" else "huji") if case.state else None
    client.force_login(cities.supervisor)
    response, _body, _path = send(client, case, key, objects, town)
    assert response.status_code in (403, 404), f"{key} on {world}: {response.status_code}"
    if case.state:
        assert case.state(objects, town if town != "-" else "huji") == before


@pytest.mark.django_db
@pytest.mark.parametrize("key", sorted(CITY_WRITES))
def test_the_city_supervisor_writes_only_through_his_citys_bulletins(client, cities, key):
    case = CASES[key]
    tickets = lambda: [ticket_state(cities.jinxiang, t) for t in TOWNS]  # noqa: E731
    before = tickets()
    client.force_login(cities.supervisor)
    response, _body, _path = send(client, case, key, cities.jinxiang, "huji")
    assert response.status_code == CITY_WRITES[key], key
    assert tickets() == before  # no state changed, no event written (none was issued)


def _other_city_params():
    return [
        pytest.param(key, id=key)
        for key, case in CASES.items()
        if (case.scoped or case.hides or names_a_place(case))
        and _applies(case, SANTAI_PROBE)
        and (not case.hides or _applies(CASES[case.hides], SANTAI_PROBE))
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("key", _other_city_params())
def test_another_city_answers_404(client, cities, key):
    """三台县 (绵阳市): each of its objects is not found; a list shows none of them."""
    case = CASES[key]
    before = case.state(cities.santai, "huji") if case.state else None
    client.force_login(cities.supervisor)
    response, body, _path = send(client, case, key, cities.santai, "huji")
    status = response.status_code
    if case.hides and status == 200:
        text = text_of(response, body)
        for mark in _marks(cities.santai, case.hides):
            assert mark not in text, f"{key} shows {mark} of 三台县"
    elif case.method == "GET" and key in READS:
        assert status == 404, f"{key} of 三台县: {status}"
    else:
        assert status in (400, 403, 404), f"{key} of 三台县: {status}"
    if case.state:
        assert case.state(cities.santai, "huji") == before


@pytest.mark.django_db
def test_the_marks_show_in_his_own_city(client, cities):
    """The lists do show 嘉祥县's objects to him: the test above could otherwise not notice a
    list that shows 三台县's."""
    client.force_login(cities.supervisor)
    for key in ("ticket_list", "site_list", "toilet_list"):
        case = CASES[key]
        response, body, _path = send(client, case, key, cities.jiaxiang, "huji")
        for mark in _marks(cities.jiaxiang, case.hides):
            assert mark in text_of(response, body), f"{key} lacks {mark} of 嘉祥县"


@pytest.mark.django_db
def test_his_scope_is_his_citys_counties(cities, tmp_path):
    scope = access.scope_of(cities.supervisor)
    assert scope.county_codes == {JINXIANG, JIAXIANG}
    assert access.allows(cities.supervisor, "ticket.view", cities.jiaxiang.ticket["huji"])
    assert not access.allows(cities.supervisor, "ticket.view", cities.santai.ticket["huji"])
    held = [p for p in access.PERMISSIONS if access.allows(cities.supervisor, p)]
    assert held == [
        "ticket.view",
        "toilet.view",
        "site.view",
        "coverage.view",
        "grade.view",
        "bulletin.view",
        "notice.view",
        "dashboard.view",
        "city.dashboard",
        "city_bulletin.compose",
    ]  # bulletin.view_all is the task force's: drafts stay theirs; jobs.view too
    # A county of the city stored later is his too (the grant is the city's, read per request).
    yutai = _csv(tmp_path, "370827000000,鱼台县,县,370800000000")
    call_command("import_divisions", yutai, verbosity=0)
    again = type(cities.supervisor).objects.get(pk=cities.supervisor.pk)
    assert access.scope_of(again).county_codes == {JINXIANG, JIAXIANG, "370827000000"}


def _csv(folder: Path, *rows: str) -> Path:
    path = folder / "divisions.csv"
    path.write_text("区划代码,名称,级别,上级代码\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


# --- the city dashboard -------------------------------------------------------------------------


def _rows(response) -> dict[str, dict]:
    """{county code: {cell name: text}} of the city dashboard's tables."""
    page = response.content.decode()
    rows = {}
    for code, row in re.findall(r'<tr data-county="(\d+)">(.*?)</tr>', page, re.S):
        cells = {
            name: re.sub(r"<[^>]+>", "", text)
            for name, text in re.findall(r"<td[^>]* data-([a-z-]+)>(.*?)</td>", row, re.S)
        }
        cells["grades"] = re.findall(r"data-grade>(\d+)<", row)
        rows[code] = cells
    return rows


def _close(ticket, *, days_after_deadline: int) -> None:
    """Closed as closing leaves it, `days_after_deadline` days (local) after its deadline."""
    deadline = timezone.localdate() - timedelta(days=20)
    closed_on = deadline + timedelta(days=days_after_deadline)
    closed_at = timezone.make_aware(datetime.combine(closed_on, time(23, 30)))
    RectificationTicket.objects.filter(pk=ticket.pk).update(
        state=RectificationState.CLOSED, deadline=deadline, closed_at=closed_at
    )


@pytest.mark.django_db
def test_the_city_dashboard_compares_exactly_the_citys_counties(client, cities):
    # 金乡县: one ticket closed on its deadline's day (late at 23:30 UTC+8 is still that day),
    # one a day late; 嘉祥县's stays open and overdue.
    _close(cities.jinxiang.ticket["huji"], days_after_deadline=0)
    _close(cities.jinxiang.ticket["jishu"], days_after_deadline=1)
    RectificationTicket.objects.filter(pk=cities.jiaxiang.ticket["huji"].pk).update(
        deadline=timezone.localdate() - timedelta(days=2)
    )
    # The sites were registered before this month: they owe it a patrol (the worlds' are today's).
    sites = [
        cities.jinxiang.site["huji"],
        cities.jinxiang.site["jishu"],
        cities.jiaxiang.site["huji"],
    ]
    registered = timezone.now() - timedelta(days=62)
    WaterSite.objects.filter(pk__in=[s.pk for s in sites]).update(created_at=registered)
    client.force_login(cities.supervisor)
    response = client.get(reverse("city_dashboard"))
    assert response.status_code == 200
    rows = _rows(response)
    assert set(rows) == {JINXIANG, JIAXIANG}  # not 三台县 (绵阳市)
    page = response.content.decode()
    assert "济宁市" in page and "三台县" not in page
    for county in (JINXIANG, JIAXIANG):
        tickets = RectificationTicket.objects.filter(town__county_id=county)
        assert rows[county]["open"] == str(tickets.open().count()), county
        overdue = tickets.overdue(as_of=timezone.localdate()).count()
        assert rows[county]["overdue"] == str(overdue), county
    assert (rows[JINXIANG]["on-time"], rows[JINXIANG]["late"]) == ("1", "1")
    assert (rows[JIAXIANG]["on-time"], rows[JIAXIANG]["late"]) == ("0", "0")
    assert rows[JIAXIANG]["overdue"] == "1"
    # Coverage: each county's sites, all patrolled today (the worlds' patrols).
    assert rows[JINXIANG]["coverage"].startswith("2/2")
    assert rows[JIAXIANG]["coverage"].startswith("1/1")
    # Grades: 金乡县's published round graded both villages B (85); 嘉祥县's own published
    # round (tests/test_two_counties.py county_world) graded its one village B (85).
    assert rows[JINXIANG]["grades"] == ["0", "2", "0", "0"]
    assert rows[JIAXIANG]["grades"] == ["0", "1", "0", "0"]
    # Each county's name is its drill-down.
    for county in (JINXIANG, JIAXIANG):
        assert f'href="{reverse("dashboard")}?county={county}"' in page


@pytest.mark.django_db
def test_the_city_dashboard_costs_the_same_for_more_counties(client, cities, tmp_path):
    client.force_login(cities.supervisor)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("city_dashboard")).status_code == 200
        return len(captured)

    two = queries()
    rows = (
        "370827000000,鱼台县,县,370800000000",
        "370827100000,测试镇（测试数据）,镇,370827000000",
        "370827100001,测试村村民委员会,村,370827100000",
    )
    call_command("import_divisions", _csv(tmp_path, *rows), verbosity=0)
    three = queries()
    assert len(_rows(client.get(reverse("city_dashboard")))) == 3
    assert three == two


@pytest.mark.django_db
def test_the_drill_down_is_a_county_of_his_city_only(client, cities):
    client.force_login(cities.supervisor)
    page = client.get(reverse("dashboard"), {"county": JIAXIANG})
    assert page.status_code == 200
    assert "嘉祥县" in page.content.decode()
    assert [t.town.code for t in page.context["data"].towns] == [JIAXIANG_TOWN]
    for other in (SANTAI, "370827000000", "3708", "x\x00"):
        assert client.get(reverse("dashboard"), {"county": other}).status_code == 404, other
    # The rankings follow: the towns of 嘉祥县 only, the Excel too.
    rankings = client.get(reverse("town_rankings"), {"county": JIAXIANG})
    assert [r.stats.town.code for r in rankings.context["rankings"].rows] == [JIAXIANG_TOWN]
    assert f"?county={JIAXIANG}" in rankings.content.decode()
    assert client.get(reverse("town_rankings_xlsx"), {"county": SANTAI}).status_code == 404
    # A county's task force has one county: no other to choose.
    client.force_login(cities.jinxiang.users["task_force"])
    assert client.get(reverse("dashboard"), {"county": JIAXIANG}).status_code == 404
    assert client.get(reverse("dashboard"), {"county": JINXIANG}).status_code == 200
    client.force_login(cities.jinxiang.users["hj_officer"])
    assert client.get(reverse("dashboard"), {"county": JINXIANG}).status_code == 404


@pytest.mark.django_db
def test_a_superuser_sees_every_city_a_city_unnamed_by_its_code(client, cities):
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    response = client.get(reverse("city_dashboard"))
    assert set(_rows(response)) == {JINXIANG, JIAXIANG, SANTAI}
    page = response.content.decode()
    # 绵阳市's row was never imported (三台县's list has no city row): named by its code.
    assert 'data-city="510700000000"' in page and "510700000000" in page
    assert "济宁市" in page


@pytest.mark.django_db
def test_the_supervisor_is_told_his_city_not_a_county(client, cities):
    """His home names his city (全市) and its counties; the people pages his role's place."""
    client.force_login(cities.supervisor)
    page = client.get(reverse("home")).content.decode()
    assert "济宁市（全市）：金乡县、嘉祥县" in page and "（全县）" not in page
    admin = make_user("city_admin", is_superuser=True, is_staff=True)
    client.force_login(admin)
    page = client.get(reverse("person_detail", args=[cities.supervisor.pk])).content.decode()
    assert "市级督导</strong> · 济宁市（全市）" in page


@pytest.mark.django_db
def test_the_city_drills_down_to_a_countys_tickets(client, cities):
    """The city dashboard's open and overdue counts open the ticket list of that county; the
    list offers the supervisor his counties (a county's task force has one: no choice), and a
    county dashboard drilled into links to that county's rows."""
    RectificationTicket.objects.filter(town__county_id=JIAXIANG).update(
        deadline=timezone.localdate() - timedelta(days=2)
    )
    client.force_login(cities.supervisor)
    page = client.get(reverse("city_dashboard")).content.decode()
    row = re.search(rf'<tr data-county="{JIAXIANG}">(.*?)</tr>', page, re.S).group(1)
    overdue_url = html.unescape(re.search(r'data-overdue><a href="([^"]+)"', row).group(1))
    listed = client.get(overdue_url)
    assert listed.status_code == 200
    shown = set(re.findall(r"ZG-\d{4}-\d+", listed.content.decode()))
    expected = RectificationTicket.objects.filter(town__county_id=JIAXIANG).overdue(
        as_of=timezone.localdate()
    )
    assert shown == set(expected.values_list("number", flat=True)) and shown
    assert f'<option value="{JIAXIANG}" selected>' in listed.content.decode()
    # The toilet service and water site lists offer him the county too.
    for name in ("toilet_list", "site_list"):
        page = client.get(reverse(name), {"county": JIAXIANG}).content.decode()
        assert f'<option value="{JIAXIANG}" selected>' in page, name
    # A county outside his city is no choice of his: a clear 400.
    assert client.get(reverse("ticket_list"), {"county": SANTAI}).status_code == 400
    # Drilled into 金乡县 from the city: the totals link to 金乡县's tickets.
    board = client.get(reverse("dashboard"), {"county": JINXIANG}).content.decode()
    assert f"county={JINXIANG}&amp;overdue=true" in board
    # A county's task force lists his county: no county select.
    client.force_login(cities.jinxiang.users["task_force"])
    assert 'name="county"' not in client.get(reverse("ticket_list")).content.decode()
