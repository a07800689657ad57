"""Fixtures for ticket tests: real evidence photos (small generated JPEGs) and tickets in every
state, built through the services exactly as users would."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from tests.factories import make_household, make_user, membership
from villages.models import Role
from workflows.evidence.services import evidence_photo_create
from workflows.tickets import services


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def jpeg_upload(name: str = "photo.jpg", colour=(90, 140, 60)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


@pytest.fixture
def make_photo(db):
    def make(user=None, name="photo.jpg"):
        return evidence_photo_create(file=jpeg_upload(name), uploaded_by=user)

    return make


@pytest.fixture
def deadline():
    return timezone.localdate() + timedelta(days=10)


@pytest.fixture
def draft(huji, huji_village, inspector, make_photo):
    return services.rectification_create(
        by=inspector,
        town=huji,
        village=huji_village,
        description="河道岸边堆放生活垃圾",
        source_kind="patrol",
        before_photos=[make_photo(inspector)],
    )


@pytest.fixture
def assigned(draft, task_force, deadline):
    return services.rectification_assign(ticket=draft, by=task_force, deadline=deadline)


@pytest.fixture
def submitted(assigned, hj_officer, make_photo):
    return services.rectification_submit(
        ticket=assigned,
        by=hj_officer,
        note="已清理垃圾并设置警示牌",
        photos=[make_photo(hj_officer)],
    )


@pytest.fixture
def household(huji_village):
    return make_household(huji_village, number="HJ-001", head_name="王建国", phone="13800001234")


@pytest.fixture
def huji_worker(huji):
    return make_user("huji_worker", membership(Role.SERVICE_WORKER, huji))


@pytest.fixture
def reported(household, village_admin):
    return services.toilet_report(
        by=village_admin, household=household, kind="pumping", channel="village_admin"
    )


@pytest.fixture
def dispatched(reported, hj_officer, huji_worker):
    return services.toilet_dispatch(ticket=reported, by=hj_officer, worker=huji_worker)


@pytest.fixture
def in_service(dispatched, huji_worker):
    services.toilet_accept(ticket=dispatched, by=huji_worker)
    return services.toilet_start(ticket=dispatched, by=huji_worker)


@pytest.fixture
def done(in_service, huji_worker, make_photo):
    from decimal import Decimal

    return services.toilet_complete(
        ticket=in_service,
        by=huji_worker,
        photos=[make_photo(huji_worker)],
        volume_m3=Decimal("2.5"),
        disposal_site="县污水处理厂",
    )
