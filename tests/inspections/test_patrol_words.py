"""What the inspector reads on the scan and patrol pages: an old photo's age in the unit a
person says ("约 15 年前", with the date, not "139320.5小时前"), the doubt said once, the site's
code called 编号 (not 区划代码, the statistical division code), distances in 米 throughout."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from inspections.models import Patrol
from inspections.sites import presence
from tests.inspections.conftest import camera_upload
from tests.inspections.test_presence_checks import patrol_post


@pytest.mark.parametrize(
    "hours, words",
    [
        (5.46, "5.5 小时前"),
        (72, "约 3 天前"),
        (24 * 100, "约 3 个月前"),
        (139320.5, "约 16 年前"),
    ],
)
def test_an_age_is_said_in_days_months_or_years(hours, words):
    with translation.override("zh-hans"):
        assert presence.format_age(hours) == words


def test_an_old_photo_says_when_it_was_taken_and_the_doubt_is_said_once(
    client, inspector, huji_site
):
    client.force_login(inspector)
    taken = timezone.now() - timedelta(days=365 * 15)
    data = patrol_post(huji_site, photos=[camera_upload(taken_at=taken)])
    response = client.post(reverse("scan", args=[huji_site.token]), data, follow=True)
    page = response.content.decode()
    patrol = Patrol.objects.get()
    assert patrol.flagged
    reason = presence.message(patrol.flags[0])
    with translation.override("zh-hans"):
        reason = presence.message(patrol.flags[0])
    assert "约 15 年前" in reason and timezone.localtime(taken).strftime("%Y-%m-%d") in reason
    assert "小时前" not in reason
    assert page.count("约 15 年前") == 1  # on the page, not again in the message above it
    assert "到场存疑" in page


def test_the_site_code_is_not_called_a_division_code(client, inspector, huji_site):
    client.force_login(inspector)
    for url in (reverse("scan", args=[huji_site.token]), reverse("site_list")):
        page = client.get(url).content.decode()
        assert "区划代码" not in page and "编号" in page, url


def test_distances_on_the_patrol_page_are_in_metres(client, inspector, huji_site):
    client.force_login(inspector)
    data = patrol_post(huji_site, photos=[camera_upload()], north_m=38)
    client.post(reverse("scan", args=[huji_site.token]), data)
    page = client.get(reverse("patrol_detail", args=[Patrol.objects.get().pk])).content.decode()
    assert "± 8 米" in page and "38米" in page.replace(" ", "") and " m)" not in page
    form = client.get(reverse("scan", args=[huji_site.token])).content.decode()
    assert 'data-metres="{m} 米"' in form and 'data-kilometres="{km} 公里"' in form
