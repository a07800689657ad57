"""Proof of presence against the cheap forgeries: one photo passed off as proof at several sites,
a computer's browser claiming a 1 m GPS fix, the site's own coordinates sent back, a picture with
no camera data. Each is a check of the county's PatrolPolicy (refuse or flag), every patrol keeps
the list of checks it ran, its page lists them and the coverage page counts the doubts.
"""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape

from inspections.models import Patrol, PatrolPolicy, PatrolResult, Presence, Rule
from inspections.sites import presence, services
from inspections.sites.models import CheckResult
from inspections.sites.presence import Position
from inspections.sites.services import Observation, PatrolRefused
from tests.factories import make_user
from tests.inspections.conftest import (
    ANDROID_UA,
    DESKTOP_UA,
    HUJI_SITE,
    camera_upload,
    make_patrol,
    make_site,
    moved,
)
from workflows.evidence.services import evidence_photo_create
from workflows.models import EvidencePhoto
from workflows.tickets import services as tickets

PHOTOS = settings.BASE_DIR / "tests/data/photos"
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
)
HARMONY_UA = (
    "Mozilla/5.0 (Phone; OpenHarmony 4.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/114.0.0.0 Safari/537.36 ArkWeb/4.1.6.1 Mobile HuaweiBrowser/5.0.4.300"
)
IPAD_UA = (
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1"
)
MAC_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Safari/605.1.15"
)


def real_photo(name: str = "HTC_Desire.jpg") -> SimpleUploadedFile:
    """A real phone photo with its EXIF (tests/data/photos/MANIFEST.csv), uploaded afresh."""
    return SimpleUploadedFile(name, (PHOTOS / name).read_bytes(), content_type="image/jpeg")


def scan_url(site) -> str:
    return reverse("scan", args=[site.token])


def patrol_post(site, *, photos, north_m=30, accuracy="8", position=None, key=None) -> dict:
    lat, lng = position or moved((site.lat, site.lng), north_m=north_m)
    return {
        "key": str(key or uuid.uuid4()),
        "lat": f"{lat:.7f}",
        "lng": f"{lng:.7f}",
        "accuracy": accuracy,
        "result": "normal",
        "signboard": "good",
        "previous_fixed": "none",
        "note": "",
        "photos": photos,
    }


def codes(patrol: Patrol) -> list[str]:
    return [flag["code"] for flag in patrol.flags]


def results(patrol: Patrol) -> dict[str, str]:
    return {check["code"]: check["result"] for check in patrol.checks}


def zh_message(flag: dict) -> str:
    with translation.override("zh-hans"):
        return escape(presence.message(flag))


@pytest.fixture
def three_sites(huji, huji_village):
    """Three ponds of 胡集镇, 2 km apart."""
    return [
        make_site(
            huji, huji_village, position=moved(HUJI_SITE, east_m=2000 * n), state="maintained"
        )
        for n in range(3)
    ]


@pytest.fixture
def phone(client, inspector):
    client.force_login(inspector)
    return client


def post(client, site, data, user_agent=ANDROID_UA):
    return client.post(scan_url(site), data, HTTP_USER_AGENT=user_agent)


# --- the attack: one photo, three sites ---------------------------------------------------------


def test_the_same_real_photo_at_three_sites_is_refused_at_the_second_and_third(phone, three_sites):
    first = post(phone, three_sites[0], patrol_post(three_sites[0], photos=[real_photo()]))
    assert first.status_code == 303
    patrol = Patrol.objects.get()
    assert results(patrol)[Presence.PHOTO_REUSED] == CheckResult.PASSED
    stored = EvidencePhoto.objects.count()

    expected = zh_message({"code": Presence.PHOTO_REUSED, "photo": "HTC_Desire.jpg"})
    for site in three_sites[1:]:
        again = post(phone, site, patrol_post(site, photos=[real_photo()]))
        assert again.status_code == 400
        assert expected in again.content.decode()
        assert Patrol.objects.count() == 1  # nothing stored…
        assert EvidencePhoto.objects.count() == stored  # …not even the photo


