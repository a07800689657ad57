"""People and their roles (villages/people): adding a person with a one-time password, the forced
password change, roles given and taken with their audit, deactivation, password resets, the
rank and self rules, the staff roster import, and the pages' scope and query counts."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from tests.factories import COUNTY_CODE, HUJI_CODE, JISHU_CODE, PASSWORD, make_user, membership
from villages import access
from villages.access import Role
from villages.models import Membership, MembershipChange, Person, Town
from villages.people import roster, services

pytestmark = pytest.mark.django_db

User = get_user_model()
SHOWN_PASSWORD = re.compile(r'id="one-time-password">([^<]+)<')
NEW_PASSWORD = "Huji-river-2026!"


def shown_password(response) -> str | None:
    match = SHOWN_PASSWORD.search(response.content.decode())
    return match[1] if match else None


def add_person(client, by, **fields):
    client.force_login(by)
    data = {"name": "王芳", "username": "wangfang", "phone": "13812345678"} | fields
    return client.post(reverse("person_new"), data)


def as_town_officer(huji) -> dict:
    return {"role": Role.TOWN_OFFICER, "town": huji.code}


def log_in(client, username: str, password: str):
    client.logout()
    return client.post(reverse("login"), {"username": username, "password": password})


# --- a new person ------------------------------------------------------------------------------


def test_a_new_person_logs_in_changes_the_password_then_sees_only_his_town(
    client, task_force, huji
):
    response = add_person(client, task_force, **as_town_officer(huji))
    assert response.status_code == 303
    person = User.objects.get(username="wangfang")
    assert response["Location"] == reverse("person_detail", args=[person.pk])

    page = client.get(response["Location"])
    password = shown_password(page)
    assert password and len(password) == services.PASSWORD_LENGTH
    assert "no-store" in page["Cache-Control"]
    assert shown_password(client.get(response["Location"])) is None  # once, never again

    assert log_in(client, "wangfang", password).status_code == 302
    home = client.get(reverse("home"))
    assert home.status_code == 302 and home["Location"] == reverse("password_change")
    assert client.get(reverse("ticket_list"))["Location"] == reverse("password_change")
    form = client.get(reverse("password_change"))
    assert form.status_code == 200 and "一次性密码" in form.content.decode()

    changed = client.post(
        reverse("password_change"),
        {"old_password": password, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert changed.status_code == 302 and changed["Location"] == reverse("home")
    assert not Person.objects.get(user=person).must_change_password

    home = client.get(reverse("home"))
    assert home.status_code == 200
    body = home.content.decode()
    assert "胡集镇" in body and "鸡黍镇" not in body
    assert list(home.context["towns"]) == [huji]
    assert log_in(client, "wangfang", NEW_PASSWORD).status_code == 302
    assert client.get(reverse("home")).status_code == 200  # no longer sent to change it


def test_the_one_time_password_is_stored_nowhere_in_clear(client, task_force, huji):
    response = add_person(client, task_force, **as_town_officer(huji))
    person = User.objects.get(username="wangfang")
    # Between the POST and the page that shows it: the session holds it sealed, the browser
    # holds the key; neither alone is the password.
    sessions = [s.get_decoded() for s in Session.objects.all()]
    key = client.cookies["people_reveal"].value
    password = shown_password(client.get(response["Location"]))
    assert password
    assert password not in str(sessions) and password not in key
    assert person.password != password and person.check_password(password)
    stored = str([s.get_decoded() for s in Session.objects.all()])
    assert "people.reveal" not in stored  # taken by the page that showed it
    assert not MembershipChange.objects.filter(after__icontains=password).exists()


def test_a_short_password_is_refused_by_the_validators(client, task_force, huji):
    _person, password = services.person_create(
        by=task_force, name="李四", username="lisi", role=Role.TOWN_OFFICER, town=huji
    )
    log_in(client, "lisi", password)
    response = client.post(
        reverse("password_change"),
        {"old_password": password, "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert response.status_code == 400
    assert Person.objects.get(user__username="lisi").must_change_password


def test_a_user_who_must_change_his_password_may_still_log_out(client, task_force, huji):
    _person, password = services.person_create(
        by=task_force, name="李四", username="lisi", role=Role.TOWN_OFFICER, town=huji
    )
    log_in(client, "lisi", password)
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")


def test_the_browsers_own_requests_are_not_sent_to_the_password_page(client, task_force, huji):
    _person, password = services.person_create(
        by=task_force, name="李四", username="lisi", role=Role.TOWN_OFFICER, town=huji
    )
    log_in(client, "lisi", password)
    icon = client.get("/favicon.ico")
    assert icon.status_code == 302 and icon["Location"].endswith(".png")
    assert client.get(reverse("manifest")).status_code == 200
    assert client.get(reverse("home"))["Location"] == reverse("password_change")


def test_one_time_passwords_pass_the_validators(task_force):
    from django.contrib.auth.password_validation import validate_password

    user = User(username="abc", first_name="测试")
    for _ in range(50):
        password = services.one_time_password(user)
        validate_password(password, user)
        assert not password.isdigit() and not password.isalpha()


def test_the_form_refuses_a_taken_name_or_number_and_a_bad_jurisdiction(
    client, task_force, huji, hj_officer
):
    Person.objects.create(user=hj_officer, phone="13812345678")
    response = add_person(client, task_force, username="HJ_Officer", **as_town_officer(huji))
    assert response.status_code == 400
    body = response.content.decode()
    assert "用户名已被使用" in body and "他人" in body
    response = add_person(
        client, task_force, username="new1", phone="", role=Role.TASK_FORCE, town=huji.code
    )
    assert response.status_code == 400
    assert "全县" in response.content.decode()
    assert not User.objects.filter(username="new1").exists()


def test_a_village_admin_gets_the_village_only(client, task_force, huji_village):
    response = add_person(
        client,
        task_force,
        role=Role.VILLAGE_ADMIN,
        town=huji_village.town_id,
        village=huji_village.code,
    )
    assert response.status_code == 303
    person = User.objects.get(username="wangfang")
    assert list(person.memberships.values_list("role", "town", "village")) == [
        (Role.VILLAGE_ADMIN, None, huji_village.code)
    ]


# --- roles and their audit ------------------------------------------------------------------------


def test_giving_and_taking_a_role_is_audited_and_shown(client, task_force, hj_officer, jishu):
    client.force_login(task_force)
    url = reverse("person_detail", args=[hj_officer.pk])
    response = client.post(
        reverse("person_role_add", args=[hj_officer.pk]),
        {"role": Role.INSPECTOR, "town": jishu.code},
    )
    assert response.status_code == 303
    change = MembershipChange.objects.get(user=hj_officer)
    assert change.action == MembershipChange.Action.ROLE_ADDED
    assert change.actor == task_force
    assert [r["role"] for r in change.before["roles"]] == [Role.TOWN_OFFICER]
    assert sorted(r["role"] for r in change.after["roles"]) == [Role.INSPECTOR, Role.TOWN_OFFICER]
    assert {r["where"] for r in change.after["roles"]} == {"胡集镇", "鸡黍镇"}

    page = re.sub(r"<[^>]+>", "", client.get(url).content.decode())
    assert "给予角色" in page and "乡镇专干 · 胡集镇 → " in page
    assert "巡查员 · 鸡黍镇" in page and task_force.username in page

    added = hj_officer.memberships.get(role=Role.INSPECTOR)
    response = client.post(
        reverse("person_role_remove", args=[hj_officer.pk]), {"membership": added.pk}
    )
    assert response.status_code == 303
    removed = MembershipChange.objects.filter(user=hj_officer).first()
    assert removed.action == MembershipChange.Action.ROLE_REMOVED
    assert len(removed.before["roles"]) == 2 and len(removed.after["roles"]) == 1
    assert "收回角色" in client.get(url).content.decode()


def test_the_same_role_twice_is_refused(client, task_force, hj_officer, huji):
    client.force_login(task_force)
    response = client.post(
        reverse("person_role_add", args=[hj_officer.pk]),
        {"role": Role.TOWN_OFFICER, "town": huji.code},
    )
    assert response.status_code == 400
    assert "已有此角色" in response.content.decode()
    assert not MembershipChange.objects.exists()


def test_a_role_of_another_person_cannot_be_removed_through_this_one(
    client, task_force, hj_officer, other_officer
):
    client.force_login(task_force)
    other = other_officer.memberships.get()
    response = client.post(
        reverse("person_role_remove", args=[hj_officer.pk]), {"membership": other.pk}
    )
    assert response.status_code == 400
    assert other_officer.memberships.exists()


def test_nobody_removes_his_own_last_task_force_role(client, task_force, divisions):
    client.force_login(task_force)
    own = task_force.memberships.get()
    response = client.post(
        reverse("person_role_remove", args=[task_force.pk]), {"membership": own.pk}
    )
    assert response.status_code == 403
    assert "最后一个" in response.content.decode()
    assert task_force.memberships.exists()
    # Another member of the task force may.
    colleague = make_user("colleague", membership(Role.TASK_FORCE))
    client.force_login(colleague)
    response = client.post(
        reverse("person_role_remove", args=[task_force.pk]), {"membership": own.pk}
    )
    assert response.status_code == 303
    assert not task_force.memberships.exists()


def test_an_administrators_account_is_a_superusers_to_change(client, task_force, divisions):
    admin = make_user("sysadmin", is_staff=True)
    client.force_login(task_force)
    response = client.post(reverse("person_password_reset", args=[admin.pk]))
    assert response.status_code == 403
    assert "系统管理员" in response.content.decode()


# --- deactivation and password resets -------------------------------------------------------------


def test_a_deactivated_person_cannot_log_in_and_his_session_ends(client, task_force, hj_officer):
    officer = type(client)()
    assert log_in(officer, "hj_officer", PASSWORD).status_code == 302
    assert officer.get(reverse("home")).status_code == 200

    client.force_login(task_force)
    response = client.post(reverse("person_deactivate", args=[hj_officer.pk]))
    assert response.status_code == 303
    hj_officer.refresh_from_db()
    assert not hj_officer.is_active
    change = MembershipChange.objects.get(user=hj_officer)
    assert (change.action, change.before, change.after) == (
        "deactivated",
        {"active": True},
        {"active": False},
    )
    page = client.get(reverse("person_detail", args=[hj_officer.pk])).content.decode()
    assert "启用 → 停用" in re.sub(r"<[^>]+>", "", page)

    assert officer.get(reverse("home")).status_code == 302  # the open session is over
    response = log_in(officer, "hj_officer", PASSWORD)
    assert response.status_code == 200 and "用户名或密码错误" in response.content.decode()
    assert client.post(reverse("person_deactivate", args=[hj_officer.pk])).status_code == 409

    assert client.post(reverse("person_reactivate", args=[hj_officer.pk])).status_code == 303
    assert log_in(officer, "hj_officer", PASSWORD).status_code == 302
    assert MembershipChange.objects.filter(user=hj_officer).count() == 2
    assert Membership.objects.filter(user=hj_officer).exists()  # roles kept throughout


def test_nobody_deactivates_himself(client, task_force):
    client.force_login(task_force)
    response = client.post(reverse("person_deactivate", args=[task_force.pk]))
    assert response.status_code == 403
    task_force.refresh_from_db()
    assert task_force.is_active


def test_a_reset_password_is_shown_once_and_must_be_changed(client, task_force, hj_officer):
    client.force_login(task_force)
    response = client.post(reverse("person_password_reset", args=[hj_officer.pk]))
    assert response.status_code == 303
    password = shown_password(client.get(response["Location"]))
    assert password
    assert shown_password(client.get(response["Location"])) is None
    assert MembershipChange.objects.get(user=hj_officer).action == "password_reset"

    assert log_in(client, "hj_officer", PASSWORD).status_code == 200  # the old one is gone
    assert log_in(client, "hj_officer", password).status_code == 302
    assert client.get(reverse("home"))["Location"] == reverse("password_change")


# --- who may --------------------------------------------------------------------------------------


def person_urls(pk: int) -> list[tuple[str, str]]:
    return [
        ("get", reverse("person_list")),
        ("get", reverse("person_new")),
        ("post", reverse("person_new")),
        ("get", reverse("person_import")),
        ("post", reverse("person_import")),
        ("get", reverse("person_detail", args=[pk])),
        *(
            ("post", reverse(name, args=[pk]))
            for name in (
                "person_role_add",
                "person_role_remove",
                "person_deactivate",
                "person_reactivate",
                "person_password_reset",
            )
        ),
    ]


def test_a_town_officer_may_open_no_people_page(client, hj_officer, other_officer, task_force):
    client.force_login(hj_officer)
    for pk in (other_officer.pk, hj_officer.pk, task_force.pk, 999_999):
        for method, url in person_urls(pk):
            response = getattr(client, method)(url)
            assert response.status_code in (403, 404), (method, url)
            if response.status_code == 403:
                assert "人员" in response.content.decode()
    assert MembershipChange.objects.count() == 0
    other_officer.refresh_from_db()
    assert other_officer.is_active
    assert "人员管理" not in client.get(reverse("home")).content.decode()


def test_a_missing_person_is_404(client, task_force):
    client.force_login(task_force)
    for method, url in person_urls(999_999)[5:]:
        assert getattr(client, method)(url).status_code == 404, url


def test_the_task_force_sees_the_nav_link(client, task_force):
    client.force_login(task_force)
    assert reverse("person_list") in client.get(reverse("home")).content.decode()


def test_the_jurisdiction_rule_reads_the_constraints_as_the_database_does(task_force, huji):
    village = huji.villages.administrative().first()
    for role in Role:
        for town, place in ((False, None), (True, huji), (False, village)):
            fits = access.jurisdiction_fits(role, town=town, village=place is village)
            kwargs = {"town": place} if town else {"village": place} if place else {}
            try:
                with transaction.atomic():
                    Membership.objects.create(
                        user=task_force, role=role, county_id=COUNTY_CODE, **kwargs
                    )
                stored = True
            except IntegrityError:
                stored = False
            if stored:
                Membership.objects.filter(user=task_force, role=role, **kwargs).delete()
                Membership.objects.get_or_create(
                    user=task_force, role=Role.TASK_FORCE, county_id=COUNTY_CODE
                )
            assert fits == stored or (role == Role.TASK_FORCE and not place), (role, kwargs)


def test_the_rank_rule_holds_for_a_town_with_people_rights(
    monkeypatch, hj_officer, huji, jishu, huji_village
):
    """Were town officers given people.manage in their town, they would give the town's roles of
    their rank or below — never the task force's, nor anything in another town."""
    monkeypatch.setitem(
        access.PERMISSIONS,
        "people.manage",
        access.Permission("people.manage", (Role.TOWN_OFFICER,)),
    )
    officer = User.objects.get(pk=hj_officer.pk)
    other_village = jishu.villages.administrative().first()
    assert access.may_grant(officer, Membership(role=Role.VILLAGE_ADMIN, village=huji_village))
    assert access.may_grant(officer, Membership(role=Role.TOWN_OFFICER, town=huji))
    assert not access.may_grant(officer, Membership(role=Role.TASK_FORCE, county_id=COUNTY_CODE))
    assert not access.may_grant(
        officer, Membership(role=Role.INSPECTOR, county_id=COUNTY_CODE)
    )  # county-wide
    assert not access.may_grant(officer, Membership(role=Role.TOWN_OFFICER, town=jishu))
    assert not access.may_grant(officer, Membership(role=Role.VILLAGE_ADMIN, village=other_village))
    assert Role.TASK_FORCE not in access.grantable_roles(officer)
    chief = make_user("chief", membership(Role.TASK_FORCE))
    assert not access.may_manage(officer, chief, chief.memberships.all())


