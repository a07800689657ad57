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

Campaigns, their rounds and assessments, checklists and the grading and patrol policies are each
county's own: both counties run a campaign of the same name with an active and a published
round, and each county's users get 404 on the other's. Bulletins are each county's too:
三台县's task force issues its own (a bulletin and a draft of 潼川镇's ticket), numbered 第1批
of the year like 金乡县's first, under its own header.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from core.errors import ApplicationError
from inspections.grading import services as grading
from inspections.grading.grades import round_results
from inspections.grading.scoring import grade_of
from inspections.grading.selectors import provisional_grade
from inspections.models import (
    Assessment,
    Campaign,
    ChecklistItem,
    ChecklistTemplate,
    GradingPolicy,
    PatrolPolicy,
    Round,
    WaterSite,
)
from inspections.sites.presence import Position
from inspections.sites.services import Observation, PatrolRefused, patrol_record
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
from villages.models import County, Household, Role, Town, Village
from villages.people.tokens import token_create
from workflows.bulletins import selectors as bulletin_selectors
from workflows.bulletins import services as bulletins
from workflows.evidence.services import evidence_photo_create
from workflows.models import (
    Bulletin,
    NoticeDocument,
    Outbox,
    RectificationTicket,
    TicketEvent,
    ToiletTicket,
)
from workflows.notices.services import overdue_notices_issue
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
# The kinds built in 三台县 (the matrix's world has these and more): per town, and the
# county-level ones (one object, not one per town).
SANTAI_KINDS = ("town", "village", "spare_village", "ticket", "toilet", "household", "site")
SANTAI_KINDS += ("patrol", "person", "token", "assessment", "deduction")
SANTAI_KINDS += ("bulletin", "draft_bulletin")
COUNTY_KINDS = ("campaign", "active_round", "published_round", "item")
SANTAI_KINDS += COUNTY_KINDS


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
    issued, draft = _santai_bulletins(task_force, inspector, town, village)
    one = lambda value: {"huji": value}  # noqa: E731
    rounds = _county_rounds(prefix, users, village)
    return SimpleNamespace(
        **rounds["county_level"],
        assessment=one(rounds["assessment"]),
        deduction=one(rounds["deduction"]),
        bulletin=one(issued),
        draft_bulletin=one(draft),
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
            "deduction": one(rounds["deduction"].photos.get()),
        },
    )


def _county_rounds(prefix: str, users: dict, village: Village) -> dict:
    """三台县's campaign, named as 金乡县's (names are each county's own), its checklist, an
    active round with a draft assessment of the village and a published round grading it."""
    inspector = users[f"{prefix}_insp"]
    county = village.town.county_id
    template = ChecklistTemplate.objects.create(county_id=county, name="村村到检查表", version=1)
    item = ChecklistItem.objects.create(
        template=template,
        code="T1",
        dimension="toilets",
        title="三台县：厕所不能用",
        max_points=100,
        deduction=5,
        cap=50,
        photos_required=False,
    )
    campaign = Campaign.objects.create(
        county_id=county, name="2024年村村到", year=2024, template=template
    )
    planned = Round.objects.create(
        campaign=campaign,
        number=1,
        mode="sweep",
        starts_on=date(2024, 3, 1),
        ends_on=date(2024, 3, 31),
    )
    active = grading.round_start(round=planned, by=users[f"{prefix}_tf"])
    assessment = grading.assessment_open(round=active, village=village, by=inspector)
    photo = evidence_photo_create(file=jpeg_upload(), uploaded_by=inspector)
    deduction = grading.deduction_record(
        assessment=assessment, item=item, by=inspector, count=1, photos=[photo]
    )
    published = Round.objects.create(
        campaign=campaign,
        number=2,
        mode="acceptance",
        starts_on=date(2024, 4, 1),
        ends_on=date(2024, 4, 20),
        state="published",
        template=template,
        published_at=timezone.now(),
    )
    policy = GradingPolicy.current(county)
    Assessment.objects.create(
        round=published,
        village=village,
        inspector=inspector,
        state="published",
        score=Decimal(85),
        grade=grade_of(score=Decimal(85), veto=False, policy=policy),
        graded_by=policy.bands(),
    )
    county_level = {"campaign": campaign, "active_round": active, "published_round": published}
    return {
        "county_level": county_level | {"item": item},
        "assessment": assessment,
        "deduction": deduction,
    }


