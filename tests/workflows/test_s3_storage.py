"""Photos on S3-compatible object storage (MEDIA_S3_BUCKET: config.settings.media_s3_storage),
against a real S3 HTTP server on 127.0.0.1 — moto's server mode, which boto3 talks to over the
wire as it would to MinIO; nothing of boto3 or django-storages is mocked.

Uploaded through the real pipeline, every copy lands in the bucket and nothing on local disk;
the photo URL answers a redirect to a signed URL that works, expires, and is the only way in
(the bucket is private); PDFs and the print-copy command read photos from the bucket; a refusal,
a failing database, a storage failing half-way or the sweep leave no object behind; object
storage that does not answer is 503, not 500.

moto checks neither the signature nor the expiry of a signed URL (it serves any URL carrying
one), so the signature is checked here against the secret key by AWS Signature V4 itself.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit
from urllib.request import urlopen

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone
from moto.server import ThreadedMotoServer
from PIL import Image
from storages.backends.s3 import S3Storage

from config.settings import media_s3_origin, media_s3_storage
from core.pdf import BASE_URL, LocalFetcher
from inspections.models import Patrol
from inspections.sites import services as site_services
from tests.inspections.conftest import make_site
from tests.inspections.test_scan import patrol_data, scan_url
from tests.workflows import test_print_copies
from tests.workflows.test_print_copies import (
    bulletin_pdf,
    embedded_sizes,
    old_photo,
    sample,
    summary,
)
from workflows.evidence.services import (
    EvidenceError,
    evidence_photo_create,
    evidence_photos_create,
    evidence_sweep,
)
from workflows.models import EvidencePhoto
from workflows.tickets import services

pytestmark = pytest.mark.django_db

KEY_ID, SECRET = "renju-test-key", "renju-test-secret"  # moto takes any
REGION = "us-east-1"
EXPIRE = 120


bulletin_of = test_print_copies.bulletin_of  # a fixture


@pytest.fixture
def huji_site(huji, huji_village):
    """A pond of 胡集镇 being maintained, which the scan page records patrols of."""
    return make_site(huji, huji_village, state="maintained")


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 server on 127.0.0.1, on a port the system picks (no clash between runs)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass
class Bucket:
    name: str
    client: object  # a boto3 S3 client of its own, to look at the bucket from outside the app
    endpoint: str

    def objects(self) -> set[str]:
        listed = self.client.list_objects_v2(Bucket=self.name)
        return {entry["Key"] for entry in listed.get("Contents", [])}

    def get(self, key: str) -> dict:
        return self.client.get_object(Bucket=self.name, Key=key)


def s3_env(endpoint: str, bucket: str, **extra) -> dict[str, str]:
    return {
        "MEDIA_S3_BUCKET": bucket,
        "MEDIA_S3_ENDPOINT_URL": endpoint,
        "MEDIA_S3_REGION": REGION,
        "MEDIA_S3_ACCESS_KEY_ID": KEY_ID,
        "MEDIA_S3_SECRET_ACCESS_KEY": SECRET,
        "MEDIA_S3_URL_EXPIRE": str(EXPIRE),
        **extra,
    }


@pytest.fixture
def bucket(s3_endpoint, settings, tmp_path):
    """A fresh private bucket of its own, the default storage built from MEDIA_S3_* exactly as
    config/settings.py builds it; MEDIA_ROOT an empty folder that must stay empty."""
    name = f"renju-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    client.create_bucket(Bucket=name)
    settings.STORAGES = settings.STORAGES | {"default": media_s3_storage(s3_env(s3_endpoint, name))}
    settings.MEDIA_ROOT = tmp_path / "local-media"
    yield Bucket(name, client, s3_endpoint)
    for key in Bucket(name, client, s3_endpoint).objects():
        client.delete_object(Bucket=name, Key=key)
    client.delete_bucket(Bucket=name)


def local_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def names_of(photos) -> set[str]:
    return {
        field.name
        for photo in photos
        for field in (photo.display, photo.print_copy, photo.thumbnail, photo.original)
        if field
    }


def ticket_with(photos, inspector, huji, huji_village):
    return services.rectification_create(
        by=inspector,
        town=huji,
        village=huji_village,
        description="河道岸边堆放生活垃圾",
        source_kind="patrol",
        before_photos=photos,
    )


def fetch(url: str):
    """(status, headers, body) of a plain HTTP GET, as a browser following the redirect."""
    try:
        with urlopen(url, timeout=10) as answer:
            return answer.status, answer.headers, answer.read()
    except HTTPError as error:
        return error.code, error.headers, error.read()


def sigv4_signature_valid(url: str, secret: str) -> bool:
    """Whether a presigned GET URL's X-Amz-Signature is AWS Signature V4 of its own terms
    (date, expiry, credential, path, host) under `secret` — what S3 checks before serving it
    (docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    params = dict(query)

    def encoded(text: str) -> str:
        return quote(text, safe="-_.~")

    canonical_query = "&".join(
        f"{encoded(k)}={encoded(v)}" for k, v in sorted(query) if k != "X-Amz-Signature"
    )
    canonical_request = "\n".join(
        [
            "GET",
            quote(unquote(parts.path), safe="/-_.~"),
            canonical_query,
            f"host:{parts.netloc}",
            "",
            params["X-Amz-SignedHeaders"],
            "UNSIGNED-PAYLOAD",
        ]
    )
    scope = params["X-Amz-Credential"].split("/", 1)[1]  # date/region/s3/aws4_request
    string_to_sign = "\n".join(
        [
            params["X-Amz-Algorithm"],
            params["X-Amz-Date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = ("AWS4" + secret).encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, params["X-Amz-Signature"])


def with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True)) | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


# --- settings ---------------------------------------------------------------------------------


def test_the_environment_names_the_bucket_the_server_and_the_url_lifetime():
    env = s3_env("http://minio.internal:9000", "renju-photos")

    storage = media_s3_storage(env)

    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    options = storage["OPTIONS"]
    assert options["bucket_name"] == "renju-photos"
    assert options["endpoint_url"] == "http://minio.internal:9000"
    assert options["region_name"] == REGION
    assert (options["access_key"], options["secret_key"]) == (KEY_ID, SECRET)
    assert options["querystring_auth"] is True and options["querystring_expire"] == EXPIRE
    assert options["default_acl"] is None  # never public-read
    assert options["client_config"].s3 == {"addressing_style": "path"}  # MinIO's
    assert options["client_config"].signature_version == "s3v4"
    assert media_s3_origin(env) == "http://minio.internal:9000"
    S3Storage(**options)  # django-storages takes every option as named

    oss = env | {
        "MEDIA_S3_ENDPOINT_URL": "https://oss-cn-hangzhou.aliyuncs.com",
        "MEDIA_S3_ADDRESSING_STYLE": "virtual",
    }
    assert media_s3_storage(oss)["OPTIONS"]["client_config"].s3 == {"addressing_style": "virtual"}
    assert media_s3_origin(oss) == "https://renju-photos.oss-cn-hangzhou.aliyuncs.com"

    aws = {"MEDIA_S3_BUCKET": "renju-photos"}  # keys from boto3's own chain, AWS's endpoint
    options = media_s3_storage(aws)["OPTIONS"]
    assert "access_key" not in options and options["endpoint_url"] is None
    assert options["querystring_expire"] == 300
    assert media_s3_origin(aws) == ""


def test_the_settings_module_switches_to_the_bucket_and_allows_its_images(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MEDIA_", "CSP_", "AWS_"))
    }
    env |= s3_env("http://minio.internal:9000", "renju-photos") | {"DATA_DIR": str(tmp_path)}
    code = (
        "import json; from config import settings as s; "
        "print(json.dumps([s.STORAGES['default']['BACKEND'], s.CONTENT_SECURITY_POLICY]))"
    )

    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )

    backend, policy = json.loads(done.stdout)
    assert backend == "storages.backends.s3.S3Storage"
    img_src = next(part for part in policy.split("; ") if part.startswith("img-src"))
    assert "http://minio.internal:9000" in img_src.split()


# --- uploads land in the bucket ---------------------------------------------------------------


def test_a_patrols_photos_land_in_the_bucket_and_nothing_on_disk(
    client,
    settings,
    bucket,
    huji_site,
    inspector,
):
    settings.EVIDENCE_KEEP_ORIGINALS = True
    client.force_login(inspector)

    response = client.post(scan_url(huji_site), patrol_data(photos=2))

    assert response.status_code == 303
    photos = list(Patrol.objects.get().photos.all())
    assert len(photos) == 2
    names = names_of(photos)
    assert len(names) == 8  # display, print copy, thumbnail and original of each
    assert bucket.objects() == names
    for photo in photos:
        assert photo.original.name.startswith("evidence-originals/")
        for field in (photo.display, photo.print_copy, photo.thumbnail):
            stored = bucket.get(field.name)
            assert stored["ContentType"] == "image/jpeg"
            assert stored["CacheControl"] == "private, no-store"
            with Image.open(io.BytesIO(stored["Body"].read())) as image:
                assert image.format == "JPEG" and not image.getexif()
        display = Image.open(io.BytesIO(bucket.get(photo.display.name)["Body"].read()))
        assert display.size == (photo.width, photo.height)
    assert local_files(settings) == []


def test_a_tickets_photos_land_in_the_bucket(bucket, settings, assigned, hj_officer, make_photo):
    photos = [make_photo(hj_officer), make_photo(hj_officer, "second.jpg")]

    services.rectification_submit(ticket=assigned, by=hj_officer, note="已清理", photos=photos)

    assert names_of(photos) <= bucket.objects()
    assert len(names_of(photos)) == 6  # originals not kept by default
    assert local_files(settings) == []


# --- the photo URL ------------------------------------------------------------------------------


def test_the_photo_url_redirects_to_a_signed_url_that_works_and_expires(
    client, settings, bucket, inspector, huji, huji_village, hj_officer, other_officer
):
    photo = evidence_photo_create(file=sample("HTC_Desire.jpg"), uploaded_by=inspector)
    ticket_with([photo], inspector, huji, huji_village)
    client.force_login(hj_officer)

    before = datetime.now(UTC).replace(microsecond=0)
    response = client.get(photo.display_url)
    after = datetime.now(UTC)

    assert response.status_code == 302
    assert "no-store" in response["Cache-Control"]
    signed = response["Location"]
    parts = urlsplit(signed)
    assert f"{parts.scheme}://{parts.netloc}" == bucket.endpoint
    assert unquote(parts.path) == f"/{bucket.name}/{photo.display.name}"
    terms = dict(parse_qsl(parts.query))
    assert terms["X-Amz-Credential"].startswith(f"{KEY_ID}/")
    signed_at = datetime.strptime(terms["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before <= signed_at <= after
    # It expires EXPIRE seconds after it was made, and the signature covers that term: a URL
    # given a longer life, or signed with another key, is not one S3 would serve.
    assert terms["X-Amz-Expires"] == str(EXPIRE)
    assert sigv4_signature_valid(signed, SECRET)
    assert not sigv4_signature_valid(with_query(signed, **{"X-Amz-Expires": "604800"}), SECRET)
    assert not sigv4_signature_valid(signed, "another-secret")

    status, headers, body = fetch(signed)  # what the browser does with the redirect

    assert status == 200
    assert body == bucket.get(photo.display.name)["Body"].read()
    assert headers["Content-Type"] == "image/jpeg"
    assert headers["Cache-Control"] == "private, no-store"
    unsigned = f"{bucket.endpoint}/{bucket.name}/{photo.display.name}"
    assert fetch(unsigned)[0] == 403  # the bucket is private: the signature is the only way in

    for url, field in ((photo.thumbnail_url, photo.thumbnail), (photo.print_url, photo.print_copy)):
        location = client.get(url)["Location"]
        assert unquote(urlsplit(location).path) == f"/{bucket.name}/{field.name}"
        assert fetch(location)[2] == bucket.get(field.name)["Body"].read()

    client.force_login(other_officer)
    refused = client.get(photo.display_url)
    assert refused.status_code == 404 and "Location" not in refused


def test_behind_nginx_the_bucket_still_answers_with_a_signed_url(
    client, settings, bucket, inspector, huji, huji_village, hj_officer
):
    # MEDIA_ACCEL_REDIRECT would name a local file there is none of.
    settings.MEDIA_ACCEL_REDIRECT = "/protected-media/"
    photo = evidence_photo_create(file=sample("HTC_Desire.jpg"), uploaded_by=inspector)
    ticket_with([photo], inspector, huji, huji_village)
    client.force_login(hj_officer)

    response = client.get(photo.display_url)

    assert response.status_code == 302 and "X-Accel-Redirect" not in response
    assert fetch(response["Location"])[0] == 200


# --- PDFs and the print-copy command read the bucket -------------------------------------------


def test_the_bulletin_pdf_embeds_the_print_copies_from_the_bucket(
    client,
    settings,
    bucket,
    task_force,
    bulletin_of,
):
    photos = [
        evidence_photo_create(file=sample("Apple_iPhone_5.jpg"), uploaded_by=None),
        evidence_photo_create(file=sample("Samsung_GT-I9000_Galaxy_S.jpg"), uploaded_by=None),
    ]
    bulletin = bulletin_of(photos)

    sizes = embedded_sizes(bulletin_pdf(client, task_force, bulletin))

    assert sorted(sizes) == [(450, 600), (600, 450)]
    assert local_files(settings) == []


def test_the_pdf_fetcher_reads_a_photo_by_its_stored_name(bucket, inspector):
    photo = evidence_photo_create(file=sample("HTC_Desire.jpg"), uploaded_by=inspector)

    response = LocalFetcher().fetch(BASE_URL + photo.print_url.lstrip("/"))
    try:
        data = response.read()
    finally:
        response.close()

    assert data == bucket.get(photo.print_copy.name)["Body"].read()


def test_the_print_copy_command_works_on_the_bucket(bucket):
    photos = [old_photo(), old_photo("Samsung_GT-I9000_Galaxy_S.jpg")]
    gone = old_photo("HTC_Desire.jpg")
    bucket.client.delete_object(Bucket=bucket.name, Key=gone.display.name)
    assert not any(photo.print_copy for photo in photos)
    out = io.StringIO()

    call_command("make_print_copies", stdout=out)

    assert out.getvalue().strip() == summary(made=2, unreadable=1, taken=0)
    for photo in photos:
        photo.refresh_from_db()
        assert photo.print_copy.name in bucket.objects()
        with Image.open(io.BytesIO(bucket.get(photo.print_copy.name)["Body"].read())) as image:
            assert max(image.size) == 600
    assert EvidencePhoto.objects.get(pk=gone.pk).print_copy == ""


# --- nothing left behind ------------------------------------------------------------------------


def test_a_refused_upload_writes_nothing(bucket):
    not_a_photo = SimpleUploadedFile("notes.jpg", b"not a photo at all", "image/jpeg")

    with pytest.raises(EvidenceError):
        evidence_photos_create(files=[sample("HTC_Desire.jpg"), not_a_photo], uploaded_by=None)

    assert bucket.objects() == set() and not EvidencePhoto.objects.exists()


def test_a_database_failing_before_the_patrol_commits_leaves_no_object(
    client,
    bucket,
    huji_site,
    inspector,
    monkeypatch,
):
    def database_gone(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    # After the photos and the patrol row are written, inside the same transaction.
    monkeypatch.setattr(site_services, "_consequences", database_gone)
    client.force_login(inspector)

    response = client.post(scan_url(huji_site), patrol_data(photos=2))

    assert response.status_code == 503
    assert not Patrol.objects.exists() and not EvidencePhoto.objects.exists()
    assert bucket.objects() == set()


def test_the_same_patrol_sent_again_keeps_only_the_first_photos(
    client,
    bucket,
    huji_site,
    inspector,
):
    client.force_login(inspector)
    data = patrol_data(photos=1)
    assert client.post(scan_url(huji_site), data).status_code == 303
    first = names_of(Patrol.objects.get().photos.all())

    again = data | {"photos": patrol_data(photos=1)["photos"]}  # the phone's retry
    assert client.post(scan_url(huji_site), again).status_code == 303

    assert Patrol.objects.count() == 1
    assert bucket.objects() == first  # the retry's photos were stored, then discarded


def test_a_storage_failing_half_way_leaves_no_object(bucket, monkeypatch):
    original = S3Storage._save
    saved = []

    def save_then_fail(storage, name, content):
        if len(saved) == 4:  # the first photo's three copies and the second's display copy
            raise OSError("connection reset by peer")
        saved.append(name)
        return original(storage, name, content)

    monkeypatch.setattr(S3Storage, "_save", save_then_fail)

    with pytest.raises(OSError):
        evidence_photos_create(
            files=[sample("HTC_Desire.jpg"), sample("Apple_iPhone_4.jpg")], uploaded_by=None
        )

    assert len(saved) == 4
    assert bucket.objects() == set() and not EvidencePhoto.objects.exists()


def test_the_sweep_removes_the_objects_of_photos_nothing_holds(bucket, inspector):
    orphan = evidence_photo_create(file=sample("HTC_Desire.jpg"), uploaded_by=inspector)
    assert names_of([orphan]) <= bucket.objects()

    counts = evidence_sweep(now=timezone.now() + timedelta(days=2))

    assert counts["rows"] == 1
    assert bucket.objects() == set()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_object_storage_not_answering_is_503_and_saves_nothing(
    client,
    settings,
    huji_site,
    inspector,
):
    endpoint = f"http://127.0.0.1:{closed_port()}"
    settings.STORAGES = settings.STORAGES | {
        "default": media_s3_storage(s3_env(endpoint, "renju-photos"))
    }
    client.force_login(inspector)

    response = client.post(scan_url(huji_site), patrol_data(photos=1))

    assert response.status_code == 503 and response["Retry-After"]
    assert "照片存储" in response.content.decode()
    assert not Patrol.objects.exists() and not EvidencePhoto.objects.exists()