def test_the_task_force_may_give_every_role(task_force):
    """Every role of a county; the city supervisor's, above the task force, is not its to give."""
    assert access.grantable_roles(task_force) == list(access.COUNTY_ROLES)
    assert Role.CITY_SUPERVISOR not in access.grantable_roles(task_force)
    assert access.may_grant(task_force, Membership(role=Role.TASK_FORCE, county_id=COUNTY_CODE))


# --- the list -----------------------------------------------------------------------------------


def _count_queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(queries)


def _add_people(n: int, start: int, huji, village) -> None:
    for i in range(start, start + n):
        user = make_user(
            f"p{i:03d}",
            membership(Role.TOWN_OFFICER, huji),
            membership(Role.VILLAGE_ADMIN, village),
            first_name=f"人员{i}",
        )
        Person.objects.create(user=user, phone=f"139{i:08d}", must_change_password=i % 2 == 0)


def test_the_list_query_count_does_not_grow_with_the_rows(client, task_force, huji, huji_village):
    client.force_login(task_force)
    url = reverse("person_list")
    filters = {"role": Role.TOWN_OFFICER, "town": huji.code}
    _add_people(3, 0, huji, huji_village)
    few = _count_queries(client, url)
    few_filtered = _count_queries(client, url, filters)
    _add_people(30, 100, huji, huji_village)
    many = _count_queries(client, url)
    assert len(client.get(url).context["page"]) > 30
    assert many == few
    assert _count_queries(client, url, filters) == few_filtered
    # session, user, memberships (scope), count, rows, their memberships, the towns of the
    # filter (and the chosen town, when filtering by one), the header's unacknowledged city
    # bulletins: nothing grows with the rows.
    assert many <= 9 and few_filtered <= 10, (many, few_filtered)


