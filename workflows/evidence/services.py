"""The evidence-photo pipeline: the one way an uploaded photo enters the system (see
docs/architecture.md §3).

    photo = evidence_photo_create(file=request.FILES["photo"], uploaded_by=request.user)

Each file is checked by what it decodes as (JPEG, PNG, WebP or HEIC — never by its name or the
client's content type), refused with an EvidenceError naming it if it is too big, not a photo,
damaged or a decompression bomb, turned upright once, and stored as a ≤ 1600 px JPEG display copy,
a ≤ 600 px print copy (what PDFs embed) and a ≤ 320 px thumbnail, without any metadata. GPS,
capture time and camera go to columns.

A file that did not arrive whole is refused, even where a decoder would fill in what is missing
(libheif paints the missing tiles of a HEIC green; Pillow pads a JPEG or PNG when its process-wide
LOAD_TRUNCATED_IMAGES is on).

Cost on a 12-megapixel phone JPEG: the decoder works at 1/2 scale (JPEG draft mode), so the full
picture is never in memory; see bench/bench_photo.py. PNG, WebP and HEIC cannot be decoded at a
reduced scale, so their pixel count is capped by what one decode may cost (FULL_DECODE_COST).
"""

from __future__ import annotations

import hashlib
import io
import math
import operator
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from functools import reduce
from pathlib import PurePath
from typing import IO, TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.fields.files import FieldFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from PIL import ExifTags, Image, ImageCms, ImageFile
from pillow_heif import open_heif, register_heif_opener

from core.errors import StorageFull, is_storage_full
from workflows.models import EvidencePhoto

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

T = TypeVar("T")

# Depth maps and auxiliary images of iPhone HEICs would be decoded for nothing.
register_heif_opener(depth_images=False, aux_images=False)

DISPLAY_MAX_PX = 1600
THUMBNAIL_MAX_PX = 320
JPEG_QUALITY = 82
# The print copy: what PDFs embed. Bulletins print a photo 60 mm wide (follow-ups 70 mm): 600 px
# is 220–250 dpi there, as much as an office laser printer shows. Embedding the 1600 px display
# copies instead made a 146-item bulletin 29 MB and 9–11 s, most of it spent decoding them; q75
# is plenty on paper. core.pdf shrinks a photo without a print copy to the same size.
PRINT_MAX_PX = 600
PRINT_JPEG_QUALITY = 75
# 50 MP covers the 48/50-megapixel modes of current phones (8160×6120 = 49.9 MP). Far below
# Pillow's own bomb limit (89 MP): a decoded PNG or HEIC of 50 MP already takes 200 MB.
MAX_PIXELS = 50_000_000
# What decoding one photo may add to a worker's memory, for the formats decoded at full size (a
# JPEG is decoded at 1/2 to 1/8 scale, never above 3200 px a side: ~40 MB at most). With the
# display copy, the thumbnail and the encoders on top, the peak stays under 150 MB.
DECODE_BUDGET = 120 * 1024 * 1024
# Peak bytes per pixel of each full-size decode, measured with the process's peak resident
# memory on files just under the limits. HEIC: libheif holds the YCbCr planes (1.5) and the RGB
# picture (3) at once, and pillow-heif offers no way to decode a HEIC's tiles one by one or at a
# reduced size, so a 48 MP HEIC (~210 MB in libheif alone) cannot be read within the budget and
# is refused; 24 MP (the iPhone 15's default) fits, as _heif_shrunk never copies the whole picture
# into Pillow. PNG: Pillow's picture (≤ 4) and a palette's conversion to RGB (+4). WebP: Pillow's
# decoder keeps libwebp's canvas, a bytes copy and its own picture (~16).
FULL_DECODE_COST = {"PNG": 6, "WEBP": 16, "HEIF": 5}
# Pillow shrinks a picture with transparency through a premultiplied copy of the whole of it.
ALPHA_COPY_COST = 5
HEIF_STRIP_ROWS = 256  # of the decoded HEIC turned into a Pillow image at a time: 8 MB at 8000 px
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024

# Pillow format → stored content type. MPO is a JPEG with extra frames (many phones' portrait
# mode); HEIF takes its type (image/heic or image/heif) from the file.
CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
}
OPENERS = ("JPEG", "PNG", "WEBP", "HEIF")  # Pillow tries no other decoder on an upload
SUFFIXES = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "image/heif": ".heif",
}

