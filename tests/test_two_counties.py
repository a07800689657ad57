"""Two counties in one database (issue 20, first slice: the county as the tenant). 金乡县 and 三台县
(tests/data/santai_510722_divisions_2023.csv) are both imported; each has its task force, a
county-wide inspector and service worker, and a town officer. Whoever works in one county must
not see the other's towns, villages, tickets, toilet jobs, households, sites or patrols — not on a
page, in a list, an export, the field pack, the map, the dashboard, the rankings nor the API.

The cases come from the scope matrix (tests/test_scope_matrix.py), itself generated from the URL
conf: its world (objects of 胡集镇 and 鸡黍镇) is one county's, and a second world of the same
kinds is built in 三台县's 潼川镇. Each county's users are sent every case on the other county's
objects:

- a case about one object (a page, an API detail, a POST) is refused: 404 where the user's role
  may see or do it in his own county (the object exists, but not for him), 403 or 404 otherwise,
  and a refused POST changes nothing;
- a list (a case that `hides` a detail case) answers as it does at home, and shows no mark of
  the other county's objects; that the mark would show to its own county is checked too.

Out of this slice (issue 20's next ones): county-level objects — campaigns, rounds, checklists,
policies, bulletins and their numbering — are still the deployment's, so the bulletins' cases
are left out here.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from inspections.models import WaterSite
from tests.factories import make_household, make_user, membership
from tests.inspections.conftest import make_patrol, make_site
from tests.test_scope_matrix import (
    CASES,
    REFUSED,
    TOWNS,
    build_world,
    grid,
    text_of,
)
from tests.test_scope_matrix import _send as send
from tests.workflows.conftest import jpeg_upload
from villages import access
from villages.models import Household, Role, Town, Village
from villages.people.tokens import token_create
from workflows.evidence.services import evidence_photo_create
from workflows.models import RectificationTicket, TicketEvent, ToiletTicket
from workflows.tickets import services

SANTAI_CSV = Path(settings.BASE_DIR) / "tests" / "data" / "santai_510722_divisions_2023.csv"
SANTAI = "510722000000"  # 三台县
TONGCHUAN = "510722101000"  # 潼川镇, its first town
TONGCHUAN_SITE = (31.0950, 105.0900)  # lat, lng: a pond near the county seat
REFUSALS = (400, 403, 404)

# Each county's users, and the role of the matrix's grid whose rights they have at home.
JINXIANG_USERS = {
    "task_force": "task_force",
    "inspector": "inspector",
    "service_worker": "service_worker",
    "hj_officer": "hj_officer",
}
SANTAI_USERS = {
    "santai_tf": "task_force",
    "santai_insp": "inspector",
    "santai_sw": "service_worker",
    "santai_officer": "hj_officer",
}
# The kinds built in 三台县 (the matrix's world has these and more).
SANTAI_KINDS = ("town", "village", "spare_village", "ticket", "toilet", "household", "site")
SANTAI_KINDS += ("patrol", "person", "token")


def county_level(key: str) -> bool:
    """Cases of county-level objects, not yet each county's own (issue 20's next slice)."""
    return "bulletin" in key


# --- the two worlds -----------------------------------------------------------------------------


@dataclass
class Worlds:
    jinxiang: object  # tests.test_scope_matrix.World
    santai: SimpleNamespace  # the same attributes, for the kinds of SANTAI_KINDS
    users: dict = field(default_factory=dict)  # both counties' named users


def county_users(prefix: str, town_code: str) -> dict:
    """A county's named users, `prefix`_tf, _insp, _sw (county-wide) and _officer (of the town
    `town_code`)."""
    town = Town.objects.select_related("county").get(code=town_code)
    county = town.county
    return {
        f"{prefix}_tf": make_user(f"{prefix}_tf", membership(Role.TASK_FORCE, county)),
        f"{prefix}_insp": make_user(f"{prefix}_insp", membership(Role.INSPECTOR, county)),
        f"{prefix}_sw": make_user(f"{prefix}_sw", membership(Role.SERVICE_WORKER, county)),
        f"{prefix}_officer": make_user(f"{prefix}_officer", membership(Role.TOWN_OFFICER, town)),
    }


def _santai_users() -> dict:
    return county_users("santai", TONGCHUAN)


def _santai_world(users: dict) -> SimpleNamespace:
    return county_world(
        "santai", users, town_code=TONGCHUAN, position=TONGCHUAN_SITE, site_code="TC-POND-1"
    )


def county_world(
    prefix: str, users: dict, *, town_code: str, position: tuple, site_code: str
) -> SimpleNamespace:
    """The town's objects under the matrix's names, keyed "huji" (the town the cases take
    first), made by the county's users of county_users(prefix, …)."""
    town = Town.objects.select_related("county").get(code=town_code)
    first_two = list(town.villages.administrative().order_by("code")[:2])
    village = first_two[0]
    inspector, task_force = users[f"{prefix}_insp"], users[f"{prefix}_tf"]
    draft = services.rectification_create(
        by=inspector,
        town=town,
        village=village,
        description=f"{town.county.name}：河道岸边堆放生活垃圾",
        source_kind="patrol",
        before_photos=[evidence_photo_create(file=jpeg_upload(), uploaded_by=inspector)],
    )
    ticket = services.rectification_assign(
        ticket=draft, by=task_force, deadline=timezone.localdate() + timedelta(days=10)
    )
    household = make_household(village)
    reported = services.toilet_report(
        by=task_force,
        household=household,
        kind="pumping",
        channel="phone",
        photos=[evidence_photo_create(file=jpeg_upload(), uploaded_by=task_force)],
    )
    worker = users[f"{prefix}_sw"]
    toilet = services.toilet_dispatch(ticket=reported, by=task_force, worker=worker)
    site = make_site(town, village, position=position, code=site_code, state="maintained")
    patrol = make_patrol(site, inspector, on=timezone.localdate())
    patrol.photos.add(evidence_photo_create(file=jpeg_upload(), uploaded_by=inspector))
    # A village admin of the spare village, and a token acting as one: the people pages' objects.
    spare = first_two[1]
    person = make_user(f"person_{prefix}", membership(Role.VILLAGE_ADMIN, spare))
    token = token_create(
        by=task_force, name=f"{town.county.name}测试系统", role=Role.VILLAGE_ADMIN, village=spare
    )[0]
    one = lambda value: {"huji": value}  # noqa: E731
    return SimpleNamespace(
        person=one(person),
        token=one(token),
        users=users,
        town=one(town),
        village=one(village),
        spare_village=one(spare),
        ticket=one(ticket),
        toilet=one(toilet),
        household=one(household),
        site=one(site),
        patrol=one(patrol),
        photo={
            "ticket": one(ticket.before_photos.get()),
            "toilet": one(TicketEvent.objects.get(toilet=toilet, action="report").photos.get()),
            "patrol": one(patrol.photos.get()),
        },
    )