def test_under_a_flag_policy_the_second_and_third_are_stored_flagged(phone, three_sites):
    policy = PatrolPolicy.current("370828000000")
    policy.photo_reused = Rule.FLAG
    policy.save()
    for site in three_sites:
        assert post(phone, site, patrol_post(site, photos=[real_photo()])).status_code == 303
    first, second, third = Patrol.objects.order_by("id")
    assert Presence.PHOTO_REUSED not in codes(first)
    for patrol in (second, third):
        assert patrol.flagged and Presence.PHOTO_REUSED in codes(patrol)
        assert results(patrol)[Presence.PHOTO_REUSED] == CheckResult.FLAGGED
    assert third.flags[codes(third).index(Presence.PHOTO_REUSED)]["photo"] == "HTC_Desire.jpg"


def test_a_photo_already_a_tickets_before_photo_is_refused(huji_site, huji, inspector):
    file = camera_upload("IMG_ticket.jpg")
    tickets.rectification_create(
        by=inspector,
        town=huji,
        village=huji_site.village,
        description="岸边垃圾",
        source_kind="report",
        before_photos=[evidence_photo_create(file=file, uploaded_by=inspector)],
    )
    file.seek(0)
    same = evidence_photo_create(file=file, uploaded_by=inspector)
    with pytest.raises(PatrolRefused) as refused:
        record(huji_site, inspector, photos=[same])
    assert [d.code for d in refused.value.doubts] == [Presence.PHOTO_REUSED]


def test_a_photo_already_on_a_ticket_step_is_refused(
    huji_site, huji, inspector, task_force, hj_officer, deadline
):
    ticket = tickets.rectification_create(
        by=inspector,
        town=huji,
        village=huji_site.village,
        description="岸边垃圾",
        source_kind="report",
        before_photos=[upload(camera_upload(), inspector)],
    )
    tickets.rectification_assign(ticket=ticket, by=task_force, deadline=deadline)
    file = camera_upload("IMG_after.jpg")
    photo = evidence_photo_create(file=file, uploaded_by=hj_officer)
    tickets.rectification_submit(ticket=ticket, by=hj_officer, note="已清理", photos=[photo])
    file.seek(0)
    same = evidence_photo_create(file=file, uploaded_by=hj_officer)
    with pytest.raises(PatrolRefused):
        record(huji_site, hj_officer, photos=[same])


def test_a_retried_post_with_the_same_photo_returns_the_same_patrol(phone, huji_site):
    key = uuid.uuid4()
    first = post(phone, huji_site, patrol_post(huji_site, photos=[real_photo()], key=key))
    again = post(phone, huji_site, patrol_post(huji_site, photos=[real_photo()], key=key))
    assert first.status_code == again.status_code == 303
    assert first["Location"] == again["Location"]
    assert Patrol.objects.count() == 1
    assert Presence.PHOTO_REUSED not in codes(Patrol.objects.get())


def test_the_copy_of_a_post_that_lost_the_race_does_not_count_its_own_photos(huji_site, inspector):
    """Both copies of one POST uploaded the file before either stored the patrol: the second
    looks its photos up after the first was stored, and must end as "already recorded"."""
    key = uuid.uuid4()
    record(huji_site, inspector, photos=[upload(real_photo(), inspector)], key=key)
    copy = upload(real_photo(), inspector)
    assert services.photos_already_evidence(photos=[copy], by=inspector, key=key) == frozenset()
    other = services.photos_already_evidence(photos=[copy], by=inspector, key=uuid.uuid4())
    assert other == {copy.sha256}


def test_an_upload_not_yet_attached_to_anything_is_no_reuse(huji_site, inspector):
    upload(real_photo(), inspector)  # another request's upload, still in flight
    patrol, _ = record(huji_site, inspector, photos=[upload(real_photo(), inspector)])
    assert results(patrol)[Presence.PHOTO_REUSED] == CheckResult.PASSED