# EXIF capture times are the camera's wall clock without a zone unless OffsetTimeOriginal says
# otherwise. The county's inspectors shoot in China with phones on China time, so a bare time is
# Asia/Shanghai; read as UTC it would be 8 hours off and "photo too old" checks would misfire.
CAMERA_ZONE = ZoneInfo("Asia/Shanghai")
# EXIF orientation → the transpose that shows the stored pixels upright: ImageOps.exif_transpose's
# table, applied here to the shrunken copy instead of the full decode.
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
SRGB = ImageCms.createProfile("sRGB")
OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")

# What a malformed but decodable file's EXIF can raise: metadata is optional, never a refusal.
METADATA_ERRORS = (
    ArithmeticError,
    LookupError,
    OSError,
    SyntaxError,
    TypeError,
    ValueError,
    struct.error,
)
# What Pillow (and pillow-heif) raise on a file they cannot identify or decode.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, RuntimeError)


class EvidenceError(ValidationError):
    """A refused upload; `code` is too_large, not_a_photo, damaged or too_many_pixels."""


@dataclass(frozen=True)
class PhotoMetadata:
    taken_at: datetime | None = None
    gps_lat: float | None = None
    gps_lng: float | None = None
    gps_accuracy_m: float | None = None
    camera_make: str = ""
    camera_model: str = ""


@dataclass(frozen=True)
class PreparedPhoto:
    """Everything a row needs, computed before anything is stored."""

    original_name: str
    content_type: str
    source_bytes: int
    sha256: str
    width: int
    height: int
    display: bytes
    print_copy: bytes
    thumbnail: bytes
    metadata: PhotoMetadata


# --- services ---------------------------------------------------------------------------------


def evidence_photo_create(
    *, file: IO[bytes], uploaded_by: AbstractBaseUser | None
) -> EvidencePhoto:
    """Store one uploaded photo or raise EvidenceError; `uploaded_by` None means the system."""
    return evidence_photos_create(files=[file], uploaded_by=uploaded_by)[0]


def evidence_photos_create(
    *, files: Iterable[IO[bytes]], uploaded_by: AbstractBaseUser | None
) -> list[EvidencePhoto]:
    """Store all the photos or none. Every file is checked before anything is written, so the
    EvidenceError names each refused file at once (one error, or a list of them)."""
    files = list(files)
    prepared = _prepare_all(files)
    written: list[FieldFile] = []
    try:
        with transaction.atomic():
            return _store(list(zip(prepared, files, strict=True)), uploaded_by, written)
    except BaseException as error:
        _delete_files(written)
        if is_storage_full(error):
            raise StorageFull(STORAGE_FULL) from error
        raise


def _prepare_all(files: list[IO[bytes]]) -> list[PreparedPhoto]:
    prepared, errors = [], []
    for file in files:
        try:
            prepared.append(evidence_photo_prepare(file))
        except EvidenceError as error:
            errors.append(error)
    if errors:
        raise errors[0] if len(errors) == 1 else EvidenceError(errors)
    return prepared


def _delete_files(written: list[FieldFile]) -> None:
    # Files are not transactional: whatever was written goes when its rows do.
    for field_file in written:
        with suppress(OSError):
            field_file.storage.delete(field_file.name)


def evidence_record(
    *,
    files: Iterable[IO[bytes]],
    uploaded_by: AbstractBaseUser | None,
    record: Callable[[list[EvidencePhoto]], T],
) -> T:
    """Photos and the record that holds them (a patrol, a ticket's step, a deduction): both or
    neither. Every file is checked and converted first (EvidenceError; nothing written, no
    transaction held while pictures are decoded), then the files, their rows and `record(photos)`
    go in one transaction. If anything raises — a refusal, a conflict, a database failing, even at
    COMMIT — the rows roll back and the files written are deleted; a process killed meanwhile
    leaves files without rows, which evidence_sweep removes. A full disk or database raises
    StorageFull (507) after the same clean-up."""
    files = list(files)
    prepared = _prepare_all(files)
    written: list[FieldFile] = []
    try:
        with transaction.atomic():
            photos = _store(list(zip(prepared, files, strict=True)), uploaded_by, written)
            return record(photos)
    except BaseException as error:
        _delete_files(written)
        if is_storage_full(error):
            raise StorageFull(STORAGE_FULL) from error
        raise


STORAGE_FULL = gettext_lazy(
    "The server's storage is full, so nothing was saved. What you entered is kept below: send "
    "it again later, and tell the county's system administrator."
)


