"""The scope matrix (docs/architecture.md §5): every URL of the project × every named role × an
object of 胡集镇 (the town of hj_officer) and one of 鸡黍镇 (a town of someone else), generated
from the URL conf so that a new view cannot be forgotten: a URL name missing from CASES fails
`test_every_url_of_the_project_is_in_the_matrix`.

Each case gives its expectations as a grid, one entry per role, `own/other` for a URL that takes
an object (or a filter) of a town, a single value for a page without one:

    200, 303, 400, 403, 404, 409  the exact status code (200: with the case's content type)
    ok                            a POST the role may take: anything but 403/404 (their own tests
                                  check what it does)

Anonymous users are redirected to the login page, with `next`, for every URL. A refused POST
(400, 403, 404, 409) must leave the object's state as it was. A list, export or map that
`hides` a detail case must not show (its marker text) any object whose detail page answers
403/404 to the same role. The test client raises a view's exception, so a 500 fails the test.

The world (two towns, an object of each kind in each) is built once for the module inside a
transaction; each test runs in a savepoint rolled back after it.
"""

from __future__ import annotations

import html
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.shortcuts import resolve_url
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from inspections.grading import services as svc
from inspections.grading.scoring import grade_of
from inspections.models import (
    Assessment,
    Campaign,
    ChecklistItem,
    ChecklistTemplate,
    GradingPolicy,
    Patrol,
    Round,
    WaterSite,
)
from tests.factories import (
    HUJI_CODE,
    JISHU_CODE,
    load_divisions,
    make_household,
    make_user,
    membership,
)
from tests.inspections.conftest import HUJI_SITE, JISHU_SITE, make_patrol, make_site
from tests.workflows.conftest import jpeg_upload
from villages.models import (
    AccessToken,
    City,
    CountySettings,
    Household,
    Membership,
    MembershipChange,
    Role,
    Town,
    Village,
)
from villages.people.tokens import token_create
from workflows.bulletins import city_services
from workflows.bulletins import services as bulletins
from workflows.evidence.services import evidence_photo_create
from workflows.models import (
    Bulletin,
    CityBulletin,
    NoticeDocument,
    NoticeKind,
    Notification,
    Outbox,
    RectificationTicket,
    TicketEvent,
    ToiletTicket,
)
from workflows.notices.services import overdue_notices_issue, sla_notices_issue
from workflows.tickets import services

PROJECT_APPS = ("villages", "workflows", "inspections")
# Named URLs that are not the project's: Django's login, logout and language switcher.
NOT_OURS = {"login", "logout", "set_language"}
# Public by design: states for monitors, the same to everyone and no data of anyone
# (workflows/health.py; tests/workflows/test_watchdog.py).
PUBLIC = {"healthz", "worker_script", "manifest", "favicon"}
# The API's description and its browsable page: the same document for everyone, no data; and
# django-ninja's root, which answers 404.
PUBLIC |= {"api-v1:openapi-json", "api-v1:openapi-view", "api-v1:api-root"}
API = "api-v1:"  # cases of the JSON API: anonymous is 401 (not the login page), JSON answers
# Open311 GeoReport v2 (workflows/open311): answered to an api_key (an access token), never to
# the browser's session; tests/workflows/test_open311.py checks its keys' roles and jurisdictions.
OPEN311 = {
    "open311_services",
    "open311_service",
    "open311_requests",
    "open311_request",
    "open311_token",
    "open311_unknown",
}

ROLES = {
    "tf": "task_force",
    "hjo": "hj_officer",
    "insp": "inspector",
    "tinsp": "town_inspector",
    "sw": "service_worker",
    "va": "village_admin",
    "nobody": "nobody",
}
TOWNS = ("huji", "jishu")  # own town of hj_officer, town_inspector and village_admin; another

REFUSED = ("400", "403", "404", "409")  # a POST answered so must leave everything as it was
HTML = "text/html"
PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GEOJSON = "application/geo+json"
JSON = "application/json"
JPEG = "image/jpeg"


# --- the world ------------------------------------------------------------------------------


class World:
    """Objects by kind, each a dict {"huji": …, "jishu": …}, plus the county-wide ones."""

    users: dict
    town: dict
    village: dict
    spare_village: dict  # not yet assessed in the active round
    ticket: dict
    household: dict
    toilet: dict
    notice: dict
    sla_notice: dict
    site: dict
    patrol: dict
    assessment: dict
    deduction: dict
    bulletin: dict  # issued, addressed to the town (its ticket's)
    draft_bulletin: dict  # listing the same ticket, not issued
    city_bulletin: dict  # 济宁市's 市级通报, issued, naming the town's ticket
    city_draft: dict  # 济宁市's draft naming it too
    city_supervisor: object  # 济宁市's 市级督导 (no role of the grid: tests/test_city.py's cases)
    person: dict  # a village admin of the town's spare village (the people pages act on him)
    token: dict  # an access token acting as a village admin of the town's spare village
    photo: dict  # kind of holder (ticket, toilet, patrol, deduction) → {town: a photo it holds}
    campaign: Campaign
    active_round: Round
    published_round: Round
    item: ChecklistItem


def _named_users(town: dict, village: dict) -> dict:
    """The named users of tests/conftest.py, built here because the world is module-scoped."""
    return {
        "task_force": make_user("task_force", membership(Role.TASK_FORCE)),
        "hj_officer": make_user("hj_officer", membership(Role.TOWN_OFFICER, town["huji"])),
        "inspector": make_user("inspector", membership(Role.INSPECTOR)),
        "town_inspector": make_user("town_inspector", membership(Role.INSPECTOR, town["huji"])),
        "service_worker": make_user("service_worker", membership(Role.SERVICE_WORKER)),
        "village_admin": make_user(
            "village_admin", membership(Role.VILLAGE_ADMIN, village["huji"])
        ),
        "nobody": make_user("nobody"),
    }


def _tickets(w: World, deadline: date) -> None:
    users = w.users
    inspector, task_force = users["inspector"], users["task_force"]
    w.ticket = {}
    for t in TOWNS:
        photo = evidence_photo_create(file=jpeg_upload(), uploaded_by=inspector)
        draft = services.rectification_create(
            by=inspector,
            town=w.town[t],
            village=w.village[t],
            description="河道岸边堆放生活垃圾",
            source_kind="patrol",
            before_photos=[photo],
        )
        w.ticket[t] = services.rectification_assign(ticket=draft, by=task_force, deadline=deadline)
    # 胡集镇's job goes to the county-wide service worker, 鸡黍镇's to a worker of that town.
    workers = {
        "huji": users["service_worker"],
        "jishu": make_user("jishu_worker", membership(Role.SERVICE_WORKER, w.town["jishu"])),
    }
    reporters = {"huji": users["village_admin"], "jishu": task_force}
    w.household = {t: make_household(w.village[t]) for t in TOWNS}
    w.toilet = {}
    for t in TOWNS:
        reported = services.toilet_report(
            by=reporters[t],
            household=w.household[t],
            kind="pumping",
            channel="village_admin",
            photos=[evidence_photo_create(file=jpeg_upload(), uploaded_by=reporters[t])],
        )
        w.toilet[t] = services.toilet_dispatch(ticket=reported, by=task_force, worker=workers[t])


def _notices(w: World, deadline: date) -> None:
    overdue_notices_issue(as_of=deadline + timedelta(days=1))
    # A month on, both toilet jobs are past their SLA: the workers are notified.
    sla_notices_issue(as_of=timezone.localdate() + timedelta(days=30))
    documents = NoticeDocument.objects.order_by("pk")
    w.notice = {t: documents.exclude(kind=NoticeKind.SLA).get(town=w.town[t]) for t in TOWNS}
    w.sla_notice = {t: documents.filter(kind=NoticeKind.SLA).get(town=w.town[t]) for t in TOWNS}


def _sites(w: World) -> None:
    positions = {"huji": HUJI_SITE, "jishu": JISHU_SITE}
    codes = {"huji": "HJ-POND-1", "jishu": "JS-POND-1"}
    w.site = {
        t: make_site(
            w.town[t], w.village[t], position=positions[t], code=codes[t], state="maintained"
        )
        for t in TOWNS
    }
    today = timezone.localdate()
    w.patrol = {t: make_patrol(w.site[t], w.users["inspector"], on=today) for t in TOWNS}
    for t in TOWNS:
        photo = evidence_photo_create(file=jpeg_upload(), uploaded_by=w.users["inspector"])
        w.patrol[t].photos.add(photo)