def test_the_list_filters_by_role_town_and_state(client, task_force, hj_officer, other_officer):
    client.force_login(task_force)
    other_officer.is_active = False
    other_officer.save()

    def names(**params):
        page = client.get(reverse("person_list"), params).context["page"]
        return {user.username for user in page}

    assert names(role=Role.TOWN_OFFICER) == {"hj_officer", "other_officer"}
    assert names(role=Role.TOWN_OFFICER, town=HUJI_CODE) == {"hj_officer"}
    assert names(town=JISHU_CODE) == {"other_officer"}
    assert names(active="false") == {"other_officer"}
    assert "task_force" in names(active="true")
    assert names(q="hj_off") == {"hj_officer"}
    assert client.get(reverse("person_list"), {"town": "nowhere"}).status_code == 400


# --- the staff roster -----------------------------------------------------------------------------

HEADER = ["姓名", "手机号", "用户名", "角色", "乡镇代码", "村代码"]


def roster_rows(huji_village) -> list[list]:
    return [
        ["赵一", "13900000001", "zhaoyi", "乡镇专干", HUJI_CODE, None],
        ["赵一", 13900000001, "zhaoyi", "巡查员", None, None],  # a second role; a number cell
        ["钱二", "139 0000 0002", "qianer", "村管员", None, huji_village.code],
        ["孙三", "", "sunsan", "town_officer", JISHU_CODE, ""],
        ["李四", "13900000004", "lisi", "县专班", "", ""],
    ]


