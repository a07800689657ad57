"""In a real browser on a phone: an inspector scans a site's QR URL, logs in, lands back on the
site, the page reads his GPS and tells the distance, he records a 疑似反弹 patrol with a camera
photo, and the ticket for the town appears. Screenshots go to test-artifacts/phone_patrol/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings

from inspections.models import Patrol, SiteState
from tests.inspections.conftest import HUJI_SITE, moved
from tests.workflows.test_phone_submit import (  # noqa: F401 — fixtures
    PHONE,
    browser,
    log_in,
    no_horizontal_scroll,
    photo_file,
)
from workflows.models import RectificationTicket

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "phone_patrol"


@pytest.fixture
def artifacts():
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    yield ARTIFACTS
    print(f"\nscreenshots: {ARTIFACTS}")


def test_inspector_scans_logs_in_and_reports_a_rebound(
    live_server,
    browser,  # noqa: F811 — the fixture imported above
    artifacts,
    photo_file,  # noqa: F811
    huji_site,
    inspector,
    huji,
):
    lat, lng = moved(HUJI_SITE, north_m=40)
    phone = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        geolocation={"latitude": lat, "longitude": lng, "accuracy": 12},
        permissions=["geolocation"],
    )
    page = phone.new_page()
    scan = f"/s/{huji_site.token}"
    page.goto(live_server.url + scan)  # what the phone camera opens
    assert "/accounts/login/" in page.url
    log_in(page, live_server.url, inspector.username, scan)
    page.wait_for_url(f"**{scan}")
    assert huji_site.name in page.inner_text("h1")
    page.wait_for_function("document.querySelector('input[name=lat]').value !== ''")
    status = page.inner_text(".gps-status")
    assert "40 m" in status or "40 米" in status, status
    page.screenshot(path=artifacts / "01-site-page.png", full_page=True)
    assert no_horizontal_scroll(page)

    page.check("input[name=result][value=rebound]")
    page.check("input[name=checks][value=color_abnormal]")
    page.check("input[name=checks][value=odour]")
    page.fill("textarea[name=note]", "水体发黑，有明显异味")
    page.locator("input[name=photos]").first.set_input_files(str(photo_file))
    page.wait_for_selector(".photo-previews figure img")
    assert page.locator("input[name=photos]").count() == 2  # a fresh input for the next shot
    page.locator("form.patrol-form button[type=submit]").scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "02-filled.png", full_page=True)
    with page.expect_navigation():
        page.locator("form.patrol-form button[type=submit]").click()
    assert "/patrols/" in page.url
    page.screenshot(path=artifacts / "03-recorded.png", full_page=True)
    assert no_horizontal_scroll(page)

    patrol = Patrol.objects.get()
    assert not patrol.flagged and abs(patrol.distance_m - 40) < 1
    assert patrol.accuracy_m == 12
    ticket = RectificationTicket.objects.get()
    assert ticket.town == huji and patrol.ticket == ticket
    page.click(f"dd a:has-text('{ticket.number}')")
    page.wait_for_url(f"**/tickets/{ticket.number}/")
    assert page.locator(".compare img").count() == 1  # the patrol's photo as before-photo
    page.screenshot(path=artifacts / "04-ticket.png", full_page=True)
    phone.close()

    huji_site.refresh_from_db()
    assert huji_site.state == SiteState.SUSPECTED
    (photo,) = patrol.photos.all()
    assert photo.original_name == photo_file.name
