"""Bad files at every upload endpoint (issue 8): one table of hostile or broken files, each sent
to every form that takes photos, as a browser would send it (multipart, named .jpg, claimed to be
image/jpeg).

Each bad file gets a 400 whose page names the file with the evidence pipeline's message (the
Chinese text), and leaves nothing behind: no row of any kind, no file under MEDIA_ROOT (a fresh
folder per test). A hostile *name* on a good photo is accepted: the name is only ever shown; the
files get generated names inside MEDIA_ROOT.

The request bodies are encoded here rather than by the test client, which sends only the base
name of a file (`../../evil.jpg` would arrive as `evil.jpg` and test nothing).
"""

from __future__ import annotations

import io
import random
import re
import struct
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import gettext, override
from PIL import ExifTags, Image

from inspections.grading.services import assessment_open
from inspections.models import Deduction, Patrol
from tests.inspections.conftest import (  # noqa: F401
    HUJI_SITE,
    active_round,
    campaign,
    checklist,
    huji_site,
    moved,
)
from tests.workflows.conftest import (  # noqa: F401
    assigned,
    deadline,
    dispatched,
    draft,
    household,
    huji_worker,
    in_service,
    make_photo,
    reported,
)
from tests.workflows.test_evidence import png_header_only
from workflows.evidence.services import MAX_PIXELS
from workflows.models import EvidencePhoto, RectificationTicket, TicketEvent, ToiletTicket

pytestmark = pytest.mark.django_db

STORED = (EvidencePhoto, RectificationTicket, ToiletTicket, TicketEvent, Patrol, Deduction)
# What a stored file of the pipeline is called: a folder per month, 128 random bits, .jpg.
GENERATED = re.compile(r"^evidence(-originals)?/\d{4}/\d{2}/[0-9a-f]{32}\.jpg$")


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EVIDENCE_KEEP_ORIGINALS = False
    return settings.MEDIA_ROOT


# --- the files ------------------------------------------------------------------------------


def jpeg(size=(800, 600), **options) -> bytes:
    """A photo-like JPEG: noise does not compress to nothing, so half of it is half a photo."""
    buffer = io.BytesIO()
    Image.effect_noise(size, 60).convert("RGB").save(buffer, "JPEG", quality=90, **options)
    return buffer.getvalue()


def small_jpeg() -> bytes:
    return jpeg((64, 48))


def cut_in_half() -> bytes:
    data = jpeg()
    return data[: len(data) // 2]


def garbage_after_the_header() -> bytes:
    """The headers of a real JPEG up to the start of its scan, then random bytes (their stray
    0xFF markers break the decoder), then the end marker."""
    data = jpeg()
    scan = data.index(b"\xff\xda")
    start = scan + 2 + struct.unpack(">H", data[scan + 2 : scan + 4])[0]
    return data[:start] + random.Random(8).randbytes(len(data) - start) + b"\xff\xd9"


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real 16×16 JPEG whose frame header (SOF0) then claims width × height."""
    data = bytearray(jpeg((16, 16)))
    sof = data.index(b"\xff\xc0")  # marker, length (2), precision (1), height (2), width (2)
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def animated_gif(frames: int = 300) -> bytes:
    images = [Image.new("RGB", (32, 32), (n % 256, 80, 40)) for n in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:])
    return buffer.getvalue()


def pdf_of_a_photo() -> bytes:
    """What a scanner or a 'share as PDF' makes of a photo."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 140, 60)).save(buffer, "PDF")
    return buffer.getvalue()


def zip_of_a_photo() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("IMG_0001.jpg", small_jpeg())
    return buffer.getvalue()


HTML_PAGE = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG_WITH_SCRIPT = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48">'
    b"<script>alert(document.cookie)</script><rect width='64' height='48'/></svg>"
)
PLAIN_TEXT = "整改完成，已清理垃圾。\n".encode() * 40
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00" + bytes(492)
MZ = b"MZ\x90\x00\x03" + bytes(59) + b"This program cannot be run in DOS mode.\r\n$" + bytes(400)
HTML_NAME = "<img src=x onerror=alert(1)>.jpg"


# --- what the pages say -----------------------------------------------------------------------

REFUSALS = {
    "not_a_photo": "%(name)s is not a photo (JPEG, PNG, WebP or HEIC).",
    "damaged": "%(name)s is damaged or incomplete and cannot be read.",
    "too_many_pixels": "%(name)s has too many pixels (at most %(limit)d megapixels).",
    "too_large": "%(name)s is larger than %(limit)s.",
    "empty": "The submitted file is empty.",  # Django's FileField, before the pipeline
    "too_many": "Attach at most %(max)d photos.",
}