def _santai_bulletins(task_force, inspector, town, village):
    """三台县's own bulletin, issued to 潼川镇 (listing a new draft ticket), and a draft of it."""
    ticket = services.rectification_create(
        by=inspector,
        town=town,
        village=village,
        description="三台县：坑塘漂浮物未清理",
        source_kind="patrol",
        before_photos=[evidence_photo_create(file=jpeg_upload(), uploaded_by=inspector)],
    )
    made = []
    for issue in (True, False):
        bulletin = bulletins.bulletin_create(
            by=task_force,
            kind="problems",
            title="关于潼川镇农村人居环境问题的通报",
            default_deadline=timezone.localdate() + timedelta(days=10),
        )
        bulletins.bulletin_items_set(bulletin=bulletin, by=task_force, tickets=[ticket])
        made.append(
            bulletins.bulletin_issue(bulletin=bulletin, by=task_force) if issue else bulletin
        )
    return made


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
    probe |= {kind: _Probe() for kind in COUNTY_KINDS if kind in kinds}
    photos = {kind: {"huji": _Probe()} for kind in ("ticket", "toilet", "patrol", "deduction")}
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
    if not detail.scoped:
        return []
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


# --- campaigns, rounds, checklists and policies: each county's own ----------------------------


@pytest.mark.django_db
def test_each_county_lists_its_own_campaigns_rounds_and_checklists(client, worlds):
    """Both counties run a campaign named 2024年村村到: each county's users list their own only,
    on the pages, in the API and in the querysets."""
    campaigns = {"jinxiang": worlds.jinxiang.campaign, "santai": worlds.santai.campaign}
    assert campaigns["jinxiang"].name == campaigns["santai"].name
    for viewer, own, other in (
        ("task_force", "jinxiang", "santai"),
        ("hj_officer", "jinxiang", "santai"),
        ("santai_tf", "santai", "jinxiang"),
        ("santai_insp", "santai", "jinxiang"),
    ):
        user = worlds.users[viewer]
        client.force_login(user)
        listed = client.get(reverse("campaign_list")).content.decode()
        assert reverse("campaign_detail", args=[campaigns[own].pk]) in listed, viewer
        assert reverse("campaign_detail", args=[campaigns[other].pk]) not in listed, viewer
        grades = client.get(reverse("grades_home")).content.decode()
        assert reverse("campaign_grades", args=[campaigns[other].pk]) not in grades, viewer
        rounds = client.get(reverse("api-v1:api_round_list")).json()["results"]
        assert {r["campaign_id"] for r in rounds} == {campaigns[own].pk}, viewer
        county = campaigns[own].county_id
        for model in (Campaign, ChecklistTemplate):
            assert set(model.objects.visible_to(user).values_list("county_id", flat=True)) == {
                county
            }
        assert {r.campaign.county_id for r in Round.objects.visible_to(user)} == {county}