# --- the position -------------------------------------------------------------------------------


@pytest.mark.parametrize("user_agent", [DESKTOP_UA, MAC_UA, ""])
def test_a_1_m_fix_from_a_computer_is_flagged(phone, huji_site, user_agent):
    data = patrol_post(huji_site, photos=[camera_upload()], accuracy="1")
    assert post(phone, huji_site, data, user_agent=user_agent).status_code == 303
    patrol = Patrol.objects.get()
    assert codes(patrol) == [Presence.DESKTOP_FIX]
    assert patrol.flags[0]["accuracy_m"] == 1
    assert results(patrol)[Presence.DESKTOP_FIX] == CheckResult.FLAGGED


@pytest.mark.parametrize("user_agent", [ANDROID_UA, IPHONE_UA, IPAD_UA, HARMONY_UA])
def test_a_1_m_fix_from_a_phone_is_not(phone, huji_site, user_agent):
    data = patrol_post(huji_site, photos=[camera_upload()], accuracy="1")
    assert post(phone, huji_site, data, user_agent=user_agent).status_code == 303
    patrol = Patrol.objects.get()
    assert not patrol.flagged
    (check,) = [c for c in patrol.checks if c["code"] == Presence.DESKTOP_FIX]
    assert check["result"] == CheckResult.PASSED and check["device"] == "mobile"


def test_an_ordinary_fix_from_a_computer_passes(phone, huji_site):
    data = patrol_post(huji_site, photos=[camera_upload()], accuracy="25")
    post(phone, huji_site, data, user_agent=DESKTOP_UA)
    patrol = Patrol.objects.get()
    assert not patrol.flagged
    assert results(patrol)[Presence.DESKTOP_FIX] == CheckResult.PASSED


def test_the_sites_own_coordinates_are_flagged(phone, huji_site):
    data = patrol_post(huji_site, photos=[camera_upload()], position=(huji_site.lat, huji_site.lng))
    assert post(phone, huji_site, data).status_code == 303
    patrol = Patrol.objects.get()
    assert codes(patrol) == [Presence.COPIED_POSITION]
    assert patrol.distance_m == 0


def test_coordinates_equal_to_the_6th_decimal_are_flagged_and_a_metre_off_is_not(huji_site):
    policy = PatrolPolicy.current("370828000000")
    lat, lng = huji_site.lat + 4e-7, huji_site.lng - 4e-7  # rounds to the same 6 decimals
    copied = assess(huji_site, policy, Position(lat, lng, 8))
    assert copied.checks[4] == presence.Check(Presence.COPIED_POSITION, CheckResult.FLAGGED)
    lat, lng = moved((huji_site.lat, huji_site.lng), north_m=1)
    measured = assess(huji_site, policy, Position(lat, lng, 8))
    assert measured.checks[4] == presence.Check(Presence.COPIED_POSITION, CheckResult.PASSED)


# --- the photos ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["no_exif.jpg", "portrait_6.jpg"])
def test_a_photo_without_camera_data_is_flagged(phone, huji_site, name):
    response = post(phone, huji_site, patrol_post(huji_site, photos=[real_photo(name)]))
    assert response.status_code == 303
    patrol = Patrol.objects.get()
    assert codes(patrol) == [Presence.NO_EXIF]
    assert patrol.flags[0]["photo"] == name
    assert results(patrol)[Presence.NO_EXIF] == CheckResult.FLAGGED


def test_a_photo_without_camera_data_is_refused_when_the_county_says_so(phone, huji_site):
    policy = PatrolPolicy.current("370828000000")
    policy.no_exif = Rule.REFUSE
    policy.save()
    response = post(phone, huji_site, patrol_post(huji_site, photos=[real_photo("no_exif.jpg")]))
    assert response.status_code == 400
    assert (
        zh_message({"code": Presence.NO_EXIF, "photo": "no_exif.jpg"}) in response.content.decode()
    )
    assert not Patrol.objects.exists() and not EvidencePhoto.objects.exists()


