"""The field home's list of sites still due, from the cache (inspections/field/home.py): a fixed
number of queries however many sites, every write that changes the list shown at once, and each
scope its own list."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from inspections.field.home import DUE_TEMPLATE
from inspections.models import WaterSite
from inspections.sites import services
from tests.inspections.conftest import JISHU_SITE, make_site
from tests.inspections.test_scan import patrol_data, scan_url

# session, user, membership (scope), the list's version, the layout's unread count
WARM_QUERIES = 5
# … and the list itself when not cached: the sites due, their patrols of the month
COLD_QUERIES = WARM_QUERIES + 2
LISTED = re.compile(r'<li data-lat="[^"]+" data-lng="[^"]+"><a href="/s/([^"]+)"')


def owed_since_last_month() -> None:
    """Sites registered this month owe patrols from the next one: these are older."""
    WaterSite.objects.update(created_at=timezone.now() - timedelta(days=90))


def home(client):
    response = client.get(reverse("field_home"))
    assert response.status_code == 200
    return response


def listed(response) -> list[str]:
    return LISTED.findall(response.content.decode())


@pytest.mark.parametrize("sites", [1, 20])
def test_the_field_home_costs_a_fixed_number_of_queries(
    client, huji, huji_village, inspector, sites, django_assert_num_queries
):
    for _ in range(sites):
        make_site(huji, huji_village, state="maintained")
    owed_since_last_month()
    client.force_login(inspector)
    with django_assert_num_queries(COLD_QUERIES):
        cold = home(client)
    with django_assert_num_queries(WARM_QUERIES):
        warm = home(client)
    assert len(listed(cold)) == len(listed(warm)) == sites
    assert DUE_TEMPLATE in [t.name for t in cold.templates]
    assert DUE_TEMPLATE not in [t.name for t in warm.templates]


def test_a_recorded_patrol_takes_its_site_off_the_list_at_once(
    client, huji, huji_village, inspector
):
    first = make_site(huji, huji_village, state="maintained")
    second = make_site(huji, huji_village, state="maintained")
    owed_since_last_month()
    client.force_login(inspector)
    assert listed(home(client)) == [first.token, second.token]
    assert client.post(scan_url(first), patrol_data()).status_code == 303
    assert listed(home(client)) == [second.token]


def test_a_site_saved_shows_at_once(client, huji, huji_village, inspector, task_force):
    site = make_site(huji, huji_village, state="maintained")
    owed_since_last_month()
    client.force_login(inspector)
    assert site.name in home(client).content.decode()
    site.refresh_from_db()  # its registration time as owed_since_last_month() set it
    site.name = "王庄坑塘（改名）"
    site.save()
    assert "王庄坑塘（改名）" in home(client).content.decode()
    old_token = site.token
    site = services.site_rotate_token(site=site, by=task_force)
    assert listed(home(client)) == [site.token] != [old_token]
    services.site_transition(site=site, by=task_force, action="delist")
    assert listed(home(client)) == []


def test_each_scope_gets_its_own_list(
    client, huji, huji_village, jishu, jishu_village, inspector, town_inspector
):
    """The county's inspector's list, cached first, is not the town inspector's."""
    here = make_site(huji, huji_village, state="maintained")
    there = make_site(jishu, jishu_village, position=JISHU_SITE, state="maintained")
    owed_since_last_month()
    client.force_login(inspector)
    assert sorted(listed(home(client))) == sorted([here.token, there.token])
    client.force_login(town_inspector)
    assert listed(home(client)) == [here.token]
    client.force_login(inspector)
    assert sorted(listed(home(client))) == sorted([here.token, there.token])