def _rounds(w: World) -> None:
    template = ChecklistTemplate.objects.create(
        county_id="370828000000", name="村村到检查表", version=1
    )
    w.item = ChecklistItem.objects.create(
        template=template,
        order=0,
        code="T1",
        dimension="toilets",
        title="厕所不能用",
        max_points=50,
        deduction=5,
        cap=50,
        photos_required=False,
        veto=False,
    )
    ChecklistItem.objects.create(
        template=template,
        order=1,
        code="A1",
        dimension="appearance",
        title="柴草乱堆乱放",
        max_points=50,
        deduction=5,
        cap=50,
        photos_required=False,
        veto=False,
    )
    w.campaign = Campaign.objects.create(
        county_id="370828000000", name="2024年村村到", year=2024, template=template
    )
    planned = Round.objects.create(
        campaign=w.campaign,
        number=1,
        mode="sweep",
        starts_on=date(2024, 3, 1),
        ends_on=date(2024, 3, 31),
    )
    w.active_round = svc.round_start(round=planned, by=w.users["task_force"])
    inspector = w.users["inspector"]
    w.assessment, w.deduction = {}, {}
    for t in TOWNS:
        assessment = svc.assessment_open(round=w.active_round, village=w.village[t], by=inspector)
        w.assessment[t] = assessment
        w.deduction[t] = svc.deduction_record(
            assessment=assessment,
            item=w.item,
            by=inspector,
            count=1,
            photos=[evidence_photo_create(file=jpeg_upload(), uploaded_by=inspector)],
        )
    _published_round(w, template)


def _published_round(w: World, template: ChecklistTemplate) -> None:
    """An acceptance round stored as publishing leaves it (tests/inspections/test_grades.py)."""
    w.published_round = Round.objects.create(
        campaign=w.campaign,
        number=2,
        mode="acceptance",
        starts_on=date(2024, 4, 1),
        ends_on=date(2024, 4, 20),
        state="published",
        template=template,
        published_at=timezone.now(),
    )
    policy = GradingPolicy.current("370828000000")
    score = Decimal("85")
    Assessment.objects.bulk_create(
        Assessment(
            round=w.published_round,
            village=w.village[t],
            inspector=w.users["inspector"],
            state="published",
            score=score,
            veto=False,
            grade=grade_of(score=score, veto=False, policy=policy),
            graded_by=policy.bands(),
        )
        for t in TOWNS
    )


def _bulletins(w: World, deadline: date) -> None:
    """Per town, a bulletin issued to it (listing a new draft ticket of the town, which issuing
    assigns) and a draft listing that ticket too; the world's other tickets are left alone."""
    inspector, task_force = w.users["inspector"], w.users["task_force"]
    w.bulletin, w.draft_bulletin = {}, {}
    for t in TOWNS:
        ticket = services.rectification_create(
            by=inspector,
            town=w.town[t],
            village=w.village[t],
            description="坑塘漂浮物未清理",
            source_kind="patrol",
            before_photos=[evidence_photo_create(file=jpeg_upload(), uploaded_by=inspector)],
        )
        for kind in ("bulletin", "draft_bulletin"):
            bulletin = bulletins.bulletin_create(
                by=task_force,
                kind="problems",
                title=f"关于{w.town[t].name}农村人居环境问题的通报",
                default_deadline=deadline,
            )
            bulletins.bulletin_items_set(bulletin=bulletin, by=task_force, tickets=[ticket])
            if kind == "bulletin":
                bulletin = bulletins.bulletin_issue(bulletin=bulletin, by=task_force)
                ticket.refresh_from_db()
            getattr(w, kind)[t] = bulletin


def _city_bulletins(w: World) -> None:
    """济宁市 (金乡县's city) and its supervisor; per town, a city bulletin issued naming the
    town's ticket (an event on the ticket, a receipt for 金乡县) and a draft naming it too."""
    city, _ = City.objects.get_or_create(code="370800000000", defaults={"name": "济宁市"})
    supervisor = {"role": Role.CITY_SUPERVISOR, "city": city, "county": None}
    w.city_supervisor = make_user("city_supervisor", supervisor)
    w.city_bulletin, w.city_draft = {}, {}
    for t in TOWNS:
        for kind in ("city_bulletin", "city_draft"):
            bulletin = city_services.city_bulletin_create(
                by=w.city_supervisor, title=f"关于{w.town[t].name}问题的市级通报"
            )
            city_services.city_bulletin_items_set(
                bulletin=bulletin, by=w.city_supervisor, tickets=[w.ticket[t]]
            )
            if kind == "city_bulletin":
                bulletin = city_services.city_bulletin_issue(
                    bulletin=bulletin, by=w.city_supervisor
                )
            getattr(w, kind)[t] = bulletin


def _people(w: World) -> None:
    w.person = {
        t: make_user(f"person_{t}", membership(Role.VILLAGE_ADMIN, w.spare_village[t]))
        for t in TOWNS
    }


def _tokens(w: World) -> None:
    w.token = {
        t: token_create(
            by=w.users["task_force"],
            name=f"矩阵测试系统 {t}",
            role=Role.VILLAGE_ADMIN,
            village=w.spare_village[t],
        )[0]
        for t in TOWNS
    }


def _photos(w: World) -> None:
    """Per kind of holder, the photo its town's object holds (the photo URLs' cases)."""
    w.photo = {
        "ticket": {t: w.ticket[t].before_photos.get() for t in TOWNS},
        "toilet": {
            t: TicketEvent.objects.get(toilet=w.toilet[t], action="report").photos.get()
            for t in TOWNS
        },
        "patrol": {t: w.patrol[t].photos.get() for t in TOWNS},
        "deduction": {t: w.deduction[t].photos.get() for t in TOWNS},
    }


def build_world() -> World:
    load_divisions()
    w = World()
    w.town = {"huji": Town.objects.get(code=HUJI_CODE), "jishu": Town.objects.get(code=JISHU_CODE)}
    first_two = {t: list(w.town[t].villages.administrative().order_by("code")[:2]) for t in TOWNS}
    w.village = {t: first_two[t][0] for t in TOWNS}  # 胡集村 is the village admin's
    w.spare_village = {t: first_two[t][1] for t in TOWNS}
    w.users = _named_users(w.town, w.village)
    deadline = timezone.localdate() + timedelta(days=10)
    _tickets(w, deadline)
    _notices(w, deadline)
    _sites(w)
    _rounds(w)
    _bulletins(w, deadline)
    _city_bulletins(w)
    _people(w)
    _tokens(w)
    _photos(w)
    return w


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    # PBKDF2 at full strength would cost ~0.3 s a user; photos go to a temporary MEDIA_ROOT.
    media = tmp_path_factory.mktemp("scope-media")
    hashers = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with (
        override_settings(MEDIA_ROOT=media, PASSWORD_HASHERS=hashers),
        django_db_blocker.unblock(),
        transaction.atomic(),
    ):
        yield build_world()
        transaction.set_rollback(True)


# --- the cases ------------------------------------------------------------------------------


def grid(text: str) -> dict[str, tuple[str, ...]]:
    """'tf=200/404 hjo=403 …' → {"task_force": ("200", "404"), "hj_officer": ("403",), …}."""
    cells = dict(cell.split("=") for cell in text.split())
    assert set(cells) == set(ROLES), f"a grid names every role: {text}"
    return {ROLES[key]: tuple(value.split("/")) for key, value in cells.items()}


def of(kind: str, field: str = "pk", name: str = "pk") -> Callable[[World, str], dict]:
    """URL kwargs {name: <the town's object of `kind`>.<field>}."""
    return lambda w, town: {name: getattr(getattr(w, kind)[town], field)}


def photo_of(kind: str) -> Callable[[World, str], dict]:
    """URL kwargs of the photo the town's holder of `kind` holds (World.photo)."""
    return lambda w, town: {"pk": w.photo[kind][town].pk}


