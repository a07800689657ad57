"""Fixtures for water sites and patrols: sites in 胡集镇 and 鸡黍镇 at fixed positions, and
positions a given distance away from them; photos as a phone's camera takes them."""

from __future__ import annotations

import io
import itertools
import math

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import ExifTags, Image

from inspections.models import SiteKind, WaterSite
from tests.workflows.conftest import _media, deadline, jpeg_upload  # noqa: F401
from workflows.evidence.services import evidence_photo_create

# The phones the tests' browsers claim to be.
ANDROID_UA = (
    "Mozilla/5.0 (Linux; Android 13; ELS-AN00) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)
DESKTOP_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)

_shots = itertools.count(1)


def camera_upload(name: str = "IMG_0001.jpg", *, taken_at=None) -> SimpleUploadedFile:
    """A small JPEG as a phone's camera writes it: EXIF with make, model and the time it was
    taken (now, Asia/Shanghai, unless `taken_at`), no GPS. Every call is a different file (its
    own unique image ID, as cameras write, and one corner of another colour), so no two
    patrols of a test share a photo — the same file twice is a reused photo, which the county
    refuses (tests/inspections/test_presence_checks.py)."""
    n = next(_shots)
    image = Image.new("RGB", (64, 48), (90, 140, 60))
    image.paste((n * 37 % 256, n * 91 % 256, n * 53 % 256), (0, 0, 8, 8))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "HUAWEI"
    exif[ExifTags.Base.Model] = "ELS-AN00"
    taken = timezone.localtime(taken_at or timezone.now())
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.DateTimeOriginal] = taken.strftime("%Y:%m:%d %H:%M:%S")
    details[ExifTags.Base.ImageUniqueID] = f"{n:032x}"
    offset = taken.strftime("%z")  # +0800
    details[ExifTags.Base.OffsetTimeOriginal] = f"{offset[:3]}:{offset[3:]}"
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


@pytest.fixture
def make_photo(db):
    """A stored evidence photo from camera_upload: a new file each time."""

    def make(user=None, name="IMG_0001.jpg"):
        return evidence_photo_create(file=camera_upload(name), uploaded_by=user)

    return make


# A pond in 胡集镇 (WGS-84), and one in 鸡黍镇.
HUJI_SITE = (35.0262, 116.2390)  # lat, lng
JISHU_SITE = (35.1080, 116.3710)

_codes = itertools.count(1)


def moved(position: tuple[float, float], *, north_m: float = 0, east_m: float = 0):
    """`position` shifted by metres (good to a few cm at these distances)."""
    lat, lng = position
    metres_per_degree = 6_371_008.8 * math.pi / 180
    return (
        lat + north_m / metres_per_degree,
        lng + east_m / (metres_per_degree * math.cos(math.radians(lat))),
    )


def make_site(town, village=None, *, position=HUJI_SITE, **fields) -> WaterSite:
    n = next(_codes)
    values = {
        "code": f"HC-T{n:04d}",
        "name": f"{(village or town).name}坑塘{n}",
        "town": town,
        "village": village,
        "kind": SiteKind.POND,
        "area_m2": 2400,
        "lat": position[0],
        "lng": position[1],
        "county_person": "王县长",
        "county_phone": "0537-8721000",
        "town_person": "李镇长",
        "town_phone": "13800000001",
        "village_person": "张书记",
        "village_phone": "13800000002",
    } | fields
    return WaterSite.objects.create(**values)


@pytest.fixture
def huji_site(huji, huji_village) -> WaterSite:
    """A pond of 胡集镇, accepted and being maintained (已验收·管护中)."""
    return make_site(huji, huji_village, state="maintained")


@pytest.fixture
def jishu_site(jishu, jishu_village) -> WaterSite:
    return make_site(jishu, jishu_village, position=JISHU_SITE, state="maintained")


def make_patrol(site, inspector, *, on, flagged=False, result="normal", **fields):
    """A stored patrol on local date `on`, bypassing the service (for coverage and lists);
    tests of recording a patrol go through inspections.sites.services."""
    import uuid
    from datetime import datetime, time

    from inspections.models import Patrol

    at = timezone.make_aware(datetime.combine(on, time(10, 0)))
    values = {
        "site": site,
        "inspector": inspector,
        "key": uuid.uuid4(),
        "observed_at": at,
        "created_at": at,
        "local_date": on,
        "lat": site.lat,
        "lng": site.lng,
        "accuracy_m": 10,
        "distance_m": 0,
        "result": result,
        "flagged": flagged,
        "flags": [{"code": "too_far", "distance_m": 2000}] if flagged else [],
    } | fields
    return Patrol.objects.create(**values)


# --- checklists, rounds, assessments -----------------------------------------------------------


@pytest.fixture
def checklist(db):
    """A 100-point checklist: G1 (10 points, 2 per occurrence, capped at 6), T1 (20, 5, cap 20,
    no photo needed), V1 (a veto item, 10) and filler items up to 100."""
    from inspections.models import ChecklistItem, ChecklistTemplate

    template = ChecklistTemplate.objects.create(
        county_id="370828000000", name="村村到检查表", version=1
    )
    rows = [
        ("G1", "garbage", "垃圾桶满溢", 10, 2, 6, True, False),
        ("T1", "toilets", "厕所不能用", 20, 5, 20, False, False),
        ("V1", "sewage", "黑臭水体返黑返臭", 10, 10, 10, True, True),
        ("A1", "appearance", "柴草乱堆乱放", 30, 3, 30, False, False),
        ("M1", "maintenance", "管护制度未落实", 30, 5, 30, False, False),
    ]
    for order, (code, dim, title, points, per, cap, photos, veto) in enumerate(rows):
        ChecklistItem.objects.create(
            template=template,
            order=order,
            code=code,
            dimension=dim,
            title=title,
            max_points=points,
            deduction=per,
            cap=cap,
            photos_required=photos,
            veto=veto,
        )
    return template


@pytest.fixture
def campaign(checklist):
    from inspections.models import Campaign

    return Campaign.objects.create(
        county_id="370828000000", name="2024年村村到", year=2024, template=checklist
    )


@pytest.fixture
def active_round(campaign, task_force):
    from datetime import date

    from inspections.grading.services import round_start
    from inspections.models import Round

    round = Round.objects.create(
        campaign=campaign,
        number=1,
        mode="sweep",
        starts_on=date(2024, 3, 1),
        ends_on=date(2024, 3, 31),
    )
    return round_start(round=round, by=task_force)