def write_xlsx(tmp_path: Path, rows: list[list], header=HEADER, name="花名册.xlsx") -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["金乡县农村人居环境工作人员花名册"])  # a title row above the header
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    path = tmp_path / name
    workbook.save(path)
    return path


def snapshot() -> tuple:
    return (
        sorted(User.objects.values_list("username", "first_name", "is_active", "password")),
        sorted(Person.objects.values_list("user__username", "phone", "must_change_password")),
        sorted(Membership.objects.values_list("user__username", "role", "town", "village")),
        MembershipChange.objects.count(),
    )


def test_the_roster_import_creates_people_with_one_time_passwords(
    task_force, huji_village, tmp_path
):
    path = write_xlsx(tmp_path, roster_rows(huji_village))
    summary = roster.staff_import(path=path, by=task_force)
    assert (summary.created, summary.roles_changed, summary.unchanged) == (4, 0, 0)
    zhao = User.objects.get(username="zhaoyi")
    assert zhao.first_name == "赵一" and zhao.person.phone == "13900000001"
    assert sorted(zhao.memberships.values_list("role", "town")) == [
        (Role.INSPECTOR, None),
        (Role.TOWN_OFFICER, HUJI_CODE),
    ]
    assert User.objects.get(username="qianer").memberships.get().village == huji_village
    passwords = {username: password for _name, username, password in summary.passwords}
    assert set(passwords) == {"zhaoyi", "qianer", "sunsan", "lisi"}
    assert zhao.check_password(passwords["zhaoyi"]) and zhao.person.must_change_password
    created = MembershipChange.objects.get(user=zhao)
    assert (created.action, created.actor, created.via) == ("created", task_force, "import")
    assert len(created.after["roles"]) == 2