def evidence_photos_discard(photos: Iterable[EvidencePhoto]) -> None:
    """Remove photos stored for an action that was then refused, rows and files, so that a
    refused action leaves nothing behind (files are not transactional)."""
    photos = list(photos)
    for photo in photos:
        for field_file in (photo.display, photo.print_copy, photo.thumbnail, photo.original):
            if field_file:
                field_file.delete(save=False)
    EvidencePhoto.objects.filter(pk__in=[photo.pk for photo in photos]).delete()


def _store(
    batch: list[tuple[PreparedPhoto, IO[bytes]]],
    uploaded_by: AbstractBaseUser | None,
    written: list[FieldFile],
) -> list[EvidencePhoto]:
    """Files and rows, inside the caller's transaction; `written` collects the files for the
    caller's clean-up."""
    keep_originals = getattr(settings, "EVIDENCE_KEEP_ORIGINALS", False)
    return [_store_one(photo, file, uploaded_by, keep_originals, written) for photo, file in batch]


def _store_one(
    photo: PreparedPhoto,
    file: IO[bytes],
    uploaded_by: AbstractBaseUser | None,
    keep_original: bool,
    written: list[FieldFile],
) -> EvidencePhoto:
    meta = photo.metadata
    row = EvidencePhoto(
        uploaded_by=uploaded_by,
        original_name=photo.original_name,
        content_type=photo.content_type,
        source_bytes=photo.source_bytes,
        sha256=photo.sha256,
        width=photo.width,
        height=photo.height,
        taken_at=meta.taken_at,
        gps_lat=meta.gps_lat,
        gps_lng=meta.gps_lng,
        gps_accuracy_m=meta.gps_accuracy_m,
        camera_make=meta.camera_make,
        camera_model=meta.camera_model,
    )
    _save_file(row.display, "display.jpg", ContentFile(photo.display), written)
    _save_file(row.print_copy, "print.jpg", ContentFile(photo.print_copy), written)
    _save_file(row.thumbnail, "thumbnail.jpg", ContentFile(photo.thumbnail), written)
    if keep_original:
        file.seek(0)
        name = "original" + SUFFIXES.get(photo.content_type, "")
        _save_file(row.original, name, File(file), written)
    row.save()
    return row


def _save_file(field_file: FieldFile, name: str, content: File, written: list[FieldFile]) -> None:
    """FieldFile.save, but a file the storage left half-written (a full disk) is removed too:
    the name is a fresh random one (copy_upload_to), so it is the one the storage writes to."""
    target = field_file.field.generate_filename(field_file.instance, name)
    try:
        stored = field_file.storage.save(target, content, max_length=field_file.field.max_length)
    except BaseException:
        with suppress(OSError):
            field_file.storage.delete(target)
        raise
    field_file.name = stored
    setattr(field_file.instance, field_file.field.attname, stored)
    field_file._committed = True
    written.append(field_file)


# --- the sweep ---------------------------------------------------------------------------------

# Photos and files younger than this are left alone: an upload may still be on its way to the
# record that will hold it.
SWEEP_AGE = timedelta(days=1)
PHOTO_FOLDERS = ("evidence", "evidence-originals")


def photo_links() -> list[type[models.Model]]:
    """The through tables of every many-to-many field that holds evidence photos, in any app
    (patrols and deductions included, without workflows importing inspections)."""
    return [
        field.remote_field.through
        for model in apps.get_models()
        for field in model._meta.many_to_many
        if field.related_model is EvidencePhoto
    ]


def evidence_sweep(*, now: datetime, age: timedelta = SWEEP_AGE) -> dict[str, int]:
    """Remove what a killed process left behind: photo rows that nothing holds, and files that
    no row names, both older than `age`. Counts of each."""
    cutoff = now - age
    held = reduce(
        operator.or_,
        (Q(Exists(link.objects.filter(evidencephoto_id=OuterRef("pk")))) for link in photo_links()),
    )
    orphans = list(EvidencePhoto.objects.filter(uploaded_at__lt=cutoff).exclude(held))
    evidence_photos_discard(orphans)
    return {"rows": len(orphans), "files": _stray_files_delete(cutoff)}


def _stray_files_delete(cutoff: datetime) -> int:
    """Files under the photo folders that no row names, last written before `cutoff`. Only on a
    local file system: listing an object store is slow and costly (set a lifecycle rule there)."""
    storage = default_storage
    if not isinstance(storage, FileSystemStorage):
        return 0
    deleted = 0
    for folder in _folders(storage):
        names = [f"{folder}/{name}" for name in storage.listdir(folder)[1]]
        if not names:
            continue
        known = set()
        for column in ("display", "print_copy", "thumbnail", "original"):
            known |= set(
                EvidencePhoto.objects.filter(**{f"{column}__in": names}).values_list(
                    column, flat=True
                )
            )
        for name in names:
            if name in known:
                continue
            with suppress(FileNotFoundError):
                if storage.get_modified_time(name) < cutoff:
                    storage.delete(name)
                    deleted += 1
    return deleted


