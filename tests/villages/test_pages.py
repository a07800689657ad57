"""The geography pages as each role sees them: scope, 404s, filters, query counts, language."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import HUJI_CODE as HUJI
from villages.models import Town, Village

pytestmark = pytest.mark.django_db


def page(client, user, name, *args, **params):
    client.force_login(user)
    return client.get(reverse(name, args=args), params)


def test_login_page_is_chinese_and_logs_in(client, hj_officer):
    hj_officer.set_password("pass-for-test-123")
    hj_officer.save()
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert "登录" in response.content.decode()
    response = client.post(
        reverse("login"), {"username": hj_officer.username, "password": "pass-for-test-123"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_wrong_password_is_refused_with_a_message(client, hj_officer):
    response = client.post(reverse("login"), {"username": hj_officer.username, "password": "x"})
    assert response.status_code == 200
    assert "用户名或密码错误" in response.content.decode()


def test_pages_need_login(client):
    for name, args in [("home", ()), ("town_list", ()), ("village_list", ())]:
        response = client.get(reverse(name, args=args))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_town_officer_home_shows_his_town_only(client, hj_officer):
    body = page(client, hj_officer, "home").content.decode()
    assert "胡集镇" in body
    assert "鸡黍镇" not in body
    assert "乡镇专干" in body


def test_task_force_home_shows_the_whole_county(client, task_force):
    response = page(client, task_force, "home")
    assert response.status_code == 200
    assert list(response.context["towns"]) == list(Town.objects.order_by("code"))
    body = response.content.decode()
    assert "金乡县" in body and "鸡黍镇" in body and "胡集镇" in body


def test_user_without_role_sees_nothing_and_is_told_why(client, nobody):
    response = page(client, nobody, "home")
    assert response.status_code == 200
    assert response.context["towns"] == []
    assert "县专班" in response.content.decode()  # ask the county task force for a role
    assert page(client, nobody, "town_list").context["towns"].count() == 0
    assert page(client, nobody, "village_list").context["page"].paginator.count == 0


def test_other_town_is_404_for_a_town_officer(client, hj_officer):
    other = Town.objects.exclude(code=HUJI).first()
    assert page(client, hj_officer, "town_detail", other.code).status_code == 404
    village = Village.objects.filter(town=other).first()
    assert page(client, hj_officer, "village_detail", village.code).status_code == 404
    assert page(client, hj_officer, "town_detail", HUJI).status_code == 200


def test_other_officer_cannot_see_huji(client, other_officer):
    assert page(client, other_officer, "town_detail", HUJI).status_code == 404
    huji_village = Village.objects.filter(town_id=HUJI).first()
    assert page(client, other_officer, "village_detail", huji_village.code).status_code == 404
    listed = page(client, other_officer, "village_list", q=huji_village.short_name[:2])
    assert huji_village not in listed.context["page"].object_list


def test_village_admin_sees_his_village(client, village_admin):
    village = village_admin.memberships.get().village
    assert page(client, village_admin, "village_detail", village.code).status_code == 200
    neighbour = Village.objects.filter(town=village.town).exclude(code=village.code).first()
    assert page(client, village_admin, "village_detail", neighbour.code).status_code == 404


def test_village_list_filters_by_search_and_committee(client, task_force):
    response = page(client, task_force, "village_list", q="刘庄")
    names = [v.name for v in response.context["page"].object_list]
    assert names and all("刘庄" in name for name in names)
    response = page(client, task_force, "village_list", committee_type="residents")
    assert response.context["page"].paginator.count == 18


def test_village_list_refuses_a_town_outside_scope_as_filter(client, hj_officer):
    other = Town.objects.exclude(code=HUJI).first()
    response = page(client, hj_officer, "village_list", town_id=other.code)
    assert response.status_code == 200
    assert response.context["filter"].errors  # not a valid choice for this user
    assert all(v.town_id == HUJI for v in response.context["page"].object_list)


def test_village_list_paginates(client, task_force):
    first = page(client, task_force, "village_list")
    assert first.context["page"].paginator.count == 558
    assert len(first.context["page"].object_list) == 50
    last = page(client, task_force, "village_list", page=12)
    assert len(last.context["page"].object_list) == 8


@pytest.mark.parametrize(
    ("name", "args", "params"),
    [
        ("home", (), {}),
        ("town_list", (), {}),
        ("town_detail", (HUJI,), {}),
        ("village_list", (), {}),
        ("village_list", (), {"q": "村", "committee_type": "villagers"}),
    ],
)
def test_list_pages_run_a_constant_number_of_queries(
    client, task_force, django_assert_max_num_queries, name, args, params
):
    # 558 villages, 13 towns; a page of 50 rows must not cost a query per row.
    client.force_login(task_force)
    with django_assert_max_num_queries(10):
        response = client.get(reverse(name, args=args), params)
    assert response.status_code == 200


def test_english_is_available(client, task_force):
    client.force_login(task_force)
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    body = client.get(reverse("home")).content.decode()
    assert "Towns in your jurisdiction" in body
    assert "Log out" in body


def test_browser_language_does_not_switch_the_interface(client, task_force):
    client.force_login(task_force)
    body = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "您的角色" in body
    assert "Towns in your jurisdiction" not in body


def test_pagination_links_keep_the_filters(client, task_force):
    body = page(client, task_force, "village_list", committee_type="villagers").content.decode()
    assert "committee_type=villagers&amp;page=2" in body