def county(kind: str) -> Callable[[World, str], dict]:
    """URL kwargs of a county-wide object (a campaign, a round): the same for every town."""
    return lambda w, town: {"pk": getattr(w, kind).pk}


@dataclass(frozen=True)
class Case:
    expect: str  # the grid (see the module docstring)
    kwargs: Callable[[World, str], dict] | None = None
    method: str = "GET"
    query: Callable[[World, str], dict] | None = None  # GET parameters
    data: Callable[[World, str], dict] | None = None  # POST body
    state: Callable[[World, str], object] | None = None  # what a refused POST leaves alone
    content_type: str = HTML
    hides: str | None = None  # key of the detail case whose out-of-scope objects must not show
    mark: Callable[[World, str], str] | None = None  # how a detail case's object shows in lists

    @property
    def scoped(self) -> bool:
        return any(len(values) == 2 for values in grid(self.expect).values())

    def towns(self) -> tuple[str, ...]:
        return TOWNS if self.scoped or self.hides else ("-",)

    def expected(self, role: str, town: str) -> str:
        values = grid(self.expect)[role]
        return values[TOWNS.index(town)] if len(values) == 2 else values[0]


def ticket_state(w, town):
    ticket = RectificationTicket.objects.get(pk=w.ticket[town].pk)
    return ticket.state, TicketEvent.objects.filter(rectification=ticket).count()


def toilet_state(w, town):
    ticket = ToiletTicket.objects.get(pk=w.toilet[town].pk)
    return (
        ticket.state,
        ticket.assigned_worker_id,
        TicketEvent.objects.filter(toilet=ticket).count(),
    )


def site_state(w, town):
    site = WaterSite.objects.get(pk=w.site[town].pk)
    return site.state, site.token, Patrol.objects.filter(site=site).count()


def assessment_state(w, town):
    assessment = Assessment.objects.get(pk=w.assessment[town].pk)
    deductions = sorted(assessment.deductions.values_list("item_id", "count", "ticket_id"))
    return assessment.state, assessment.score, deductions, RectificationTicket.objects.count()


def import_state() -> tuple:
    """What the import page could write: households, divisions, sites, checklists."""
    return (
        Household.objects.count(),
        Town.objects.count(),
        Village.objects.count(),
        WaterSite.objects.count(),
        ChecklistTemplate.objects.count(),
    )


def outbox_state() -> list:
    fields = ("pk", "attempts", "claimed_at", "next_attempt_at", "outcome", "sent_at")
    return list(Outbox.objects.order_by("pk").values_list(*fields))


def person_state(w, town):
    """A person's account, roles and history, and how many people there are."""
    person = get_user_model().objects.get(pk=w.person[town].pk)
    return (
        person.is_active,
        person.password,
        sorted(Membership.objects.filter(user=person).values_list("role", "town", "village")),
        MembershipChange.objects.count(),
        get_user_model().objects.count(),
    )


def token_state(w, town):
    """The access tokens (revoked or not), their accounts and the audit of both."""
    tokens = AccessToken.objects.order_by("pk")
    return (
        list(tokens.values_list("pk", "revoked_at", "revoked_by", "user__is_active")),
        get_user_model().objects.count(),
        Membership.objects.count(),
        MembershipChange.objects.count(),
    )


def round_state(w, town):
    return Round.objects.get(pk=w.active_round.pk).state


def assessments_in_round(w, town):
    return Assessment.objects.filter(round=w.active_round).count()


def bulletin_state(kind: str) -> Callable[[World, str], object]:
    """The state of the town's bulletin of `kind` (bulletin, draft_bulletin) and its tickets."""

    def state(w, town):
        bulletin = Bulletin.objects.get(pk=getattr(w, kind)[town].pk)
        items = list(bulletin.items.order_by("position").values_list("ticket_id", "wording"))
        receipts = sorted(bulletin.receipts.values_list("town_id", "acknowledged_at"))
        tickets = RectificationTicket.objects.filter(bulletin_items__bulletin=bulletin)
        return (
            bulletin.state,
            bulletin.batch,
            bulletin.snapshot,
            items,
            receipts,
            sorted(tickets.values_list("pk", "state", "deadline")),
        )

    return state


def bulletin_mark(kind: str) -> Callable[[World, str], str]:
    return lambda w, t: reverse("bulletin_detail", args=[getattr(w, kind)[t].pk])


def city_bulletin_state(kind: str) -> Callable[[World, str], object]:
    """The town's city bulletin of `kind` (city_bulletin, city_draft), its items and receipts,
    and the events of the tickets it names."""

    def state(w, town):
        bulletin = CityBulletin.objects.get(pk=getattr(w, kind)[town].pk)
        items = list(bulletin.items.order_by("position").values_list("ticket_id", "wording"))
        receipts = sorted(bulletin.receipts.values_list("county_id", "acknowledged_at"))
        events = TicketEvent.objects.filter(rectification__city_bulletin_items__bulletin=bulletin)
        return bulletin.state, bulletin.batch, bulletin.snapshot, items, receipts, events.count()

    return state


def city_bulletin_mark(kind: str) -> Callable[[World, str], str]:
    return lambda w, t: reverse("city_bulletin_detail", args=[getattr(w, kind)[t].pk])


def city_bulletin_items(w, town):
    """A compose form saving the city draft's ticket with another wording."""
    pk = w.city_draft[town].items.get().ticket_id
    return {"ticket": [pk], "op": "save", f"wording_{pk}": "矩阵测试：市级改写"}


def notice_state(w, town):
    rows = Notification.objects.filter(document=w.notice[town]).values_list("user_id", "read_at")
    return sorted(rows)


def api_bulletin_mark(kind: str) -> Callable[[World, str], str]:
    # The API's bulletin rows begin with their id, then the year: no other object's do.
    return lambda w, t: f'"id": {getattr(w, kind)[t].pk}, "year"'


def api_city_bulletin_mark(kind: str) -> Callable[[World, str], str]:
    # The API's city bulletin rows begin with their id, the year, then the city: no other
    # object's do (a county bulletin's go on with its county).
    def mark(w, t):
        bulletin = getattr(w, kind)[t]
        return f'"id": {bulletin.pk}, "year": {bulletin.year}, "city_code"'

    return mark


def bulletin_items(w, town):
    """A compose form saving the draft's ticket with another wording."""
    pk = w.draft_bulletin[town].items.get().ticket_id
    return {"ticket": [pk], "op": "save", f"wording_{pk}": "矩阵测试：改写"}


