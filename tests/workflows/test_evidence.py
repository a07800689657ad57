"""The evidence-photo pipeline on real phone photos (tests/data/photos) and made-up edge cases.

Real database, real files: MEDIA_ROOT is a fresh folder per test, so "nothing stored" means no
row and no file under it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import struct
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from PIL import ExifTags, Image, ImageChops, ImageOps, ImageStat

from workflows.evidence.services import EvidenceError, evidence_photo_create, evidence_photos_create
from workflows.models import EvidencePhoto

PHOTOS = Path(__file__).resolve().parent.parent / "data" / "photos"
MANIFEST = list(csv.DictReader((PHOTOS / "MANIFEST.csv").read_text("utf-8").splitlines()))
READABLE = [row for row in MANIFEST if not row["format"].startswith("JPEG (corrupt")]
CORRUPT = "corrupt_fuzzed.jpg"
# EXIF orientation → the transpose that shows the stored pixels upright.
UPRIGHT = {
    1: None,
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_270,
    8: Image.Transpose.ROTATE_90,
}

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EVIDENCE_KEEP_ORIGINALS = False
    return settings.MEDIA_ROOT


@pytest.fixture
def uploader(django_user_model):
    return django_user_model.objects.create_user("inspector_wang")


def upload(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def sample(name: str) -> SimpleUploadedFile:
    # The client's content type is deliberately wrong: the pipeline must not trust it.
    return upload(name, (PHOTOS / name).read_bytes(), content_type="application/octet-stream")


def stored_files(media: Path) -> list[Path]:
    return [path for path in media.rglob("*") if path.is_file()] if media.exists() else []


def jpeg_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def reopen(field_file) -> Image.Image:
    with field_file.open("rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    return image


def difference(a: Image.Image, b: Image.Image) -> float:
    small = (64, 64)
    a = a.convert("RGB").resize(small)
    b = b.convert("RGB").resize(small)
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean)


def orientation_applied(display: Image.Image, source_path: Path) -> int:
    """Which EXIF orientation, applied to the stored pixels, gives what the display shows."""
    with Image.open(source_path) as source:
        source.draft("RGB", (400, 400))
        raw = source.convert("RGB")
    candidates = {
        orientation: raw.transpose(method) if method else raw
        for orientation, method in UPRIGHT.items()
    }
    shaped = {
        orientation: image
        for orientation, image in candidates.items()
        if (image.width > image.height) == (display.width > display.height)
    }
    return min(shaped, key=lambda orientation: difference(display, shaped[orientation]))


def generated_photo(
    size: tuple[int, int] = (4000, 3000), orientation: int | None = None, tags: dict | None = None
) -> bytes:
    """A photo-like JPEG: gradients and noise, so it neither compresses to nothing nor is
    symmetric (a rotation shows)."""
    width, height = size
    gradient = Image.linear_gradient("L").resize(size)
    noise = Image.effect_noise((max(1, width // 8), max(1, height // 8)), 40).resize(size)
    image = Image.merge("RGB", (gradient, noise, gradient.transpose(Image.Transpose.ROTATE_180)))
    image.paste((255, 0, 0), (0, 0, width // 4, height // 4))  # a red corner: top left
    exif = Image.Exif()
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    for key, value in (tags or {}).items():
        exif[key] = value
    return jpeg_bytes(image, quality=90, exif=exif.tobytes())


def gps_ifd(lat: tuple, lat_ref: str, lng: tuple, lng_ref: str) -> dict:
    return {
        ExifTags.GPS.GPSLatitudeRef: lat_ref,
        ExifTags.GPS.GPSLatitude: lat,
        ExifTags.GPS.GPSLongitudeRef: lng_ref,
        ExifTags.GPS.GPSLongitude: lng,
    }


def png_header_only(width: int, height: int) -> bytes:
    """A real PNG made by Pillow, its header then claiming width × height: a few hundred bytes
    that would decode to gigabytes."""
    buffer = io.BytesIO()
    Image.new("L", (16, 16)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    ihdr = 8  # after the signature: length (4), b"IHDR" (4), data (13), CRC (4)
    data[ihdr + 8 : ihdr + 16] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr + 4 : ihdr + 21]))
    data[ihdr + 21 : ihdr + 25] = struct.pack(">I", crc)
    return bytes(data)


def assert_refused(excinfo, name: str, code: str) -> None:
    assert excinfo.value.code == code
    assert name in excinfo.value.message


def assert_nothing_stored(media: Path) -> None:
    assert not EvidencePhoto.objects.exists()
    assert stored_files(media) == []


# --- the manifest's real photos ---------------------------------------------------------------


@pytest.mark.parametrize("row", READABLE, ids=[row["file"] for row in READABLE])
def test_it_stores_each_real_photo_upright_with_its_gps(row, media, uploader):
    path = PHOTOS / row["file"]
    photo = evidence_photo_create(file=sample(row["file"]), uploaded_by=uploader)

    display = reopen(photo.display)
    orientation = int(row["exif_orientation"]) if row["exif_orientation"].isdigit() else 1
    with Image.open(path) as source:
        stored_width, stored_height = source.size  # a HEIC reports its size already rotated
    turned = orientation in (5, 6, 7, 8)
    upright = (stored_height, stored_width) if turned else (stored_width, stored_height)
    assert (display.width > display.height) == (upright[0] > upright[1])
    assert (photo.width, photo.height) == display.size
    if row["format"] == "JPEG":
        assert orientation_applied(display, path) == orientation

    if row["expected_lat_wgs84"] and float(row["expected_lat_wgs84"]) != 0:
        assert photo.gps_lat == pytest.approx(float(row["expected_lat_wgs84"]), abs=1e-5)
        assert photo.gps_lng == pytest.approx(float(row["expected_lon_wgs84"]), abs=1e-5)
    else:
        assert (photo.gps_lat, photo.gps_lng, photo.gps_accuracy_m) == (None, None, None)
    assert photo.camera_make == row["make"]
    assert photo.camera_model == row["model"]
    assert photo.uploaded_by == uploader
    assert photo.original_name == row["file"]
    assert photo.source_bytes == path.stat().st_size
    assert photo.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_portrait_6_stored_landscape_displays_as_portrait(media):
    photo = evidence_photo_create(file=sample("portrait_6.jpg"), uploaded_by=None)
    assert (photo.width, photo.height) == (450, 600)
    assert reopen(photo.display).size == (450, 600)


def test_landscape_8_stored_portrait_displays_as_landscape(media):
    photo = evidence_photo_create(file=sample("landscape_8.jpg"), uploaded_by=None)
    assert (photo.width, photo.height) == (600, 450)


def test_iphone_5_orientation_3_is_turned_180_degrees(media):
    path = PHOTOS / "Apple_iPhone_5.jpg"
    photo = evidence_photo_create(file=sample(path.name), uploaded_by=None)
    display = reopen(photo.display)
    with Image.open(path) as source:
        upright = ImageOps.exif_transpose(source)
    assert (photo.width, photo.height) == (1600, 1200)
    assert difference(display, upright) < difference(display, upright.rotate(180)) / 3
    assert photo.gps_lng < 0  # the W hemisphere


def test_samsung_gps_0_0_means_no_fix(media):
    photo = evidence_photo_create(file=sample("Samsung_GT-I9000_Galaxy_S.jpg"), uploaded_by=None)
    assert (photo.gps_lat, photo.gps_lng) == (None, None)
    assert not photo.has_location
    assert (photo.width, photo.height) == (480, 640)  # orientation 6


def test_heic_from_guangzhou_keeps_its_wgs84_position(media):
    photo = evidence_photo_create(file=sample("IMG_1034.heic"), uploaded_by=None)
    assert photo.content_type == "image/heic"
    assert photo.gps_lat == pytest.approx(23.177917, abs=1e-5)
    assert photo.gps_lng == pytest.approx(113.394317, abs=1e-5)
    assert photo.gps_accuracy_m == 65
    assert (photo.width, photo.height) == (1600, 1200)  # irot 0: stays landscape
    # No OffsetTimeOriginal in the file: read as Asia/Shanghai wall-clock time.
    assert photo.taken_at == datetime(2018, 2, 5, 7, 11, 44, tzinfo=UTC)
    assert photo.camera_model == "iPhone 8"


def test_heic_with_a_rotation_is_turned_once(media):
    """pillow-heif applies the HEIF rotation while decoding; a second turn would be wrong."""
    image = Image.new("RGB", (64, 48), "blue")
    image.paste((255, 0, 0), (0, 0, 16, 16))  # top left, as stored
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    buffer = io.BytesIO()
    image.save(buffer, "HEIF", exif=exif.tobytes(), quality=90)

    photo = evidence_photo_create(file=upload("turned.heic", buffer.getvalue()), uploaded_by=None)

    display = reopen(photo.display).convert("RGB")
    assert display.size == (48, 64)
    red, _, blue = display.getpixel((display.width - 4, 4))  # 90° clockwise: now top right
    assert red > 200 and blue < 60


def test_photo_without_exif_has_no_position_and_no_time(media):
    photo = evidence_photo_create(file=sample("no_exif.jpg"), uploaded_by=None)
    assert (photo.gps_lat, photo.gps_lng, photo.taken_at) == (None, None, None)
    assert (photo.camera_make, photo.camera_model) == ("", "")
    assert (photo.width, photo.height) == (322, 466)


def test_capture_time_without_offset_is_shanghai_time(media):
    photo = evidence_photo_create(file=sample("Apple_iPhone_4.jpg"), uploaded_by=None)
    assert photo.taken_at == datetime(2011, 1, 13, 6, 33, 39, tzinfo=UTC)  # 14:33:39 +08:00


def test_capture_time_with_offset_uses_the_offset(media):
    details = {
        ExifTags.Base.DateTimeOriginal: "2024:05:01 10:00:00",
        ExifTags.Base.OffsetTimeOriginal: "+02:00",
    }
    data = generated_photo((80, 60), tags={ExifTags.IFD.Exif: details})
    photo = evidence_photo_create(file=upload("p.jpg", data), uploaded_by=None)
    assert photo.taken_at == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def test_southern_and_western_hemispheres_are_negative(media):
    gps = gps_ifd((33.0, 26.0, 52.2), "S", (70.0, 38.0, 44.4), "W")
    gps[ExifTags.GPS.GPSHPositioningError] = 4.5
    data = generated_photo((80, 60), tags={ExifTags.IFD.GPSInfo: gps})
    photo = evidence_photo_create(file=upload("santiago.jpg", data), uploaded_by=None)
    assert photo.gps_lat == pytest.approx(-(33 + 26 / 60 + 52.2 / 3600), abs=1e-9)
    assert photo.gps_lng == pytest.approx(-(70 + 38 / 60 + 44.4 / 3600), abs=1e-9)
    assert photo.gps_accuracy_m == 4.5


def test_the_corrupt_file_is_refused_by_name_and_nothing_is_stored(media, uploader):
    with pytest.raises(EvidenceError) as excinfo:
        evidence_photo_create(file=sample(CORRUPT), uploaded_by=uploader)
    assert_refused(excinfo, CORRUPT, "not_a_photo")
    assert_nothing_stored(media)


# --- what is stored ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Apple_iPhone_5.jpg", "IMG_1034.heic", "HTC_Desire.jpg"])
def test_stored_copies_carry_no_metadata_and_fit_their_size(media, name):
    photo = evidence_photo_create(file=sample(name), uploaded_by=None)
    display, thumbnail = reopen(photo.display), reopen(photo.thumbnail)

    for image, longest in ((display, 1600), (thumbnail, 320)):
        assert image.format == "JPEG"
        assert max(image.size) <= longest
        assert len(image.getexif()) == 0
        assert image.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
        assert not {"exif", "xmp", "icc_profile", "comment"} & set(image.info)
    with photo.display.open("rb") as handle:
        raw = handle.read()
    assert b"Exif\x00\x00" not in raw and b"ICC_PROFILE" not in raw
    assert max(thumbnail.size) == 320
    assert thumbnail.width / thumbnail.height == pytest.approx(display.width / display.height, 0.02)


def test_files_get_unguessable_names(media):
    photo = evidence_photo_create(file=sample("HTC_Desire.jpg"), uploaded_by=None)
    pattern = r"^evidence/\d{4}/\d{2}/[0-9a-f]{32}\.jpg$"
    assert photo.display.name != photo.thumbnail.name
    for field_file in (photo.display, photo.thumbnail):
        assert re.match(pattern, field_file.name), field_file.name
        assert (media / field_file.name).is_file()
    assert "HTC" not in photo.display.name
    assert str(photo) == "HTC_Desire.jpg (776×909)"


def test_a_12_megapixel_photo_is_downscaled_and_turned(media):
    data = generated_photo((4000, 3000), orientation=6)
    photo = evidence_photo_create(file=upload("IMG_2001.jpg", data), uploaded_by=None)
    assert (photo.width, photo.height) == (1200, 1600)
    display = reopen(photo.display).convert("RGB")
    red, green, _ = display.getpixel((display.width - 20, 20))  # the red corner, turned
    assert red > 200 and green < 80
    assert max(reopen(photo.thumbnail).size) == 320


def test_png_with_transparency_and_webp_are_accepted(media):
    rgba = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    rgba.paste((0, 128, 0, 255), (0, 0, 150, 200))
    png, webp = io.BytesIO(), io.BytesIO()
    rgba.save(png, "PNG")
    Image.new("RGB", (300, 200), "orange").save(webp, "WEBP")

    from_png, from_webp = evidence_photos_create(
        files=[upload("screen.png", png.getvalue()), upload("x.webp", webp.getvalue())],
        uploaded_by=None,
    )

    assert (from_png.content_type, from_webp.content_type) == ("image/png", "image/webp")
    display = reopen(from_png.display).convert("RGB")
    assert display.getpixel((250, 100)) == pytest.approx((255, 255, 255), abs=3)  # was clear
    assert (from_webp.width, from_webp.height) == (300, 200)


def test_content_type_comes_from_the_content_not_the_name(media):
    png = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(png, "PNG")
    photo = evidence_photo_create(file=upload("really_a_png.jpg", png.getvalue()), uploaded_by=None)
    assert photo.content_type == "image/png"


# --- refusals ---------------------------------------------------------------------------------


def test_a_text_file_named_jpg_is_refused(media):
    with pytest.raises(EvidenceError) as excinfo:
        evidence_photo_create(
            file=upload("IMG_1.jpg", b"not a photo at all\n" * 50), uploaded_by=None
        )
    assert_refused(excinfo, "IMG_1.jpg", "not_a_photo")
    assert_nothing_stored(media)


def test_other_image_formats_are_refused(media):
    gif = io.BytesIO()
    Image.new("RGB", (40, 30)).save(gif, "GIF")
    with pytest.raises(EvidenceError) as excinfo:
        evidence_photo_create(file=upload("anim.gif", gif.getvalue()), uploaded_by=None)
    assert_refused(excinfo, "anim.gif", "not_a_photo")


def test_a_truncated_jpeg_is_refused(media):
    data = generated_photo((800, 600))
    with pytest.raises(EvidenceError) as excinfo:
        evidence_photo_create(file=upload("cut.jpg", data[: len(data) // 2]), uploaded_by=None)
    assert_refused(excinfo, "cut.jpg", "damaged")
    assert_nothing_stored(media)


@pytest.mark.parametrize(
    "size",
    [
        (20000, 20000),  # Pillow's own limit: DecompressionBombError
        (10000, 10000),  # between Pillow's limits: only a DecompressionBombWarning
        (8000, 7000),  # below Pillow's limits, above ours (50 MP)
    ],
)
def test_decompression_bombs_are_refused_before_decoding(media, size):
    bomb = png_header_only(*size)
    assert len(bomb) < 1000
    with pytest.raises(EvidenceError) as excinfo:
        evidence_photo_create(file=upload("bomb.png", bomb), uploaded_by=None)
    assert_refused(excinfo, "bomb.png", "too_many_pixels")
    assert_nothing_stored(media)


class HugeUpload(UploadedFile):
    """An upload that says it is 100 MB and fails the test if anything reads it."""

    def __init__(self):
        super().__init__(file=io.BytesIO(), name="big.jpg", size=100 * 1024 * 1024)

    def read(self, *args):
        raise AssertionError("an oversize upload must be refused before it is read")

    def chunks(self, *args):
        raise AssertionError("an oversize upload must be refused before it is read")


def test_an_oversize_upload_is_refused_before_it_is_read(media):
    with pytest.raises(EvidenceError) as excinfo:
        evidence_photo_create(file=HugeUpload(), uploaded_by=None)
    assert_refused(excinfo, "big.jpg", "too_large")
    assert "20" in excinfo.value.message  # the limit
    assert_nothing_stored(media)


def test_the_size_limit_is_a_setting(media, settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 100_000
    with pytest.raises(EvidenceError) as excinfo:
        evidence_photo_create(file=sample("HTC_Desire.jpg"), uploaded_by=None)  # 167 kB
    assert_refused(excinfo, "HTC_Desire.jpg", "too_large")


def test_a_plain_file_object_works_too(media):
    with (PHOTOS / "HTC_Desire.jpg").open("rb") as handle:
        photo = evidence_photo_create(file=handle, uploaded_by=None)
    assert photo.original_name == "HTC_Desire.jpg"
    assert photo.gps_lat == pytest.approx(45.500667, abs=1e-5)


# --- several files: all or nothing ------------------------------------------------------------


def test_several_photos_are_stored_together(media, uploader):
    photos = evidence_photos_create(
        files=[sample("HTC_Desire.jpg"), sample("portrait_6.jpg")], uploaded_by=uploader
    )
    assert [p.original_name for p in photos] == ["HTC_Desire.jpg", "portrait_6.jpg"]
    assert EvidencePhoto.objects.count() == 2
    assert len(stored_files(media)) == 6  # display, print copy and thumbnail each


def test_one_bad_file_among_several_stores_nothing(media, uploader):
    files = [sample("HTC_Desire.jpg"), sample("portrait_6.jpg"), sample(CORRUPT)]
    with pytest.raises(EvidenceError) as excinfo:
        evidence_photos_create(files=files, uploaded_by=uploader)
    assert_refused(excinfo, CORRUPT, "not_a_photo")
    assert_nothing_stored(media)


def test_every_bad_file_is_named_at_once(media):
    files = [sample(CORRUPT), sample("HTC_Desire.jpg"), upload("notes.jpg", b"hello")]
    with pytest.raises(EvidenceError) as excinfo:
        evidence_photos_create(files=files, uploaded_by=None)
    messages = " ".join(excinfo.value.messages)
    assert CORRUPT in messages and "notes.jpg" in messages
    assert [e.code for e in excinfo.value.error_list] == ["not_a_photo", "not_a_photo"]
    assert_nothing_stored(media)


def test_a_failure_while_storing_removes_the_files_already_written(media, monkeypatch):
    calls = []
    real_save = EvidencePhoto.save

    def save_then_fail_on_second(self, *args, **kwargs):
        calls.append(self)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(EvidencePhoto, "save", save_then_fail_on_second)
    with pytest.raises(RuntimeError):
        evidence_photos_create(
            files=[sample("HTC_Desire.jpg"), sample("no_exif.jpg")], uploaded_by=None
        )
    assert_nothing_stored(media)


# --- originals --------------------------------------------------------------------------------


def test_originals_are_kept_byte_for_byte_when_configured(media, settings):
    settings.EVIDENCE_KEEP_ORIGINALS = True
    photo = evidence_photo_create(file=sample("IMG_1034.heic"), uploaded_by=None)
    assert photo.original.name.startswith("evidence-originals/")
    assert photo.original.name.endswith(".heic")
    with photo.original.open("rb") as handle:
        assert handle.read() == (PHOTOS / "IMG_1034.heic").read_bytes()


def test_originals_are_not_kept_by_default(media):
    photo = evidence_photo_create(file=sample("Apple_iPhone_4.jpg"), uploaded_by=None)
    assert not photo.original
    assert not (media / "evidence-originals").exists()
    assert len(stored_files(media)) == 3  # display, print copy, thumbnail


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillows_exif_transpose(media, orientation):
    data = generated_photo((96, 64), orientation=orientation)
    with Image.open(io.BytesIO(data)) as source:
        expected = ImageOps.exif_transpose(source).convert("RGB")
    photo = evidence_photo_create(file=upload(f"o{orientation}.jpg", data), uploaded_by=None)

    display = reopen(photo.display)
    assert display.size == expected.size
    others = [expected.transpose(method) for method in Image.Transpose]
    wrong = [other for other in others if other.size == expected.size and other != expected]
    assert difference(display, expected) < min(difference(display, other) for other in wrong) / 3
