"""A patrol with 3 phone photos over a village's link (400 kbps up and down, 400 ms latency),
from 提交 to "recorded" (the patrol's page), in Debian's Chromium on a 390×844 phone.

Photos: three 4000×3000 JPEGs with texture (noise, enlarged) so they compress like camera
photos (~3.8 MB each at quality 92), EXIF time and GPS 30 m from the site.

Floor ("before"): the same form and queue with the phone's shrinking switched off — the three
originals go up at full size, as every upload did before photos were shrunk on the phone.
Measured ("after"): the photos shrunk on the phone to ≤ 1600 px JPEG (photo_shrink.js) with
their EXIF kept. Target: ≥ 5× faster (ratio ≤ 0.2) and under 30 s. One run of each, on the
same emulated link (Chrome DevTools Protocol Network.emulateNetworkConditions), against a
Django server in this process on 127.0.0.1 only. Skipped (FAILED row) without Chromium.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from common import member, record

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}
LINK = {"offline": False, "latency": 400, "downloadThroughput": 50_000, "uploadThroughput": 50_000}
PHOTOS = 3
SITE = (35.0262, 116.2390)
TARGET_RATIO = 0.2
TARGET_SECONDS = 30
PASSWORD = "bench-field-upload-1"


def run() -> None:
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop runs in this thread
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        raise RuntimeError(f"{CHROMIUM} not found (apt-get install chromium)")
    workdir = Path(tempfile.mkdtemp(prefix="renju-bench-field-"))
    server = start_server()
    try:
        site, user = world()
        near = (SITE[0] + 30 / 111_195, SITE[1])
        photos = [camera_photo(workdir / f"IMG_{n:04d}.jpg", near) for n in range(1, PHOTOS + 1)]
        total_mb = sum(p.stat().st_size for p in photos) / 1e6
        print(f"photos: {PHOTOS} × 4000×3000 JPEG, {total_mb:.1f} MB in all")
        base = f"http://127.0.0.1:{server.port}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            try:
                before = patrol(browser, base, site, user, photos, near, shrink=False)
                after = patrol(browser, base, site, user, photos, near, shrink=True)
            finally:
                browser.close()
        from inspections.models import Patrol

        stored = Patrol.objects.count()
        print(f"before (full size): {before['seconds']:.1f} s, photos {before['sent_mb']:.2f} MB")
        print(f"after (shrunk):     {after['seconds']:.1f} s, {after['sent_mb']:.2f} MB sent")
        print(f"patrols stored: {stored}; {before['seconds'] / after['seconds']:.1f}× faster")
        record(
            benchmark=__name__,
            measured="patrol, 3 photos, 400 kbps",
            value=after["seconds"] * 1000,
            unit="ms",
            floor="same, photos at full size",
            floor_value=before["seconds"] * 1000,
            target=TARGET_RATIO,
            limit=TARGET_SECONDS * 1000,
            note=(
                f"提交 → patrol page; {after['sent_mb']:.2f} MB vs {before['sent_mb']:.2f} MB sent"
            ),
        )
    finally:
        server.terminate()
        shutil.rmtree(workdir, ignore_errors=True)


def world():
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from inspections.models import WaterSite
    from villages.models import Role, Town

    divisions = settings.BASE_DIR / "villages/fixtures/jinxiang/divisions_2023.csv"
    call_command("import_divisions", str(divisions), verbosity=0, stdout=io.StringIO())
    town = Town.objects.order_by("code").first()
    site = WaterSite.objects.create(
        code="BENCH-1", name="坑塘", town=town, kind="pond", lat=SITE[0], lng=SITE[1]
    )
    user = get_user_model().objects.create_user("bench_inspector", password=PASSWORD)
    member(user, Role.INSPECTOR)
    return site, user


def patrol(browser, base, site, user, photos, near, *, shrink: bool) -> dict:
    from inspections.models import Patrol

    context = browser.new_context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        geolocation={"latitude": near[0], "longitude": near[1], "accuracy": 10},
        permissions=["geolocation"],
        service_workers="block",
    )
    page = context.new_page()
    page.goto(f"{base}/accounts/login/?next=/s/{site.token}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    page.wait_for_function("() => document.querySelector('input[name=lat]').value !== ''")
    page.check("input[name=result][value=normal]")
    for photo in photos:
        page.locator("input[type=file][name=photos]:not([hidden])").last.set_input_files(str(photo))
    page.wait_for_function(
        f"() => document.querySelectorAll('.photo-previews figure').length === {len(photos)}"
    )
    if not shrink:
        page.evaluate("() => { window.PhotoShrink = undefined; }")
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", LINK)
    count = Patrol.objects.count()
    start = time.perf_counter()
    with page.expect_navigation(url="**/patrols/**", timeout=600_000):
        page.locator("form.patrol-form button[type=submit]").click()
    seconds = time.perf_counter() - start
    context.close()
    if Patrol.objects.count() != count + 1:
        raise RuntimeError("the patrol was not stored exactly once")
    patrol = Patrol.objects.order_by("-pk").first()
    sent = sum(photo.source_bytes for photo in patrol.photos.all())  # the files as uploaded
    if patrol.photos.count() != len(photos) or patrol.flagged:
        raise RuntimeError(f"patrol stored with {patrol.photos.count()} photos, {patrol.flags}")
    return {"seconds": seconds, "sent_mb": sent / 1e6}


def camera_photo(path: Path, position) -> Path:
    from PIL import ExifTags, Image

    size = (4000, 3000)
    rng = random.Random(path.name)
    small = (size[0] // 6, size[1] // 6)
    noise = Image.frombytes("RGB", small, rng.randbytes(small[0] * small[1] * 3))
    flat = Image.new("RGB", size, (70, 120, 60))
    image = Image.blend(noise.resize(size, Image.Resampling.BICUBIC), flat, 0.4)
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "BenchPhone"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = time.strftime(
        "%Y:%m:%d %H:%M:%S"
    )
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    for ref, tag, value, hemisphere in (
        (ExifTags.GPS.GPSLatitudeRef, ExifTags.GPS.GPSLatitude, position[0], "N"),
        (ExifTags.GPS.GPSLongitudeRef, ExifTags.GPS.GPSLongitude, position[1], "E"),
    ):
        degrees = int(value)
        minutes = int((value - degrees) * 60)
        seconds = ((value - degrees) * 60 - minutes) * 60
        gps[ref], gps[tag] = hemisphere, (degrees, minutes, round(seconds, 4))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92, exif=exif)
    path.write_bytes(buffer.getvalue())
    return path


class _Server:
    def __init__(self, thread):
        self.thread = thread
        self.port = thread.port

    def terminate(self):
        self.thread.terminate()


def start_server() -> _Server:
    """The project's WSGI app with its static files, in a thread of this process (the bench's
    scratch database, shared with the thread as the test live server shares it)."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.db import connections
    from django.test.testcases import LiveServerThread

    shared = {
        alias: connections[alias]
        for alias in connections
        if connections[alias].vendor == "sqlite" and connections[alias].is_in_memory_db()
    }
    for connection in shared.values():
        connection.inc_thread_sharing()
    thread = LiveServerThread("127.0.0.1", StaticFilesHandler, connections_override=shared, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    return _Server(thread)
