"""Bad input at every form of the project (issue 8 § 3): each gets a clear message and a 4xx,
nothing is stored, never a 500.

The table is generated from the forms' fields rather than written out per case: FORMS gives each
form its URL, who fills it in, a body that works, and its fields with their kind; `mutations()`
turns a kind into the bad values it must survive (missing, blank, too long, NUL, wrong type, out
of range, forged choice, unknown or non-numeric ID, forged hidden state) with what must happen to
each. Text that is allowed to carry a script is accepted and then must come back escaped on the
page that shows it. Beside the table: CSRF missing on every POST of the scope matrix, forged
transition names, tampered object IDs in URLs, garbage query strings on every GET page, and
hypothesis-generated bodies for the two forms that take most free text from phones.

Files (wrong types, bombs, truncated photos) are tests/test_bad_uploads.py; the 100 MB request is
tests/test_request_size.py; another town's objects are tests/test_scope_matrix.py, whose world
(two towns with an object of each kind) this module reuses.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspections.grading import services as assessment_services
from inspections.models import Assessment, Deduction, Patrol
from tests import test_scope_matrix
from tests.factories import HUJI_CODE, make_user
from tests.inspections.conftest import HUJI_SITE, camera_upload
from tests.test_scope_matrix import CASES, World, url_name
from tests.workflows.conftest import jpeg_upload
from villages.models import (
    AccessToken,
    City,
    Membership,
    MembershipChange,
    Person,
    Role,
    city_code_of,
)
from workflows.evidence.services import evidence_photo_create
from workflows.models import (
    Bulletin,
    CityBulletin,
    EvidencePhoto,
    RectificationTicket,
    TicketEvent,
    ToiletTicket,
)
from workflows.tickets import forms as workflow_forms
from workflows.tickets import selectors, services

pytestmark = pytest.mark.django_db

# The matrix's world (two towns, an object of each kind), built once for this module too.
world = test_scope_matrix.world

SCRIPT = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert("
MISSING = object()  # the field is left out of the body
LONG = "长" * 100_000  # 300 KB of UTF-8: far over every limit, under the request limit


def shown(msgid: str) -> str:
    with translation.override("zh-hans"):
        return gettext(msgid)


# --- the forms ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """kind: text, date, future_date, number, choice, id, uuid, state, photos, file, username,
    mobile."""

    name: str
    kind: str
    required: bool = True
    max_length: int | None = None
    low: str | None = None  # a number just under the field's minimum


@dataclass
class Target:
    """What a test acts on: the URL, who posts, and the object behind it (for its state)."""

    url: str
    user: object
    obj: object = None


@dataclass(frozen=True)
class Form:
    key: str  # the scope-matrix URL name (with its [variant]) this form is posted to
    target: Callable[[World], Target]  # builds a fresh object in the right state
    data: Callable[[World, Target], dict]  # a body that works
    fields: tuple[Field, ...]
    state: Callable[[World, Target], object]  # what a refused POST must leave alone
    shows_text: tuple[str, ...] = field(default=())  # fields whose script must come back escaped
    # Where they show, when not on the page the accepted form leads to (its 303).
    shown_on: Callable[[], str] | None = None
    accepted: int = 303  # 201: the answer is the page itself (a new token's secret, shown once)


def everything(w: World, t: Target) -> tuple:
    """Counts of everything a form could store: a refused POST changes none of them."""
    return (
        RectificationTicket.objects.count(),
        ToiletTicket.objects.count(),
        TicketEvent.objects.count(),
        EvidencePhoto.objects.count(),
        Patrol.objects.count(),
        Assessment.objects.count(),
        sorted(Deduction.objects.values_list("pk", "count", "note")),
        Bulletin.objects.count(),
        CityBulletin.objects.count(),
        sorted(RectificationTicket.objects.values_list("pk", "state", "deadline")),
        sorted(ToiletTicket.objects.values_list("pk", "state", "assigned_worker_id")),
    )


def _photo(user):
    return evidence_photo_create(file=jpeg_upload(), uploaded_by=user)


def _rectification(w: World, state: str) -> RectificationTicket:
    """A fresh ticket of 胡集镇 in `state`, taken there through the services."""
    inspector, task_force, officer = (
        w.users["inspector"],
        w.users["task_force"],
        w.users["hj_officer"],
    )
    ticket = services.rectification_create(
        by=inspector,
        town=w.town["huji"],
        village=w.village["huji"],
        description="河道岸边堆放生活垃圾",
        source_kind="patrol",
        before_photos=[_photo(inspector)],
    )
    if state == "draft":
        return ticket
    deadline = timezone.localdate() + timedelta(days=10)
    ticket = services.rectification_assign(ticket=ticket, by=task_force, deadline=deadline)
    if state == "extension":
        return services.rectification_request_extension(
            ticket=ticket, by=officer, new_deadline=deadline + timedelta(days=5), reason="雨季"
        )
    if state == "submitted":
        return services.rectification_submit(
            ticket=ticket, by=officer, note="已清理", photos=[_photo(officer)]
        )
    return ticket


def _toilet(w: World, state: str) -> ToiletTicket:
    task_force, worker = w.users["task_force"], w.users["service_worker"]
    ticket = services.toilet_report(
        by=w.users["village_admin"],
        household=w.household["huji"],
        kind="pumping",
        channel="village_admin",
    )
    if state == "reported":
        return ticket
    ticket = services.toilet_dispatch(ticket=ticket, by=task_force, worker=worker)
    if state == "dispatched":
        return ticket
    services.toilet_accept(ticket=ticket, by=worker)
    ticket = services.toilet_start(ticket=ticket, by=worker)
    if state == "in_service":
        return ticket
    return services.toilet_complete(
        ticket=ticket,
        by=worker,
        photos=[_photo(worker)],
        volume_m3=Decimal("2.5"),
        disposal_site="县污水处理厂",
    )


def _actor(w: World, ticket, action: str):
    """The first named user who may take `action` on `ticket` now."""
    for user in w.users.values():
        if action in {rule.name for rule in selectors.available_actions(user=user, ticket=ticket)}:
            return user
    raise AssertionError(f"nobody in the world may {action} {ticket}")


def ticket_action(kind: str, state: str, action: str) -> Callable[[World], Target]:
    def target(w: World) -> Target:
        ticket = _rectification(w, state) if kind == "ticket" else _toilet(w, state)
        url = reverse(f"{kind}_action", args=[ticket.number, action])
        return Target(url, _actor(w, ticket, action), ticket)

    return target


def with_state(extra: Callable[[World, Target], dict] | dict | None = None):
    """An action form's body: the hidden state the page was rendered with, plus `extra`."""

    def data(w: World, t: Target) -> dict:
        body = extra(w, t) if callable(extra) else dict(extra or {})
        return {"state": t.obj.state, **body}

    return data