def test_a_second_run_changes_nothing(task_force, huji_village, tmp_path):
    path = write_xlsx(tmp_path, roster_rows(huji_village))
    roster.staff_import(path=path, by=task_force)
    before = snapshot()
    summary = roster.staff_import(path=path, by=task_force)
    assert not summary.changed_anything and summary.unchanged == 4 and summary.passwords == []
    assert snapshot() == before


def test_a_changed_role_is_one_audited_change(task_force, huji_village, tmp_path):
    rows = roster_rows(huji_village)
    roster.staff_import(path=write_xlsx(tmp_path, rows), by=task_force)
    rows[1] = ["赵一", "13900000001", "zhaoyi", "管护员", HUJI_CODE, None]  # inspector → worker
    rows[3][1] = "13900000003"  # 孙三 gets a phone: found by user name, number added
    summary = roster.staff_import(path=write_xlsx(tmp_path, rows), by=task_force)
    assert (summary.created, summary.roles_changed, summary.details_changed) == (0, 1, 1)
    zhao = User.objects.get(username="zhaoyi")
    assert sorted(zhao.memberships.values_list("role", flat=True)) == [
        Role.SERVICE_WORKER,
        Role.TOWN_OFFICER,
    ]
    change = zhao.membership_changes.first()
    assert change.action == "roles_changed"
    assert {r["role"] for r in change.before["roles"]} == {Role.INSPECTOR, Role.TOWN_OFFICER}
    assert {r["role"] for r in change.after["roles"]} == {Role.SERVICE_WORKER, Role.TOWN_OFFICER}
    assert User.objects.get(username="sunsan").person.phone == "13900000003"
    # Found by the mobile number alone, with the user name left blank: still the same person.
    rows = [["赵一", "13900000001", "", "乡镇专干", HUJI_CODE, ""]]
    rows.append(["赵一", "13900000001", "", "管护员", HUJI_CODE, ""])
    summary = roster.staff_import(path=write_xlsx(tmp_path, rows), by=task_force)
    assert not summary.changed_anything


