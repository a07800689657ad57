"""In a real browser: static/js/photo_shrink.js shrinks a phone photo before upload, pixels
upright, EXIF (capture time, GPS, camera) carried over, and leaves alone what it cannot or
need not shrink. The page is served under the site's own Content-Security-Policy.

Runs Debian's chromium through Playwright for Python (no `playwright install`, no download).
No live server: a routed origin serves the page and the script.
"""

from __future__ import annotations

import base64
import io
import os
import random
import struct
from pathlib import Path

import pytest
from django.conf import settings
from PIL import ExifTags, Image, ImageChops, ImageCms, ImageOps, ImageStat

from workflows.evidence.services import evidence_photo_prepare

CHROMIUM = "/usr/bin/chromium"
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="Playwright for Python is not installed (pip install -e '.[dev]')",
)
if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)", allow_module_level=True)

pytestmark = pytest.mark.slow

BASE = Path(settings.BASE_DIR)
SCRIPT = BASE / "static" / "js" / "photo_shrink.js"
PHOTOS = BASE / "tests" / "data" / "photos"
ORIGIN = "https://shrink.test"
PAGE = (
    "<!doctype html><html><body><input type=file id=f>"
    '<script src="/static/js/photo_shrink.js"></script></body></html>'
)
# The file comes back as base64: page.evaluate cannot return bytes.
SHRINK = """async (longest) => {
  if (longest) PhotoShrink.LONGEST = longest;
  const file = document.getElementById("f").files[0];
  const result = await PhotoShrink.shrink(file);
  const bytes = new Uint8Array(await result.arrayBuffer());
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return {same: result === file, name: result.name, type: result.type, data: btoa(text)};
}"""
RED = (230, 30, 30)
SRGB = ImageCms.createProfile("sRGB")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """The script loaded the way a form page loads it; any CSP refusal or page error fails."""
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.route(f"{ORIGIN}/**", _serve)
    page.goto(f"{ORIGIN}/")
    assert page.evaluate("window.PhotoShrink.LONGEST") == 1600
    yield page
    context.close()
    assert problems == []


def _serve(route) -> None:
    headers = {"Content-Security-Policy": settings.CONTENT_SECURITY_POLICY}
    if route.request.url.endswith("/photo_shrink.js"):
        route.fulfill(body=SCRIPT.read_text(), content_type="text/javascript", headers=headers)
    else:
        route.fulfill(body=PAGE, content_type="text/html", headers=headers)


def shrink(page, path: Path, *, longest: int | None = None) -> tuple[dict, bytes]:
    page.set_input_files("#f", str(path))
    result = page.evaluate(SHRINK, longest)
    return result, base64.b64decode(result.pop("data"))


# --- photos -----------------------------------------------------------------------------------


@pytest.fixture
def big_photo(tmp_path) -> Path:
    """A 12 MP phone photo held sideways (Orientation 6), red block in the stored top-left."""
    image = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize((4000, 3000)),
            Image.effect_noise((4000, 3000), 24),  # texture, so the file is phone-sized
            Image.linear_gradient("L").rotate(90).resize((4000, 3000)),
        ),
    )
    image.paste(RED, (0, 0, 800, 600))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Xiaomi"
    exif[ExifTags.Base.Model] = "Redmi Note 12"
    exif[ExifTags.Base.Orientation] = 6
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2025:06:01 09:30:00"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (35.0, 4.0, 12.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (116.0, 18.0, 7.25)
    file = tmp_path / "IMG_20250601_093000.JPEG"
    image.save(file, "JPEG", quality=92, exif=exif)
    return file


def jpeg_with_segment(data: bytes, segment: bytes) -> bytes:
    """The JPEG with one more segment right after SOI."""
    assert data[:2] == b"\xff\xd8"
    return data[:2] + segment + data[2:]


def exif_facts(data: bytes) -> dict:
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        return {
            "make": exif.get(ExifTags.Base.Make),
            "model": exif.get(ExifTags.Base.Model),
            "taken": exif.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.DateTimeOriginal),
            "gps": exif.get_ifd(ExifTags.IFD.GPSInfo),
        }


def orientation(data: bytes) -> int:
    with Image.open(io.BytesIO(data)) as image:
        return image.getexif().get(ExifTags.Base.Orientation, 1)