def shown(refusal: str, **values: Any) -> str:
    """The message as the page shows it: in Chinese, HTML-escaped."""
    with override("zh-hans"):
        message = gettext(REFUSALS[refusal])
        assert message != REFUSALS[refusal], f"no Chinese for {refusal}"
        if refusal == "too_large":
            values["limit"] = filesizeformat(values["limit"])
        return escape(message % values)


# --- the table of bad files -------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    name: str  # as the browser sends it
    content: Callable[[], bytes]
    refusal: str

    def message(self) -> str:
        return shown(self.refusal, name=self.name, limit=MAX_PIXELS // 1_000_000)


def _bad(case_id: str, name: str, content: Callable[[], bytes] | bytes, refusal: str):
    make = content if callable(content) else (lambda: content)
    return pytest.param(Bad(name, make, refusal), id=case_id)


BAD = [
    # wrong types, named .jpg
    _bad("pdf", "整改报告.jpg", pdf_of_a_photo, "not_a_photo"),
    _bad("html", "page.jpg", HTML_PAGE, "not_a_photo"),
    _bad("svg-script", "logo.jpg", SVG_WITH_SCRIPT, "not_a_photo"),
    _bad("text", "note.jpg", PLAIN_TEXT, "not_a_photo"),
    _bad("zip", "photos.jpg", zip_of_a_photo, "not_a_photo"),
    _bad("elf", "run.jpg", ELF, "not_a_photo"),
    _bad("mz-exe", "setup.jpg", MZ, "not_a_photo"),
    _bad("animated-gif", "moving.jpg", animated_gif, "not_a_photo"),
    _bad("html-in-name", HTML_NAME, PLAIN_TEXT, "not_a_photo"),  # shown escaped
    # empty, cut, corrupt
    _bad("zero-bytes", "empty.jpg", b"", "empty"),
    _bad("jpeg-cut-in-half", "cut.jpg", cut_in_half, "damaged"),
    _bad("jpeg-header-then-garbage", "garbled.jpg", garbage_after_the_header, "damaged"),
    # decompression bombs: Pillow's own bomb check refuses the first two when opening, the
    # pipeline's 50-megapixel limit the third (Pillow would open 54 MP without a word)
    _bad("png-40000x40000", "bomb.jpg", lambda: png_header_only(40000, 40000), "too_many_pixels"),
    _bad("jpeg-65000x65000", "huge.jpg", lambda: jpeg_claiming(65000, 65000), "too_many_pixels"),
    _bad("jpeg-9000x6000", "54mp.jpg", lambda: jpeg_claiming(9000, 6000), "too_many_pixels"),
]
BOMBS = ("png-40000x40000", "jpeg-65000x65000", "jpeg-9000x6000")


# --- the upload endpoints ---------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    user: Any
    url: str
    fields: dict  # a valid POST body without the photos
    max_photos: int = 0


def ticket_new(get) -> Target:
    village = get("huji_village")
    fields = {"town": village.town_id, "village": village.code, "description": "路边堆放垃圾"}
    return Target(get("inspector"), reverse("ticket_new"), fields)


def toilet_new(get) -> Target:
    fields = {"household": get("household").pk, "kind": "repair", "description": "厕具漏水"}
    return Target(get("village_admin"), reverse("toilet_new"), fields)


def ticket_submit(get) -> Target:
    ticket = get("assigned")
    url = reverse("ticket_action", args=[ticket.number, "submit"])
    return Target(get("hj_officer"), url, {"state": ticket.state, "note": "已清理垃圾"})


def toilet_complete(get) -> Target:
    ticket = get("in_service")
    url = reverse("toilet_action", args=[ticket.number, "complete"])
    fields = {"state": ticket.state, "volume_m3": "2.5", "disposal_site": "县污水处理厂"}
    return Target(get("huji_worker"), url, fields)


def scan(get) -> Target:
    lat, lng = moved(HUJI_SITE, north_m=50)
    fields = {
        "key": str(uuid.uuid4()),
        "lat": f"{lat:.7f}",
        "lng": f"{lng:.7f}",
        "accuracy": "12",
        "result": "normal",
        "signboard": "good",
        "previous_fixed": "none",
    }
    return Target(get("inspector"), reverse("scan", args=[get("huji_site").token]), fields)


def deduction_save(get) -> Target:
    round_, inspector = get("active_round"), get("inspector")
    assessment = assessment_open(round=round_, village=get("huji_village"), by=inspector)
    item = round_.template.items.get(code="G1")  # an item that needs a photo
    url = reverse("deduction_save", args=[assessment.pk, item.pk])
    return Target(inspector, url, {"count": "2", "note": "垃圾桶满溢"})


# endpoint → (how to reach it, how many photos its form takes)
ENDPOINTS: dict[str, tuple[Callable[[Callable[[str], Any]], Target], int]] = {
    "ticket_new": (ticket_new, 9),
    "toilet_new": (toilet_new, 9),
    "ticket_action[submit]": (ticket_submit, 9),
    "toilet_action[complete]": (toilet_complete, 9),
    "scan": (scan, 6),
    "deduction_save": (deduction_save, 6),
}


@pytest.fixture(params=list(ENDPOINTS))
def target(request, client) -> Target:
    prepare, most = ENDPOINTS[request.param]
    target = replace(prepare(request.getfixturevalue), max_photos=most)
    client.force_login(target.user)
    return target


# --- helpers ----------------------------------------------------------------------------------


def multipart(fields: dict, files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body with the file names exactly as given (bytes, NUL and all)."""
    boundary = f"bad-uploads-{uuid.uuid4().hex}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    for name, content in files:
        head = (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="photos"; filename="{name}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"  # what a browser claims for a .jpg
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def post(client, target: Target, files: list[tuple[str, bytes]]):
    body, content_type = multipart(target.fields, files)
    return client.generic("POST", target.url, body, content_type=content_type)


def files_under(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def stored(media: Path) -> dict:
    """Everything a request could leave behind: rows, ticket states, files."""
    return {
        "rows": {model.__name__: model.objects.count() for model in STORED},
        "rectification": list(RectificationTicket.objects.values_list("pk", "state")),
        "toilet": list(ToiletTicket.objects.values_list("pk", "state")),
        "files": files_under(media),
    }


def page(response) -> str:
    return response.content.decode()


@contextmanager
def pixel_buffers() -> Iterator[list[tuple[int, int]]]:
    """The size of every image buffer Pillow allocates meanwhile: Image.core.new is where a
    decoder gets the memory for the pixels (ImageFile.load_prepare)."""
    sizes: list[tuple[int, int]] = []
    real = Image.core.new

    def new(mode, size, *args):
        sizes.append(tuple(size))
        return real(mode, size, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Image.core, "new", new)
        yield sizes


def photo_with_metadata() -> bytes:
    """A good phone photo: GPS at the 胡集镇 pond, a camera, a capture time, and a comment that
    would be a script if a browser ever took the file for HTML."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "HUAWEI"
    exif[ExifTags.Base.Model] = "P40"
    lat, lng = HUJI_SITE
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (Fraction(lat).limit_denominator(10**7), 0, 0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (Fraction(lng).limit_denominator(10**7), 0, 0),
    }
    return jpeg((640, 480), exif=exif.tobytes(), comment=b"<script>alert(1)</script>")


# --- bad files --------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", BAD)
def test_a_bad_file_is_refused_by_name_and_leaves_nothing(client, media, target, bad):
    content = bad.content()
    before = stored(media)
    with pixel_buffers() as buffers:
        response = post(client, target, [(bad.name, content)])

    assert response.status_code == 400
    assert bad.message() in page(response)
    assert "<img src=x" not in page(response)  # a name is text, never markup
    assert stored(media) == before
    # Only a file that really is a photo up to a point gets decoded, and never past the limit;
    # anything else, a decompression bomb included, is refused on its first bytes: no decoder
    # was given memory for its pixels.
    if bad.refusal == "damaged":
        assert all(width * height <= MAX_PIXELS for width, height in buffers)
    else:
        assert buffers == []


def test_the_bombs_are_what_they_claim(monkeypatch):
    """Pillow itself refuses the 40000² and 65000² headers when opening them; the 9000×6000 one
    (54 MP) it opens without complaint, so there the pipeline's own limit is what refuses."""
    bombs = {p.id: p.values[0] for p in BAD if p.id in BOMBS}
    assert all(len(bomb.content()) < 1000 for bomb in bombs.values())  # a few hundred bytes
    for case_id in ("png-40000x40000", "jpeg-65000x65000"):
        with pytest.raises(Image.DecompressionBombError):
            Image.open(io.BytesIO(bombs[case_id].content()))
    with Image.open(io.BytesIO(bombs["jpeg-9000x6000"].content())) as opened:
        assert opened.size == (9000, 6000)
        assert opened.width * opened.height > MAX_PIXELS
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # read the claim, decode nothing
    with Image.open(io.BytesIO(bombs["png-40000x40000"].content())) as opened:
        assert opened.size == (40000, 40000)
    with Image.open(io.BytesIO(bombs["jpeg-65000x65000"].content())) as opened:
        assert opened.size == (65000, 65000)


def test_a_good_photo_next_to_a_bad_one_is_not_kept(client, media, target):
    before = stored(media)
    response = post(client, target, [("good.jpg", small_jpeg()), ("note.jpg", PLAIN_TEXT)])

    assert response.status_code == 400
    assert shown("not_a_photo", name="note.jpg") in page(response)
    assert stored(media) == before


def test_more_photos_than_the_form_takes_are_refused(client, media, target):
    most = target.max_photos
    before = stored(media)
    with pixel_buffers() as buffers:
        response = post(client, target, [(f"p{n}.jpg", small_jpeg()) for n in range(most + 1)])

    assert response.status_code == 400
    assert shown("too_many", max=most) in page(response)
    assert stored(media) == before
    assert buffers == []  # refused by the form: not one photo was decoded


def test_a_photo_over_the_size_limit_is_refused(client, media, settings, target):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 50_000
    content = jpeg()  # 800×600 of noise at quality 90: well over 50 kB
    assert len(content) > 50_000
    before = stored(media)
    response = post(client, target, [("big.jpg", content)])

    assert response.status_code == 400
    assert shown("too_large", name="big.jpg", limit=50_000) in page(response)
    assert stored(media) == before


# --- good files -------------------------------------------------------------------------------


@pytest.mark.parametrize("keep_originals", [False, True], ids=["copies-only", "with-original"])
def test_a_good_photo_is_stored_only_as_clean_jpegs_with_generated_names(
    client, media, settings, target, keep_originals
):
    settings.EVIDENCE_KEEP_ORIGINALS = keep_originals
    content = photo_with_metadata()
    before = stored(media)
    with pixel_buffers() as buffers:
        response = post(client, target, [("整改后.jpg", content)])

    assert response.status_code == 303, page(response)
    assert buffers  # the spy sees a real decode: its silence on the bombs means something
    photo = EvidencePhoto.objects.latest("pk")
    assert EvidencePhoto.objects.count() == before["rows"]["EvidencePhoto"] + 1
    assert photo.original_name == "整改后.jpg"
    assert photo.gps_lat == pytest.approx(HUJI_SITE[0], abs=1e-5)  # kept, in a column
    new = sorted(set(files_under(media)) - set(before["files"]))
    copies = [photo.display.name, photo.print_copy.name, photo.thumbnail.name]
    originals = [photo.original.name] if keep_originals else []
    assert new == sorted(copies + originals)
    assert all(GENERATED.match(name) for name in new), new
    for name in copies:
        assert not name.startswith("evidence-originals/")
        data = (media / name).read_bytes()
        assert b"<script" not in data and b"HUAWEI" not in data
        with Image.open(io.BytesIO(data)) as copy:
            assert copy.format == "JPEG"
            assert copy.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
            assert not copy.getexif() and "exif" not in copy.info and "comment" not in copy.info
    if keep_originals:
        # Byte for byte (the evidence), in the folder the web server does not serve, named by
        # what it decoded as: never .html, .svg or .php, whatever the client called it.
        assert photo.original.name.startswith("evidence-originals/")
        assert (media / photo.original.name).read_bytes() == content


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        pytest.param("../../evil.jpg", "evil.jpg", id="slash-traversal"),
        pytest.param("..\\..\\evil.jpg", "evil.jpg", id="backslash-traversal"),
        pytest.param("/etc/cron.d/evil.jpg", "evil.jpg", id="absolute-path"),
        pytest.param("evil\x00.jpg", "evil.jpg", id="nul-byte"),
        pytest.param("evil.jpg\x00.html", "evil.jpg.html", id="nul-then-html"),
        pytest.param("evil.php", "evil.php", id="php-name"),
    ],
)
def test_a_good_photo_with_a_hostile_name_is_stored_under_a_generated_name(
    client, media, settings, tmp_path, target, sent, kept
):
    settings.EVIDENCE_KEEP_ORIGINALS = True
    before = stored(media)
    response = post(client, target, [(sent, small_jpeg())])

    assert response.status_code == 303, page(response)
    photo = EvidencePhoto.objects.latest("pk")
    assert photo.original_name == kept  # shown as the user's name, never used as a path
    new = sorted(set(files_under(media)) - set(before["files"]))
    assert len(new) == 4 and all(GENERATED.match(name) for name in new), new
    for field_file in (photo.display, photo.print_copy, photo.thumbnail, photo.original):
        path = Path(field_file.path).resolve()
        assert path.is_relative_to(media.resolve()) and path.is_file()
    # Nothing where the name points: MEDIA_ROOT/../.. (the session's temporary folder), nor
    # anywhere in this test's own folder.
    assert [*tmp_path.parent.glob("evil*"), *tmp_path.rglob("evil*")] == []
