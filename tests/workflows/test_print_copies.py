"""Print copies: the ≤ 600 px JPEG every uploaded photo gets for PDFs, the command that makes
them for photos stored before, and the PDFs that embed them (pypdfium2 reads the images' pixel
sizes back out of the PDF).

Real files from tests/data/photos (phone JPEGs, one turned by its EXIF orientation, an iPhone
HEIC) through the real pipeline."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from PIL import Image, ImageChops, ImageStat
from PIL.JpegImagePlugin import JpegImageFile

from core import pdf
from workflows.bulletins import services as bulletins
from workflows.evidence import services as evidence
from workflows.evidence.services import (
    PRINT_JPEG_QUALITY,
    PRINT_MAX_PX,
    evidence_photo_create,
    print_copy_make,
)
from workflows.models import EvidencePhoto
from workflows.tickets import services as tickets

PHOTOS = Path(__file__).resolve().parent.parent / "data" / "photos"
SUMMARY = (
    "Print copies made: %(made)d; display copy missing or unreadable: %(unreadable)d; "
    "made by another run meanwhile: %(taken)d."
)

pytestmark = pytest.mark.django_db


def sample(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (PHOTOS / name).read_bytes(), "application/octet-stream")


def opened(field_file) -> Image.Image:
    with field_file.open("rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    return image


def stored_files(media: Path) -> list[Path]:
    return [path for path in media.rglob("*") if path.is_file()] if media.exists() else []


def quantization_at(quality: int, size: tuple[int, int]) -> dict:
    """The JPEG tables Pillow writes at `quality`: how a file's quality is told from its bytes."""
    buffer = io.BytesIO()
    Image.new("RGB", size, "grey").save(buffer, "JPEG", quality=quality)
    return Image.open(buffer).quantization


def summary(**counts) -> str:
    """The command's last line, in the language it speaks (the default, zh-hans)."""
    with translation.override(settings.LANGUAGE_CODE):
        return gettext(SUMMARY) % counts


def old_photo(name: str = "Apple_iPhone_5.jpg") -> EvidencePhoto:
    """A photo as stored before print copies: its print copy removed, file and column."""
    photo = evidence_photo_create(file=sample(name), uploaded_by=None)
    photo.print_copy.delete(save=False)
    EvidencePhoto.objects.filter(pk=photo.pk).update(print_copy="")
    return EvidencePhoto.objects.get(pk=photo.pk)


# --- at upload --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "upright"),
    [
        ("Apple_iPhone_5.jpg", (600, 450)),  # 3264 × 2448, EXIF orientation 3 (180°)
        ("Samsung_GT-I9000_Galaxy_S.jpg", (450, 600)),  # 640 × 480, orientation 6: portrait
        ("IMG_1034.heic", (600, 450)),  # an iPhone 8 HEIC, 4032 × 3024
    ],
)
def test_a_print_copy_is_made_at_upload(name, upright):
    photo = evidence_photo_create(file=sample(name), uploaded_by=None)

    printed = opened(photo.print_copy)
    assert printed.format == "JPEG"
    assert printed.size == upright  # ≤ 600 px on the long side, turned as the display copy
    assert not printed.getexif() and "icc_profile" not in printed.info
    assert "comment" not in printed.info and "exif" not in printed.info
    assert printed.quantization == quantization_at(PRINT_JPEG_QUALITY, printed.size)
    display = opened(photo.display)
    assert display.width / display.height == pytest.approx(printed.width / printed.height, 0.01)


def test_the_print_copy_shows_the_same_picture_as_the_display_copy():
    photo = evidence_photo_create(file=sample("Apple_iPhone_5.jpg"), uploaded_by=None)

    display = opened(photo.display).convert("RGB").resize((60, 45), Image.Resampling.BOX)
    printed = opened(photo.print_copy).convert("RGB").resize((60, 45), Image.Resampling.BOX)
    difference = ImageStat.Stat(ImageChops.difference(display, printed)).mean
    assert max(difference) < 4  # JPEG noise, not another picture or another orientation


