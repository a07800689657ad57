"""Field capture without network, in Debian's Chromium on a 390×844 phone with geolocation.

(a) An inspector downloads his sites online, goes offline, opens a site's QR URL (the service
    worker serves the offline scan page), records a patrol with two camera photos, reloads,
    closes the browser and opens it again on the same profile: the queue still holds the
    patrol. Back online, exactly one patrol arrives, judged at the time it was observed, with
    both photos shrunk on the phone and their EXIF position kept.
(b) Without a service worker (registration blocked): what was typed and chosen comes back
    after a reload; offline at 提交 nothing is lost, 重发 sends it once, a second flush
    finds it recorded already.
(c) On a throttled link (400 kbps up, 400 ms) the upload shows its progress up to 100 %.
(d) A town officer's rectification submit, offline on the ticket page downloaded that
    morning, arrives once with its photo and the time it was recorded.
Screenshots go to test-artifacts/field_offline/.
"""

from __future__ import annotations

import io
import random
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.utils import timezone
from PIL import ExifTags, Image

from inspections.models import Patrol
from tests.factories import make_user, membership
from tests.inspections.conftest import HUJI_SITE, make_site, moved
from tests.workflows.test_phone_submit import (  # noqa: F401 — fixtures and the URLconf
    CHROMIUM,
    PHONE,
    log_in,
    sync_api,
    urlpatterns,
)
from villages.models import Role
from workflows.evidence.services import evidence_photo_create
from workflows.models import TicketEvent
from workflows.tickets import services as tickets

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "field_offline"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WAIT_MS = 60_000


@pytest.fixture
def playwright(monkeypatch, settings, tmp_path):
    settings.ROOT_URLCONF = __name__
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        yield playwright
        # Inside the block: the connections the test opened while Playwright's loop ran live
        # in that loop's context; PostgreSQL would refuse to drop the test database.
        connections.close_all()


@pytest.fixture
def shots():
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)

    def shot(page, name):
        page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)

    yield shot
    print(f"\nscreenshots: {ARTIFACTS}")


def _rational(value: float):
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60 * 10000)
    return ((degrees, 1), (minutes, 1), (seconds, 10000))