EVERYONE = "tf=200 hjo=200 insp=200 tinsp=200 sw=200 va=200 nobody=200"
GRADE_VIEWERS = "tf=200 hjo=200 insp=200 tinsp=200 sw=403 va=403 nobody=403"
# A town (or village) object, seen by everyone with a membership there.
GEOGRAPHY = "tf=200/200 hjo=200/404 insp=200/200 tinsp=200/404 sw=200/200 va=200/404 nobody=404/404"
# Tickets, sites and patrols: task force, inspectors, town officers and village admins.
SITE_VIEWERS = (
    "tf=200/200 hjo=200/404 insp=200/200 tinsp=200/404 sw=404/404 va=200/404 nobody=404/404"
)
# Assessments, grades and notices: task force, inspectors and town officers.
GRADED = "tf=200/200 hjo=200/404 insp=200/200 tinsp=200/404 sw=404/404 va=404/404 nobody=404/404"
# Writes of an assessment: the task force and inspectors of the village's town.
ASSESSING = "tf=ok/ok hjo=403/404 insp=ok/ok tinsp=ok/404 sw=404/404 va=404/404 nobody=404/404"
TASK_FORCE = "tf=200 hjo=403 insp=403 tinsp=403 sw=403 va=403 nobody=403"
# A draft bulletin is the task force's only; a write to it likewise.
DRAFT = "tf=200/200 hjo=404/404 insp=404/404 tinsp=404/404 sw=404/404 va=404/404 nobody=404/404"
DRAFT_WRITE = "tf=ok/ok hjo=404/404 insp=404/404 tinsp=404/404 sw=404/404 va=404/404 nobody=404/404"
# Changing an issued bulletin: the task force is told it was issued (409), its readers 403.
ISSUED_WRITE = (
    "tf=409/409 hjo=403/404 insp=403/403 tinsp=403/404 sw=404/404 va=404/404 nobody=404/404"
)
# People and their roles: the county task force; no other role has people rights (403 first).
PEOPLE = "tf=200/200 hjo=403/403 insp=403/403 tinsp=403/403 sw=403/403 va=403/403 nobody=403/403"
PEOPLE_WRITE = (
    "tf=ok/ok hjo=403/403 insp=403/403 tinsp=403/403 sw=403/403 va=403/403 nobody=403/403"
)
# A city supervisor's page: no role of a county (tests/test_city.py checks his).
NOBODY_BUT_THE_CITY = "tf=403 hjo=403 insp=403 tinsp=403 sw=403 va=403 nobody=403"
# An issued city bulletin: the task force of a county it names, the officers of a named
# ticket's town; a draft, and any write of the city's, no county role (tests/test_city.py).
CITY_BULLETIN_READERS = (
    "tf=200/200 hjo=200/404 insp=404/404 tinsp=404/404 sw=404/404 va=404/404 nobody=404/404"
)
CITY_BULLETIN_REFUSED = (
    "tf=403/403 hjo=403/404 insp=404/404 tinsp=404/404 sw=404/404 va=404/404 nobody=404/404"
)
NOT_A_COUNTYS = (
    "tf=404/404 hjo=404/404 insp=404/404 tinsp=404/404 sw=404/404 va=404/404 nobody=404/404"
)
# The dashboard and rankings: the task force (county) and town officers (their towns).
DASHBOARD = "tf=200 hjo=200 insp=403 tinsp=403 sw=403 va=403 nobody=403"

# The API's actions on the world's assigned ticket and dispatched toilet job: a role that may not
# act, or a step the state does not allow now, is 403 with the reason; out of scope 404.
TICKET_NOT_NOW = (
    "tf=403/403 hjo=403/404 insp=403/403 tinsp=403/404 sw=404/404 va=403/404 nobody=404/404"
)
TOWN_STEP = "tf=403/403 hjo=ok/404 insp=403/403 tinsp=403/404 sw=404/404 va=403/404 nobody=404/404"
API_TICKET_ACTIONS = {
    "assign": TICKET_NOT_NOW,  # assigned already
    "submit": TOWN_STEP,
    "close": TICKET_NOT_NOW,
    "reject": TICKET_NOT_NOW,
    "request_extension": TOWN_STEP,
    "withdraw_extension": TICKET_NOT_NOW,
    "approve_extension": TICKET_NOT_NOW,
    "refuse_extension": TICKET_NOT_NOW,
    "cancel": (
        "tf=ok/ok hjo=403/404 insp=403/403 tinsp=403/404 sw=404/404 va=403/404 nobody=404/404"
    ),
}
TOILET_NOT_NOW = (
    "tf=403/403 hjo=403/404 insp=404/404 tinsp=404/404 sw=403/404 va=403/404 nobody=404/404"
)
API_TOILET_ACTIONS = {
    "dispatch": TOILET_NOT_NOW,  # dispatched already
    "accept": (
        "tf=403/403 hjo=403/404 insp=404/404 tinsp=404/404 sw=ok/404 va=403/404 nobody=404/404"
    ),
    "start": TOILET_NOT_NOW,
    "complete": TOILET_NOT_NOW,
    "confirm": TOILET_NOT_NOW,
    "reopen": TOILET_NOT_NOW,
    "return": "tf=ok/ok hjo=ok/404 insp=404/404 tinsp=404/404 sw=ok/404 va=403/404 nobody=404/404",
    "cancel": "tf=ok/ok hjo=ok/404 insp=404/404 tinsp=404/404 sw=403/404 va=403/404 nobody=404/404",
}

