"""Fixtures for water sites and patrols: sites in 胡集镇 and 鸡黍镇 at fixed positions, and
positions a given distance away from them."""

from __future__ import annotations

import itertools
import math

import pytest

from inspections.models import SiteKind, WaterSite
from tests.workflows.conftest import _media, deadline, jpeg_upload, make_photo  # noqa: F401

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

    from django.utils import timezone

    from inspections.models import Patrol

    at = timezone.make_aware(datetime.combine(on, time(10, 0)))
    return Patrol.objects.create(
        site=site,
        inspector=inspector,
        key=uuid.uuid4(),
        created_at=at,
        local_date=on,
        lat=site.lat,
        lng=site.lng,
        accuracy_m=10,
        distance_m=0,
        result=result,
        flagged=flagged,
        flags=[{"code": "too_far", "distance_m": 2000}] if flagged else [],
        **fields,
    )


# --- checklists, rounds, assessments -----------------------------------------------------------


@pytest.fixture
def checklist(db):
    """A 100-point checklist: G1 (10 points, 2 per occurrence, capped at 6), T1 (20, 5, cap 20,
    no photo needed), V1 (a veto item, 10) and filler items up to 100."""
    from inspections.models import ChecklistItem, ChecklistTemplate

    template = ChecklistTemplate.objects.create(name="村村到检查表", version=1)
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

    return Campaign.objects.create(name="2024年村村到", year=2024, template=checklist)


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