def _in_days(days: int) -> str:
    return (timezone.localdate() + timedelta(days=days)).isoformat()


STATE = Field("state", "state")
REASON = Field("reason", "text", max_length=2000)
NOTE = Field("note", "text", required=False, max_length=2000)
PHOTOS = Field("photos", "photos")


def _new_ticket(w: World) -> Target:
    return Target(reverse("ticket_new"), w.users["task_force"])


def _scan(w: World) -> Target:
    site = w.site["huji"]
    return Target(reverse("scan", args=[site.token]), w.users["inspector"], site)


def _assessment(w: World) -> Target:
    assessment = w.assessment["huji"]
    url = reverse("deduction_save", kwargs={"pk": assessment.pk, "item": w.item.pk})
    return Target(url, w.users["inspector"], assessment)


def _draft_bulletin(w: World) -> Target:
    bulletin = w.draft_bulletin["huji"]
    url = reverse("bulletin_compose", args=[bulletin.pk])
    return Target(url, w.users["task_force"], bulletin)


def _city_draft(w: World) -> Target:
    bulletin = w.city_draft["huji"]
    url = reverse("city_bulletin_compose", args=[bulletin.pk])
    return Target(url, w.city_supervisor, bulletin)


def _compose_body(w: World, t: Target) -> dict:
    pk = t.obj.items.get().ticket_id
    return {"ticket": [str(pk)], "op": "save", f"wording_{pk}": "河道漂浮物未清理"}


def people(w: World, t: Target) -> tuple:
    """Everything a people form could store: accounts, profiles, roles, their history."""
    users = get_user_model().objects.order_by("pk")
    return (
        list(users.values_list("pk", "username", "first_name", "is_active", "password")),
        sorted(Person.objects.values_list("user", "phone", "must_change_password")),
        sorted(Membership.objects.values_list("user", "role", "town", "village")),
        MembershipChange.objects.count(),
        everything(w, t),
    )


def _person(w: World) -> Target:
    person = w.person["huji"]
    return Target(reverse("person_role_add", args=[person.pk]), w.users["task_force"], person)


def _person_role(w: World) -> Target:
    person = w.person["huji"]
    return Target(reverse("person_role_remove", args=[person.pk]), w.users["task_force"], person)