def test_a_small_photo_keeps_its_size():
    photo = evidence_photo_create(file=sample("HTC_Desire.jpg"), uploaded_by=None)  # 776 × 909

    assert opened(photo.print_copy).size == (512, 600)
    assert PRINT_MAX_PX == pdf.PRINT_MAX_PX  # the fetcher shrinks a display copy to the same


def test_a_failure_making_the_print_copy_leaves_nothing(settings, tmp_path, monkeypatch):
    def broken(display):
        raise OSError("encoder failed")

    monkeypatch.setattr(evidence, "print_copy", broken)

    with pytest.raises(OSError):
        evidence_photo_create(file=sample("Apple_iPhone_4.jpg"), uploaded_by=None)

    assert not EvidencePhoto.objects.exists()
    assert stored_files(Path(settings.MEDIA_ROOT)) == []


def test_a_failure_storing_the_print_copy_leaves_no_row_and_no_file(settings, monkeypatch):
    original_save = FileSystemStorage._save
    saved = []

    def save_then_fail(storage, name, content):
        saved.append(name)
        if len(saved) == 2:  # display copy, then the print copy: the disk fails half-way
            raise OSError(28, "No space left on device")
        return original_save(storage, name, content)

    monkeypatch.setattr(FileSystemStorage, "_save", save_then_fail)

    with pytest.raises(Exception):  # noqa: B017 - StorageFull or the OSError itself
        evidence_photo_create(file=sample("Apple_iPhone_4.jpg"), uploaded_by=None)

    assert len(saved) == 2
    assert not EvidencePhoto.objects.exists()
    assert stored_files(Path(settings.MEDIA_ROOT)) == []


def test_discarding_a_photo_deletes_its_print_copy(settings):
    photo = evidence_photo_create(file=sample("Apple_iPhone_4.jpg"), uploaded_by=None)

    evidence.evidence_photos_discard([photo])

    assert stored_files(Path(settings.MEDIA_ROOT)) == []


# --- photos stored before: make_print_copies ------------------------------------------------------


def test_the_command_makes_the_missing_copies_once(settings):
    photos = [old_photo(), old_photo("Samsung_GT-I9000_Galaxy_S.jpg"), old_photo("IMG_1034.heic")]
    out = io.StringIO()

    call_command("make_print_copies", "--batch-size", "2", stdout=out)

    assert out.getvalue().strip() == summary(made=3, unreadable=0, taken=0)
    names = {}
    for photo in photos:
        photo.refresh_from_db()
        assert photo.print_copy.name.startswith("evidence/")
        assert max(opened(photo.print_copy).size) == 600
        names[photo.pk] = photo.print_copy.name
    files = stored_files(Path(settings.MEDIA_ROOT))

    again = io.StringIO()
    call_command("make_print_copies", stdout=again)

    assert {p.pk: p.print_copy.name for p in EvidencePhoto.objects.all()} == names
    assert stored_files(Path(settings.MEDIA_ROOT)) == files  # nothing made twice
    assert again.getvalue().strip() == summary(made=0, unreadable=0, taken=0)
    assert evidence.print_copies_make().made == 0


def test_the_command_counts_a_photo_whose_display_copy_is_gone():
    photo = old_photo()
    photo.display.storage.delete(photo.display.name)

    counts = evidence.print_copies_make()

    assert (counts.made, counts.unreadable, counts.taken) == (0, 1, 0)
    assert EvidencePhoto.objects.get(pk=photo.pk).print_copy == ""


def test_a_copy_made_meanwhile_by_another_run_wins_and_ours_is_deleted(settings):
    photo = old_photo()
    stale = EvidencePhoto.objects.get(pk=photo.pk)  # read before the other run stored its copy
    assert print_copy_make(photo=photo) == "made"
    files = stored_files(Path(settings.MEDIA_ROOT))

    assert print_copy_make(photo=stale) == "taken"

    assert stored_files(Path(settings.MEDIA_ROOT)) == files
    assert EvidencePhoto.objects.get(pk=photo.pk).print_copy == photo.print_copy.name


# --- what PDFs embed ------------------------------------------------------------------------------