CASES: dict[str, Case] = {
    # --- villages ---
    "home": Case(EVERYONE, hides="town_detail"),
    "town_list": Case(EVERYONE, hides="town_detail"),
    "town_detail": Case(
        GEOGRAPHY, kwargs=of("town", "code", "code"), mark=lambda w, t: w.town[t].code
    ),
    "town_detail[name]": Case(  # how a town shows where its code does not (Excel exports)
        GEOGRAPHY, kwargs=of("town", "code", "code"), mark=lambda w, t: w.town[t].name
    ),
    "village_list": Case(
        EVERYONE, query=lambda w, t: {"q": w.village[t].name}, hides="village_detail"
    ),
    "village_detail": Case(
        GEOGRAPHY, kwargs=of("village", "code", "code"), mark=lambda w, t: w.village[t].code
    ),
    "import_template": Case(  # a blank register: the county task force's
        TASK_FORCE, kwargs=lambda w, t: {"kind": "households"}, content_type=XLSX
    ),
    # The import page: its POSTs without a file or a previewed token are told so (400).
    "import_list": Case(TASK_FORCE),
    "import_preview": Case(
        "tf=400 hjo=403 insp=403 tinsp=403 sw=403 va=403 nobody=403",
        kwargs=lambda w, t: {"kind": "households"},
        method="POST",
        state=lambda w, t: import_state(),
    ),
    "import_confirm": Case(
        "tf=400 hjo=403 insp=403 tinsp=403 sw=403 va=403 nobody=403",
        kwargs=lambda w, t: {"kind": "divisions"},
        method="POST",
        state=lambda w, t: import_state(),
    ),
    # The county's configuration: its task force's; a day no month lacks, or nothing (400).
    "county_settings": Case(TASK_FORCE),
    "county_settings[post]": Case(
        "tf=400 hjo=403 insp=403 tinsp=403 sw=403 va=403 nobody=403",
        method="POST",
        data=lambda w, t: {"patrol_reminder_day": "31"},
        state=lambda w, t: list(CountySettings.objects.values_list("pk", "patrol_reminder_day")),
    ),
    # --- people (the county task force's) ---
    "person_list": Case(TASK_FORCE, hides="person_detail"),
    "person_detail": Case(
        PEOPLE,
        kwargs=of("person"),
        mark=lambda w, t: reverse("person_detail", args=[w.person[t].pk]),
    ),
    "person_new": Case(TASK_FORCE),
    "person_new[post]": Case(
        "tf=303 hjo=403 insp=403 tinsp=403 sw=403 va=403 nobody=403",
        method="POST",
        data=lambda w, t: {
            "name": "矩阵测试",
            "username": "matrix_new",
            "role": Role.VILLAGE_ADMIN,
            "village": w.spare_village["huji"].code,
        },
        state=lambda w, t: person_state(w, "huji"),
    ),
    "person_role_add": Case(
        PEOPLE_WRITE,
        kwargs=of("person"),
        method="POST",
        data=lambda w, t: {"role": Role.INSPECTOR, "town": w.town[t].code},
        state=person_state,
    ),
    "person_role_remove": Case(
        PEOPLE_WRITE,
        kwargs=of("person"),
        method="POST",
        data=lambda w, t: {"membership": w.person[t].memberships.get().pk},
        state=person_state,
    ),
    "person_deactivate": Case(PEOPLE_WRITE, kwargs=of("person"), method="POST", state=person_state),
    "person_reactivate": Case(  # an active account: 409, already active
        "tf=409/409 hjo=403/403 insp=403/403 tinsp=403/403 sw=403/403 va=403/403 nobody=403/403",
        kwargs=of("person"),
        method="POST",
        state=person_state,
    ),
    "person_password_reset": Case(
        PEOPLE_WRITE, kwargs=of("person"), method="POST", state=person_state
    ),
    "person_import": Case(TASK_FORCE),
    "person_import[post]": Case(  # no file: the task force is told so (400)
        "tf=400 hjo=403 insp=403 tinsp=403 sw=403 va=403 nobody=403",
        method="POST",
        state=lambda w, t: person_state(w, "huji"),
    ),
    # Access tokens of other systems: a new one's secret is shown in the POST's answer (201).
    "token_list": Case(TASK_FORCE),
    "token_list[post]": Case(
        "tf=201 hjo=403 insp=403 tinsp=403 sw=403 va=403 nobody=403",
        method="POST",
        data=lambda w, t: {
            "name": "矩阵测试：新系统",
            "role": Role.VILLAGE_ADMIN,
            "village": w.spare_village["huji"].code,
            "days": "90",
        },
        state=token_state,
    ),
    "token_revoke": Case(
        PEOPLE_WRITE,
        kwargs=of("token"),
        method="POST",
        data=lambda w, t: {"confirm": "yes"},
        state=token_state,
    ),
    "password_change": Case(EVERYONE),
    # --- rectification tickets ---
    "ticket_list": Case(EVERYONE, hides="ticket_detail"),
    "ticket_new": Case(
        # The form offers the towns where the user may open a ticket, no other.
        "tf=200 hjo=200 insp=200 tinsp=200 sw=403 va=403 nobody=403",
        hides="town_detail",
    ),
    "ticket_new[post]": Case(
        # Another town's ticket is refused by the form (400), nothing stored.
        "tf=303/303 hjo=303/400 insp=303/303 tinsp=303/400 sw=403/403 va=403/403 nobody=403/403",
        method="POST",
        data=lambda w, t: {
            "town": w.town[t].code,
            "village": w.village[t].code,
            "description": "矩阵测试：路边堆放垃圾",
        },
        state=lambda w, t: RectificationTicket.objects.count(),
    ),
    "ticket_export": Case(EVERYONE, content_type=XLSX, hides="ticket_detail"),
    "ticket_detail": Case(
        SITE_VIEWERS,
        kwargs=of("ticket", "number", "number"),
        mark=lambda w, t: w.ticket[t].number,
    ),
    "ticket_action[cancel]": Case(
        "tf=ok/ok hjo=403/404 insp=403/403 tinsp=403/404 sw=404/404 va=403/404 nobody=404/404",
        kwargs=lambda w, t: {"number": w.ticket[t].number, "action": "cancel"},
        method="POST",
        data=lambda w, t: {"reason": "矩阵测试"},
        state=ticket_state,
    ),
    "ticket_action[submit]": Case(
        "tf=403/403 hjo=ok/404 insp=403/403 tinsp=403/404 sw=404/404 va=403/404 nobody=404/404",
        kwargs=lambda w, t: {"number": w.ticket[t].number, "action": "submit"},
        method="POST",
        data=lambda w, t: {"note": "已清理"},
        state=ticket_state,
    ),
    # --- toilet service tickets ---
    "toilet_list": Case(EVERYONE, hides="toilet_detail"),
    "toilet_new": Case("tf=200 hjo=200 insp=403 tinsp=403 sw=403 va=200 nobody=403"),
    "toilet_new[post]": Case(
        "tf=303/303 hjo=303/400 insp=403/403 tinsp=403/403 sw=403/403 va=303/400 nobody=403/403",
        method="POST",
        data=lambda w, t: {"household": w.household[t].pk, "kind": "repair", "channel": "phone"},
        state=lambda w, t: ToiletTicket.objects.count(),
    ),
    "toilet_export": Case(EVERYONE, content_type=XLSX, hides="toilet_detail"),
    "toilet_detail": Case(
        # The county-wide service worker sees the job dispatched to him (胡集镇's), no other.
        "tf=200/200 hjo=200/404 insp=404/404 tinsp=404/404 sw=200/404 va=200/404 nobody=404/404",
        kwargs=of("toilet", "number", "number"),
        mark=lambda w, t: w.toilet[t].number,
    ),
    "toilet_action[accept]": Case(
        "tf=403/403 hjo=403/404 insp=404/404 tinsp=404/404 sw=ok/404 va=403/404 nobody=404/404",
        kwargs=lambda w, t: {"number": w.toilet[t].number, "action": "accept"},
        method="POST",
        state=toilet_state,
    ),
    "toilet_action[cancel]": Case(
        "tf=ok/ok hjo=ok/404 insp=404/404 tinsp=404/404 sw=403/404 va=403/404 nobody=404/404",
        kwargs=lambda w, t: {"number": w.toilet[t].number, "action": "cancel"},
        method="POST",
        data=lambda w, t: {"reason": "矩阵测试"},
        state=toilet_state,
    ),
    # --- notices ---
    "notice_detail": Case(GRADED, kwargs=of("notice"), mark=lambda w, t: w.notice[t].number),
    "notice_detail[sla]": Case(
        # The worker named on an SLA notice reads it; village admins see no notices.
        "tf=200/200 hjo=200/404 insp=200/200 tinsp=200/404 sw=200/404 va=404/404 nobody=404/404",
        kwargs=of("sla_notice"),
        mark=lambda w, t: w.sla_notice[t].number,
    ),
    "notice_pdf": Case(GRADED, kwargs=of("notice"), content_type=PDF),
    "notification_list": Case(EVERYONE, hides="notice_detail"),
    "notification_list[sla]": Case(EVERYONE, hides="notice_detail[sla]"),
    "job_run_list": Case("tf=200 hjo=403 insp=403 tinsp=403 sw=403 va=403 nobody=403"),
    "health_jobs": Case(TASK_FORCE),
    "outbox_list": Case(TASK_FORCE),
    "outbox_requeue": Case(  # every row of the world's outbox, ticked
        "tf=303 hjo=403 insp=403 tinsp=403 sw=403 va=403 nobody=403",
        method="POST",
        data=lambda w, t: {"pk": list(Outbox.objects.values_list("pk", flat=True))},
        state=lambda w, t: outbox_state(),
    ),
    # --- water sites and patrols ---
    "scan": Case(SITE_VIEWERS, kwargs=of("site", "token", "token")),
    # The phone's day in the field: the pack names only sites and tickets of the user's scope.
    "field_home": Case(EVERYONE),
    "scan_shell": Case(EVERYONE),
    "field_me": Case(EVERYONE, content_type=JSON),
    "field_pack": Case(EVERYONE, content_type=JSON, hides="site_detail"),
    "field_pack[tickets]": Case(EVERYONE, content_type=JSON, hides="ticket_detail"),
    "scan[post]": Case(
        # An empty form: allowed patrollers get 400, a village admin may look but not patrol.
        "tf=ok/ok hjo=ok/404 insp=ok/ok tinsp=ok/404 sw=404/404 va=403/404 nobody=404/404",
        kwargs=of("site", "token", "token"),
        method="POST",
        state=site_state,
    ),
    "patrol_detail": Case(SITE_VIEWERS, kwargs=of("patrol")),
    "site_list": Case(EVERYONE, hides="site_detail"),
    "site_coverage": Case(GRADE_VIEWERS, hides="site_detail"),
    "site_map": Case(GRADE_VIEWERS, hides="town_detail"),
    "site_geojson": Case(GRADE_VIEWERS, content_type=GEOJSON, hides="site_detail"),
    "village_geojson": Case(GRADE_VIEWERS, content_type=GEOJSON),
    "site_labels": Case(
        "tf=200/200 hjo=200/404 insp=403/403 tinsp=403/403 sw=403/403 va=403/403 nobody=403/403",
        query=lambda w, t: {"town": w.town[t].code},
        content_type=PDF,
    ),
    "site_detail": Case(
        SITE_VIEWERS, kwargs=of("site", "code", "code"), mark=lambda w, t: w.site[t].code
    ),
    "site_action[delist]": Case(
        "tf=ok/ok hjo=403/404 insp=403/403 tinsp=403/404 sw=404/404 va=403/404 nobody=404/404",
        kwargs=lambda w, t: {"code": w.site[t].code, "action": "delist"},
        method="POST",
        state=site_state,
    ),
    "site_action[rotate_token]": Case(
        "tf=ok/ok hjo=ok/404 insp=403/403 tinsp=403/404 sw=404/404 va=403/404 nobody=404/404",
        kwargs=lambda w, t: {"code": w.site[t].code, "action": "rotate_token"},
        method="POST",
        state=site_state,
    ),
    # --- campaigns, rounds, assessments ---
    "campaign_list": Case(GRADE_VIEWERS),
    "campaign_detail": Case(
        GRADE_VIEWERS,
        kwargs=county("campaign"),
        query=lambda w, t: {"town": w.town[t].code},
        hides="assessment_detail",
    ),
    "round_detail": Case(GRADE_VIEWERS, kwargs=county("active_round"), hides="assessment_detail"),
    "round_action[close]": Case(
        "tf=ok hjo=403 insp=403 tinsp=403 sw=403 va=403 nobody=403",
        kwargs=lambda w, t: {"pk": w.active_round.pk, "action": "close"},
        method="POST",
        state=round_state,
    ),
    "assessment_start": Case(
        "tf=200 hjo=403 insp=200 tinsp=200 sw=403 va=403 nobody=403",
        kwargs=county("active_round"),
        hides="village_grades",
    ),
    "assessment_start[post]": Case(
        "tf=ok/ok hjo=403/403 insp=ok/ok tinsp=ok/400 sw=403/403 va=403/403 nobody=403/403",
        kwargs=county("active_round"),
        method="POST",
        data=lambda w, t: {"village": w.spare_village[t].code},
        state=assessments_in_round,
    ),
    "assessment_detail": Case(
        GRADED,
        kwargs=of("assessment"),
        mark=lambda w, t: reverse("assessment_detail", args=[w.assessment[t].pk]),
    ),
    "assessment_action[submit]": Case(
        ASSESSING,
        kwargs=lambda w, t: {"pk": w.assessment[t].pk, "action": "submit"},
        method="POST",
        state=assessment_state,
    ),
    "assessment_action[approve]": Case(
        "tf=ok/ok hjo=403/404 insp=403/403 tinsp=403/404 sw=404/404 va=404/404 nobody=404/404",
        kwargs=lambda w, t: {"pk": w.assessment[t].pk, "action": "approve"},
        method="POST",
        state=assessment_state,
    ),
    "deduction_save": Case(
        ASSESSING,
        kwargs=lambda w, t: {"pk": w.assessment[t].pk, "item": w.item.pk},
        method="POST",
        data=lambda w, t: {"count": "3", "note": "矩阵测试"},
        state=assessment_state,
    ),
    "deduction_ticket": Case(
        ASSESSING, kwargs=of("deduction"), method="POST", state=assessment_state
    ),
    # --- grades ---
    "grades_home": Case(GRADE_VIEWERS),
    "campaign_grades": Case(GRADE_VIEWERS, kwargs=county("campaign"), hides="village_grades"),
    "round_grades": Case(GRADE_VIEWERS, kwargs=county("published_round"), hides="village_grades"),
    "round_grades_pdf": Case(GRADE_VIEWERS, kwargs=county("published_round"), content_type=PDF),
    "round_grades_xlsx": Case(
        GRADE_VIEWERS, kwargs=county("published_round"), content_type=XLSX, hides="village_grades"
    ),
    "village_grades": Case(
        "tf=200/200 hjo=200/404 insp=200/200 tinsp=200/404 sw=403/403 va=403/403 nobody=403/403",
        kwargs=of("village", "code", "code"),
        mark=lambda w, t: w.village[t].code,
    ),
    # --- bulletins ---
    "bulletin_list": Case(EVERYONE, hides="bulletin_detail"),
    "bulletin_list[draft]": Case(EVERYONE, hides="bulletin_detail[draft]"),
    "bulletin_new": Case(TASK_FORCE),
    "bulletin_new[post]": Case(
        "tf=303 hjo=403 insp=403 tinsp=403 sw=403 va=403 nobody=403",
        method="POST",
        data=lambda w, t: {
            "kind": "problems",
            "title": "矩阵测试通报",
            "default_deadline": (timezone.localdate() + timedelta(days=10)).isoformat(),
        },
        state=lambda w, t: Bulletin.objects.count(),
    ),
    "bulletin_detail": Case(
        # Issued: the task force, and the inspectors and officers of the towns it is sent to.
        GRADED,
        kwargs=of("bulletin"),
        mark=bulletin_mark("bulletin"),
    ),
    "bulletin_detail[draft]": Case(
        DRAFT, kwargs=of("draft_bulletin"), mark=bulletin_mark("draft_bulletin")
    ),
    "bulletin_compose": Case(DRAFT, kwargs=of("draft_bulletin")),
    "bulletin_compose[post]": Case(
        DRAFT_WRITE,
        kwargs=of("draft_bulletin"),
        method="POST",
        data=bulletin_items,
        state=bulletin_state("draft_bulletin"),
    ),
    "bulletin_compose[issued]": Case(
        ISSUED_WRITE,
        kwargs=of("bulletin"),
        method="POST",
        data=lambda w, t: {"op": "save"},
        state=bulletin_state("bulletin"),
    ),
    "bulletin_issue": Case(
        DRAFT_WRITE,
        kwargs=of("draft_bulletin"),
        method="POST",
        state=bulletin_state("draft_bulletin"),
    ),
    "bulletin_issue[issued]": Case(
        ISSUED_WRITE, kwargs=of("bulletin"), method="POST", state=bulletin_state("bulletin")
    ),
    "bulletin_acknowledge": Case(
        # A town officer of a recipient town; the others who read it may not (403).
        "tf=403/403 hjo=ok/404 insp=403/403 tinsp=403/404 sw=404/404 va=404/404 nobody=404/404",
        kwargs=of("bulletin"),
        method="POST",
        state=bulletin_state("bulletin"),
    ),
    "bulletin_acknowledge[draft]": Case(
        "tf=403/403 hjo=404/404 insp=404/404 tinsp=404/404 sw=404/404 va=404/404 nobody=404/404",
        kwargs=of("draft_bulletin"),
        method="POST",
        state=bulletin_state("draft_bulletin"),
    ),
    "bulletin_pdf": Case(GRADED, kwargs=of("bulletin"), content_type=PDF),
    "bulletin_pdf[draft]": Case(DRAFT, kwargs=of("draft_bulletin"), content_type=PDF),
    "bulletin_follow_up_pdf": Case(GRADED, kwargs=of("bulletin"), content_type=PDF),
    "bulletin_follow_up_pdf[draft]": Case(  # a draft has no follow-up yet
        "tf=404/404 hjo=404/404 insp=404/404 tinsp=404/404 sw=404/404 va=404/404 nobody=404/404",
        kwargs=of("draft_bulletin"),
    ),
    # --- evidence photos: whoever sees what holds a photo sees it, no one else (the grid of
    # its holder's page); other kinds of holder (steps, bulletins) in test_photo_access.py ---
    "photo_display": Case(SITE_VIEWERS, kwargs=photo_of("ticket"), content_type=JPEG),
    "photo_thumbnail": Case(SITE_VIEWERS, kwargs=photo_of("ticket"), content_type=JPEG),
    "photo_print": Case(SITE_VIEWERS, kwargs=photo_of("ticket"), content_type=JPEG),
    "photo_display[toilet]": Case(
        "tf=200/200 hjo=200/404 insp=404/404 tinsp=404/404 sw=200/404 va=200/404 nobody=404/404",
        kwargs=photo_of("toilet"),
        content_type=JPEG,
    ),
    "photo_display[patrol]": Case(SITE_VIEWERS, kwargs=photo_of("patrol"), content_type=JPEG),
    "photo_thumbnail[deduction]": Case(GRADED, kwargs=photo_of("deduction"), content_type=JPEG),
    # --- the dashboard ---
    "dashboard": Case(DASHBOARD, hides="town_detail"),
    "town_rankings": Case(DASHBOARD, hides="town_detail"),
    "town_rankings_xlsx": Case(DASHBOARD, content_type=XLSX, hides="town_detail[name]"),
    # The city dashboard: the city supervisor's (tests/test_city.py), no county role's.
    "city_dashboard": Case(NOBODY_BUT_THE_CITY),
    # --- city bulletins (市级通报): composed and issued by the city supervisor (tests/test_city.py
    # and tests/workflows/test_city_bulletins.py send these as him); an issued one is read by
    # the task force of a county it names and the officers of a named ticket's town ---
    "city_bulletin_list": Case(EVERYONE, hides="city_bulletin_detail"),
    "city_bulletin_list[unissued]": Case(EVERYONE, hides="city_bulletin_detail[unissued]"),
    "city_bulletin_new": Case(NOBODY_BUT_THE_CITY),
    "city_bulletin_new[post]": Case(
        NOBODY_BUT_THE_CITY,
        method="POST",
        data=lambda w, t: {"title": "矩阵测试市级通报"},
        state=lambda w, t: CityBulletin.objects.count(),
    ),
    "city_bulletin_detail": Case(
        CITY_BULLETIN_READERS,
        kwargs=of("city_bulletin"),
        mark=city_bulletin_mark("city_bulletin"),
    ),
    "city_bulletin_detail[unissued]": Case(  # a draft is the city's only
        NOT_A_COUNTYS,
        kwargs=of("city_draft"),
        mark=city_bulletin_mark("city_draft"),
    ),
    "city_bulletin_pdf": Case(CITY_BULLETIN_READERS, kwargs=of("city_bulletin"), content_type=PDF),
    "city_bulletin_pdf[unissued]": Case(NOT_A_COUNTYS, kwargs=of("city_draft"), content_type=PDF),
    "city_bulletin_compose": Case(NOT_A_COUNTYS, kwargs=of("city_draft")),
    "city_bulletin_compose[post]": Case(
        NOT_A_COUNTYS,
        kwargs=of("city_draft"),
        method="POST",
        data=city_bulletin_items,
        state=city_bulletin_state("city_draft"),
    ),
    "city_bulletin_compose[issued]": Case(  # its readers may not compose (403)
        CITY_BULLETIN_REFUSED,
        kwargs=of("city_bulletin"),
        method="POST",
        data=lambda w, t: {"op": "save"},
        state=city_bulletin_state("city_bulletin"),
    ),
    "city_bulletin_issue": Case(
        NOT_A_COUNTYS,
        kwargs=of("city_draft"),
        method="POST",
        state=city_bulletin_state("city_draft"),
    ),
    "city_bulletin_issue[issued]": Case(
        CITY_BULLETIN_REFUSED,
        kwargs=of("city_bulletin"),
        method="POST",
        state=city_bulletin_state("city_bulletin"),
    ),
    "city_bulletin_acknowledge": Case(  # a named county's task force
        "tf=ok/ok hjo=403/404 insp=404/404 tinsp=404/404 sw=404/404 va=404/404 nobody=404/404",
        kwargs=of("city_bulletin"),
        method="POST",
        state=city_bulletin_state("city_bulletin"),
    ),
    "city_bulletin_acknowledge[unissued]": Case(
        NOT_A_COUNTYS,
        kwargs=of("city_draft"),
        method="POST",
        state=city_bulletin_state("city_draft"),
    ),
    # --- the JSON API (/api/v1/): the pages' scope, with the API's own answers (201 created,
    # 403 with the reason for an action the role or the state refuses) ---
    "api-v1:town_list": Case(EVERYONE, content_type=JSON, hides="api-v1:town_detail"),
    "api-v1:town_detail": Case(
        GEOGRAPHY,
        kwargs=of("town", "code", "code"),
        content_type=JSON,
        mark=lambda w, t: w.town[t].code,
    ),
    "api-v1:village_list": Case(
        EVERYONE,
        query=lambda w, t: {"q": w.village[t].name},
        content_type=JSON,
        hides="api-v1:village_detail",
    ),
    "api-v1:village_detail": Case(
        GEOGRAPHY,
        kwargs=of("village", "code", "code"),
        content_type=JSON,
        mark=lambda w, t: w.village[t].code,
    ),
    "api-v1:ticket_list": Case(EVERYONE, content_type=JSON, hides="api-v1:ticket_detail"),
    "api-v1:ticket_new": Case(
        # Another town's ticket is refused by the form (400), nothing stored.
        "tf=201/201 hjo=201/400 insp=201/201 tinsp=201/400 sw=403/403 va=403/403 nobody=403/403",
        method="POST",
        data=lambda w, t: {
            "town": w.town[t].code,
            "village": w.village[t].code,
            "description": "矩阵测试：路边堆放垃圾",
        },
        state=lambda w, t: RectificationTicket.objects.count(),
        content_type=JSON,
    ),
    "api-v1:ticket_detail": Case(
        SITE_VIEWERS,
        kwargs=of("ticket", "number", "number"),
        content_type=JSON,
        mark=lambda w, t: w.ticket[t].number,
    ),
    **{
        f"api-v1:tickets_{action}": Case(
            expect,
            kwargs=of("ticket", "number", "number"),
            method="POST",
            data=lambda w, t: {
                "state": "assigned",
                "reason": "矩阵测试",
                "note": "矩阵测试",
                "new_deadline": (timezone.localdate() + timedelta(days=60)).isoformat(),
            },
            state=ticket_state,
            content_type=JSON,
        )
        for action, expect in API_TICKET_ACTIONS.items()
    },
    "api-v1:api_site_list": Case(EVERYONE, content_type=JSON, hides="api-v1:api_site_detail"),
    "api-v1:api_site_detail": Case(
        SITE_VIEWERS,
        kwargs=of("site", "code", "code"),
        content_type=JSON,
        mark=lambda w, t: w.site[t].code,
    ),
    "api-v1:api_site_patrols": Case(
        SITE_VIEWERS, kwargs=of("site", "code", "code"), content_type=JSON
    ),
    "api-v1:api_site_patrols[post]": Case(
        # An empty form: allowed patrollers get 400, a village admin may look but not patrol.
        "tf=ok/ok hjo=ok/404 insp=ok/ok tinsp=ok/404 sw=404/404 va=403/404 nobody=404/404",
        kwargs=of("site", "code", "code"),
        method="POST",
        state=site_state,
        content_type=JSON,
    ),
    "api-v1:api_round_list": Case(GRADE_VIEWERS, content_type=JSON),
    "api-v1:api_round_detail": Case(
        GRADE_VIEWERS, kwargs=county("published_round"), content_type=JSON
    ),
    "api-v1:api_round_grades": Case(
        GRADE_VIEWERS,
        kwargs=county("published_round"),
        content_type=JSON,
        hides="village_grades",
    ),
    "api-v1:api_bulletin_list": Case(
        EVERYONE, content_type=JSON, hides="api-v1:api_bulletin_detail"
    ),
    "api-v1:api_bulletin_list[draft]": Case(
        EVERYONE, content_type=JSON, hides="api-v1:api_bulletin_detail[draft]"
    ),
    "api-v1:api_bulletin_detail": Case(
        GRADED, kwargs=of("bulletin"), content_type=JSON, mark=api_bulletin_mark("bulletin")
    ),
    "api-v1:api_bulletin_detail[draft]": Case(
        DRAFT,
        kwargs=of("draft_bulletin"),
        content_type=JSON,
        mark=api_bulletin_mark("draft_bulletin"),
    ),
    "api-v1:api_bulletin_acknowledge": Case(
        "tf=403/403 hjo=ok/404 insp=403/403 tinsp=403/404 sw=404/404 va=404/404 nobody=404/404",
        kwargs=of("bulletin"),
        method="POST",
        state=bulletin_state("bulletin"),
        content_type=JSON,
    ),
    # City bulletins (市级通报), read as on their pages (an issued one by the task force of a
    # named county and the officers of a named ticket's town, a draft by the city only: the
    # city supervisor's cases are tests/test_city.py's), acknowledged by the named county.
    "api-v1:api_city_bulletin_list": Case(
        EVERYONE, content_type=JSON, hides="api-v1:api_city_bulletin_detail"
    ),
    "api-v1:api_city_bulletin_list[unissued]": Case(
        EVERYONE, content_type=JSON, hides="api-v1:api_city_bulletin_detail[unissued]"
    ),
    "api-v1:api_city_bulletin_detail": Case(
        CITY_BULLETIN_READERS,
        kwargs=of("city_bulletin"),
        content_type=JSON,
        mark=api_city_bulletin_mark("city_bulletin"),
    ),
    "api-v1:api_city_bulletin_detail[unissued]": Case(
        NOT_A_COUNTYS,
        kwargs=of("city_draft"),
        content_type=JSON,
        mark=api_city_bulletin_mark("city_draft"),
    ),
    "api-v1:api_city_bulletin_acknowledge": Case(  # a named county's task force
        "tf=ok/ok hjo=403/404 insp=404/404 tinsp=404/404 sw=404/404 va=404/404 nobody=404/404",
        kwargs=of("city_bulletin"),
        method="POST",
        state=city_bulletin_state("city_bulletin"),
        content_type=JSON,
    ),
    "api-v1:api_city_bulletin_acknowledge[unissued]": Case(
        NOT_A_COUNTYS,
        kwargs=of("city_draft"),
        method="POST",
        state=city_bulletin_state("city_draft"),
        content_type=JSON,
    ),
    "api-v1:api_notice_list": Case(EVERYONE, content_type=JSON, hides="api-v1:api_notice_detail"),
    "api-v1:api_notice_detail": Case(
        GRADED, kwargs=of("notice"), content_type=JSON, mark=lambda w, t: w.notice[t].number
    ),
    "api-v1:api_notice_acknowledge": Case(
        # The town officer it was sent to; whoever else reads it may not (403).
        "tf=403/403 hjo=ok/404 insp=403/403 tinsp=403/404 sw=404/404 va=404/404 nobody=404/404",
        kwargs=of("notice"),
        method="POST",
        state=notice_state,
        content_type=JSON,
    ),
    "api-v1:toilet_list": Case(EVERYONE, content_type=JSON, hides="api-v1:toilet_detail"),
    "api-v1:toilet_new": Case(
        "tf=201/201 hjo=201/400 insp=403/403 tinsp=403/403 sw=403/403 va=201/400 nobody=403/403",
        method="POST",
        data=lambda w, t: {"household": w.household[t].pk, "kind": "repair", "channel": "phone"},
        state=lambda w, t: ToiletTicket.objects.count(),
        content_type=JSON,
    ),
    "api-v1:toilet_detail": Case(
        "tf=200/200 hjo=200/404 insp=404/404 tinsp=404/404 sw=200/404 va=200/404 nobody=404/404",
        kwargs=of("toilet", "number", "number"),
        content_type=JSON,
        mark=lambda w, t: w.toilet[t].number,
    ),
    **{
        f"api-v1:toilet_{action}": Case(
            expect,
            kwargs=of("toilet", "number", "number"),
            method="POST",
            data=lambda w, t: {"state": "dispatched", "reason": "矩阵测试"},
            state=toilet_state,
            content_type=JSON,
        )
        for action, expect in API_TOILET_ACTIONS.items()
    },
}