def tokens_and_people(w: World, t: Target) -> tuple:
    return people(w, t), sorted(AccessToken.objects.values_list("pk", "name", "rate_per_minute"))


def _roster() -> SimpleUploadedFile:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["姓名", "手机号", "用户名", "角色", "乡镇代码", "村代码"])
    sheet.append(["花名册测试", "13900139000", "roster_new", "巡查员", HUJI_CODE, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile("花名册.xlsx", buffer.getvalue())


FORMS: tuple[Form, ...] = (
    Form(
        "person_new[post]",
        lambda w: Target(reverse("person_new"), w.users["task_force"]),
        lambda w, t: {
            "name": "张三",
            "phone": "13800138000",
            "username": "zhangsan",
            "role": Role.TOWN_OFFICER,
            "town": w.town["huji"].code,
        },
        (
            Field("name", "text", max_length=50),
            Field("phone", "mobile", required=False),
            Field("username", "username"),
            Field("role", "choice"),
            Field("town", "id"),
            Field("village", "id", required=False),
        ),
        people,
        shows_text=("name",),
    ),
    Form(
        "person_role_add",
        _person,
        lambda w, t: {"role": Role.TOWN_OFFICER, "town": w.town["jishu"].code},
        (Field("role", "choice"), Field("town", "id"), Field("village", "id", required=False)),
        people,
    ),
    Form(
        "person_role_remove",
        _person_role,
        lambda w, t: {"membership": str(t.obj.memberships.get().pk)},
        (Field("membership", "id"),),
        people,
    ),
    Form(
        "person_import[post]",
        lambda w: Target(reverse("person_import"), w.users["task_force"]),
        lambda w, t: {"file": _roster()},
        (Field("file", "file"),),
        people,
    ),
    Form(
        "token_list[post]",
        lambda w: Target(reverse("token_list"), w.users["task_force"]),
        lambda w, t: {
            "name": "12345热线平台",
            "role": Role.TOWN_OFFICER,
            "town": w.town["huji"].code,
            "days": "90",
            "rate_per_minute": "60",
        },
        (
            Field("name", "text", max_length=80),
            Field("role", "choice"),
            Field("town", "id"),
            Field("village", "id", required=False),
            Field("days", "choice"),
            Field("rate_per_minute", "number", required=False, low="0"),
            Field("key", "uuid", required=False),
        ),
        tokens_and_people,
        shows_text=("name",),
        shown_on=lambda: reverse("token_list"),
        accepted=201,
    ),
    Form(
        "ticket_new[post]",
        _new_ticket,
        lambda w, t: {
            "town": w.town["huji"].code,
            "village": w.village["huji"].code,
            "site_label": "村东坑塘",
            "description": "路边堆放垃圾",
            "deadline": _in_days(10),
        },
        (
            Field("town", "id"),
            Field("village", "id", required=False),
            Field("site_label", "text", required=False, max_length=120),
            Field("description", "text", max_length=2000),
            Field("deadline", "future_date", required=False),
        ),
        everything,
        shows_text=("description", "site_label"),
    ),
    Form(
        "toilet_new[post]",
        lambda w: Target(reverse("toilet_new"), w.users["task_force"]),
        lambda w, t: {
            "household": str(w.household["huji"].pk),
            "kind": "repair",
            "channel": "phone",
            "description": "便器堵塞",
        },
        (
            Field("household", "id"),
            Field("kind", "choice"),
            Field("channel", "choice"),
            Field("description", "text", required=False, max_length=500),
        ),
        everything,
        shows_text=("description",),
    ),
    Form(
        "ticket_action[assign]",
        ticket_action("ticket", "draft", "assign"),
        with_state(lambda w, t: {"deadline": _in_days(10), "note": "请按期整改"}),
        (STATE, Field("deadline", "future_date"), NOTE),
        everything,
        shows_text=("note",),
    ),
    Form(
        "ticket_action[submit]",
        ticket_action("ticket", "assigned", "submit"),
        with_state(lambda w, t: {"note": "已清理完毕", "photos": [jpeg_upload()]}),
        (STATE, Field("note", "text", max_length=2000), PHOTOS),
        everything,
        shows_text=("note",),
    ),
    Form(
        "ticket_action[reject]",
        ticket_action("ticket", "submitted", "reject"),
        with_state({"reason": "照片看不清"}),
        (STATE, REASON),
        everything,
        shows_text=("reason",),
    ),
    Form(
        "ticket_action[close]",
        ticket_action("ticket", "submitted", "close"),
        with_state({"note": "现场核查通过"}),
        (STATE, NOTE),
        everything,
        shows_text=("note",),
    ),
    Form(
        "ticket_action[request_extension]",
        ticket_action("ticket", "assigned", "request_extension"),
        with_state(lambda w, t: {"new_deadline": _in_days(20), "reason": "雨季施工困难"}),
        (STATE, Field("new_deadline", "future_date"), REASON),
        everything,
        shows_text=("reason",),
    ),
    Form(
        "ticket_action[approve_extension]",
        ticket_action("ticket", "extension", "approve_extension"),
        with_state({"note": "同意"}),
        (STATE, NOTE),
        everything,
    ),
    Form(
        "ticket_action[withdraw_extension]",
        ticket_action("ticket", "extension", "withdraw_extension"),
        with_state({"note": "能按期完成"}),
        (STATE, NOTE),
        everything,
    ),
    Form(
        "ticket_action[refuse_extension]",
        ticket_action("ticket", "extension", "refuse_extension"),
        with_state({"reason": "理由不充分"}),
        (STATE, REASON),
        everything,
    ),
    Form(
        "ticket_action[cancel]",
        ticket_action("ticket", "assigned", "cancel"),
        with_state({"reason": "重复上报"}),
        (STATE, REASON),
        everything,
    ),
    Form(
        "toilet_action[dispatch]",
        ticket_action("toilet", "reported", "dispatch"),
        with_state(lambda w, t: {"worker": str(w.users["service_worker"].pk), "note": "尽快"}),
        (STATE, Field("worker", "id"), NOTE),
        everything,
    ),
    Form(
        "toilet_action[complete]",
        ticket_action("toilet", "in_service", "complete"),
        with_state(
            lambda w, t: {
                "volume_m3": "2.5",
                "disposal_site": "县污水处理厂",
                "note": "已抽运",
                "photos": [jpeg_upload()],
            }
        ),
        (
            STATE,
            Field("volume_m3", "number", low="0"),
            Field("disposal_site", "text", max_length=120),
            NOTE,
            PHOTOS,
        ),
        everything,
        shows_text=("disposal_site",),
    ),
    Form(
        "toilet_action[confirm]",
        ticket_action("toilet", "done", "confirm"),
        with_state({"satisfaction": "satisfied", "note": "农户满意"}),
        (STATE, Field("satisfaction", "choice"), NOTE),
        everything,
    ),
    Form(
        "toilet_action[reopen]",
        ticket_action("toilet", "done", "reopen"),
        with_state({"note": "仍然堵塞"}),
        (STATE, Field("note", "text", max_length=2000)),
        everything,
    ),
    Form(
        "toilet_action[return]",
        ticket_action("toilet", "dispatched", "return"),
        with_state({"reason": "不在服务范围"}),
        (STATE, REASON),
        everything,
    ),
    Form(
        "scan[post]",
        _scan,
        lambda w, t: {
            "key": str(uuid.uuid4()),
            "lat": str(HUJI_SITE[0]),
            "lng": str(HUJI_SITE[1]),
            "accuracy": "12",
            "result": "normal",
            "checks": [],
            "signboard": "good",
            "previous_fixed": "none",
            "note": "水面清洁",
            "photos": [camera_upload()],  # a new file: the same one twice is a reused photo
        },
        (
            Field("key", "uuid"),
            # A position is both coordinates or neither: one alone is refused.
            Field("lat", "number", low="-90.5"),
            Field("lng", "number", low="-180.5"),
            Field("accuracy", "number", required=False, low="-1"),
            Field("result", "choice"),
            Field("checks", "choice", required=False),
            Field("signboard", "choice"),
            Field("previous_fixed", "choice"),
            Field("note", "text", required=False, max_length=2000),
        ),
        everything,
        shows_text=("note",),
    ),
    Form(
        "assessment_start[post]",
        lambda w: Target(
            reverse("assessment_start", args=[w.active_round.pk]), w.users["inspector"]
        ),
        lambda w, t: {"village": w.spare_village["huji"].code},
        (Field("village", "id"),),
        everything,
    ),
    Form(
        "deduction_save",
        _assessment,
        lambda w, t: {"count": "2", "note": "柴草堆放", "photos": [jpeg_upload()]},
        (
            Field("count", "number", low="-1"),
            Field("note", "text", required=False, max_length=2000),
        ),
        everything,
        shows_text=("note",),
    ),
    Form(
        "bulletin_new[post]",
        lambda w: Target(reverse("bulletin_new"), w.users["task_force"]),
        lambda w, t: {
            "kind": "problems",
            "title": "关于农村人居环境问题的通报",
            "default_deadline": _in_days(10),
            "intro": "现将检查发现的问题通报如下。",
        },
        (
            Field("kind", "choice"),
            Field("title", "text", max_length=200),
            Field("default_deadline", "future_date", required=False),
            Field("intro", "text", required=False, max_length=4000),
        ),
        everything,
        shows_text=("title", "intro"),
        # The 303 leads to composing; the introduction shows on the bulletin itself.
        shown_on=lambda: reverse("bulletin_detail", args=[Bulletin.objects.latest("pk").pk]),
    ),
    Form(
        "bulletin_compose[post]",
        _draft_bulletin,
        _compose_body,
        # No ticket at all is a valid save: the draft is emptied.
        (Field("ticket", "id", required=False), Field("op", "choice", required=False)),
        lambda w, t: (
            list(t.obj.items.order_by("position").values_list("ticket_id", "wording")),
            everything(w, t),
        ),
    ),
    Form(
        "city_bulletin_new[post]",
        lambda w: Target(reverse("city_bulletin_new"), w.city_supervisor),
        lambda w, t: {
            "title": "关于农村人居环境问题的市级通报",
            "issuer": "济宁市农村人居环境整治工作专班",
            "deadline": _in_days(10),
            "intro": "现将市级督导发现的问题通报如下。",
        },
        (
            Field("title", "text", max_length=200),
            Field("issuer", "text", required=False, max_length=100),
            Field("deadline", "future_date", required=False),
            Field("intro", "text", required=False, max_length=4000),
        ),
        everything,
        shows_text=("title", "issuer", "intro"),
        shown_on=lambda: reverse(
            "city_bulletin_detail", args=[CityBulletin.objects.latest("pk").pk]
        ),
    ),
    Form(
        "city_bulletin_compose[post]",
        _city_draft,
        _compose_body,
        (Field("ticket", "id", required=False), Field("op", "choice", required=False)),
        lambda w, t: (
            list(t.obj.items.order_by("position").values_list("ticket_id", "wording")),
            everything(w, t),
        ),
    ),
)


# --- what each kind of field must survive ----------------------------------------------------


def mutations(f: Field) -> list[tuple[str, object, str]]:
    """(label, value, expected) for the field: expected "400", "409" or "ok" (accepted)."""
    absent = "400" if f.required else "ok"
    if f.kind == "state":
        # The page's hidden state: a different one means the ticket moved on meanwhile.
        return [
            ("missing", MISSING, "400"),
            ("forged", "closed", "409"),
            ("script", SCRIPT, "409"),
            ("long", LONG, "409"),
        ]
    if f.kind in ("photos", "file"):
        return [("missing", MISSING, "400")]
    if f.kind == "username":
        return [
            ("missing", MISSING, "400"),
            ("blank", "   ", "400"),
            ("script", SCRIPT, "400"),
            ("nul", "zhang\x00san", "400"),
            ("with a space", "zhang san", "400"),
            ("one over the limit", "z" * 151, "400"),
            ("huge", LONG, "400"),
            ("emoji", "🚮", "400"),
        ]
    if f.kind == "mobile":
        return [
            ("missing", MISSING, "ok"),
            ("script", SCRIPT, "400"),
            ("nul", "1380013800\x00", "400"),
            ("too short", "1380013800", "400"),
            ("not a mobile", "23800138000", "400"),
            ("letters", "1380013800a", "400"),
            ("huge", "1" * 5000, "400"),
            ("landline", "0537-8721234", "400"),
        ]
    cases = [("missing", MISSING, absent), ("script", SCRIPT, "400"), ("nul", "1\x00", "400")]
    if f.kind == "text":
        cases = [
            ("missing", MISSING, absent),
            ("blank", "   ", absent),
            ("one over the limit", "字" * (f.max_length + 1), "400"),
            ("huge", LONG, "400"),
            ("nul", "垃圾\x00堆放", "400"),
            ("script", SCRIPT, "ok"),
            ("emoji and rtl", "🚮 垃圾 \u202eabc", "ok"),
        ]
    elif f.kind in ("date", "future_date"):
        cases += [
            ("not a date", "tomorrow", "400"),
            ("no such day", "2026-02-30", "400"),
            ("year 99999", "99999-01-01", "400"),
            ("huge", LONG, "400"),
        ]
        if f.kind == "future_date":
            cases.append(("in the past", _in_days(-1), "400"))
    elif f.kind == "number":
        cases += [
            ("not a number", "三", "400"),
            ("nan", "NaN", "400"),
            ("infinity", "inf", "400"),
            ("overflow", "1e400", "400"),
            ("huge", "9" * 5000, "400"),
        ]
        if f.low is not None:
            cases.append(("under the minimum", f.low, "400"))
    elif f.kind == "choice":
        cases += [("forged", "delete_all", "400"), ("huge", LONG, "400")]
    elif f.kind == "id":
        cases += [
            ("unknown", "999999999", "400"),
            ("not a number", "abc", "400"),
            ("sql", "1 OR 1=1", "400"),
            ("overflow", "9" * 40, "400"),
            ("negative", "-1", "400"),
        ]
    elif f.kind == "uuid":
        cases += [("not a uuid", "not-a-uuid", "400")]
    return cases


def _params():
    for form in FORMS:
        for f in form.fields:
            for label, value, expected in mutations(f):
                yield pytest.param(form, f, value, expected, id=f"{form.key}-{f.name}-{label}")


def _body(form: Form, w: World, t: Target, name: str | None = None, value=MISSING) -> dict:
    body = form.data(w, t)
    if name is not None:
        body.pop(name, None)
        if value is not MISSING:
            body[name] = value
    return body


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _page(response) -> str:
    return response.content.decode()


def assert_clear_refusal(response, expected: str) -> None:
    """A 4xx page that says what is wrong (the form's or the page's error, in Chinese)."""
    assert response.status_code == int(expected), _page(response)[:2000]
    page = _page(response)
    errors = re.findall(r'class="(?:alert error|error|errorlist)"[^>]*>(.*?)<', page, re.S)
    assert any(text.strip() for text in errors), "a refusal must say what is wrong"
    assert "<script>alert(" not in page  # what was sent comes back escaped, if at all


# --- the table ------------------------------------------------------------------------------


def test_every_form_post_of_the_project_is_in_the_table():
    """Each POST of the scope matrix that carries a form is here (buttons without fields — issue,
    acknowledge, rotate, approve… — are covered by CSRF, forged actions and tampered IDs)."""
    with_fields = {
        "person_new",
        "person_role_add",
        "person_role_remove",
        "person_import",
        "token_list",
        "ticket_new",
        "toilet_new",
        "ticket_action",
        "toilet_action",
        "scan",
        "assessment_start",
        "deduction_save",
        "bulletin_new",
        "bulletin_compose",
        "city_bulletin_new",
        "city_bulletin_compose",
    }
    posted = {url_name(key) for key, case in CASES.items() if case.method == "POST"}
    assert with_fields <= posted
    assert {url_name(form.key) for form in FORMS} == with_fields
    tabled = {form.key.partition("[")[::2] for form in FORMS}

    def with_inputs(forms: dict) -> set[str]:
        return {name for name, cls in forms.items() if set(cls.base_fields) - {"state"}}

    rectification = {action[:-1] for url, action in tabled if url == "ticket_action"}
    toilet = {action[:-1] for url, action in tabled if url == "toilet_action"}
    assert with_inputs(workflow_forms.RECTIFICATION_FORMS) <= rectification
    # The toilet's cancel is the same ReasonForm as its return.
    assert with_inputs(workflow_forms.TOILET_FORMS) - {"cancel"} <= toilet


@pytest.mark.parametrize("form", FORMS, ids=[form.key for form in FORMS])
def test_the_body_that_works_works(world, form):
    """Not vacuous: the table's good body is accepted, so each refusal below is the field's."""
    target = form.target(world)
    before = form.state(world, target)
    response = _client(target.user).post(target.url, _body(form, world, target))
    assert response.status_code == form.accepted, _page(response)[:3000]
    assert form.state(world, target) != before


@pytest.mark.parametrize(("form", "field", "value", "expected"), list(_params()))
def test_bad_field(world, form, field, value, expected):
    target = form.target(world)
    before = form.state(world, target)
    client = _client(target.user)

    response = client.post(target.url, _body(form, world, target, field.name, value))

    if expected == "ok":
        assert response.status_code == form.accepted, _page(response)[:3000]
        if value == SCRIPT and field.name in form.shows_text:
            _assert_escaped(client, form, response)
        return
    assert_clear_refusal(response, expected)
    assert form.state(world, target) == before, "a refused form stored something"


def _assert_escaped(client: Client, form: Form, response) -> None:
    """The page that shows the accepted text shows it escaped."""
    if response.status_code == 201:  # the answer is a page of its own: there too
        assert ESCAPED in _page(response) and "<script>alert(" not in _page(response)
    show = form.shown_on() if form.shown_on else response["Location"]
    page = _page(client.get(show))
    assert ESCAPED in page, f"the text does not show on {show}"
    assert "<script>alert(" not in page


# --- CSRF, forged actions, tampered IDs ------------------------------------------------------


POSTS = [key for key, case in CASES.items() if case.method == "POST"]


@pytest.mark.parametrize("key", POSTS)
def test_a_post_without_the_csrf_token_is_refused(world, key):
    case, town = CASES[key], "huji"
    before = case.state(world, town)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["task_force"])  # the check comes before any role's
    url = reverse(url_name(key), kwargs=case.kwargs(world, town) if case.kwargs else None)

    response = client.post(url, case.data(world, town) if case.data else {})

    assert response.status_code == 403
    assert shown("This page has expired") in _page(response)
    assert case.state(world, town) == before


def test_the_csrf_page_is_not_vacuous(world):
    """With the token the same POST goes through: the 403 above is the missing token's."""
    case = CASES["ticket_new[post]"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["task_force"])
    client.get(reverse("ticket_new"))
    token = client.cookies["csrftoken"].value
    data = case.data(world, "huji") | {"csrfmiddlewaretoken": token}
    assert client.post(reverse("ticket_new"), data).status_code == 303


FORGED_ACTIONS = ["delete", "__init__", "close;drop", "assign%00", "ＣＬＯＳＥ", "x" * 300]


@pytest.mark.parametrize("name", FORGED_ACTIONS)
@pytest.mark.parametrize(
    "key", ["ticket_action", "toilet_action", "site_action", "round_action", "assessment_action"]
)
def test_a_forged_transition_name_is_404(world, key, name):
    w = world
    kwargs = {
        "ticket_action": {"number": w.ticket["huji"].number},
        "toilet_action": {"number": w.toilet["huji"].number},
        "site_action": {"code": w.site["huji"].code},
        "round_action": {"pk": w.active_round.pk},
        "assessment_action": {"pk": w.assessment["huji"].pk},
    }[key]
    before = everything(w, None), w.site["huji"].token
    client = _client(w.users["task_force"])

    response = client.post(reverse(key, kwargs=kwargs | {"action": name}), {"state": "assigned"})

    assert response.status_code == 404
    assert shown("Not found") in _page(response)
    w.site["huji"].refresh_from_db()
    assert (everything(w, None), w.site["huji"].token) == before


def _tampered(kwargs: dict) -> dict:
    """The URL's object replaced by one that does not exist (numbers, codes, tokens, pks)."""
    name = next(k for k in kwargs if k != "action" and k != "item")
    wrong = {
        "pk": 999_999_999,
        "number": "ZG-9999-999999",
        "code": "NO-SUCH",
        "token": "x" * 22,
        "kind": "no-such-kind",
    }
    return kwargs | {name: wrong[name]}


@pytest.mark.parametrize("key", [key for key in POSTS if CASES[key].kwargs])
def test_a_post_to_an_object_that_does_not_exist_is_404(world, key):
    case = CASES[key]
    client = _client(world.users["task_force"])  # who may see every object that exists
    before = everything(world, None)
    kwargs = _tampered(case.kwargs(world, "huji"))
    response = client.post(reverse(url_name(key), kwargs=kwargs), {})
    assert response.status_code in (404, 410), kwargs
    assert everything(world, None) == before


def test_a_deduction_for_an_item_of_another_checklist_is_404(world):
    url = reverse("deduction_save", kwargs={"pk": world.assessment["huji"].pk, "item": 999_999})
    response = _client(world.users["inspector"]).post(url, {"count": "1"})
    assert response.status_code == 404


# --- garbage in query strings of every page ---------------------------------------------------


GARBAGE = {
    "page": ["abc", "-1", "0", "99999999", "1e9", "9" * 100, "1\x00"],
    "sort": [SCRIPT, "-" * 50, "password", "\x00"],
    "town": ["../../etc", SCRIPT, "9" * 40, "37082810200\x00"],
    "county": ["abc", SCRIPT, "9" * 40, "370828000000\x00"],
    "village": ["abc", SCRIPT, "\x00"],
    "state": ["forged", SCRIPT, "\x00"],
    "q": [LONG[:5000], SCRIPT, "\x00"],
    "month": ["2026-13", "abc", "\x00"],
    "round": ["abc", "-1", "\x00"],
    "pool": ["forged", "\x00"],
    "layer": [SCRIPT, "\x00"],
    "crs": ["EPSG:99999", "\x00"],
}


def _viewer(world, key):
    """Someone who sees the page: the task force, or for the city's pages (the city dashboard,
    the city bulletins' drafts and forms: no county role sees them) a supervisor of the world's
    county's city (the city bulletins': the world's own, who composed them)."""
    if key.startswith("city_bulletin"):
        return world.city_supervisor
    if key != "city_dashboard":
        return world.users["task_force"]
    code = city_code_of(world.town["huji"].county_id)
    city, _ = City.objects.get_or_create(code=code, defaults={"name": "济宁市"})
    return make_user("garbage_city", {"role": Role.CITY_SUPERVISOR, "city": city, "county": None})


@pytest.mark.parametrize("key", [key for key, case in CASES.items() if case.method == "GET"])
def test_garbage_query_strings_are_never_a_500(world, key):
    """Every GET page with each garbage parameter: a page (200), a clear 400, or a 404 — and
    nothing sent comes back unescaped."""
    case = CASES[key]
    client = _client(_viewer(world, key))
    url = reverse(url_name(key), kwargs=case.kwargs(world, "huji") if case.kwargs else None)
    # A PDF takes a second to render: one garbage value per parameter is enough there.
    pdf = case.content_type == "application/pdf"
    for name, values in GARBAGE.items():
        for value in values[:1] if pdf else values:
            response = client.get(url, {name: value})
            body = b"".join(response.streaming_content) if response.streaming else response.content
            query = urlencode({name: value[:40]})
            assert response.status_code in (200, 400, 404), f"{url}?{query}"
            assert b"<script>alert(" not in body, f"{url}?{query}"


# --- hypothesis: whatever a phone sends ------------------------------------------------------

# Any text a phone keyboard (or a script) can send: every Unicode character but the surrogates
# (which no UTF-8 form can carry) — NUL, controls, RTL marks and emoji included.
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=2500)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(description=ANY_TEXT, site_label=ANY_TEXT, village=st.one_of(ANY_TEXT, st.just(None)))
def test_any_new_ticket_is_stored_as_sent_or_refused_whole(world, description, site_label, village):
    w = world
    client = _client(w.users["task_force"])
    body = {"town": w.town["huji"].code, "description": description, "site_label": site_label}
    if village is not None:
        body["village"] = village
    before = everything(w, None)

    response = client.post(reverse("ticket_new"), body)

    assert response.status_code in (303, 400)
    if response.status_code == 400:
        assert everything(w, None) == before
        return
    ticket = RectificationTicket.objects.latest("pk")
    assert ticket.description == description.strip()
    assert ticket.site_label == site_label.strip()
    if "<" in ticket.description:  # what was sent is on the page only escaped
        page = _page(client.get(reverse("ticket_detail", args=[ticket.number])))
        assert ticket.description not in page