def embedded_sizes(content: bytes) -> list[tuple[int, int]]:
    document = pdfium.PdfDocument(content)
    try:
        return [
            image.get_px_size()
            for page in document
            for image in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])
        ]
    finally:
        document.close()


@pytest.fixture
def bulletin_of(huji, huji_village, inspector, task_force, deadline):
    def make(photos: list[EvidencePhoto]):
        ticket = tickets.rectification_create(
            by=inspector,
            town=huji,
            village=huji_village,
            description="村内坑塘漂浮物较多",
            source_kind="patrol",
            site_label="坑塘1",
            before_photos=photos,
        )
        bulletin = bulletins.bulletin_create(
            by=task_force, kind="problems", title="通报", default_deadline=deadline
        )
        bulletins.bulletin_items_set(bulletin=bulletin, by=task_force, tickets=[ticket])
        return bulletins.bulletin_issue(bulletin=bulletin, by=task_force)

    return make


def bulletin_pdf(client, user, bulletin) -> bytes:
    client.force_login(user)
    response = client.get(reverse("bulletin_pdf", args=[bulletin.pk]))
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_the_bulletin_pdf_embeds_the_print_copies(client, task_force, bulletin_of, monkeypatch):
    photos = [
        evidence_photo_create(file=sample("Apple_iPhone_5.jpg"), uploaded_by=None),
        evidence_photo_create(file=sample("Samsung_GT-I9000_Galaxy_S.jpg"), uploaded_by=None),
    ]
    bulletin = bulletin_of(photos)
    read = []
    storage_open = FileSystemStorage.open
    monkeypatch.setattr(
        FileSystemStorage,
        "open",
        lambda storage, name, mode="rb": read.append(name) or storage_open(storage, name, mode),
    )

    sizes = embedded_sizes(bulletin_pdf(client, task_force, bulletin))

    assert sorted(sizes) == [(450, 600), (600, 450)]
    assert sorted(read) == sorted(photo.print_copy.name for photo in photos)


def test_a_photo_without_a_print_copy_prints_its_display_copy_shrunk(
    client, task_force, bulletin_of
):
    photo = old_photo()  # 3264 × 2448: a 1600 × 1200 display copy
    bulletin = bulletin_of([photo])

    sizes = embedded_sizes(bulletin_pdf(client, task_force, bulletin))

    assert sizes == [(600, 450)]


def test_the_fetcher_decodes_a_display_copy_at_the_printed_scale(monkeypatch):
    buffer = io.BytesIO()
    Image.new("RGB", (1600, 1200), "green").save(buffer, "JPEG")
    buffer.seek(0)
    drafted = []
    draft = JpegImageFile.draft

    def recording(image, mode, size=None):
        result = draft(image, mode, size)
        drafted.append(image.size)  # the size the decoder will produce
        return result

    monkeypatch.setattr(JpegImageFile, "draft", recording)

    shrunk = Image.open(pdf._print_size(buffer))

    assert shrunk.size == (600, 450)
    assert drafted == [(800, 600)]  # 1/2 scale, not the full 1600 × 1200


def test_the_print_url_serves_the_print_copy_or_the_display_copy(client, task_force, bulletin_of):
    fresh = evidence_photo_create(file=sample("Apple_iPhone_4.jpg"), uploaded_by=None)
    old = old_photo()
    bulletin_of([fresh, old])  # a bulletin holds them: the task force may see them
    client.force_login(task_force)

    served = {}
    for photo in (fresh, old):
        response = client.get(photo.print_url)
        assert response.status_code == 200
        served[photo.pk] = Image.open(io.BytesIO(b"".join(response.streaming_content))).size

    assert served == {fresh.pk: (600, 448), old.pk: (1600, 1200)}


def test_the_print_url_of_a_photo_out_of_scope_is_404(client, other_officer, bulletin_of):
    photo = evidence_photo_create(file=sample("Apple_iPhone_4.jpg"), uploaded_by=None)
    bulletin_of([photo])
    client.force_login(other_officer)

    assert client.get(photo.print_url).status_code == 404