@pytest.fixture(scope="module")
def worlds(django_db_setup, django_db_blocker, tmp_path_factory):
    media = tmp_path_factory.mktemp("two-counties-media")
    hashers = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with (
        override_settings(MEDIA_ROOT=media, PASSWORD_HASHERS=hashers),
        django_db_blocker.unblock(),
        transaction.atomic(),
    ):
        jinxiang = build_world()
        call_command("import_divisions", SANTAI_CSV, verbosity=0)
        users = _santai_users()
        santai = _santai_world(users)
        yield Worlds(jinxiang, santai, users | jinxiang.users)
        transaction.set_rollback(True)


# --- which cases apply to which world -----------------------------------------------------------


class _Probe:
    """Stands for any object of a built kind: every attribute a value."""

    def __getattr__(self, name: str):
        return "1"


def _probe_world(kinds) -> SimpleNamespace:
    probe = {kind: {"huji": _Probe(), "jishu": _Probe()} for kind in kinds}
    photos = {kind: {"huji": _Probe()} for kind in ("ticket", "toilet", "patrol")}
    return SimpleNamespace(**probe, photo=photos, users={})


def _applies(case, world) -> bool:
    """The case's URL, query, body and mark need only what `world` holds."""
    parts = (case.kwargs, case.query, case.data, case.mark)
    try:
        for part in parts:
            if part is not None:
                part(world, "huji")
    except (AttributeError, KeyError, TypeError):
        return False
    return True


SANTAI_PROBE = _probe_world(SANTAI_KINDS)


class _Recorder:
    """A world that notes which of its kinds a case's lambdas read."""

    def __init__(self):
        self.read: set[str] = set()

    def __getattr__(self, name: str):
        self.read.add(name)
        return {"huji": _Probe(), "jishu": _Probe()}


def names_a_place(case) -> bool:
    """The case's URL, query or body names one of a county's objects (a village, a ticket…),
    though the matrix, where one town will do, counts it as a page of no object."""
    recorder = _Recorder()
    for part in (case.kwargs, case.query, case.data):
        if part is not None:
            # A lambda may also query the database (not open while tests are collected).
            with contextlib.suppress(Exception):
                part(recorder, "huji")
    return bool(recorder.read & set(SANTAI_KINDS))