def _folders(storage) -> Iterator[str]:
    """Every folder below the photo folders (evidence/2026/12, …), leaves last."""
    pending = [folder for folder in PHOTO_FOLDERS if storage.exists(folder)]
    while pending:
        folder = pending.pop()
        yield folder
        pending.extend(f"{folder}/{sub}" for sub in storage.listdir(folder)[0])


# --- print copies of photos stored before them ------------------------------------------------

PRINT_COPY_BATCH = 200


@dataclass
class PrintCopyCounts:
    """What a make_print_copies run did: copies made; photos whose display copy is missing or
    unreadable (left without one: PDFs print nothing for them either way); photos another run
    gave a copy meanwhile (or that were deleted), whose file this run removed again."""

    made: int = 0
    unreadable: int = 0
    taken: int = 0

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


def print_copies_make(
    *, batch_size: int = PRINT_COPY_BATCH, progress: Callable[[PrintCopyCounts], None] | None = None
) -> PrintCopyCounts:
    """A print copy for every photo that has none, made from its display copy (upright, sRGB,
    metadata-free already). Idempotent and resumable: it only looks at photos whose print copy
    is empty, in key order, `batch_size` rows a query, and each copy is committed on its own — a
    run stopped half-way is simply run again. `progress` is called after each batch."""
    counts, after = PrintCopyCounts(), 0
    while True:
        batch = list(
            EvidencePhoto.objects.filter(print_copy="", pk__gt=after)
            .order_by("pk")
            .only("pk", "display", "print_copy")[:batch_size]
        )
        if not batch:
            return counts
        for photo in batch:
            counts.add(print_copy_make(photo=photo))
        after = batch[-1].pk
        if progress:
            progress(counts)


def print_copy_make(*, photo: EvidencePhoto) -> str:
    """Store the print copy of one photo that has none: "made", "unreadable" or "taken".

    The row is claimed with a compare-and-set (`UPDATE … WHERE print_copy = ''`) after the file
    is written: of two runs at once, the one that finds the column set already deletes its own
    file, and a failure after the write deletes it too — no row names a missing file, no file
    is left without a row."""
    try:
        data = print_copy_of_display(photo.display)
    except (FileNotFoundError, *DECODE_ERRORS):
        return "unreadable"
    written: list[FieldFile] = []
    try:
        _save_file(photo.print_copy, "print.jpg", ContentFile(data), written)
        claimed = EvidencePhoto.objects.filter(pk=photo.pk, print_copy="").update(
            print_copy=photo.print_copy.name
        )
    except BaseException:
        _delete_files(written)
        raise
    if not claimed:
        _delete_files(written)
        return "taken"
    return "made"


def print_copy_of_display(display: FieldFile) -> bytes:
    """The print copy's JPEG from a stored display copy, decoded in JPEG draft mode at the
    smallest scale that covers the print size (1600 × 1200 → 800 × 600)."""
    with (
        display.storage.open(display.name, "rb") as file,
        Image.open(file, formats=["JPEG"]) as image,
    ):
        image.draft("RGB", _fitted(image.size, PRINT_MAX_PX))
        image.load()
        return print_copy_jpeg(image)


# --- checking and converting one file ---------------------------------------------------------