def url_name(key: str) -> str:
    """`ticket_action[cancel]` → `ticket_action`: a URL may have several cases."""
    return key.split("[")[0]


# --- every URL is in the matrix -------------------------------------------------------------


def project_url_names() -> tuple[set[str], list[str]]:
    """(named URLs of the project, unnamed patterns of project views) over the whole URL conf."""
    names: set[str] = set()
    unnamed: list[str] = []

    def walk(patterns, prefix: str, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace == "admin":
                    continue
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
                continue
            assert isinstance(pattern, URLPattern), pattern
            module = getattr(pattern.callback, "__module__", "")
            ours = module.split(".")[0] in PROJECT_APPS
            if pattern.name:
                name = namespace + pattern.name  # the API's names are "api-v1:…"
                if name not in NOT_OURS | PUBLIC | OPEN311:
                    names.add(name)
            elif ours:
                unnamed.append(prefix + str(pattern.pattern))

    walk(get_resolver().url_patterns, "/", "")
    return names, unnamed


def test_every_url_of_the_project_is_in_the_matrix():
    names, unnamed = project_url_names()
    covered = {url_name(key) for key in CASES}
    missing, gone = sorted(names - covered), sorted(covered - names)
    assert not missing, f"URLs missing from CASES (add a Case for each): {missing}"
    assert not gone, f"CASES for URLs that no longer exist: {gone}"
    assert not unnamed, f"unnamed URL patterns of project views, not in the matrix: {unnamed}"


def test_the_matrix_is_well_formed():
    for key, case in CASES.items():
        assert grid(case.expect), key
        if case.hides:
            assert CASES[case.hides].mark is not None, f"{key}: {case.hides} has no mark"
        if case.method == "POST":
            assert case.state is not None, f"{key}: a POST case checks the state"
        if case.scoped:
            assert case.kwargs or case.query or case.data, f"{key}: own/other of what?"


# --- requests -------------------------------------------------------------------------------


def _url(case: Case, key: str, w: World, town: str) -> str:
    kwargs = case.kwargs(w, town) if case.kwargs else None
    return reverse(url_name(key), kwargs=kwargs)


def _send(client, case: Case, key: str, w: World, town: str):
    """(response, its body, the full path requested). A file response is read to the end,
    which closes its file."""
    town = town if town != "-" else "huji"  # a page without a town: any object will do
    url = _url(case, key, w, town)
    if case.method == "GET":
        query = case.query(w, town) if case.query else {}
        response = client.get(url, query)
        url += f"?{urlencode(query)}" if query else ""
    else:
        response = client.post(url, case.data(w, town) if case.data else {})
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body, url


def text_of(response, body: bytes) -> str:
    """What a list shows: the page, the JSON, or the cells of an Excel export."""
    if response["Content-Type"].startswith(XLSX):
        with zipfile.ZipFile(io.BytesIO(body)) as book:
            xml = [book.read(name) for name in book.namelist() if name.endswith(".xml")]
        # Character references resolved: openpyxl writes through lxml (when installed) in
        # ASCII, every Chinese character as &#NNNNN;, which a search of the bytes never finds.
        return html.unescape(b"".join(xml).decode())
    return body.decode()


def _params(roles):
    return [
        pytest.param(key, role, town, id=f"{key}-{role}-{town}")
        for key, case in CASES.items()
        for role in roles
        for town in case.towns()
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(("key", "role", "town"), _params(["anonymous"]))
def test_anonymous_is_sent_to_login(client, world, key, role, town):
    response, _body, full_path = _send(client, CASES[key], key, world, town)
    if key.startswith(API):  # another system is told to authenticate, not sent to a page
        assert response.status_code == 401
        assert response.json()["detail"]
        return

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == resolve_url("login")
    assert parse_qs(location.query)["next"] == [full_path]


@pytest.mark.django_db
@pytest.mark.parametrize(("key", "role", "town"), _params(ROLES.values()))
def test_scope(client, world, key, role, town):
    case = CASES[key]
    expected = case.expected(role, town if town != "-" else "huji")
    before = case.state(world, town) if case.state else None
    client.force_login(world.users[role])

    response, body, _path = _send(client, case, key, world, town)

    status = response.status_code
    if expected == "ok":
        assert status not in (403, 404), f"{role} may {key}: got {status}"
    else:
        assert status == int(expected), f"{role} {case.method} {key} ({town}): got {status}"
    if expected == "200":
        assert response["Content-Type"].startswith(case.content_type)
    if case.method == "POST" and expected in REFUSED:
        assert case.state(world, town) == before, f"a refused {key} changed something"
    if case.hides and status == 200:
        _assert_hidden(case, role, town, world, text_of(response, body))


def _assert_hidden(case: Case, role: str, town: str, w: World, text: str) -> None:
    detail = CASES[case.hides]
    if detail.expected(role, town) not in ("403", "404"):
        return  # the role may see the object: whether a list shows it is the list's business
    mark = detail.mark(w, town)
    assert mark not in text, f"{role} sees {mark} of {town}, out of scope"


@pytest.mark.django_db
@pytest.mark.parametrize("key", [key for key, case in CASES.items() if case.hides])
def test_the_hidden_check_is_not_vacuous(client, world, key):
    """Someone who may see 胡集镇's object finds its mark in the list: were the mark never
    shown, `test_scope` could not notice a list that leaks another town's objects."""
    case, detail = CASES[key], CASES[CASES[key].hides]
    mark = detail.mark(world, "huji")
    for role in ROLES.values():
        if case.expected(role, "huji") == detail.expected(role, "huji") == "200":
            client.force_login(world.users[role])
            response, body, _path = _send(client, case, key, world, "huji")
            if mark in text_of(response, body):
                return
    if "city_bulletin" in key:  # a city draft: no county role's, the city's own
        client.force_login(world.city_supervisor)
        response, body, _path = _send(client, case, key, world, "huji")
        if mark in text_of(response, body):
            return
    pytest.fail(f"no role that may see {mark} finds it in {key}")