def _params():
    params = []
    for key, case in CASES.items():
        if county_level(key):
            continue
        towns = TOWNS if case.scoped else ("-",)
        for viewer in SANTAI_USERS:  # 三台县's users on 金乡县's objects: both of its towns
            params += [pytest.param(key, viewer, t, id=f"{key}-{viewer}-{t}") for t in towns]
        if not (case.scoped or case.hides or names_a_place(case)):
            continue  # 金乡县's users on a page of no object: the scope matrix's own case
        if not _applies(case, SANTAI_PROBE):
            continue  # a kind 三台县's world does not build
        if case.hides and not _applies(CASES[case.hides], SANTAI_PROBE):
            continue
        for viewer in JINXIANG_USERS:  # 金乡县's users on 三台县's objects
            params.append(pytest.param(key, viewer, "santai", id=f"{key}-{viewer}-santai"))
    return params


def _setting(worlds: Worlds, viewer: str, town: str):
    """(the world the objects come from, its town key, the viewer's role in the grid)."""
    if viewer in SANTAI_USERS:
        return worlds.jinxiang, town, SANTAI_USERS[viewer]
    return worlds.santai, "huji" if town == "santai" else town, JINXIANG_USERS[viewer]


def _marks(world, detail_key: str) -> list[str]:
    """The other county's objects as `detail_key` shows them in lists."""
    detail = CASES[detail_key]
    if not detail.scoped or county_level(detail_key):
        return []  # a county-level object: not yet each county's own
    if isinstance(world, SimpleNamespace):  # 三台县's world: one town, the kinds it builds
        return [detail.mark(world, "huji")] if _applies(detail, SANTAI_PROBE) else []
    return [detail.mark(world, t) for t in TOWNS]


# --- the tests ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("key", "viewer", "town"), _params())
def test_a_county_sees_nothing_of_the_other(client, worlds, key, viewer, town):
    case = CASES[key]
    world, town, role = _setting(worlds, viewer, town)
    before = case.state(world, town) if case.state else None
    client.force_login(worlds.users[viewer])

    response, body, _path = send(client, case, key, world, town)

    status = response.status_code
    at_home = case.expected(role, "huji")
    if not (case.scoped or names_a_place(case)):
        # A page of no object answers as at home (the role's rights), with its own county only.
        assert status == int(at_home) if at_home != "ok" else status not in (403, 404), status
    elif case.hides and status == 200:
        pass  # a list filtered by the other county's place may answer, empty: see the marks
    elif at_home in ("200", "201", "303", "ok", "409"):
        # Not found, or refused as another town's object is (a form's choices: 400).
        elsewhere = {v[1] for v in grid(case.expect).values() if len(v) == 2} & set(REFUSED)
        allowed = {404} | {int(v) for v in elsewhere} if case.scoped else set(REFUSALS)
        assert status in allowed, f"{viewer} {case.method} {key} of the other county: {status}"
    else:
        assert status in REFUSALS, f"{viewer} {case.method} {key} of the other county: {status}"
    if case.method == "POST" and status in REFUSALS:
        assert case.state(world, town) == before, f"a refused {key} changed something"
    if case.hides and status == 200:
        text = text_of(response, body)
        for mark in _marks(world, case.hides):
            assert mark not in text, f"{viewer} sees {mark} of the other county in {key}"