def evidence_photo_prepare(file: IO[bytes]) -> PreparedPhoto:
    """Check and convert one file without storing anything; raises EvidenceError."""
    name = _file_name(file)
    limit = getattr(settings, "EVIDENCE_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)
    size = _declared_size(file)
    if size is not None and size > limit:
        raise _too_large(name, limit)  # refused before a byte of it is read
    digest, size = _sha256(file, name, limit)
    file.seek(0)
    with _decoding(name), Image.open(file, formats=OPENERS) as source:
        _check_pixels(source, name)
        _check_whole(source, file, size, name)
        metadata = _metadata(source)
        content_type = _content_type(source)
        display = _display_copy(source, file)
    # Frees the decoded source before encoding. Not source.close(): that would also close the
    # caller's file, which EVIDENCE_KEEP_ORIGINALS still needs.
    del source
    width, height = display.size
    display_jpeg = _jpeg(display)
    # From the display copy (upright, sRGB, ≤ 1600 px), not the source.
    print_image = print_copy(display)
    del display  # its pixels go now
    print_jpeg = _jpeg(print_image, quality=PRINT_JPEG_QUALITY)
    # The thumbnail from the print copy, a seventh of the display's pixels to average (1.2 ms
    # instead of 2.4 for a 1600 px copy); in place, as the print copy is already encoded.
    box = (THUMBNAIL_MAX_PX, THUMBNAIL_MAX_PX)
    print_image.thumbnail(box, Image.Resampling.BOX, reducing_gap=1.0)
    thumbnail_jpeg = _jpeg(print_image)
    return PreparedPhoto(
        original_name=name[:255],
        content_type=content_type,
        source_bytes=size,
        sha256=digest,
        width=width,
        height=height,
        display=display_jpeg,
        print_copy=print_jpeg,
        thumbnail=thumbnail_jpeg,
        metadata=metadata,
    )


def _file_name(file: IO[bytes]) -> str:
    return PurePath(str(getattr(file, "name", "") or "")).name or _("photo")


def _declared_size(file: IO[bytes]) -> int | None:
    """An UploadedFile knows its size; a plain file is asked without reading it."""
    size = getattr(file, "size", None)
    if size is not None:
        return size
    with suppress(AttributeError, OSError):
        position = file.tell()
        size = file.seek(0, io.SEEK_END)
        file.seek(position)
    return size


def _sha256(file: IO[bytes], name: str, limit: int) -> tuple[str, int]:
    """Hash in chunks, counting: a file that grows past its declared size is still refused."""
    file.seek(0)
    digest, size = hashlib.sha256(), 0
    while chunk := file.read(1024 * 1024):
        size += len(chunk)
        if size > limit:
            raise _too_large(name, limit)
        digest.update(chunk)
    return digest.hexdigest(), size


@contextmanager
def _decoding(name: str) -> Iterator[None]:
    """Turn whatever decoding raises into an EvidenceError naming the file.

    Pillow only warns about images of 89 to 179 MP. _check_pixels refuses those anyway (our limit
    is lower), so the warning needs no warnings.catch_warnings() — which is not thread-safe —
    and stays in the log as a trace of the attempt; where warnings are errors (the test suite)
    it arrives here as an exception.
    """
    # Importing WeasyPrint turns this on for the whole process, and then Pillow pads a cut JPEG
    # or PNG and returns it as whole. core.pdf turns it off again, but only when it is imported
    # after WeasyPrint; here it is off for every decode, whatever was imported in which order.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(name) from None
    except Image.UnidentifiedImageError:
        raise _not_a_photo(name) from None
    except DECODE_ERRORS:
        raise _damaged(name) from None


def _check_pixels(image: Image.Image, name: str) -> None:
    # The header is read, the pixels not yet: refuse before decoding allocates anything.
    pixels = image.width * image.height
    if pixels > MAX_PIXELS:
        raise _too_many_pixels(name)
    cost = FULL_DECODE_COST.get(image.format, 0)
    if cost and image.format != "HEIF" and _transparent(image):
        cost += ALPHA_COPY_COST  # a HEIC is shrunk a strip at a time, its alpha with it
    if cost and pixels * cost > DECODE_BUDGET:
        raise _too_many_pixels(name, limit=int(DECODE_BUDGET / cost), heif=image.format == "HEIF")


def _transparent(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _check_whole(image: Image.Image, file: IO[bytes], size: int, name: str) -> None:
    """Refuse a file that was cut short (an upload broken off, a copy from a full card) before
    its decoder gets the chance to fill in the rest: libheif decodes a HEIC whose tiles are
    missing without an error (they come out green; pillow-heif neither asks libheif for strict
    decoding nor passes on its warnings), and Pillow reads a PNG whose end is missing as whole."""
    checks = {"HEIF": _heif_is_whole, "PNG": _png_is_whole}
    if image.format not in checks:
        return  # JPEG and WebP: their decoders raise on a cut file (LOAD_TRUNCATED_IMAGES off)
    position = file.tell()  # where Pillow's reader is: it shares the file
    try:
        whole = checks[image.format](file, size)
    finally:
        file.seek(position)
    if not whole:
        raise _damaged(name)


PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the IEND chunk: empty, so always these bytes


def _png_is_whole(file: IO[bytes], size: int) -> bool:
    """A PNG ends with its IEND chunk (the standard allows nothing after it)."""
    file.seek(max(0, size - len(PNG_END)))
    return file.read(len(PNG_END)) == PNG_END


def _heif_is_whole(file: IO[bytes], size: int) -> bool:
    """Every box of the HEIF container fits in the file, and so does every item's data that
    the 'iloc' box places in it: the tiles of the picture, its EXIF, its thumbnail."""
    try:
        for kind, start, end in _boxes(file, 0, size):
            if kind != b"meta":
                continue
            for child, child_start, child_end in _boxes(file, start + 4, end):  # after version
                if child == b"iloc":
                    file.seek(child_start)
                    extents = _iloc_extents(file.read(child_end - child_start))
                    if any(offset + length > size for offset, length in extents):
                        return False
    except EOFError:
        return False
    return True


def _boxes(file: IO[bytes], start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, end) of each ISO base media box between start and end; EOFError
    where one is cut short (ISO/IEC 14496-12 §4.2: size 1 = a 64-bit size follows, 0 = to the
    end)."""
    position = start
    while position < end:
        file.seek(position)
        header = file.read(16)
        if len(header) < 8:
            raise EOFError("box header cut short")
        box_size, kind = struct.unpack(">I4s", header[:8])
        payload = position + 8
        if box_size == 1:
            if len(header) < 16:
                raise EOFError("box header cut short")
            box_size, payload = struct.unpack(">Q", header[8:])[0], position + 16
        elif box_size == 0:
            box_size = end - position
        if box_size < payload - position or position + box_size > end:
            raise EOFError(f"box {kind!r} runs past the end")
        yield kind, payload, position + box_size
        position += box_size


def _iloc_extents(box: bytes) -> list[tuple[int, int]]:
    """(offset, length) in this file of each extent the 'iloc' box lists (ISO/IEC 14496-12
    §8.11.3); extents in another file or inside the 'idat' box are left out."""
    fields = _Fields(box)
    version = fields.read(1)
    fields.read(3)  # flags
    offset_size, length_size = divmod(fields.read(1), 16)
    base_offset_size, index_size = divmod(fields.read(1), 16)
    index_size = index_size if version in (1, 2) else 0
    wide = 4 if version == 2 else 2
    extents = []
    for _item in range(fields.read(wide)):
        fields.read(wide)  # item_ID
        method = fields.read(2) & 0xF if version in (1, 2) else 0
        in_this_file = fields.read(2) == 0 and method == 0  # data_reference_index 0: this file
        base = fields.read(base_offset_size)
        for _extent in range(fields.read(2)):
            fields.read(index_size)
            offset, length = fields.read(offset_size), fields.read(length_size)
            if in_this_file:
                extents.append((base + offset, length))
    return extents


class _Fields:
    """Big-endian unsigned integers read one after another; EOFError past the end."""

    def __init__(self, data: bytes):
        self.data, self.position = data, 0

    def read(self, size: int) -> int:
        end = self.position + size
        if end > len(self.data):
            raise EOFError("box cut short")
        value = int.from_bytes(self.data[self.position : end], "big")
        self.position = end
        return value


def _content_type(image: Image.Image) -> str:
    if image.format == "HEIF":
        return image.get_format_mimetype() or "image/heif"
    return CONTENT_TYPES[image.format]


def _display_copy(source: Image.Image, file: IO[bytes]) -> Image.Image:
    """Upright, RGB (or grayscale), sRGB, at most DISPLAY_MAX_PX on the long side."""
    orientation = _orientation(source)
    size = _fitted(source.size, DISPLAY_MAX_PX)
    if source.format == "HEIF":
        image = _heif_shrunk(file, size)
    else:
        if source.format in ("JPEG", "MPO"):
            # libjpeg decodes at 1/2, 1/4 or 1/8 scale, never below the box: most of the work
            # of a 12 MP photo is skipped. The box keeps the aspect ratio; a square box would
            # leave a 4000×3000 photo at full scale (3000 // 1600 = 1).
            source.draft("RGB", size)
        source.load()
        image = _resizable(source)
    if size != image.size:
        # Area averaging (BOX): the right filter for shrinking and the cheapest one; JPEG draft
        # mode left at most a 2× reduction to do. Pillow cannot reduce() 16-bit grayscale, which
        # reducing_gap would ask of it, but resizes it directly.
        gap = None if image.mode.startswith("I;16") else 2.0
        image = image.resize(size, Image.Resampling.BOX, reducing_gap=gap)
    if orientation in UPRIGHT:
        # Turned after shrinking, not before: a third fewer pixels to move (~10 ms on 12 MP).
        image = image.transpose(UPRIGHT[orientation])
    # May be the source itself (a photo already upright and small enough): leaving the `with`
    # of Image.open() keeps its pixels (only the file is let go), so no copy is made (1.5 ms).
    return _to_srgb(_flattened(_eight_bit(image)), source.info.get("icc_profile"))


def _heif_shrunk(file: IO[bytes], size: tuple[int, int]) -> Image.Image:
    """The HEIC decoded by libheif, narrowed to `size`'s width a strip of rows at a time; the
    caller shrinks its height. Through pillow-heif's Pillow plugin the whole decoded picture
    would be copied into a Pillow image first (+4 bytes a pixel, +190 MB at 48 MP). The pixels
    are those of one BOX resize of the whole: it is separable, and Pillow's own resize makes the
    same two passes, rows first. libheif has applied the HEIF rotation and mirroring already."""
    file.seek(0)
    heif = open_heif(file, convert_hdr_to_8bit=True, remove_stride=False)
    frame = heif[heif.primary_index]
    data, stride, mode = frame.data, frame.stride, frame.mode  # decodes
    width, height = frame.size  # known for sure only once decoded
    narrow = Image.new(mode, (min(width, size[0]), height))
    for top in range(0, height, HEIF_STRIP_ROWS):
        count = min(HEIF_STRIP_ROWS, height - top)
        rows = data[top * stride : (top + count) * stride]
        strip = Image.frombuffer(mode, (width, count), rows, "raw", mode, stride, 1)
        narrow.paste(strip.resize((narrow.width, count), Image.Resampling.BOX), (0, top))
    return narrow


def _orientation(source: Image.Image) -> int:
    """The EXIF orientation still to apply (Pillow falls back on an XMP tiff:Orientation)."""
    if source.format == "HEIF":
        # pillow-heif applies the HEIF rotation and mirroring (irot/imir) while decoding and
        # resets the EXIF orientation to 1: turning a HEIC by its EXIF would turn it twice.
        return 1
    try:
        return int(source.getexif().get(ExifTags.Base.Orientation, 1))
    except METADATA_ERRORS:
        return 1


def _fitted(size: tuple[int, int], longest: int) -> tuple[int, int]:
    width, height = size
    scale = longest / max(width, height)
    if scale >= 1:
        return size
    return max(1, round(width * scale)), max(1, round(height * scale))


def _resizable(image: Image.Image) -> Image.Image:
    """The decoded picture in a mode that shrinks by averaging: Pillow shrinks a palette image
    by taking one pixel in N (nearest neighbour), and a transparent colour key would be averaged
    into its neighbours instead of turning white. A 16-bit grayscale picture is shrunk as it is
    and brought to 8 bits after (_eight_bit), fewer pixels to convert; its transparency, a
    rarity, is dropped."""
    if image.mode.startswith("I"):
        return image
    if image.mode in ("P", "PA") or "transparency" in image.info:
        return image.convert("RGBA" if _transparent(image) else "RGB")
    if image.mode == "1":
        return image.convert("L")
    return image


def _eight_bit(image: Image.Image) -> Image.Image:
    """16-bit grayscale (PNG gives I;16, I;16B or I) as 8-bit: 0..65535 scaled to 0..255.
    convert("L") alone clips every value above 255 to white: a blank picture."""
    if not image.mode.startswith("I"):
        return image
    return image.convert("I").point(lambda value: value / 257).convert("L")


def _flattened(image: Image.Image) -> Image.Image:
    """RGB (or grayscale) for JPEG: transparency becomes white, as a viewer would show it."""
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """Colours converted to sRGB, since the copy carries no profile. iPhones shoot Display P3:
    shown as sRGB it would look washed out — and a water body's colour is evidence."""
    if not icc_profile or image.mode != "RGB":
        return image
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        if "sRGB" in ImageCms.getProfileDescription(profile):
            return image
        return ImageCms.profileToProfile(image, profile, SRGB, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image  # a broken profile: the pixels as they are beat no photo


def print_copy(display: Image.Image) -> Image.Image:
    """The print copy's pixels from a display copy (upright, sRGB, no metadata already):
    ≤ PRINT_MAX_PX on the long side. `display` is left as it was."""
    size = _fitted(display.size, PRINT_MAX_PX)
    # BOX with reducing_gap: an integer reduce() first (1600 → 800), then one small resize.
    return display.resize(size, Image.Resampling.BOX, reducing_gap=2.0)


def print_copy_jpeg(display: Image.Image) -> bytes:
    """The print copy of a display copy as a JPEG at PRINT_JPEG_QUALITY."""
    image = print_copy(display)
    try:
        return _jpeg(image, quality=PRINT_JPEG_QUALITY)
    finally:
        image.close()


def _jpeg(image: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    """Re-encoded with nothing but pixels: no EXIF, XMP, ICC or comment is passed to save()."""
    # Pillow's JPEG writer falls back on image.info for the comment, and the copy inherited the
    # source's info (a JPEG's COM segment, a PNG's "comment" text): it would pass through.
    image.info = {}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


# --- metadata ---------------------------------------------------------------------------------


def _metadata(image: Image.Image) -> PhotoMetadata:
    """Capture time, GPS and camera from an opened image's EXIF; missing or broken → empty."""
    try:
        exif = image.getexif()
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        details = exif.get_ifd(ExifTags.IFD.Exif)
    except METADATA_ERRORS:
        return PhotoMetadata()
    lat, lng = _gps_position(gps)
    return PhotoMetadata(
        taken_at=_guarded(_taken_at, details),
        gps_lat=lat,
        gps_lng=lng,
        gps_accuracy_m=_guarded(_gps_accuracy, gps) if lat is not None else None,
        camera_make=_guarded(_text, exif.get(ExifTags.Base.Make)) or "",
        camera_model=_guarded(_text, exif.get(ExifTags.Base.Model)) or "",
    )


def _guarded(read: Callable[[Any], T], value: Any) -> T | None:
    try:
        return read(value)
    except METADATA_ERRORS:
        return None


def _taken_at(details: dict) -> datetime | None:
    raw = _text(details.get(ExifTags.Base.DateTimeOriginal))
    if not raw:
        return None
    # "YYYY:MM:DD HH:MM:SS"; some writers use "-" in the date. "0000:00:00 …" raises → None.
    naive = datetime.strptime(raw[:19].replace("-", ":"), "%Y:%m:%d %H:%M:%S")
    offset = OFFSET.match(_text(details.get(ExifTags.Base.OffsetTimeOriginal)))
    if offset is None:
        return naive.replace(tzinfo=CAMERA_ZONE)
    sign, hours, minutes = offset.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    return naive.replace(tzinfo=dt_timezone(-delta if sign == "-" else delta))


def _gps_position(gps: dict) -> tuple[float | None, float | None]:
    lat = _guarded(
        _degrees, (gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef))
    )
    lng = _guarded(
        _degrees, (gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef))
    )
    if lat is None or lng is None or not (-90 <= lat <= 90 and -180 <= lng <= 180):
        return None, None
    if lat == 0 and lng == 0:
        return None, None  # what phones write without a fix ("null island"), not a place
    return lat, lng


def _degrees(value_and_ref: tuple) -> float | None:
    """(degrees, minutes, seconds) rationals and a hemisphere letter → signed decimal degrees."""
    value, ref = value_and_ref
    if value is None:
        return None
    parts = value if isinstance(value, tuple | list) else (value,)
    degrees = sum(float(part) / 60**i for i, part in enumerate(parts[:3]))
    if not math.isfinite(degrees):
        return None  # a 0/0 rational
    return -degrees if _text(ref).upper() in ("S", "W") else degrees


def _gps_accuracy(gps: dict) -> float | None:
    raw = gps.get(ExifTags.GPS.GPSHPositioningError)
    if raw is None:
        return None
    metres = float(raw)
    return metres if math.isfinite(metres) and metres >= 0 else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return str(value).strip("\x00 ")[:64]


# --- refusals ---------------------------------------------------------------------------------


def _too_large(name: str, limit: int) -> EvidenceError:
    message = _("%(name)s is larger than %(limit)s.") % {
        "name": name,
        "limit": filesizeformat(limit),
    }
    return EvidenceError(message, code="too_large")


def _not_a_photo(name: str) -> EvidenceError:
    message = _("%(name)s is not a photo (JPEG, PNG, WebP or HEIC).") % {"name": name}
    return EvidenceError(message, code="not_a_photo")


def _damaged(name: str) -> EvidenceError:
    message = _("%(name)s is damaged or incomplete and cannot be read.") % {"name": name}
    return EvidenceError(message, code="damaged")


def _too_many_pixels(name: str, limit: int = MAX_PIXELS, heif: bool = False) -> EvidenceError:
    values = {"name": name, "limit": limit // 1_000_000}
    if heif:
        # The iPhone's 48 MP "HEIF Max" setting: the user can do something about it.
        message = _(
            "%(name)s is a HEIC photo of more than %(limit)d megapixels, which cannot be read "
            "here. Take it at a lower resolution (such as 12 or 24 MP), or send it as JPEG."
        )
    else:
        message = _("%(name)s has too many pixels (at most %(limit)d megapixels).")
    return EvidenceError(message % values, code="too_many_pixels")