PATROL_FIELDS = ("lat", "lng", "accuracy", "result", "signboard", "previous_fixed", "note", "key")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    values=st.fixed_dictionaries(
        {},
        optional={
            name: st.one_of(ANY_TEXT, st.floats(allow_nan=True).map(str), st.integers().map(str))
            for name in PATROL_FIELDS
        },
    )
)
def test_any_patrol_post_is_a_patrol_or_a_clear_400(world, values):
    w = world
    site = w.site["huji"]
    client = _client(w.users["inspector"])
    body = {
        "key": str(uuid.uuid4()),
        "lat": str(HUJI_SITE[0]),
        "lng": str(HUJI_SITE[1]),
        "result": "normal",
        "signboard": "good",
        "previous_fixed": "none",
        "photos": [camera_upload()],
        **values,
    }
    before = everything(w, None)

    response = client.post(reverse("scan", args=[site.token]), body)

    assert response.status_code in (303, 400)
    if response.status_code == 400:
        assert everything(w, None) == before
        assert_clear_refusal(response, "400")
    else:
        assert Patrol.objects.count() == before[4] + 1


def test_an_assessment_marked_with_script_is_escaped_on_the_round_page(world):
    """A deduction note with script, once recorded, is shown escaped wherever it is listed."""
    w = world
    assessment_services.deduction_record(
        assessment=w.assessment["huji"], item=w.item, by=w.users["inspector"], count=1, note=SCRIPT
    )
    client = _client(w.users["task_force"])
    page = _page(client.get(reverse("assessment_detail", args=[w.assessment["huji"].pk])))
    assert ESCAPED in page and "<script>alert(" not in page
