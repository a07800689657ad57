"""Photos with their record, or not at all (workflows.evidence.services.evidence_record): a
database failing before the patrol commits, or a disk filling up while the photos are written,
leaves no photo row and no file; the user gets 503 or 507 (not 500), with what he typed kept.
The sweep removes what a killed process leaves (rows nothing holds, files no row names)."""

from __future__ import annotations

import errno
import io
import os
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage
from django.db import OperationalError, connection
from django.utils import timezone
from PIL import Image

from inspections.models import Patrol
from inspections.sites import services as site_services
from tests.inspections.test_scan import patrol_data, scan_url
from workflows.evidence.services import evidence_photo_create, evidence_sweep
from workflows.models import EvidencePhoto

pytestmark = pytest.mark.django_db

NOTE = "东岸垃圾，已拍照"


def media_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def test_a_database_failing_before_the_patrol_commits_leaves_no_photo(
    client, settings, huji_site, inspector, monkeypatch
):
    def database_gone(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    # After the photos and the patrol row are written, inside the same transaction.
    monkeypatch.setattr(site_services, "_consequences", database_gone)
    client.force_login(inspector)

    response = client.post(scan_url(huji_site), patrol_data(photos=2, note=NOTE))

    assert response.status_code == 503 and response["Retry-After"]
    assert "没有保存" in response.content.decode()
    assert not Patrol.objects.exists()
    assert not EvidencePhoto.objects.exists()
    assert media_files(settings) == []


def full_after(limit: int):
    """FileSystemStorage._save that writes `limit` files, then half of the next and fails."""
    original = FileSystemStorage._save
    written = []

    def save(self, name, content):
        if len(written) >= limit:
            path = Path(self.path(name))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"\xff\xd8half")  # what a full disk leaves, then the error
            written.append(name)
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(name)
        return original(self, name, content)

    return save


def test_a_full_disk_is_507_keeps_the_form_and_leaves_nothing(
    client, settings, huji_site, inspector, monkeypatch
):
    monkeypatch.setattr(FileSystemStorage, "_save", full_after(3))
    client.force_login(inspector)

    response = client.post(scan_url(huji_site), patrol_data(photos=2, note=NOTE))

    assert response.status_code == 507
    page = response.content.decode()
    assert "存储空间已满" in page and NOTE in page  # said, and what he typed is still there
    assert not Patrol.objects.exists() and not EvidencePhoto.objects.exists()
    assert media_files(settings) == []  # the finished files and the half-written one


def mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def phone_photo(name: str) -> io.BytesIO:
    """A 1600×1200 photo with noise: its display copy does not fit in 64 KB."""
    image = Image.frombytes("RGB", (1600, 1200), os.urandom(1600 * 1200 * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    buffer.seek(0)
    buffer.name = name
    return buffer


def test_a_really_full_media_disk_is_507_and_leaves_nothing(
    client, settings, tmp_path, huji_site, inspector
):
    media = tmp_path / "full-media"
    if not mount_tmpfs(media, "64k"):
        pytest.skip("mounting a tmpfs needs root (the simulated full disk above still ran)")
    try:
        settings.MEDIA_ROOT = media
        client.force_login(inspector)
        data = patrol_data(photos=0, note=NOTE)
        data["photos"] = [phone_photo("IMG_1.jpg")]

        response = client.post(scan_url(huji_site), data)

        assert response.status_code == 507
        assert NOTE in response.content.decode()
        assert not Patrol.objects.exists() and not EvidencePhoto.objects.exists()
        assert [p for p in media.rglob("*") if p.is_file()] == []
    finally:
        subprocess.run(["umount", str(media)], check=False)


def test_the_sweep_removes_what_a_killed_process_left(settings, make_photo, huji_site):
    from tests.inspections.conftest import camera_upload
    from workflows.evidence.services import evidence_photos_create

    held = make_photo()
    Patrol.objects.create(
        site=huji_site,
        inspector=held.uploaded_by or _someone(),
        key="6f1c1b4e-0000-4000-8000-000000000001",
        local_date=timezone.localdate(),
        result="normal",
    ).photos.add(held)
    orphan, fresh = evidence_photos_create(
        files=[camera_upload("a.jpg"), camera_upload("b.jpg")], uploaded_by=None
    )
    two_days_ago = timezone.now() - timedelta(days=2)
    EvidencePhoto.objects.filter(pk__in=[held.pk, orphan.pk]).update(uploaded_at=two_days_ago)
    storage = FileSystemStorage(location=settings.MEDIA_ROOT)
    stray_old = storage.save("evidence/2026/01/stray-old.jpg", io.BytesIO(b"x"))
    stray_new = storage.save("evidence/2026/01/stray-new.jpg", io.BytesIO(b"y"))
    old = time.time() - 2 * 86400
    os.utime(storage.path(stray_old), (old, old))

    counts = evidence_sweep(now=timezone.now())

    assert counts == {"rows": 1, "files": 1}
    assert set(EvidencePhoto.objects.values_list("pk", flat=True)) == {held.pk, fresh.pk}
    assert not storage.exists(orphan.display.name) and not storage.exists(stray_old)
    assert storage.exists(held.display.name) and storage.exists(stray_new)
    assert storage.exists(fresh.display.name)  # a day's grace for an upload on its way


def _someone():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("someone")


def test_a_ticket_step_refused_by_the_database_leaves_no_photo(
    client, settings, inspector, huji_site, monkeypatch
):
    # The same for a ticket's step: evidence_record around the service, one transaction.
    from workflows.tickets import services as ticket_services

    def database_gone(*args, **kwargs):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(ticket_services, "_event", database_gone)
    client.force_login(inspector)
    response = client.post(
        "/tickets/new/",
        {
            "town": huji_site.town_id,
            "description": "河道岸边堆放生活垃圾",
            "photos": [patrol_data()["photos"][0]],
        },
    )
    assert response.status_code == 503
    assert not EvidencePhoto.objects.exists() and media_files(settings) == []


def test_evidence_photo_create_alone_still_cleans_up_on_a_full_disk(settings, monkeypatch):
    from core.errors import StorageFull
    from tests.inspections.conftest import camera_upload

    monkeypatch.setattr(FileSystemStorage, "_save", full_after(1))
    with pytest.raises(StorageFull):
        evidence_photo_create(file=camera_upload(), uploaded_by=None)
    assert not EvidencePhoto.objects.exists()
    assert media_files(settings) == []
    assert connection.is_usable()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)")
@pytest.mark.django_db(transaction=True)
def test_the_database_cut_off_mid_patrol_leaves_no_photo(
    client, settings, huji_site, inspector, monkeypatch
):
    """A real failure: after the photos and the patrol row are written, the server ends this
    request's database session (pg_terminate_backend, as a restart does) before the commit."""
    import psycopg

    params = connection.get_connection_params()
    original = site_services._consequences

    def cut_off(*args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        with psycopg.connect(**params, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        return original(*args, **kwargs)

    monkeypatch.setattr(site_services, "_consequences", cut_off)
    client.force_login(inspector)

    response = client.post(scan_url(huji_site), patrol_data(photos=2, note=NOTE))

    connection.close()  # the terminated session
    assert response.status_code == 503
    assert not Patrol.objects.exists() and not EvidencePhoto.objects.exists()
    assert media_files(settings) == []
