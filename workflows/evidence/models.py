"""Evidence photos: every photo uploaded anywhere (ticket steps, patrols, assessments).

A row keeps what the source file said (GPS, capture time, camera) in columns and serves only
re-encoded, metadata-free copies: a display copy, a thumbnail and a print copy for PDFs. The
pipeline that fills it is workflows.evidence.services; nothing else creates these rows.

The files are served by workflows.evidence.views, behind the login, to whoever may see something
that holds the photo (workflows.evidence.holders); pages link them as `photo.display_url` and
`photo.thumbnail_url` (PDFs `photo.print_url`), built from the primary key alone (no query per
photo). The web server never serves MEDIA_ROOT itself.
"""

from __future__ import annotations

from pathlib import PurePath
from uuid import uuid4

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

ORIGINAL_SUFFIXES = {".jpg", ".png", ".webp", ".heic", ".heif"}


def _unguessable_path(folder: str, suffix: str) -> str:
    # A random name, not the client's: a name like IMG_0001.jpg is trivially guessed, and the
    # name is what an object store's (signed) URL and the web server's internal location show.
    return f"{folder}/{timezone.localdate():%Y/%m}/{uuid4().hex}{suffix}"


def copy_upload_to(instance: EvidencePhoto, filename: str) -> str:
    """Display, print and thumbnail copies: JPEGs the pipeline made, free of metadata."""
    return _unguessable_path("evidence", ".jpg")


def original_upload_to(instance: EvidencePhoto, filename: str) -> str:
    # Originals still carry GPS and camera metadata: a folder of their own, outside the web
    # server's internal location for photos (evidence/ only), and no view names them.
    suffix = PurePath(filename).suffix.lower()
    return _unguessable_path("evidence-originals", suffix if suffix in ORIGINAL_SUFFIXES else "")


class EvidencePhotoQuerySet(models.QuerySet):
    def visible_to(self, user) -> EvidencePhotoQuerySet:
        """Photos held by something `user` may see (a ticket, a step of its timeline, a patrol,
        a deduction, a bulletin): one EXISTS per kind of holder, in the photo's own query."""
        from workflows.evidence.holders import held_for  # its holders' models import this one

        return self.filter(held_for(user))


class EvidencePhoto(models.Model):
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="evidence_photos",
        verbose_name=_("uploaded by"),
        help_text=_("Empty for photos the system added itself."),
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    original_name = models.CharField(_("original file name"), max_length=255)
    content_type = models.CharField(_("source type"), max_length=32)
    source_bytes = models.PositiveBigIntegerField(_("source size (bytes)"))
    # Finds the same file uploaded again (one photo passed off as evidence of two visits).
    sha256 = models.CharField(_("SHA-256 of the source"), max_length=64, db_index=True)
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    display = models.ImageField(_("display copy"), upload_to=copy_upload_to, max_length=200)
    thumbnail = models.ImageField(_("thumbnail"), upload_to=copy_upload_to, max_length=200)
    # What PDFs embed (≤ 600 px, JPEG q75: ~250 dpi at the 60 mm a bulletin prints a photo).
    # Empty ("", as Django stores an absent file) for a photo stored before print copies, until
    # `manage.py make_print_copies` makes one: PDFs then fall back on the display copy.
    print_copy = models.ImageField(
        _("print copy"), upload_to=copy_upload_to, max_length=200, blank=True
    )
    # Empty unless settings.EVIDENCE_KEEP_ORIGINALS: "" rather than NULL, as Django stores an
    # absent file.
    original = models.FileField(
        _("original file"), upload_to=original_upload_to, max_length=200, blank=True
    )
    taken_at = models.DateTimeField(_("taken at"), null=True, blank=True)
    # WGS-84, as the phone's GNSS records it in EXIF (never GCJ-02: convert only to draw on a
    # Chinese base map).
    gps_lat = models.FloatField(_("GPS latitude"), null=True, blank=True)
    gps_lng = models.FloatField(_("GPS longitude"), null=True, blank=True)
    gps_accuracy_m = models.FloatField(_("GPS accuracy (m)"), null=True, blank=True)
    camera_make = models.CharField(_("camera make"), max_length=64, blank=True)
    camera_model = models.CharField(_("camera model"), max_length=64, blank=True)

    objects = EvidencePhotoQuerySet.as_manager()

    class Meta:
        verbose_name = _("evidence photo")
        verbose_name_plural = _("evidence photos")
        constraints = [
            # A position is both coordinates or neither (NULL comparisons would let half pass).
            models.CheckConstraint(
                condition=Q(gps_lat__isnull=True, gps_lng__isnull=True)
                | Q(
                    gps_lat__isnull=False,
                    gps_lng__isnull=False,
                    gps_lat__gte=-90,
                    gps_lat__lte=90,
                    gps_lng__gte=-180,
                    gps_lng__lte=180,
                ),
                name="evidencephoto_gps_pair_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.width}×{self.height})"

    @property
    def has_location(self) -> bool:
        return self.gps_lat is not None and self.gps_lng is not None

    # From the primary key alone: a page of many thumbnails builds their URLs without a query.
    # There is no URL of the original (it keeps GPS and camera): it is never served.
    @property
    def display_url(self) -> str:
        return reverse("photo_display", args=[self.pk])

    @property
    def thumbnail_url(self) -> str:
        return reverse("photo_thumbnail", args=[self.pk])

    @property
    def print_url(self) -> str:
        """The print copy, or the display copy where there is none yet (the view decides)."""
        return reverse("photo_print", args=[self.pk])