@pytest.mark.django_db
def test_a_campaign_name_is_unique_within_its_county_only(worlds):
    santai = worlds.santai.campaign
    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign.objects.create(
            county_id=SANTAI, name=santai.name, year=2025, template=santai.template
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        ChecklistTemplate.objects.create(county_id=SANTAI, name=santai.template.name, version=1)


@pytest.mark.django_db
def test_a_campaign_cannot_take_another_countys_checklist(worlds):
    campaign = Campaign(
        county_id=SANTAI, name="新活动", year=2025, template=worlds.jinxiang.campaign.template
    )
    with pytest.raises(ValidationError) as refused:
        campaign.full_clean()
    assert "template" in refused.value.message_dict


@pytest.mark.django_db
def test_an_inspector_cannot_assess_another_countys_village_in_his_round(client, worlds):
    """An inspector of 金乡县 who also works in 潼川镇 sees 金乡县's round and 潼川镇's villages,
    but a village of 三台县 is refused in 金乡县's round, with the reason, and nothing is made."""
    inspector = make_user(
        "two_county_insp",
        membership(Role.INSPECTOR, County.objects.get(code="370828000000")),
        membership(Role.INSPECTOR, Town.objects.get(code=TONGCHUAN)),
    )
    round = worlds.jinxiang.active_round
    village = worlds.santai.spare_village["huji"]
    count = Assessment.objects.count()
    client.force_login(inspector)

    response = client.post(reverse("assessment_start", args=[round.pk]), {"village": village.code})

    assert response.status_code == 400
    assert "另一个县" in response.content.decode()
    assert Assessment.objects.count() == count
    page = client.get(reverse("assessment_start", args=[round.pk])).content.decode()
    assert village.code not in page  # the round's choices are its county's villages only


@pytest.mark.django_db
def test_grades_use_the_villages_county_policy(worlds):
    """A score of 95 is B under 三台县's bands (A from 96) and A under 金乡县's defaults."""
    GradingPolicy.objects.filter(county_id=SANTAI).update(a_min=96, b_min=90, c_min=60)
    santai = worlds.santai.assessment["huji"]
    assert santai.score == 95
    assert provisional_grade(Assessment.objects.get(pk=santai.pk)) == "B"
    jinxiang = Assessment.objects.get(pk=worlds.jinxiang.assessment["huji"].pk)
    assert jinxiang.score == 95 and provisional_grade(jinxiang) == "A"
    client_results = round_results(
        round=worlds.santai.published_round, user=worlds.users["santai_tf"]
    )
    assert client_results.policy.county_id == SANTAI


@pytest.mark.django_db
def test_a_site_is_patrolled_under_its_countys_policy(worlds):
    """三台县 accepts a patrol without a photo (flagged); 金乡县 keeps refusing it."""
    PatrolPolicy.objects.update_or_create(county_id=SANTAI, defaults={"no_photo": "flag"})
    assert PatrolPolicy.current("370828000000").no_photo == "refuse"
    santai_site = worlds.santai.site["huji"]
    lat, lng = TONGCHUAN_SITE
    patrol, created = patrol_record(
        by=worlds.users["santai_insp"],
        site=santai_site,
        key=uuid.uuid4(),
        observation=Observation(result="normal"),
        position=Position(lat=lat, lng=lng + 0.0001, accuracy_m=10),
        photos=[],
    )
    assert created and patrol.flagged
    jinxiang_site = worlds.jinxiang.site["huji"]
    with pytest.raises(PatrolRefused):
        patrol_record(
            by=worlds.users["inspector"],
            site=jinxiang_site,
            key=uuid.uuid4(),
            observation=Observation(result="normal"),
            position=Position(lat=jinxiang_site.lat, lng=jinxiang_site.lng, accuracy_m=10),
            photos=[],
        )


@pytest.mark.django_db
def test_a_countys_division_import_touches_its_own_county_only(client, worlds):
    """The division list from the import page: 三台县's task force may rename its own towns but
    not 金乡县's (nor add a county), each foreign line named; a superuser imports any county."""
    huji, tongchuan = worlds.jinxiang.town["huji"], worlds.santai.town["huji"]
    header = "代码,名称,级别,上级代码\n"
    foreign = f"{header}{huji.code},改名镇,乡镇,{huji.county_id}\n"
    new_county = f"{header}510723000000,盐亭县,县,510700000000\n"
    own = f"{header}{tongchuan.code},{tongchuan.name},乡镇,{tongchuan.county_id}\n"
    client.force_login(worlds.users["santai_tf"])

    refused = [_preview(client, "divisions", text) for text in (foreign, new_county)]
    before = set(Town.objects.values_list("code", "name"))
    assert [response.status_code for response in refused] == [400, 400]
    assert f"{huji.code} 改名镇" in refused[0].content.decode()
    assert "510723000000" in refused[1].content.decode()
    assert set(Town.objects.values_list("code", "name")) == before
    assert not County.objects.filter(code="510723000000").exists()
    assert _preview(client, "divisions", own).status_code == 200

    client.force_login(make_user("root_both", is_superuser=True))
    assert _preview(client, "divisions", foreign).status_code == 200


# --- bulletins: each county's own -------------------------------------------------------------


@pytest.mark.django_db
def test_each_county_numbers_its_bulletins_under_its_own_header(client, worlds):
    year = timezone.localdate().year
    for viewer, world, name in (
        ("task_force", worlds.jinxiang, "金乡县"),
        ("santai_tf", worlds.santai, "三台县"),
    ):
        bulletin = world.bulletin["huji"]
        # 金乡县's world issued one bulletin per town; 三台县's first is its own 第1批 too.
        assert bulletin.number_label == f"{year}年第1批"
        assert bulletin.snapshot["issuer"] == f"{name}农村人居环境整治工作专班"
        client.force_login(worlds.users[viewer])
        page = client.get(reverse("bulletin_detail", args=[bulletin.pk])).content.decode()
        assert f"{name}农村人居环境整治工作专班" in page
    other = worlds.jinxiang.bulletin["jishu"]
    assert (other.county_id, other.batch) == ("370828000000", 2)


@pytest.mark.django_db
def test_a_bulletin_refuses_the_other_countys_tickets(worlds):
    admin = make_user("admin_composer", is_superuser=True)
    draft = worlds.santai.draft_bulletin["huji"]
    items = list(draft.items.values_list("ticket_id", "wording"))
    jinxiang_ticket = worlds.jinxiang.ticket["huji"]
    with pytest.raises(ApplicationError, match=jinxiang_ticket.number):
        bulletins.bulletin_items_set(bulletin=draft, by=admin, tickets=[jinxiang_ticket])
    assert list(draft.items.values_list("ticket_id", "wording")) == items  # nothing written
    # The compose page refuses it too (400), and offers only the bulletin's county's tickets.
    client = Client()
    client.force_login(admin)
    url = reverse("bulletin_compose", args=[draft.pk])
    response = client.post(url, {"ticket": [jinxiang_ticket.pk], "op": "save"})
    assert response.status_code == 400
    assert list(draft.items.values_list("ticket_id", "wording")) == items
    candidates = bulletin_selectors.bulletin_candidates(bulletin=draft, user=admin, pool="open")
    assert set(candidates.values_list("town__county_id", flat=True)) == {SANTAI}


@pytest.mark.django_db
def test_a_bulletin_is_made_in_the_county_named(worlds):
    admin = make_user("admin_of_bulletins", is_superuser=True)
    with pytest.raises(ApplicationError):  # two counties: which one?
        bulletins.bulletin_create(by=admin, kind="problems", title="通报")
    made = bulletins.bulletin_create(by=admin, kind="problems", title="通报", county=SANTAI)
    assert (made.county_id, made.issuer) == (SANTAI, "三台县农村人居环境整治工作专班")
    with pytest.raises(ApplicationError):  # 三台县's task force in 金乡县
        bulletins.bulletin_create(
            by=worlds.users["santai_tf"], kind="problems", title="通报", county="370828000000"
        )
    assert not Bulletin.objects.filter(county=SANTAI, title="通报").exclude(pk=made.pk).exists()


@pytest.mark.django_db
def test_each_county_numbers_its_notices(worlds):
    """金乡县's world has issued overdue notices already; 三台县's first is its own 第1号."""
    ticket = worlds.santai.ticket["huji"]
    as_of = ticket.deadline + timedelta(days=1)
    overdue_notices_issue(as_of=as_of)
    document = NoticeDocument.objects.get(town_id=TONGCHUAN, kind="reminder", issued_on=as_of)
    assert document.county_id == SANTAI
    assert document.number == f"逾提〔{as_of.year}〕第1号"
    jinxiang = NoticeDocument.objects.filter(county_id="370828000000", kind="reminder")
    assert jinxiang.filter(number=document.number).exists()  # the same number, another county


@pytest.mark.django_db
def test_the_outbox_is_each_countys_own(client, worlds):
    """The outbox names towns and recipients: 三台县's task force sees and re-queues none of
    金乡县's rows, which 金乡县's own task force does see."""
    documents = NoticeDocument.objects.filter(county_id="370828000000")
    assert documents
    rows = Outbox.objects.bulk_create(
        Outbox(document=document, channel="webhook", recipient="jinxiang-gateway", attempts=3)
        for document in documents
    )
    numbers = {document.number for document in documents}
    for viewer, shown in (("santai_tf", False), ("task_force", True)):
        client.force_login(worlds.users[viewer])
        page = client.get(reverse("outbox_list")).content.decode()
        assert all((number in page) == shown for number in numbers), viewer
    client.force_login(worlds.users["santai_tf"])
    pks = [row.pk for row in rows]
    assert client.post(reverse("outbox_requeue"), {"pk": pks}).status_code == 303
    assert set(Outbox.objects.filter(pk__in=pks).values_list("attempts", flat=True)) == {3}


@pytest.mark.django_db
def test_a_superuser_chooses_the_county_of_a_new_bulletin(client, worlds):
    client.force_login(make_user("admin_of_new_bulletins", is_superuser=True))
    url = reverse("bulletin_new")
    assert 'name="county"' in client.get(url).content.decode()
    data = {"kind": "problems", "title": "市里代三台县起草"}
    assert client.post(url, data).status_code == 400  # which county?
    assert client.post(url, {**data, "county": "999999000000"}).status_code == 400
    assert not Bulletin.objects.filter(title=data["title"]).exists()
    assert client.post(url, {**data, "county": SANTAI}).status_code == 303
    assert Bulletin.objects.get(title=data["title"]).county_id == SANTAI
    # A task force of one county is not asked.
    client.force_login(worlds.users["santai_tf"])
    assert 'name="county"' not in client.get(url).content.decode()
