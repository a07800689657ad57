"""In a real browser: a town officer on a phone submits a rectification with a photo, then the
task force at a desk closes it. Screenshots of each step go to test-artifacts/phone_submit/.

Runs Debian's chromium through Playwright for Python (no `playwright install`, no download).
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.urls import include, path, re_path
from django.utils import timezone
from django.views.static import serve
from PIL import ExifTags, Image

from tests.factories import PASSWORD
from workflows.models import RectificationTicket, TicketEvent

CHROMIUM = "/usr/bin/chromium"
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="Playwright for Python is not installed (pip install -e '.[dev]')",
)
if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)", allow_module_level=True)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "phone_submit"
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 900}


def _media(request, path):
    # The live server serves static files but not media; the photos should show in screenshots.
    return serve(request, path, document_root=settings.MEDIA_ROOT)


urlpatterns = [
    re_path(r"^media/(?P<path>.*)$", _media),
    path("", include("config.urls")),
]


@pytest.fixture
def browser(monkeypatch, settings):
    settings.ROOT_URLCONF = __name__
    # Playwright's sync API runs an event loop in this thread; Django would refuse database
    # access from a thread with a running loop, though nothing here is actually async.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()
        # The test's own queries, made while Playwright's loop runs, leave a connection open
        # that Django's teardown does not see: PostgreSQL would refuse to drop the test database.
        connections.close_all()


@pytest.fixture
def artifacts():
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    yield ARTIFACTS
    print(f"\nscreenshots: {ARTIFACTS}")


@pytest.fixture
def photo_file(tmp_path) -> Path:
    """A phone-sized JPEG: 1200×900, so the pipeline really scales it."""
    file = tmp_path / "IMG_20250601_093000.jpg"
    image = Image.new("RGB", (1200, 900), (70, 120, 60))
    image.paste((200, 190, 170), (300, 200, 900, 700))
    # A camera's EXIF, taken now: a patrol's photo without camera data is flagged.
    exif = Image.Exif()
    taken = timezone.localtime().strftime("%Y:%m:%d %H:%M:%S")
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85, exif=exif)
    file.write_bytes(buffer.getvalue())
    return file


def log_in(page, base: str, username: str, next_path: str) -> None:
    page.goto(f"{base}/accounts/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")  # not the language switcher's button


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_officer_submits_on_a_phone_and_task_force_closes(
    live_server, browser, artifacts, photo_file, assigned, hj_officer, task_force
):
    base, number = live_server.url, assigned.number
    ticket_path = f"/tickets/{number}/"

    phone = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    page = phone.new_page()
    log_in(page, base, hj_officer.username, "/tickets/")
    page.screenshot(path=artifacts / "01-phone-inbox.png", full_page=True)
    assert no_horizontal_scroll(page)
    page.click(f"text={number}")
    page.wait_for_url(f"**{ticket_path}")
    assert page.inner_text("#ticket-state") == "整改中"
    page.screenshot(path=artifacts / "02-phone-ticket.png", full_page=True)
    assert no_horizontal_scroll(page)

    form = page.locator("form#action-submit")
    form.locator("textarea[name=note]").fill("已清理岸边垃圾，设置警示牌一块")
    form.locator("input[name=photos]").set_input_files(str(photo_file))
    form.scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "03-phone-filled.png")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert page.inner_text("#ticket-state") == "待复核"
    assert "提交复核，已完成" in page.inner_text(".messages")
    page.screenshot(path=artifacts / "04-phone-submitted.png", full_page=True)
    assert no_horizontal_scroll(page)
    phone.close()

    desk = browser.new_context(viewport=DESK, locale="zh-CN")
    page = desk.new_page()
    log_in(page, base, task_force.username, ticket_path)
    page.wait_for_url(f"**{ticket_path}")
    assert page.locator(".compare img").count() == 2  # before and after, side by side
    page.screenshot(path=artifacts / "05-desk-review.png", full_page=True)
    with page.expect_navigation():
        page.locator("form#action-close button[type=submit]").click()
    assert page.inner_text("#ticket-state") == "已销号"
    page.screenshot(path=artifacts / "06-desk-closed.png", full_page=True)
    desk.close()

    ticket = RectificationTicket.objects.get(pk=assigned.pk)
    assert ticket.state == "closed"
    submit = TicketEvent.objects.get(rectification=ticket, action="submit")
    assert (submit.actor, submit.note) == (hj_officer, "已清理岸边垃圾，设置警示牌一块")
    (stored,) = submit.photos.all()
    assert (stored.original_name, stored.width, stored.height) == (photo_file.name, 1200, 900)
    assert len(list(artifacts.glob("*.png"))) == 6