def test_a_camera_photo_passes(phone, huji_site):
    post(phone, huji_site, patrol_post(huji_site, photos=[camera_upload()]))
    patrol = Patrol.objects.get()
    assert not patrol.flagged
    assert results(patrol)[Presence.NO_EXIF] == CheckResult.PASSED


# --- what a patrol keeps and shows --------------------------------------------------------------


def test_a_patrol_keeps_every_check_it_ran(phone, huji_site):
    post(phone, huji_site, patrol_post(huji_site, photos=[camera_upload()], north_m=40))
    patrol = Patrol.objects.get()
    assert [c["code"] for c in patrol.checks] == [code for code, _run in presence.CHECKS]
    assert results(patrol) == {
        Presence.NO_POSITION: "passed",
        Presence.IMPRECISE: "passed",
        Presence.TOO_FAR: "passed",
        Presence.LATE_UPLOAD: "not_applicable",  # sent at once
        Presence.DESKTOP_FIX: "passed",
        Presence.COPIED_POSITION: "passed",
        Presence.NO_PHOTO: "passed",
        Presence.NO_EXIF: "passed",
        Presence.OLD_PHOTO: "passed",
        Presence.PHOTO_FAR: "not_applicable",  # the camera photo has no GPS
        Presence.PHOTO_REUSED: "passed",
    }
    (too_far,) = [c for c in patrol.checks if c["code"] == Presence.TOO_FAR]
    assert too_far["distance_m"] == 40 and too_far["limit_m"] == 200


def test_checks_that_need_a_browser_do_not_apply_without_one(huji_site, inspector):
    patrol, _ = record(huji_site, inspector, photos=[upload(camera_upload(), inspector)])
    assert results(patrol)[Presence.DESKTOP_FIX] == CheckResult.NOT_APPLICABLE


def test_the_patrol_page_lists_the_checks(phone, huji_site):
    data = patrol_post(huji_site, photos=[camera_upload()], accuracy="1")
    post(phone, huji_site, data, user_agent=DESKTOP_UA)
    patrol = Patrol.objects.get()
    page = phone.get(reverse("patrol_detail", args=[patrol.pk])).content.decode()
    for code, _run in presence.CHECKS:
        assert f'data-check="{code}"' in page
    assert f'data-check="{Presence.DESKTOP_FIX}" data-result="flagged"' in page
    assert f'data-check="{Presence.PHOTO_REUSED}" data-result="passed"' in page
    assert zh_message(patrol.flags[0]) in page


def test_a_patrol_from_before_the_checks_says_they_were_not_recorded(client, huji_site, inspector):
    patrol = make_patrol(huji_site, inspector, on=timezone.localdate())
    client.force_login(inspector)
    page = client.get(reverse("patrol_detail", args=[patrol.pk])).content.decode()
    assert "data-check=" not in page
    assert 'data-checks="not-recorded"' in page


def test_the_sites_patrol_list_names_the_doubts(phone, huji_site):
    post(phone, huji_site, patrol_post(huji_site, photos=[real_photo("no_exif.jpg")]))
    page = phone.get(reverse("site_detail", args=[huji_site.code])).content.decode()
    with translation.override("zh-hans"):
        assert escape(str(Presence.NO_EXIF.label)) in page


# --- coverage -----------------------------------------------------------------------------------