def test_bad_rows_are_named_by_line_and_nothing_is_written(task_force, huji_village, tmp_path):
    rows = [
        *roster_rows(huji_village),
        ["周五", "12345", "zhouwu", "巡查员", "", ""],  # line 8: not a mobile number
        ["吴六", "", "wuliu", "村长", "", ""],  # line 9: no such role
        ["郑七", "", "zhengqi", "乡镇专干", "", ""],  # line 10: a town officer needs a town
        ["王八", "", "", "巡查员", "", ""],  # line 11: nobody to find
        ["冯九", "", "fengjiu", "巡查员", "370828999000", ""],  # line 12: unknown town
        ["钱二", "13900000002", "qianer", "村管员", "", huji_village.code],  # 13: a repeat
    ]
    before = snapshot()
    with pytest.raises(roster.StaffImportError) as raised:
        roster.staff_import(path=write_xlsx(tmp_path, rows), by=task_force)
    lines = [int(re.match(r"第(\d+)行", error)[1]) for error in raised.value.errors]
    assert lines == [8, 9, 10, 11, 12, 13]
    assert snapshot() == before


def test_the_import_refuses_taking_the_importers_own_last_task_force_role(
    task_force, huji, tmp_path
):
    rows = [["专班", "", "task_force", "乡镇专干", HUJI_CODE, ""]]
    with pytest.raises(roster.StaffImportError) as raised:
        roster.staff_import(path=write_xlsx(tmp_path, rows), by=task_force)
    assert "第3行" in raised.value.errors[0] or "Line 3" in raised.value.errors[0]
    assert task_force.memberships.get().role == Role.TASK_FORCE


def test_the_roster_may_be_a_csv_with_english_headers(task_force, huji_village, tmp_path):
    path = tmp_path / "staff.csv"
    with path.open("w", encoding="gb18030", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "phone", "username", "role", "town_code", "village_code"])
        for row in roster_rows(huji_village):
            writer.writerow(["" if cell is None else cell for cell in row])
    summary = roster.staff_import(path=path, by=task_force)
    assert summary.created == 4


