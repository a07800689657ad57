"""Evidence photos behind the login (workflows.evidence.views): a photo of a household's home is
served only to a signed-in user who may see something that holds it — a ticket's before-photos,
a step of a ticket's or toilet job's timeline, a patrol, a deduction, a bulletin that printed it —
checked on every request; anyone else gets 404, anonymous visitors the login page. Originals
(which keep GPS) are never served. Real phone photos from tests/data/photos.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.shortcuts import resolve_url
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from PIL import ExifTags, Image

from core.pdf import BASE_URL, LocalFetcher
from inspections.grading import services as grading
from inspections.models import ChecklistItem
from tests.factories import HUJI_CODE, JISHU_CODE, make_user, membership
from tests.inspections.conftest import (  # noqa: F401 (fixtures)
    active_round,
    campaign,
    checklist,
    make_patrol,
    make_site,
)
from villages.models import Membership, Role, Town
from workflows.bulletins import services as bulletins
from workflows.evidence import holders
from workflows.evidence.services import evidence_photo_create
from workflows.models import EvidencePhoto, ToiletTicket
from workflows.tickets import services

pytestmark = pytest.mark.django_db

PHOTOS = Path(__file__).resolve().parent.parent / "data" / "photos"
ACCEL = "/protected-media/"


def real_photo(by, name: str = "HTC_Desire.jpg") -> EvidencePhoto:
    """A real phone photo (with GPS in its EXIF) through the upload pipeline."""
    data = (PHOTOS / name).read_bytes()
    upload = SimpleUploadedFile(name, data, content_type="image/jpeg")
    return evidence_photo_create(file=upload, uploaded_by=by)


def stored_bytes(field_file) -> bytes:
    with field_file.open("rb") as handle:
        return handle.read()


def fetch(client, url: str):
    """(response, its whole body): a streamed file is read to the end, which closes it."""
    response = client.get(url)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def photo_url(photo: EvidencePhoto, variant: str) -> str:
    return photo.display_url if variant == "display" else photo.thumbnail_url


# --- one photo per kind of holder -------------------------------------------------------------


@dataclass
class Held:
    photo: EvidencePhoto
    own: object  # a user who may see the holder
    other: object  # another town's user, who may not


@pytest.fixture
def third_officer(divisions):
    """A town officer of a town that is neither 胡集镇 nor 鸡黍镇."""
    town = Town.objects.exclude(code__in=[HUJI_CODE, JISHU_CODE]).order_by("code").first()
    return make_user("third_officer", membership(Role.TOWN_OFFICER, town))


def _huji_ticket(inspector, huji, huji_village, photos):
    return services.rectification_create(
        by=inspector,
        town=huji,
        village=huji_village,
        description="河道岸边堆放生活垃圾",
        source_kind="patrol",
        before_photos=photos,
    )


@pytest.fixture
def held_by_ticket(inspector, huji, huji_village, hj_officer, other_officer):
    photo = real_photo(inspector)
    _huji_ticket(inspector, huji, huji_village, [photo])
    return Held(photo, hj_officer, other_officer)


@pytest.fixture
def held_by_ticket_step(assigned, hj_officer, village_admin, other_officer):
    photo = real_photo(hj_officer, "Apple_iPhone_4.jpg")
    services.rectification_submit(ticket=assigned, by=hj_officer, note="已清理", photos=[photo])
    return Held(photo, village_admin, other_officer)


@pytest.fixture
def held_by_toilet_step(household, village_admin, other_officer):
    photo = real_photo(village_admin, "portrait_6.jpg")
    services.toilet_report(
        by=village_admin,
        household=household,
        kind="pumping",
        channel="village_admin",
        photos=[photo],
    )
    return Held(photo, village_admin, other_officer)


@pytest.fixture
def held_by_patrol(huji, huji_village, inspector, town_inspector, other_officer):
    site = make_site(huji, huji_village, state="maintained")
    patrol = make_patrol(site, inspector, on=timezone.localdate())
    photo = real_photo(inspector, "Apple_iPhone_5.jpg")
    patrol.photos.add(photo)
    return Held(photo, town_inspector, other_officer)


@pytest.fixture
def held_by_deduction(active_round, huji_village, inspector, hj_officer, other_officer):  # noqa: F811
    assessment = grading.assessment_open(round=active_round, village=huji_village, by=inspector)
    photo = real_photo(inspector, "landscape_8.jpg")
    item = ChecklistItem.objects.get(template=active_round.template, code="G1")
    grading.deduction_record(
        assessment=assessment, item=item, by=inspector, count=1, photos=[photo]
    )
    return Held(photo, hj_officer, other_officer)


@pytest.fixture
def issued_to_jishu(inspector, huji, huji_village, jishu, task_force, deadline):
    """A bulletin naming a ticket of 胡集镇 with three before-photos, sent to 鸡黍镇 as well: it
    prints the first two (PHOTOS_PER_ITEM)."""
    photos = [real_photo(inspector, name) for name in ("HTC_Desire.jpg", "no_exif.jpg")]
    photos.append(real_photo(inspector, "Apple_iPhone_4.jpg"))
    ticket = _huji_ticket(inspector, huji, huji_village, photos)
    bulletin = bulletins.bulletin_create(
        by=task_force, kind="problems", title="关于河道垃圾的通报", default_deadline=deadline
    )
    bulletins.bulletin_items_set(bulletin=bulletin, by=task_force, tickets=[ticket])
    bulletin.recipients.set([jishu])
    return bulletins.bulletin_issue(bulletin=bulletin, by=task_force), photos


@pytest.fixture
def held_by_bulletin(issued_to_jishu, other_officer, third_officer):
    # 鸡黍镇's officer sees 胡集镇's ticket only through the bulletin sent to his town.
    _bulletin, photos = issued_to_jishu
    return Held(photos[0], other_officer, third_officer)


KINDS = ["ticket", "ticket_step", "toilet_step", "patrol", "deduction", "bulletin"]


@pytest.fixture(params=KINDS)
def held(request) -> Held:
    return request.getfixturevalue(f"held_by_{request.param}")


# --- who sees a photo -------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["display", "thumbnail"])
def test_a_user_who_sees_the_holder_gets_the_photo(client, held, variant):
    client.force_login(held.own)

    response, body = fetch(client, photo_url(held.photo, variant))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert body == stored_bytes(getattr(held.photo, variant))
    # No shared office PC keeps it, and the middleware did not replace the view's own header.
    assert response["Cache-Control"] in ("no-store, private", "private, no-store")


@pytest.mark.parametrize("variant", ["display", "thumbnail"])
def test_another_towns_user_gets_404(client, held, variant):
    client.force_login(held.other)

    response, _body = fetch(client, photo_url(held.photo, variant))

    assert response.status_code == 404


def test_anonymous_is_sent_to_the_login_page(client, held):
    url = held.photo.display_url

    response = client.get(url)

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == resolve_url("login")
    assert parse_qs(location.query)["next"] == [url]


def test_behind_nginx_the_answer_is_an_internal_redirect(client, held, settings):
    settings.MEDIA_ACCEL_REDIRECT = ACCEL
    client.force_login(held.own)

    for variant in ("display", "thumbnail"):
        response, body = fetch(client, photo_url(held.photo, variant))
        assert response.status_code == 200
        assert body == b""
        assert response["X-Accel-Redirect"] == ACCEL + getattr(held.photo, variant).name
        assert response["Content-Type"] == "image/jpeg"
        assert "no-store" in response["Cache-Control"]
    client.force_login(held.other)
    response, _body = fetch(client, held.photo.display_url)
    assert response.status_code == 404
    assert "X-Accel-Redirect" not in response


def test_unknown_photos_are_404(client, task_force, held_by_ticket):
    client.force_login(task_force)
    missing = EvidencePhoto.objects.order_by("pk").last().pk + 1

    for name in ("photo_display", "photo_print", "photo_thumbnail"):
        response = client.get(reverse(name, args=[missing]))
        assert response.status_code == 404
    assert client.get(f"/photos/{held_by_ticket.photo.pk}/").status_code == 404


def test_a_leaked_url_stops_working_when_the_membership_goes(client, held_by_ticket):
    url = held_by_ticket.photo.display_url
    officer = held_by_ticket.own
    client.force_login(officer)
    assert fetch(client, url)[0].status_code == 200

    Membership.objects.filter(user=officer).delete()

    assert fetch(client, url)[0].status_code == 404


def test_the_dispatched_worker_sees_the_jobs_photos_and_no_other_worker(
    client, held_by_toilet_step, hj_officer, huji_worker, jishu
):
    (ticket,) = ToiletTicket.objects.all()
    services.toilet_dispatch(ticket=ticket, by=hj_officer, worker=huji_worker)
    jishu_worker = make_user("jishu_worker", membership(Role.SERVICE_WORKER, jishu))
    url = held_by_toilet_step.photo.display_url

    client.force_login(huji_worker)
    assert fetch(client, url)[0].status_code == 200
    client.force_login(jishu_worker)
    assert fetch(client, url)[0].status_code == 404


def test_a_bulletins_reader_sees_only_the_photos_it_printed(
    client, issued_to_jishu, other_officer, hj_officer
):
    bulletin, photos = issued_to_jishu
    printed, not_printed = photos[:2], photos[2]
    assert [name for item in bulletin.snapshot["items"] for name in item["photos"]] == [
        photo.display.name for photo in printed
    ]
    client.force_login(other_officer)

    page = client.get(reverse("bulletin_detail", args=[bulletin.pk])).content.decode()
    for photo in printed:
        assert photo.thumbnail_url in page
        assert fetch(client, photo.thumbnail_url)[0].status_code == 200
    assert fetch(client, not_printed.display_url)[0].status_code == 404
    assert "/media/" not in page
    # The ticket's own town sees all three, through the ticket.
    client.force_login(hj_officer)
    assert fetch(client, not_printed.display_url)[0].status_code == 200


def test_a_draft_bulletin_shows_its_photos_to_no_town(
    client, inspector, huji, huji_village, jishu, task_force, other_officer, deadline
):
    photo = real_photo(inspector)
    ticket = _huji_ticket(inspector, huji, huji_village, [photo])
    draft = bulletins.bulletin_create(
        by=task_force, kind="problems", title="草稿", default_deadline=deadline
    )
    bulletins.bulletin_items_set(bulletin=draft, by=task_force, tickets=[ticket])
    draft.recipients.set([jishu])

    client.force_login(other_officer)
    assert fetch(client, photo.display_url)[0].status_code == 404
    client.force_login(task_force)
    assert fetch(client, photo.display_url)[0].status_code == 200


def test_a_photo_no_one_holds_is_seen_by_no_one(client, task_force, nobody):
    loose = real_photo(task_force)  # stored for an action that then failed, say
    for user in (task_force, nobody):
        client.force_login(user)
        assert fetch(client, loose.display_url)[0].status_code == 404


def test_only_get_and_head(client, held_by_ticket):
    client.force_login(held_by_ticket.own)
    url = held_by_ticket.photo.thumbnail_url

    head = client.head(url)
    # The client drops a HEAD's body unread: close the file (not the response, whose
    # request_finished signal would close the test's database connection on PostgreSQL).
    for close in head._resource_closers:
        close()
    assert head.status_code == 200
    assert client.post(url).status_code == 405


def test_inspections_registered_its_holders():
    assert {"ticket", "ticket_step", "toilet_step", "bulletin", "patrol", "deduction"} <= set(
        holders.kinds()
    )


# --- originals --------------------------------------------------------------------------------


@pytest.fixture
def with_original(settings, inspector, huji, huji_village, hj_officer):
    settings.EVIDENCE_KEEP_ORIGINALS = True
    photo = real_photo(inspector, "HTC_Desire.jpg")
    _huji_ticket(inspector, huji, huji_village, [photo])
    assert photo.original and photo.original.name.startswith("evidence-originals/")
    return photo


def test_originals_are_never_served(client, settings, with_original, task_force):
    photo = with_original
    client.force_login(task_force)

    for url in (
        f"/photos/{photo.pk}/original.jpg",
        f"/photos/{photo.pk}/original",
        f"/{settings.MEDIA_URL.strip('/')}/{photo.original.name}",
        f"/{settings.MEDIA_URL.strip('/')}/{photo.display.name}",  # no public media at all
    ):
        assert fetch(client, url)[0].status_code == 404, url

    original = stored_bytes(photo.original)
    for variant in ("display", "thumbnail"):
        response, body = fetch(client, photo_url(photo, variant))
        assert body != original
        with Image.open(io.BytesIO(body)) as served:
            assert ExifTags.IFD.GPSInfo not in served.getexif()
            assert not served.getexif()
    settings.MEDIA_ACCEL_REDIRECT = ACCEL
    response, _body = fetch(client, photo.display_url)
    assert response["X-Accel-Redirect"].startswith(ACCEL + "evidence/")


def test_pdfs_embed_photos_by_their_url_and_nothing_else_from_media(with_original, settings):
    photo = with_original
    fetcher = LocalFetcher()

    response = fetcher.fetch(BASE_URL + photo.display_url.lstrip("/"))
    try:
        assert response.content_type == "image/jpeg"
        assert response.read()[:2] == b"\xff\xd8"
    finally:
        response.close()
    for path in (
        f"photos/{photo.pk}/original.jpg",
        f"{settings.MEDIA_URL.strip('/')}/{photo.original.name}",
        f"{settings.MEDIA_URL.strip('/')}/{photo.display.name}",
        "tickets/",  # a page, not a stored file
    ):
        with pytest.raises(ValueError, match="only use static and media"):
            fetcher.fetch(BASE_URL + path)


# Object storage (a redirect to a signed URL): tests/workflows/test_s3_storage.py, against a
# real S3 server.


# --- cost -------------------------------------------------------------------------------------


def _queries(client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response, _body = fetch(client, url)
    assert response.status_code == 200
    return [query["sql"] for query in queries.captured_queries]


def test_the_check_is_one_query_for_every_kind_of_holder(client, held_by_bulletin):
    client.force_login(held_by_bulletin.own)
    fetch(client, held_by_bulletin.photo.display_url)  # warm: session, user, memberships

    queries = _queries(client, held_by_bulletin.photo.display_url)

    photo_queries = [sql for sql in queries if "workflows_evidencephoto" in sql]
    assert len(photo_queries) == 1
    assert photo_queries[0].count("EXISTS") == len(holders.kinds())
    assert len(queries) <= 4, queries  # session, user, memberships, the photo


def test_the_ticket_page_builds_photo_urls_without_a_query_per_photo(
    client, inspector, huji, huji_village, hj_officer
):
    def page(n: int) -> tuple[int, str, list[EvidencePhoto]]:
        photos = [real_photo(inspector, "no_exif.jpg") for _ in range(n)]
        ticket = _huji_ticket(inspector, huji, huji_village, photos)
        url = reverse("ticket_detail", args=[ticket.number])
        client.get(url)  # warm
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        return len(queries), response.content.decode(), photos

    client.force_login(hj_officer)
    one, _html, _photos = page(1)
    six, html, photos = page(6)

    assert six == one
    for photo in photos:
        assert f'src="{photo.thumbnail_url}"' in html
        assert f'href="{photo.display_url}"' in html
    assert "/media/" not in html