def test_coverage_counts_the_doubts_per_kind_and_per_site(
    client, task_force, inspector, three_sites
):
    today = timezone.localdate()
    a, b, c = three_sites
    for site, flags in [
        (a, [{"code": Presence.PHOTO_REUSED, "photo": "x.jpg"}]),
        (a, [{"code": Presence.PHOTO_REUSED, "photo": "y.jpg"}]),
        (b, [{"code": Presence.DESKTOP_FIX}, {"code": Presence.NO_EXIF, "photo": "z.jpg"}]),
        (b, [{"code": Presence.NO_EXIF, "photo": "1.jpg"}, {"code": Presence.NO_EXIF}]),
    ]:
        make_patrol(site, inspector, on=today, flagged=True, flags=flags)
    make_patrol(c, inspector, on=today)
    client.force_login(task_force)
    response = client.get(reverse("site_coverage"))
    coverage = response.context["coverage"]
    assert dict(coverage.doubts) == {
        Presence.PHOTO_REUSED: 2,
        Presence.NO_EXIF: 2,  # a patrol counts once per kind
        Presence.DESKTOP_FIX: 1,
    }
    assert coverage.site_doubts(a.pk) == [(Presence.PHOTO_REUSED, 2)]
    assert coverage.site_doubts(c.pk) == []
    page = response.content.decode()
    assert page.count(f'data-doubt="{Presence.PHOTO_REUSED}"') == 2  # the summary and a's row
    assert page.count(f'data-doubt="{Presence.DESKTOP_FIX}"') == 2
    with translation.override("zh-hans"):
        assert escape(str(Presence.PHOTO_REUSED.label)) in page


def test_the_doubts_cost_one_query_whatever_the_number_of_flagged_patrols(
    client, task_force, inspector, huji, huji_village
):
    today = timezone.localdate()
    flags = [{"code": Presence.DESKTOP_FIX}]

    def flagged_sites(n):
        for _ in range(n):
            site = make_site(huji, huji_village, state="maintained")
            make_patrol(site, inspector, on=today, flagged=True, flags=flags)

    flagged_sites(2)
    client.force_login(task_force)
    url = reverse("site_coverage")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    flagged_sites(20)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(many) == len(few)
    assert dict(response.context["coverage"].doubts) == {Presence.DESKTOP_FIX: 22}


# --- the county's switches ----------------------------------------------------------------------


def test_the_defaults_refuse_reused_photos_and_flag_the_rest(divisions):
    policy = PatrolPolicy.current("370828000000")
    assert policy.photo_reused == Rule.REFUSE
    assert (policy.desktop_fix, policy.copied_position, policy.no_exif) == (Rule.FLAG,) * 3


def test_the_switches_are_on_the_policys_admin_page(client, divisions):
    policy = PatrolPolicy.current("370828000000")
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    url = reverse("admin:inspections_patrolpolicy_change", args=[policy.pk])
    page = client.get(url).content.decode()
    for name in ("photo_reused", "desktop_fix", "copied_position", "no_exif", "too_far"):
        assert f'name="{name}"' in page


@pytest.mark.parametrize(
    ("user_agent", "mobile"),
    [
        (ANDROID_UA, True),
        (IPHONE_UA, True),
        (IPAD_UA, True),
        (HARMONY_UA, True),
        ("Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0", True),
        (DESKTOP_UA, False),
        (MAC_UA, False),
        ("curl/8.5.0", False),
        ("", False),
    ],
)
def test_what_counts_as_a_phones_browser(user_agent, mobile):
    assert presence.is_mobile_browser(user_agent) is mobile


# --- helpers ------------------------------------------------------------------------------------


def upload(file, user) -> EvidencePhoto:
    return evidence_photo_create(file=file, uploaded_by=user)


def record(site, by, *, photos, key=None, position=None):
    lat, lng = moved((site.lat, site.lng), north_m=30)
    return services.patrol_record(
        by=by,
        site=site,
        key=key or uuid.uuid4(),
        observation=Observation(result=PatrolResult.NORMAL),
        position=position or Position(lat, lng, 8),
        photos=photos,
    )


def assess(site, policy, position) -> presence.Findings:
    """The checks of a position alone (no photos)."""
    return presence.assess(
        site=site, policy=policy, position=position, photos=[], now=timezone.now()
    )
