"""README § A city of counties, step by step: 金乡县's division list (no city row), then
`manage.py init_city` exactly as the README writes it; the supervisor logs in, chooses his
password and compares his city's counties; a further supervisor is given by a superuser in the
Django admin, audited; the county's task force cannot give the role."""

from __future__ import annotations

import io
import re
import shlex

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.urls import reverse

from tests.factories import load_divisions, make_user, membership
from tests.test_going_live import log_in_and_change_password
from villages import access
from villages.models import City, Membership, MembershipChange, Role

JINING = "370800000000"


def readme_command(name: str) -> list[str]:
    """The README's `manage.py <name>` command line, its continuation lines joined, as args."""
    text = (settings.BASE_DIR / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"manage\.py {name} ((?:[^\n]*\\\n)*[^\n]*)", text)
    assert found, f"README shows no manage.py {name}"
    return shlex.split(found[1].replace("\\\n", " "))


def init_city(*args: str) -> str:
    out = io.StringIO()
    call_command("init_city", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_a_city_gets_its_supervisor_from_the_readme(client):
    load_divisions()
    assert not City.objects.exists()  # 金乡县's list has no city row
    out = init_city(*readme_command("init_city"))
    password = re.search(r"one-time password (\S+) |一次性密码(\S+?)（", out)
    assert password, out
    supervisor = Membership.objects.select_related("user", "city").get()
    assert (supervisor.role, supervisor.city.code, supervisor.city.name) == (
        Role.CITY_SUPERVISOR,
        JINING,
        "济宁市",
    )
    assert supervisor.county_id is None
    change = MembershipChange.objects.get(user=supervisor.user)
    assert change.actor is None and change.after["roles"][0]["where"] == "济宁市"

    log_in_and_change_password(client, supervisor.user.username, password[1] or password[2])
    page = client.get(reverse("city_dashboard")).content.decode()
    assert "济宁市" in page and "金乡县" in page
    # Again: nothing changes, no second account.
    init_city(*readme_command("init_city"))
    assert Membership.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args",
    [
        ["--city", "370800000000", "--admin", "zhanghua"],  # no county of 济宁市 stored
        ["--city", "3708", "--admin", "zhanghua"],
        ["--city", "370828000000", "--admin", "zhanghua"],  # a county's code
    ],
)
def test_init_city_refuses_and_writes_nothing(args):
    with pytest.raises(CommandError):
        init_city(*args)
    assert not Membership.objects.exists() and not City.objects.exists()


@pytest.mark.django_db
def test_an_unnamed_city_needs_its_name():
    load_divisions()
    with pytest.raises(CommandError, match="--city-name"):
        init_city("--city", JINING, "--admin", "zhanghua")
    assert not Membership.objects.exists() and not City.objects.exists()


@pytest.mark.django_db
def test_a_superuser_gives_the_role_in_the_admin_and_the_task_force_cannot(client):
    load_divisions()
    city = City.objects.create(code=JINING, name="济宁市")
    task_force = make_user("task_force", membership(Role.TASK_FORCE))
    assert not access.may_grant(task_force, Membership(role=Role.CITY_SUPERVISOR, city=city))
    client.force_login(task_force)  # the people page offers no such role
    response = client.post(
        reverse("person_new"),
        {"name": "张华", "username": "zhanghua", "role": Role.CITY_SUPERVISOR},
    )
    assert (
        response.status_code in (200, 400)
        and not Membership.objects.filter(role=Role.CITY_SUPERVISOR).exists()
    )

    admin = make_user("root", is_staff=True, is_superuser=True)
    person = make_user("zhanghua")
    client.force_login(admin)
    add = reverse("admin:villages_membership_add")
    # A county named too does not fit the role: the form says so, nothing is written.
    fields = {"user": person.pk, "role": Role.CITY_SUPERVISOR, "city": JINING}
    assert client.post(add, fields | {"county": "370828000000"}).status_code == 200
    assert not Membership.objects.filter(user=person).exists()
    response = client.post(add, fields)
    assert response.status_code == 302
    change = MembershipChange.objects.get(user=person)
    assert (change.actor, change.via) == (admin, "admin")
    assert change.after["roles"][0]["where"] == "济宁市"
    assert access.allows(person, "city.dashboard")