def test_the_command_prints_the_passwords_once(huji_village, tmp_path, divisions):
    path = write_xlsx(tmp_path, roster_rows(huji_village))
    out = io.StringIO()
    call_command("import_staff", str(path), stdout=out, stderr=io.StringIO())
    printed = out.getvalue()
    for username in ("zhaoyi", "qianer", "sunsan", "lisi"):
        line = next(line for line in printed.splitlines() if f"\t{username}\t" in line)
        password = line.split("\t")[-1]
        assert User.objects.get(username=username).check_password(password)
    assert MembershipChange.objects.filter(actor=None, via="import").count() == 4
    again = io.StringIO()
    call_command("import_staff", str(path), stdout=again, stderr=io.StringIO())
    assert "\tzhaoyi\t" not in again.getvalue()
    bad = write_xlsx(tmp_path, [["周五", "12345", "zhouwu", "巡查员", "", ""]], name="bad.xlsx")
    with pytest.raises(CommandError, match="3"):
        call_command("import_staff", str(bad), stdout=io.StringIO(), stderr=io.StringIO())


def test_the_import_page_shows_the_passwords_once(client, task_force, huji_village, tmp_path):
    client.force_login(task_force)
    path = write_xlsx(tmp_path, roster_rows(huji_village))
    with path.open("rb") as handle:
        response = client.post(reverse("person_import"), {"file": handle})
    assert response.status_code == 303
    page = client.get(reverse("person_import")).content.decode()
    assert "zhaoyi" in page and "一次性密码" in page
    password = re.search(r'class="code password">([^<]+)<', page)[1]
    assert User.objects.filter(username__in=["zhaoyi", "qianer", "sunsan", "lisi"]).count() == 4
    assert any(u.check_password(password) for u in User.objects.filter(username="zhaoyi"))
    assert password not in client.get(reverse("person_import")).content.decode()


def test_the_import_page_lists_bad_lines_with_a_400(client, task_force, huji_village, tmp_path):
    client.force_login(task_force)
    before = snapshot()
    path = write_xlsx(tmp_path, [["周五", "12345", "zhouwu", "巡查员", "", ""]])
    with path.open("rb") as handle:
        response = client.post(reverse("person_import"), {"file": handle})
    assert response.status_code == 400
    assert "第3行" in response.content.decode()
    with (tmp_path / "x.txt").open("w") as handle:
        handle.write("x")
    with (tmp_path / "x.txt").open("rb") as handle:
        assert client.post(reverse("person_import"), {"file": handle}).status_code == 400
    assert snapshot() == before


def test_a_page_import_of_too_many_new_people_is_refused(
    client, task_force, huji, tmp_path, monkeypatch
):
    monkeypatch.setattr("villages.people.views.MAX_NEW_ON_PAGE", 2)
    client.force_login(task_force)
    rows = [[f"人{i}", "", f"u{i}", "乡镇专干", HUJI_CODE, ""] for i in range(3)]
    with write_xlsx(tmp_path, rows).open("rb") as handle:
        response = client.post(reverse("person_import"), {"file": handle})
    assert response.status_code == 400
    assert "import_staff" in response.content.decode()
    assert not User.objects.filter(username="u0").exists()


# --- the admin ----------------------------------------------------------------------------------


def test_the_admin_shows_memberships_under_geography_and_people(client, divisions, hj_officer):
    admin = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    with translation.override("zh-hans"):
        index = client.get(reverse("admin:index")).content.decode()
    assert "地理与人员" in index and "成员身份" in index
    page = client.get(reverse("admin:auth_user_change", args=[hj_officer.pk]))
    assert page.status_code == 200
    assert "memberships-TOTAL_FORMS" in page.content.decode()
    assert client.get(reverse("admin:villages_membership_changelist")).status_code == 200


def test_a_membership_removed_in_the_admin_is_audited(client, divisions, hj_officer):
    admin = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    own = hj_officer.memberships.get()
    response = client.post(
        reverse("admin:villages_membership_delete", args=[own.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    change = MembershipChange.objects.get(user=hj_officer)
    assert (change.actor, change.via, change.after) == (admin, "admin", {"roles": []})


def test_places_stay_named_in_the_audit_as_they_were(task_force, huji):
    person, _password = services.person_create(
        by=task_force, name="王五", username="wangwu", role=Role.TOWN_OFFICER, town=huji
    )
    Town.objects.filter(pk=huji.pk).update(name="胡集街道")
    change = MembershipChange.objects.get(user=person)
    assert "胡集镇" in change.after_text
