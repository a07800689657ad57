"""The register, a site's page with its history, and the task force's site actions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inspections.models import SiteState
from tests.inspections.conftest import make_patrol, make_site


def test_the_register_lists_the_users_sites_only(client, huji_site, jishu_site, hj_officer):
    client.force_login(hj_officer)
    page = client.get(reverse("site_list")).content.decode()
    assert huji_site.code in page and jishu_site.code not in page


def test_the_register_filters(client, huji, huji_village, jishu_site, task_force):
    pond = make_site(huji, huji_village, name="东坑塘", kind="pond")
    river = make_site(huji, huji_village, name="西河道", kind="river")
    client.force_login(task_force)
    page = client.get(reverse("site_list"), {"kind": "river"}).content.decode()
    assert river.code in page and pond.code not in page
    page = client.get(reverse("site_list"), {"q": "东坑"}).content.decode()
    assert pond.code in page and river.code not in page
    assert client.get(reverse("site_list"), {"state": "nonsense"}).status_code == 400


@pytest.mark.parametrize("who", ["nobody", "service_worker"])
def test_the_register_shows_nothing_to_others(client, huji_site, request, who):
    client.force_login(request.getfixturevalue(who))
    page = client.get(reverse("site_list")).content.decode()
    assert huji_site.code not in page


def test_register_query_count_does_not_grow(
    client, huji, huji_village, task_force, django_assert_num_queries
):
    client.force_login(task_force)
    for _ in range(3):
        make_site(huji, huji_village)
    client.get(reverse("site_list"))  # warm the session and scope caches
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("site_list"))
    for _ in range(20):
        make_site(huji, huji_village)
    with django_assert_num_queries(len(few)):
        client.get(reverse("site_list"))


def test_site_page_query_count_does_not_grow_with_patrols(
    client, huji_site, inspector, task_force, django_assert_num_queries
):
    client.force_login(task_force)
    make_patrol(huji_site, inspector, on=date(2026, 10, 3))
    url = reverse("site_detail", args=[huji_site.code])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for n in range(20):
        day = date(2026, 9, 1) + timedelta(days=n)
        make_patrol(huji_site, inspector, on=day, flagged=n % 3 == 0)
    with django_assert_num_queries(len(few)):
        response = client.get(url)
    assert response.content.decode().count("/patrols/") >= 21


def test_site_page_is_404_outside_the_jurisdiction(client, huji_site, other_officer):
    client.force_login(other_officer)
    assert client.get(reverse("site_detail", args=[huji_site.code])).status_code == 404


def test_task_force_runs_site_actions(client, huji, huji_village, task_force, hj_officer):
    site = make_site(huji, huji_village)
    url = reverse("site_action", args=[site.code, "accept"])
    client.force_login(hj_officer)
    page = client.get(reverse("site_detail", args=[site.code])).content.decode()
    assert url not in page  # an action the user may not take is not offered
    assert client.post(url, {"state": "governing"}).status_code == 403
    client.force_login(task_force)
    assert url in client.get(reverse("site_detail", args=[site.code])).content.decode()
    assert client.post(url, {"state": "governing"}).status_code == 303
    site.refresh_from_db()
    assert site.state == SiteState.MAINTAINED
    # The page was stale: the site is maintained now.
    assert client.post(url, {"state": "governing"}).status_code == 409
    assert client.post(url, {"state": "maintained"}).status_code == 400
    forged = reverse("site_action", args=[site.code, "rectified"])
    assert client.post(forged).status_code == 404
    assert client.get(url).status_code == 405


def test_a_new_label_from_the_site_page(client, huji_site, hj_officer):
    old = huji_site.token
    client.force_login(hj_officer)
    response = client.post(reverse("site_action", args=[huji_site.code, "rotate_token"]))
    assert response.status_code == 303
    huji_site.refresh_from_db()
    assert huji_site.token != old
    assert client.get(f"/s/{old}").status_code == 410
