"""The scan → patrol page as a phone uses it: the QR URL, login and back, the patrol POST with
GPS and photos, refusals, retries, replaced labels."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from inspections.models import Patrol, PatrolPolicy, Rule, SiteState
from inspections.sites.services import site_rotate_token
from tests.factories import PASSWORD
from tests.inspections.conftest import HUJI_SITE, camera_upload, jpeg_upload, moved
from workflows.models import EvidencePhoto, RectificationTicket


def scan_url(site) -> str:
    return f"/s/{site.token}"


def patrol_data(*, north_m=50, result="normal", key=None, photos=1, **extra) -> dict:
    lat, lng = moved(HUJI_SITE, north_m=north_m)
    data = {
        "key": str(key or uuid.uuid4()),
        "lat": f"{lat:.7f}",
        "lng": f"{lng:.7f}",
        "accuracy": "12",
        "result": result,
        "signboard": "good",
        "previous_fixed": "none",
        "note": "",
        "photos": [camera_upload(f"p{n}.jpg") for n in range(photos)],
    }
    if result != "normal":
        data["checks"] = ["odour", "floating_debris"]
    return data | extra


def test_the_label_url_is_short_and_unguessable(huji_site):
    assert scan_url(huji_site) == reverse("scan", args=[huji_site.token])
    assert len(huji_site.token) >= 22  # 128 random bits, URL-safe


def test_scan_asks_for_login_then_returns_to_the_site(client, huji_site, inspector):
    response = client.get(scan_url(huji_site))
    assert response.status_code == 302
    login = response["Location"]
    assert login.startswith(reverse("login")) and "next=/s/" in login
    response = client.post(
        login, {"username": "inspector", "password": PASSWORD, "next": scan_url(huji_site)}
    )
    assert response.status_code == 302 and response["Location"] == scan_url(huji_site)
    page = client.get(scan_url(huji_site))
    assert page.status_code == 200
    assert huji_site.name in page.content.decode()
    assert 'name="key"' in page.content.decode() and 'name="lat"' in page.content.decode()


def test_the_done_when_story(client, huji_site, huji, inspector):
    """Scan → patrol 50 m away (accepted) → 2 km away (flagged; refused under the other
    setting) → 疑似反弹 opens a ticket for 胡集镇 and moves the site."""
    client.force_login(inspector)
    near = client.post(scan_url(huji_site), patrol_data(north_m=50))
    assert near.status_code == 303
    patrol = Patrol.objects.get()
    assert near["Location"] == reverse("patrol_detail", args=[patrol.pk])
    assert not patrol.flagged

    far = client.post(scan_url(huji_site), patrol_data(north_m=2000), follow=True)
    assert far.status_code == 200
    flagged = Patrol.objects.latest("id")
    assert flagged.flagged and "2.0" in far.content.decode()

    policy = PatrolPolicy.current("370828000000")
    policy.too_far = Rule.REFUSE
    policy.save()
    photos_before = EvidencePhoto.objects.count()
    refused = client.post(scan_url(huji_site), patrol_data(north_m=2000))
    assert refused.status_code == 400
    assert "2.0" in refused.content.decode()
    assert Patrol.objects.count() == 2
    assert EvidencePhoto.objects.count() == photos_before  # its photos went again

    rebound = client.post(scan_url(huji_site), patrol_data(result="rebound"))
    assert rebound.status_code == 303
    ticket = RectificationTicket.objects.get()
    assert ticket.town == huji and ticket.source_kind == "patrol"
    huji_site.refresh_from_db()
    assert huji_site.state == SiteState.SUSPECTED
    page = client.get(scan_url(huji_site)).content.decode()
    assert ticket.number in page  # the open ticket shows on the site's page


def test_a_retried_post_does_not_create_a_duplicate(client, huji_site, inspector):
    client.force_login(inspector)
    key = uuid.uuid4()
    first = client.post(scan_url(huji_site), patrol_data(key=key, result="problem"))
    photos = EvidencePhoto.objects.count()
    again = client.post(scan_url(huji_site), patrol_data(key=key, result="problem"))
    assert first.status_code == again.status_code == 303
    assert first["Location"] == again["Location"]
    assert Patrol.objects.count() == 1 and RectificationTicket.objects.count() == 1
    assert EvidencePhoto.objects.count() == photos


def test_a_replaced_label_says_so_and_the_new_one_works(client, huji_site, inspector, task_force):
    old = scan_url(huji_site)
    site = site_rotate_token(site=huji_site, by=task_force)
    client.force_login(inspector)
    response = client.get(old)
    assert response.status_code == 410
    assert huji_site.code in response.content.decode()
    assert client.post(old, patrol_data()).status_code == 410
    assert client.get(scan_url(site)).status_code == 200


def test_a_replaced_label_names_its_site_only_to_those_who_may_see_it(
    client, huji_site, task_force, other_officer
):
    old = scan_url(huji_site)
    site_rotate_token(site=huji_site, by=task_force)
    client.force_login(other_officer)  # 鸡黍镇: 胡集镇's sites are none of his business
    response = client.get(old)
    assert response.status_code == 410
    html = response.content.decode()
    assert huji_site.code not in html and huji_site.name not in html
    assert "不再有效" in html or "no longer works" in html


def test_an_unknown_code_is_404(client, inspector, huji_site):
    client.force_login(inspector)
    assert client.get("/s/not-a-label-of-ours").status_code == 404


def test_another_towns_officer_gets_404(client, huji_site, other_officer):
    client.force_login(other_officer)
    assert client.get(scan_url(huji_site)).status_code == 404
    assert client.post(scan_url(huji_site), patrol_data()).status_code == 404
    assert not Patrol.objects.exists()


def test_a_village_admin_sees_the_site_but_may_not_patrol(client, huji_site, village_admin):
    client.force_login(village_admin)
    page = client.get(scan_url(huji_site))
    assert page.status_code == 200 and 'name="key"' not in page.content.decode()
    assert client.post(scan_url(huji_site), patrol_data()).status_code == 403
    assert not Patrol.objects.exists()


@pytest.mark.parametrize(
    "change",
    [
        {"lat": "abc"},
        {"lng": ""},  # half a position
        {"lat": "95"},
        {"accuracy": "-3"},
        {"result": "forged"},
        {"result": ""},
        {"key": "not-a-uuid"},
        {"checks": ["drop table"]},
        {"signboard": "x"},
        {"note": "x" * 5000},
        {"photos": [jpeg_upload(f"{n}.jpg") for n in range(7)]},
        {"result": "problem", "checks": []},  # a problem that says nothing
    ],
)
def test_bad_input_is_a_400_and_stores_nothing(client, huji_site, inspector, change):
    client.force_login(inspector)
    response = client.post(scan_url(huji_site), patrol_data() | change)
    assert response.status_code == 400
    assert not Patrol.objects.exists() and not EvidencePhoto.objects.exists()


def test_a_file_that_is_not_a_photo_is_refused(client, huji_site, inspector):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(inspector)
    fake = SimpleUploadedFile("x.jpg", b"<script>alert(1)</script>", content_type="image/jpeg")
    response = client.post(scan_url(huji_site), patrol_data(photos=0) | {"photos": [fake]})
    assert response.status_code == 400
    assert "x.jpg" in response.content.decode()
    assert not Patrol.objects.exists() and not EvidencePhoto.objects.exists()


def test_the_patrol_page_shows_its_flags(client, huji_site, inspector, other_officer):
    client.force_login(inspector)
    client.post(scan_url(huji_site), patrol_data(north_m=2000))
    patrol = Patrol.objects.get()
    page = client.get(reverse("patrol_detail", args=[patrol.pk]))
    assert page.status_code == 200 and "2.0" in page.content.decode()
    client.force_login(other_officer)
    assert client.get(reverse("patrol_detail", args=[patrol.pk])).status_code == 404