def camera_photo(path: Path, position, *, size=(4000, 3000), colour=(70, 120, 60)) -> Path:
    """A phone camera's JPEG: full size, taken now, with the GPS position in its EXIF. Its
    texture (noise, enlarged) makes it compress like a photo rather than a flat colour."""
    rng = random.Random(f"{path.name}{size}")
    small = (max(1, size[0] // 10), max(1, size[1] // 10))
    noise = Image.frombytes("RGB", small, rng.randbytes(small[0] * small[1] * 3))
    image = Image.blend(
        noise.resize(size, Image.Resampling.BICUBIC), Image.new("RGB", size, colour), 0.4
    )
    image.paste((200, 190, 170), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestPhone"
    exif[ExifTags.Base.Model] = "Field 1"
    taken = timezone.localtime().strftime("%Y:%m:%d %H:%M:%S")
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    lat, lng = position
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(
        {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: tuple(n / d for n, d in _rational(lat)),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: tuple(n / d for n, d in _rational(lng)),
        }
    )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92, exif=exif)
    path.write_bytes(buffer.getvalue())
    return path


def phone(playwright, profile: Path, position, **options):
    lat, lng = position
    return playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        args=ARGS,
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        geolocation={"latitude": lat, "longitude": lng, "accuracy": 12},
        permissions=["geolocation"],
        **options,
    )


def controlled(page) -> None:
    """Wait until the service worker controls the page (after its first install)."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    if not page.evaluate("Boolean(navigator.serviceWorker.controller)"):
        page.reload()
    page.wait_for_function("() => Boolean(navigator.serviceWorker.controller)", timeout=WAIT_MS)


def download_today(page, base: str) -> None:
    page.goto(base + "/field/")
    controlled(page)
    page.click("button.pack-download")
    page.wait_for_function(
        "() => document.querySelector('button.pack-download').dataset.done === '1'", timeout=WAIT_MS
    )


def fill_patrol(page, photos) -> None:
    page.wait_for_function("() => document.querySelector('input[name=lat]').value !== ''")
    page.check("input[name=result][value=normal]")
    page.fill("textarea[name=note]", "水面清洁，无异味")
    for photo in photos:
        page.locator("input[type=file][name=photos]:not([hidden])").last.set_input_files(str(photo))
    page.wait_for_function(
        f"() => document.querySelectorAll('.photo-previews figure').length === {len(photos)}"
    )


def press_submit(page, selector="form.patrol-form button[type=submit]") -> None:
    page.locator(selector).scroll_into_view_if_needed()
    page.locator(selector).click()


def field_state(page, state: str) -> None:
    page.wait_for_selector(f".field-status[data-state={state}]", timeout=WAIT_MS)


def test_a_patrol_recorded_offline_survives_a_restart_and_arrives_once(
    playwright, live_server, tmp_path, shots, huji_site, inspector
):
    base, scan = live_server.url, f"/s/{huji_site.token}"
    profile, near = tmp_path / "profile", moved(HUJI_SITE, north_m=30)
    photos = [camera_photo(tmp_path / f"IMG_000{n}.jpg", near) for n in (1, 2)]

    context = phone(playwright, profile, near)
    page = context.new_page()
    log_in(page, base, inspector.username, "/field/")
    download_today(page, base)
    assert huji_site.name in page.inner_text(".pack-sites")
    shots(page, "a1-downloaded")

    context.set_offline(True)
    page.goto(base + scan)  # the QR code, scanned at the pond without network
    assert page.locator(".offline-banner").is_visible()
    page.wait_for_function(f"() => document.querySelector('h1').textContent === {huji_site.name!r}")
    before = timezone.now()
    fill_patrol(page, photos)
    shots(page, "a2-offline-filled")
    press_submit(page)
    field_state(page, "waiting")
    after = timezone.now()
    assert page.locator(".field-queue-badge").inner_text().startswith("1")
    shots(page, "a3-kept-on-phone")

    page.reload()  # still offline: the service worker's page, the record still queued
    field_state(page, "waiting")
    context.close()
    assert not Patrol.objects.exists()

    context = phone(playwright, profile, near)
    context.set_offline(True)
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(base + "/field/")
    page.wait_for_selector("li.queue-item[data-status=waiting]", timeout=WAIT_MS)
    assert page.locator("li.queue-item").count() == 1
    shots(page, "a4-reopened-offline")
    assert not Patrol.objects.exists()

    context.set_offline(False)  # back in the village: sent by itself
    page.wait_for_selector("li.queue-item[data-status=done]", timeout=WAIT_MS)
    shots(page, "a5-sent")
    context.close()

    patrol = Patrol.objects.get()
    assert patrol.inspector == inspector and patrol.site == huji_site
    assert before - timedelta(minutes=1) <= patrol.observed_at <= after
    assert patrol.observed_at < patrol.created_at
    assert not patrol.flagged, patrol.flags
    stored = list(patrol.photos.order_by("id"))
    assert [p.original_name for p in stored] == ["IMG_0001.jpg", "IMG_0002.jpg"]
    for photo in stored:
        assert max(photo.width, photo.height) <= 1600  # shrunk on the phone
        assert photo.gps_lat == pytest.approx(near[0], abs=1e-4)
        assert photo.gps_lng == pytest.approx(near[1], abs=1e-4)
        assert photo.taken_at is not None


def test_without_a_service_worker_nothing_typed_or_chosen_is_lost(
    playwright, live_server, tmp_path, shots, huji_site, inspector
):
    base, scan = live_server.url, f"/s/{huji_site.token}"
    near = moved(HUJI_SITE, east_m=20)
    photo = camera_photo(tmp_path / "IMG_0101.jpg", near, size=(2000, 1500))
    context = phone(playwright, tmp_path / "profile", near, service_workers="block")
    page = context.new_page()
    log_in(page, base, inspector.username, scan)
    page.wait_for_url(f"**{scan}")
    assert not page.evaluate(
        "Boolean(navigator.serviceWorker && navigator.serviceWorker.controller)"
    )

    fill_patrol(page, [photo])
    page.wait_for_timeout(500)  # the draft is written 300 ms after the last change
    page.reload()
    field_state(page, "restored")
    assert page.input_value("textarea[name=note]") == "水面清洁，无异味"
    assert page.is_checked("input[name=result][value=normal]")
    page.wait_for_function("() => document.querySelectorAll('.photo-previews figure').length === 1")
    shots(page, "b1-restored")

    page.wait_for_function("() => document.querySelector('input[name=lat]').value !== ''")
    context.set_offline(True)
    press_submit(page)
    field_state(page, "waiting")
    assert "网络恢复后" in page.inner_text(".field-status")
    shots(page, "b2-not-sent")
    assert not Patrol.objects.exists()

    context.set_offline(False)
    with page.expect_navigation(timeout=WAIT_MS):
        page.click(".field-status button.field-resend")
    assert "/patrols/" in page.url
    assert Patrol.objects.count() == 1
    again = page.evaluate("FieldQueue.flush(true).then(sent => sent.length)")
    assert again == 0  # nothing left to send
    assert Patrol.objects.count() == 1
    context.close()


def test_a_throttled_upload_shows_its_progress(
    playwright, live_server, tmp_path, huji_site, inspector
):
    base, scan = live_server.url, f"/s/{huji_site.token}"
    near = moved(HUJI_SITE, north_m=10)
    photo = camera_photo(tmp_path / "IMG_0201.jpg", near)
    context = phone(playwright, tmp_path / "profile", near)
    page = context.new_page()
    log_in(page, base, inspector.username, scan)
    page.wait_for_url(f"**{scan}")
    fill_patrol(page, [photo])
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 400,
            "downloadThroughput": 400_000 / 8,
            "uploadThroughput": 400_000 / 8,
        },
    )
    seen = []
    page.on(
        "console",
        lambda message: (
            seen.append(int(message.text.split()[1]))
            if message.text.startswith("progress ")
            else None
        ),
    )
    page.evaluate(
        """() => new MutationObserver(() => {
          const box = document.querySelector('.field-status');
          if (box && box.dataset.progress) console.log('progress ' + box.dataset.progress);
        }).observe(document.body, {subtree: true, attributes: true,
                                   attributeFilter: ['data-progress']})"""
    )
    with page.expect_navigation(timeout=WAIT_MS * 2):
        press_submit(page)
    assert "/patrols/" in page.url
    assert Patrol.objects.count() == 1
    assert seen and seen[-1] == 100, seen
    assert any(0 < value < 100 for value in seen), seen  # it moved while the photo went up
    assert seen == sorted(seen)
    context.close()


def test_a_rectification_submitted_offline_arrives_once(
    playwright, live_server, tmp_path, shots, huji, huji_village, inspector, task_force
):
    officer = make_user("field_officer", membership(Role.TOWN_OFFICER, huji))
    small = camera_photo(tmp_path / "before.jpg", HUJI_SITE, size=(64, 48))
    before_photo = evidence_photo_create(
        file=SimpleUploadedFile(small.name, small.read_bytes(), content_type="image/jpeg"),
        uploaded_by=inspector,
    )
    ticket = tickets.rectification_create(
        by=inspector,
        town=huji,
        village=huji_village,
        description="河道岸边堆放生活垃圾",
        source_kind="patrol",
        before_photos=[before_photo],
    )
    ticket = tickets.rectification_assign(
        ticket=ticket, by=task_force, deadline=timezone.localdate() + timedelta(days=10)
    )
    base, page_path = live_server.url, f"/tickets/{ticket.number}/"
    photo = camera_photo(tmp_path / "IMG_0301.jpg", HUJI_SITE)
    context = phone(playwright, tmp_path / "profile", HUJI_SITE)
    page = context.new_page()
    log_in(page, base, officer.username, "/field/")
    download_today(page, base)
    assert ticket.number in page.inner_text(".pack-jobs")

    context.set_offline(True)
    page.goto(base + page_path)  # from the phone's cache
    form = page.locator("form#action-submit")
    form.locator("textarea[name=note]").fill("已清理岸边垃圾")
    form.locator("input[name=photos]").set_input_files(str(photo))
    recorded = timezone.now()
    press_submit(page, "form#action-submit button[type=submit]")
    field_state(page, "waiting")
    shots(page, "d1-submit-kept")
    assert not TicketEvent.objects.filter(action="submit").exists()

    with page.expect_navigation(timeout=WAIT_MS):  # sent by itself, then the page shows it
        context.set_offline(False)
    assert page.inner_text("#ticket-state") == "待复核"
    submit = TicketEvent.objects.get(rectification=ticket, action="submit")
    assert submit.actor == officer and submit.note == "已清理岸边垃圾"
    assert submit.key is not None
    assert submit.observed_at is not None
    assert recorded - timedelta(minutes=1) <= submit.observed_at <= submit.at
    (stored,) = submit.photos.all()
    assert max(stored.width, stored.height) <= 1600
    assert TicketEvent.objects.filter(action="submit").count() == 1
    context.close()


def test_logging_out_takes_the_downloaded_sites_off_the_phone_not_the_queue(
    playwright, live_server, tmp_path, huji_site, inspector
):
    base, scan = live_server.url, f"/s/{huji_site.token}"
    near = moved(HUJI_SITE, north_m=15)
    context = phone(playwright, tmp_path / "profile", near)
    page = context.new_page()
    log_in(page, base, inspector.username, "/field/")
    download_today(page, base)
    page.goto(base + scan)
    fill_patrol(page, [camera_photo(tmp_path / "IMG_0401.jpg", near, size=(800, 600))])
    page.route(
        "**/s/*",
        lambda route: route.abort() if route.request.method == "POST" else route.continue_(),
    )
    press_submit(page)
    field_state(page, "waiting")  # the server cannot be reached: kept

    with page.expect_navigation():
        page.click("form[action$='/accounts/logout/'] button")
    kept = page.evaluate(  # the login page loads none of the field scripts: plain IndexedDB
        """async () => {
            const db = await new Promise((ok, no) => {
                const request = indexedDB.open('renju-field');
                request.onsuccess = () => ok(request.result);
                request.onerror = () => no(request.error);
            });
            const count = (store) => new Promise((ok) => {
                const request = db.transaction(store).objectStore(store).count();
                request.onsuccess = () => ok(request.result);
            });
            return {sites: await count('sites'), queue: await count('queue'),
                    pages: await caches.has('field-pages')};
        }"""
    )
    assert kept == {"sites": 0, "queue": 1, "pages": False}

    page.unroute("**/s/*")
    log_in(page, base, inspector.username, "/field/")
    page.wait_for_selector("li.queue-item[data-status=done]", timeout=WAIT_MS)
    assert Patrol.objects.get().inspector == inspector
    context.close()


def test_a_photo_comes_from_the_camera_or_from_the_album(
    playwright, live_server, tmp_path, huji_site, inspector
):
    """拍照 opens the camera (capture), 相册 the phone's pictures (no capture): a photo taken
    earlier at the pond, without signal, can be attached."""
    base, scan = live_server.url, f"/s/{huji_site.token}"
    near = moved(HUJI_SITE, north_m=10)
    earlier = camera_photo(tmp_path / "IMG_0501.jpg", near, size=(800, 600))
    context = phone(playwright, tmp_path / "profile", near)
    page = context.new_page()
    log_in(page, base, inspector.username, scan)
    page.wait_for_url(f"**{scan}")
    with page.expect_file_chooser() as chooser:
        page.click("form.patrol-form button.photo-album")
    assert chooser.value.element.get_attribute("capture") is None
    chooser.value.set_files(str(earlier))
    page.wait_for_selector(".photo-previews figure img")
    assert "已选 1 张" in page.inner_text(".photo-buttons")
    with page.expect_file_chooser() as chooser:
        page.click("form.patrol-form button.photo-camera")
    assert chooser.value.element.get_attribute("capture") == "environment"
    context.close()


def test_the_sites_still_to_patrol_are_listed_nearest_first(
    playwright, live_server, tmp_path, huji, huji_village, inspector
):
    far = make_site(huji, huji_village, state="maintained", position=moved(HUJI_SITE, north_m=900))
    near = make_site(huji, huji_village, state="maintained", position=moved(HUJI_SITE, east_m=50))
    type(far).objects.update(created_at=timezone.now() - timedelta(days=90))
    context = phone(playwright, tmp_path / "profile", HUJI_SITE)
    page = context.new_page()
    log_in(page, live_server.url, inspector.username, "/field/")
    page.wait_for_selector(".due-sites[data-sorted=nearest]", timeout=WAIT_MS)
    names = page.locator(".due-sites li a").all_inner_texts()
    assert names == [near.name, far.name]
    assert "50 米" in page.locator(".due-sites li").first.inner_text()
    context.close()


def test_the_scan_page_is_compact_on_a_360_px_phone(
    playwright, live_server, tmp_path, huji_site, inspector
):
    """The header in two rows (it took three), the choices side by side (one a line made the
    form three screens long), nothing wider than the screen."""
    context = phone(playwright, tmp_path / "profile", HUJI_SITE)
    page = context.new_page()
    page.set_viewport_size({"width": 360, "height": 780})
    scan = f"/s/{huji_site.token}"
    log_in(page, live_server.url, inspector.username, scan)
    page.wait_for_url(f"**{scan}")
    assert page.evaluate("document.querySelector('.topbar').getBoundingClientRect().height") < 100

    def rows(name):
        tops = page.evaluate(
            f"() => [...document.querySelectorAll('input[name={name}]')]"
            ".map(i => Math.round(i.getBoundingClientRect().top))"
        )
        return len(set(tops)), len(tops)

    # Side by side as far as the width allows (before: one choice a line).
    assert rows("result")[0] <= 2 and rows("signboard")[0] <= 2 and rows("checks")[0] <= 3
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    context.close()