def difference(shrunk: bytes, original: bytes, *, upright: bool = True) -> float:
    """Mean absolute difference per channel (0–255) of the two, both shown at 1/10 size."""
    with Image.open(io.BytesIO(shrunk)) as new, Image.open(io.BytesIO(original)) as old:
        size = (new.width // 10, new.height // 10)
        reference = in_srgb(ImageOps.exif_transpose(old) if upright else old)
        pair = [im.convert("RGB").resize(size, Image.Resampling.BOX) for im in (new, reference)]
    return sum(ImageStat.Stat(ImageChops.difference(*pair)).mean) / 3


def in_srgb(image: Image.Image) -> Image.Image:
    # Chromium draws into an sRGB canvas: portrait_6.jpg's Generic RGB (gamma 1.8) is converted.
    image = image.convert("RGB")
    if not image.info.get("icc_profile"):
        return image
    profile = ImageCms.ImageCmsProfile(io.BytesIO(image.info["icc_profile"]))
    return ImageCms.profileToProfile(image, profile, SRGB, outputMode="RGB")


def prepared(data: bytes, name: str):
    file = io.BytesIO(data)
    file.name = name
    return evidence_photo_prepare(file)


def assert_server_reads_the_same(shrunk: bytes, original: bytes, name: str) -> None:
    new, old = prepared(shrunk, name).metadata, prepared(original, name).metadata
    assert new.taken_at is not None
    assert (new.taken_at, new.gps_lat, new.gps_lng) == (old.taken_at, old.gps_lat, old.gps_lng)
    assert (new.camera_make, new.camera_model) == (old.camera_make, old.camera_model)


# --- shrunk -----------------------------------------------------------------------------------


def test_a_big_sideways_photo_is_shrunk_upright_with_its_exif(page, big_photo):
    original = big_photo.read_bytes()
    result, shrunk = shrink(page, big_photo)

    assert result == {"same": False, "name": "IMG_20250601_093000.jpg", "type": "image/jpeg"}
    assert len(shrunk) < len(original) / 5
    with Image.open(io.BytesIO(shrunk)) as image:
        assert (image.format, image.size) == ("JPEG", (1200, 1600))  # turned: portrait
        assert image.convert("RGB").getpixel((1150, 50)) == pytest.approx(RED, abs=40)
        assert image.convert("RGB").getpixel((50, 50)) != pytest.approx(RED, abs=40)
    assert orientation(shrunk) == 1
    assert exif_facts(shrunk) == exif_facts(original)
    assert exif_facts(shrunk)["gps"]  # the comparison compared something
    assert difference(shrunk, original) < 6
    # The server shows it as it is: no second turn.
    display = prepared(shrunk, big_photo.name)
    assert (display.width, display.height) == (1200, 1600)
    assert_server_reads_the_same(shrunk, original, big_photo.name)


def test_an_iphone_photo_upside_down_is_shrunk_with_gps_and_time(page):
    path = PHOTOS / "Apple_iPhone_5.jpg"  # 3264×2448, Orientation 3, big-endian EXIF, GPS W
    original = path.read_bytes()
    result, shrunk = shrink(page, path)

    assert result == {"same": False, "name": "Apple_iPhone_5.jpg", "type": "image/jpeg"}
    assert len(shrunk) < 400_000 < len(original)
    with Image.open(io.BytesIO(shrunk)) as image:
        assert image.size == (1600, 1200)
        thumbnail = image.getexif().get_ifd(ExifTags.IFD.IFD1)
    assert orientation(shrunk) == 1
    assert not thumbnail  # the stored-orientation thumbnail is cut off
    assert exif_facts(shrunk) == exif_facts(original)
    assert difference(shrunk, original) < 6 < 3 * 6 < difference(shrunk, original, upright=False)
    assert_server_reads_the_same(shrunk, original, path.name)


@pytest.mark.parametrize(
    ("name", "size"), [("portrait_6.jpg", (225, 300)), ("landscape_8.jpg", (300, 225))]
)
def test_a_turned_photo_comes_out_upright(page, name, size):
    # These are small: a lower limit makes the script shrink them.
    original = (PHOTOS / name).read_bytes()
    _result, shrunk = shrink(page, PHOTOS / name, longest=300)

    with Image.open(io.BytesIO(shrunk)) as image:
        assert image.size == size
    assert orientation(shrunk) == 1
    assert difference(shrunk, original) < 6 < 3 * 6 < difference(shrunk, original, upright=False)


def test_broken_exif_is_left_out_rather_than_sent_broken(page, big_photo, tmp_path):
    garbage = b"Exif\x00\x00" + b"XX\x00\x2a" + bytes(range(256)) * 4
    segment = b"\xff\xe1" + struct.pack(">H", len(garbage) + 2) + garbage
    with Image.open(big_photo) as image:
        image.save(buffer := io.BytesIO(), "JPEG", quality=92)  # no EXIF of its own
    path = tmp_path / "broken_exif.jpg"
    path.write_bytes(jpeg_with_segment(buffer.getvalue(), segment))

    result, shrunk = shrink(page, path)

    assert result["same"] is False
    with Image.open(io.BytesIO(shrunk)) as image:
        image.load()
        assert (image.size, dict(image.getexif())) == ((1600, 1200), {})
    assert prepared(shrunk, path.name).metadata.taken_at is None


# --- left alone -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Apple_iPhone_4.jpg",  # 1296×968, 338 KB: small already
        "HTC_Desire.jpg",
        "Samsung_GT-I9000_Galaxy_S.jpg",
        "portrait_6.jpg",
        "landscape_8.jpg",
        "no_exif.jpg",
        "IMG_1034.heic",  # Chromium cannot decode HEIC; Safari could, but would lose its EXIF
        "corrupt_fuzzed.jpg",
    ],
)
def test_what_needs_no_shrinking_or_cannot_be_shrunk_is_sent_as_it_is(page, name):
    result, data = shrink(page, PHOTOS / name)

    assert (result["same"], result["name"]) == (True, name)
    assert data == (PHOTOS / name).read_bytes()


