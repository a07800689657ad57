"""The header's menu and the phone strings, rendered once per language and set of permissions
(villages/templatetags/layout.py): what a user sees follows his roles, language and badge at
once, and a page that finds its menu made renders no menu template."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import get_template
from django.urls import reverse

from tests.factories import membership, with_county
from villages.models import Membership, Role
from villages.templatetags import layout

pytestmark = pytest.mark.django_db


def nav(client) -> str:
    html = client.get("/").content.decode()
    return re.search(r'<nav class="nav".*?</nav>', html, re.S).group(0)


def test_the_menu_asks_only_the_permissions_it_is_given():
    source = Path(get_template(layout.NAV_TEMPLATE).origin.name).read_text()
    asked = set(re.findall(r"can\.([a-z_]+\.[a-z_]+)", source))
    assert asked == set(layout.NAV_PERMS)
    base = Path(settings.BASE_DIR / "templates" / "base.html").read_text()
    assert "<nav" not in base  # the menu is the cached one only


def test_the_menu_follows_a_role_given_and_taken_at_once(client, hj_officer):
    client.force_login(hj_officer)
    tickets = f'href="{reverse("ticket_list")}"'
    people = f'href="{reverse("person_list")}"'
    assert tickets in nav(client) and people not in nav(client)
    given = Membership.objects.create(user=hj_officer, **with_county(membership(Role.TASK_FORCE)))
    assert people in nav(client)
    given.delete()
    assert tickets in nav(client) and people not in nav(client)
    Membership.objects.filter(user=hj_officer).delete()
    assert tickets not in nav(client)


def test_the_menu_speaks_the_users_language(client, task_force):
    client.force_login(task_force)
    assert "整改" in nav(client)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = client.get("/").content.decode()
    assert "Rectification" in nav(client) and "整改" not in nav(client)
    assert 'data-recorded="Recorded."' in english  # the phone strings too


def test_a_page_renders_the_menu_once_per_kind_of_user(client, task_force, hj_officer):
    layout._nav.cache_clear()
    client.force_login(task_force)
    first = client.get("/")
    assert layout.NAV_TEMPLATE in [t.name for t in first.templates]
    again = client.get("/")
    assert layout.NAV_TEMPLATE not in [t.name for t in again.templates]
    client.force_login(hj_officer)  # other permissions: its own menu
    assert layout.NAV_TEMPLATE in [t.name for t in client.get("/").templates]


def test_a_page_rendered_without_its_request_still_has_its_menu(task_force):
    from django.template.loader import render_to_string

    html = render_to_string("base.html", {"user": task_force})
    assert '<nav class="nav"' in html
    assert render_to_string("layout/field_strings.html")  # and the phone strings alone
    assert layout.main_nav({}, 0) == ""  # no user at all: no menu, no error