def _list_params():
    return [
        pytest.param(key, id=key)
        for key, case in CASES.items()
        if case.hides
        and not county_level(key)
        and not case.scoped
        and CASES[case.hides].scoped
        and _applies(case, SANTAI_PROBE)
        and _applies(CASES[case.hides], SANTAI_PROBE)
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("key", _list_params())
def test_the_marks_show_at_home(client, worlds, key):
    """Someone of 三台县 who may see 潼川镇's object finds its mark in the list: were it never
    shown, the test above could not notice a list showing the other county's objects."""
    case, detail = CASES[key], CASES[CASES[key].hides]
    mark = detail.mark(worlds.santai, "huji")
    for viewer, role in SANTAI_USERS.items():
        if case.expected(role, "huji") == detail.expected(role, "huji") == "200":
            client.force_login(worlds.users[viewer])
            response, body, _path = send(client, case, key, worlds.santai, "huji")
            if mark in text_of(response, body):
                return
    pytest.fail(f"nobody of 三台县 who may see {mark} finds it in {key}")


# --- the scope itself ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_countys_querysets_hold_its_own_rows_only(worlds):
    counts = {}
    for viewer in ("task_force", "santai_tf", "inspector", "santai_insp"):
        user = worlds.users[viewer]
        counts[viewer] = {
            model.__name__: set(
                model.objects.visible_to(user).values_list(path, flat=True).distinct()
            )
            for model, path in (
                (Town, "county_id"),
                (Village, "town__county_id"),
                (RectificationTicket, "town__county_id"),
                (Household, "village__town__county_id"),
            )
        }
    for viewer in ("task_force", "inspector"):
        assert all(found == {"370828000000"} for found in counts[viewer].values()), viewer
    for viewer in ("santai_tf", "santai_insp"):
        assert all(found == {SANTAI} for found in counts[viewer].values()), viewer
    assert set(ToiletTicket.objects.visible_to(worlds.users["santai_tf"])) == {
        worlds.santai.toilet["huji"]
    }


@pytest.mark.django_db
def test_a_superuser_sees_every_county(worlds):
    admin = make_user("admin_of_both", is_superuser=True)
    counties = set(Town.objects.visible_to(admin).values_list("county_id", flat=True))
    assert counties == {"370828000000", SANTAI}
    assert access.allows(admin, "ticket.close", worlds.santai.ticket["huji"])
    assert access.allows(admin, "ticket.close", worlds.jinxiang.ticket["huji"])


@pytest.mark.django_db
def test_a_county_wide_grant_covers_its_county_only(worlds):
    santai_ticket, jinxiang_ticket = worlds.santai.ticket["huji"], worlds.jinxiang.ticket["huji"]
    for viewer, own, other in (
        ("task_force", jinxiang_ticket, santai_ticket),
        ("santai_tf", santai_ticket, jinxiang_ticket),
    ):
        user = worlds.users[viewer]
        assert access.allows(user, "ticket.close", own)
        assert not access.allows(user, "ticket.close", other)
        assert not access.allows(user, "ticket.view", other)


# --- the registers' imports -------------------------------------------------------------------

SITE_HEADER = (
    "编号,名称,乡镇,行政村,类型,面积(m²),经度,纬度,坐标系,级别,治理措施,县级责任人,县级电话,"
    "镇级责任人,镇级电话,村级责任人,村级电话,巡查频次,状态"
)


def _preview(client, kind: str, text: str):
    upload = SimpleUploadedFile("清单.csv", text.encode())
    return client.post(reverse("import_preview", args=[kind]), {"file": upload})


def _site_row(code: str, town: str) -> str:
    return (
        f"{code},{town}坑塘,{town},,坑塘,2400,105.0900,31.0950,WGS84,县级,清淤疏浚,王立新,"
        "0816-5221000,李建华,13800000101,张守义,13800000102,1,治理中"
    )


@pytest.mark.django_db
def test_a_countys_imports_find_its_own_places_only(client, worlds):
    """三台县's task force imports households and water sites into 三台县: 金乡县's villages
    and towns are unknown to his import, and a site code of 金乡县 is not his to update."""
    client.force_login(worlds.users["santai_tf"])
    households, sites = Household.objects.count(), WaterSite.objects.count()
    other_village, own_village = worlds.jinxiang.village["huji"], worlds.santai.village["huji"]
    ledger = "村代码,户号,户主姓名\n{code},SANTAI-001,王建国\n"
    by_name = "乡镇,村,户号,户主姓名\n胡集镇,{village},SANTAI-002,李四\n"

    refused = [
        _preview(client, "households", ledger.format(code=other_village.code)),
        _preview(client, "households", by_name.format(village=other_village.short_name)),
        _preview(client, "sites", f"{SITE_HEADER}\n{_site_row('HJ-POND-1', '潼川镇')}\n"),
        _preview(client, "sites", f"{SITE_HEADER}\n{_site_row('SANTAI-1', '胡集镇')}\n"),
    ]

    assert [response.status_code for response in refused] == [400] * 4
    assert "HJ-POND-1" in refused[2].content.decode()
    assert (Household.objects.count(), WaterSite.objects.count()) == (households, sites)
    # The same files with 三台县's own places preview (a dry run: nothing stored either).
    own = [
        _preview(client, "households", ledger.format(code=own_village.code)),
        _preview(client, "sites", f"{SITE_HEADER}\n{_site_row('SANTAI-1', '潼川镇')}\n"),
    ]
    assert [response.status_code for response in own] == [200, 200]