def test_a_big_damaged_jpeg_the_browser_cannot_decode_is_sent_as_it_is(page, tmp_path):
    # corrupt_fuzzed.jpg is not even taken for a JPEG; this one's headers say 3264×2448, so the
    # script asks the browser to decode it, which refuses: the image data is zeros.
    photo = (PHOTOS / "Apple_iPhone_5.jpg").read_bytes()
    path = tmp_path / "damaged.jpg"
    path.write_bytes(photo[: photo.index(b"\xff\xda") + 200] + bytes(800_000))

    result, data = shrink(page, path)

    assert result["same"] is True
    assert data == path.read_bytes()


def test_a_photo_that_would_grow_is_sent_as_it_is(page, tmp_path):
    # Big in pixels, small in bytes: its 8×8 blocks, scaled, are edges that cost bytes at 0.82.
    path = tmp_path / "blocky.jpg"
    Image.effect_noise((2400, 1800), 60).convert("RGB").save(path, quality=3)

    result, data = shrink(page, path)

    assert result["same"] is True
    assert data == path.read_bytes()


def test_a_detailed_scene_is_brought_within_the_size_budget(page, tmp_path):
    """Foliage or rippling water: fine detail everywhere, which quality 0.82 leaves well over
    the ~320 KB budget at 1600×1200. Lower qualities are tried until the copy fits (every
    100 KB is 2 s on a 400 kbps uplink); the EXIF still goes along."""
    size = (4000, 3000)
    noise = Image.frombytes("RGB", (400, 300), random.Random(7).randbytes(400 * 300 * 3))
    leaves = Image.new("RGB", size, (60, 110, 50))
    image = Image.blend(noise.resize(size, Image.Resampling.BICUBIC), leaves, 0.6)
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2025:06:01 09:30:00"
    file = tmp_path / "IMG_leaves.jpg"
    image.save(file, "JPEG", quality=92, exif=exif)
    at_first_quality = io.BytesIO()
    image.resize((1600, 1200), Image.Resampling.LANCZOS).save(at_first_quality, "JPEG", quality=82)
    assert at_first_quality.tell() > 400 * 1024  # what one quality for all would send
    _result, shrunk = shrink(page, file)
    assert len(shrunk) <= 320 * 1024, len(shrunk)
    assert Image.open(io.BytesIO(shrunk)).size == (1600, 1200)
    assert exif_facts(shrunk)["taken"] == "2025:06:01 09:30:00"
