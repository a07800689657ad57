"""Water sites under real concurrency (PostgreSQL): phones posting patrols at the same instant,
the task force acting on the site meanwhile, labels replaced twice at once, two 漏巡 jobs.

Threads with their own connections are released together (tests/workflows/test_concurrency.py
`together`); SQLite serialises every writer, so the races run only when DATABASE_URL is set.
Whatever the interleaving, the result is one of the serial outcomes and every answer is a page
that says what happened — never a 500, a second patrol, a second ticket or a second notice.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from inspections.jobs import issue_missed_patrol_notices
from inspections.models import (
    Patrol,
    PatrolMiss,
    PatrolPolicy,
    Presence,
    RetiredToken,
    SiteState,
    TicketMode,
)
from inspections.sites.services import site_transition
from tests.inspections.conftest import (
    HUJI_SITE,
    JISHU_SITE,
    camera_upload,
    make_patrol,
    make_site,
    moved,
)
from tests.inspections.test_presence_checks import zh_message
from tests.inspections.test_scan import patrol_data, scan_url
from tests.workflows.pages import body, fresh
from tests.workflows.test_concurrency import (
    files_match_photo_rows,
    logged_in,
    postgres_only,
    together,
    zh,
)
from workflows.models import (
    JobRun,
    NoticeDocument,
    NoticeKind,
    Notification,
    RectificationTicket,
    TicketEvent,
)

pytestmark = pytest.mark.django_db(transaction=True)

SITE_CHANGED = "This site was changed by someone else. Reload it."
SITE_DELISTED = "This site was removed from the list; it is not patrolled."


def no_errors(results) -> None:
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors


# --- patrols ----------------------------------------------------------------------------------


@postgres_only
def test_one_patrol_posted_twice_at_once_is_stored_once(huji_site, inspector, settings):
    """A flaky network sends the same form twice (same submission key), both at once."""
    phones = logged_in(inspector, inspector)
    key = uuid.uuid4()
    responses = together(
        2, lambda i: phones[i].post(scan_url(huji_site), patrol_data(key=key, result="problem"))
    )
    no_errors(responses)
    patrol = Patrol.objects.get()
    assert [r.status_code for r in responses] == [303, 303]
    assert {r["Location"] for r in responses} == {reverse("patrol_detail", args=[patrol.pk])}
    ticket = RectificationTicket.objects.get()
    assert patrol.ticket == ticket
    assert TicketEvent.objects.filter(rectification=ticket, action="create").count() == 1
    # The second copy's photo went again: one photo, the patrol's (and its ticket's).
    assert list(patrol.photos.all()) == list(ticket.before_photos.all())
    assert patrol.photos.count() == 1
    assert files_match_photo_rows(settings)


@postgres_only
@pytest.mark.parametrize("mode", [TicketMode.DRAFT, TicketMode.ASSIGNED])
def test_findings_at_one_site_at_once_open_one_ticket(
    huji_site, inspector, town_inspector, hj_officer, task_force, settings, mode
):
    """Four people report the same rebound at the same instant: four patrols, one ticket (the
    others join it, as while any ticket of the site is open), the site moved once."""
    policy = PatrolPolicy.current("370828000000")
    policy.ticket_mode = mode
    policy.save()
    phones = logged_in(inspector, town_inspector, hj_officer, task_force)
    responses = together(
        4, lambda i: phones[i].post(scan_url(huji_site), patrol_data(result="rebound"))
    )
    no_errors(responses)
    assert [r.status_code for r in responses] == [303] * 4
    ticket = RectificationTicket.objects.get()
    patrols = list(Patrol.objects.all())
    assert len(patrols) == 4 and {p.ticket_id for p in patrols} == {ticket.pk}
    assert {r["Location"] for r in responses} == {
        reverse("patrol_detail", args=[p.pk]) for p in patrols
    }
    opener = ticket.source
    assert opener in patrols
    assert list(ticket.before_photos.all()) == list(opener.photos.all())
    actions = sorted(
        TicketEvent.objects.filter(rectification=ticket).values_list("action", flat=True)
    )
    assert actions == (["assign", "create"] if mode == TicketMode.ASSIGNED else ["create"])
    assert ticket.state == ("assigned" if mode == TicketMode.ASSIGNED else "draft")
    assert fresh(huji_site).state == SiteState.SUSPECTED
    assert files_match_photo_rows(settings)


@postgres_only
def test_one_photo_at_two_sites_at_once_is_one_patrol_and_one_refusal(
    huji_site, huji, huji_village, inspector, town_inspector, settings
):
    """Two phones send the same photo file as proof at two sites at the same instant: neither
    may find it unused because the other has not committed yet."""
    other = make_site(
        huji, huji_village, position=moved(HUJI_SITE, east_m=2000), state="maintained"
    )
    photo = camera_upload("IMG_shared.jpg").read()
    phones = logged_in(inspector, town_inspector)

    def send(i):
        site = (huji_site, other)[i]
        file = SimpleUploadedFile("IMG_shared.jpg", photo, content_type="image/jpeg")
        data = patrol_data(photos=0) | {"photos": [file]}
        return phones[i].post(scan_url(site), data)

    responses = together(2, send)
    no_errors(responses)
    assert sorted(r.status_code for r in responses) == [303, 400]
    refused = next(r for r in responses if r.status_code == 400)
    assert zh_message({"code": Presence.PHOTO_REUSED, "photo": "IMG_shared.jpg"}) in body(refused)
    assert Patrol.objects.count() == 1
    assert files_match_photo_rows(settings)


@postgres_only
def test_one_post_with_its_photo_sent_twice_at_once_is_one_patrol(huji_site, inspector, settings):
    """A flaky network sends the same form with the same file twice at once: the copy that
    loses the race is the patrol already recorded, not a refusal of its own photo."""
    phones = logged_in(inspector, inspector)
    key = uuid.uuid4()
    photo = camera_upload("IMG_retry.jpg").read()

    def send(i):
        file = SimpleUploadedFile("IMG_retry.jpg", photo, content_type="image/jpeg")
        return phones[i].post(
            scan_url(huji_site), patrol_data(key=key, photos=0) | {"photos": [file]}
        )

    responses = together(2, send)
    no_errors(responses)
    assert [r.status_code for r in responses] == [303, 303]
    patrol = Patrol.objects.get()
    assert {r["Location"] for r in responses} == {reverse("patrol_detail", args=[patrol.pk])}
    assert not patrol.flagged and patrol.photos.count() == 1
    assert files_match_photo_rows(settings)


@pytest.mark.django_db  # serial: no threads, so no need to commit
def test_a_patrol_sent_after_the_site_was_delisted_is_told_so(huji_site, inspector, task_force):
    """The serial order "delist, then the patrol whose form was open": 409, with the reason."""
    phone = logged_in(inspector)[0]
    site_transition(site=huji_site, by=task_force, action="delist")
    response = phone.post(scan_url(huji_site), patrol_data(result="rebound"))
    assert response.status_code == 409
    assert zh(SITE_DELISTED) in body(response)
    assert not Patrol.objects.exists() and not RectificationTicket.objects.exists()


@postgres_only
def test_delisting_against_a_patrol(huji_site, inspector, task_force, settings):
    phone, desk = logged_in(inspector, task_force)
    delist_url = reverse("site_action", args=[huji_site.code, "delist"])

    def act(i):
        if i == 0:
            return phone.post(scan_url(huji_site), patrol_data(result="rebound"))
        return desk.post(delist_url, {"state": huji_site.state})

    patrol, delist = together(2, act)
    no_errors([patrol, delist])
    site = fresh(huji_site)
    if delist.status_code == 409:  # the rebound moved the site first: the delisting is stale
        assert zh(SITE_CHANGED) in body(delist)
        assert patrol.status_code == 303 and site.state == SiteState.SUSPECTED
        recorded = True
    else:
        assert delist.status_code == 303 and site.state == SiteState.DELISTED
        # Either the patrol read the site still listed (as if it came just before), or it
        # arrived after and was told the site left the list.
        assert patrol.status_code in (303, 409)
        recorded = patrol.status_code == 303
        if not recorded:
            assert zh(SITE_DELISTED) in body(patrol)
    assert Patrol.objects.count() == RectificationTicket.objects.count() == int(recorded)
    assert files_match_photo_rows(settings)


# --- labels -----------------------------------------------------------------------------------


@postgres_only
def test_two_new_labels_at_once_leave_one_token(huji_site, task_force, hj_officer, inspector):
    first = huji_site.token
    desks = logged_in(task_force, hj_officer)
    url = reverse("site_action", args=[huji_site.code, "rotate_token"])
    responses = together(2, lambda i: desks[i].post(url))
    no_errors(responses)
    assert [r.status_code for r in responses] == [303, 303]
    site = fresh(huji_site)
    retired = list(RetiredToken.objects.filter(site=site).values_list("token", flat=True))
    assert len(retired) == 2 and first in retired and site.token not in retired
    assert len({*retired, site.token}) == 3  # the second replaced the first one's new token
    phone = logged_in(inspector)[0]
    for token in retired:
        response = phone.get(f"/s/{token}")
        assert response.status_code == 410 and site.code in body(response)
    assert phone.get(scan_url(site)).status_code == 200


# --- 漏巡 ----------------------------------------------------------------------------------------

REMINDER_DAY = date(2026, 10, 20)
LONG_AGO = timezone.make_aware(datetime(2025, 1, 1))


@postgres_only
def test_two_missed_patrol_jobs_at_once_issue_each_notice_once(
    huji, huji_village, jishu, jishu_village, inspector, hj_officer, other_officer, settings
):
    settings.PATROL_REMINDER_DAY = REMINDER_DAY.day
    huji_short = [make_site(huji, huji_village, created_at=LONG_AGO) for _ in range(2)]
    jishu_short = make_site(jishu, jishu_village, position=JISHU_SITE, created_at=LONG_AGO)
    patrolled = make_site(huji, huji_village, created_at=LONG_AGO)
    for day in (date(2026, 9, 3), date(2026, 10, 3)):
        make_patrol(patrolled, inspector, on=day)
    short = {site.code for site in [*huji_short, jishu_short]}

    together(3, lambda i: issue_missed_patrol_notices(as_of=REMINDER_DAY))

    runs = list(JobRun.objects.filter(name="issue_missed_patrol_notices"))
    assert len(runs) == 3 and all(r.finished_at and not r.error for r in runs), runs
    assert sum(r.counts["reminded"] for r in runs) == 3
    assert sum(r.counts["documents"] for r in runs) == 2
    assert sum(r.counts["recorded"] for r in runs) == 3  # September's misses, once
    for stage in PatrolMiss.Stage.values:
        codes = PatrolMiss.objects.filter(stage=stage).values_list("site__code", flat=True)
        assert sorted(codes) == sorted(short)
    documents = NoticeDocument.objects.filter(kind=NoticeKind.PATROL)
    assert sorted(documents.values_list("town", flat=True)) == sorted([huji.code, jishu.code])
    assert len(set(documents.values_list("number", flat=True))) == 2
    huji_doc = documents.get(town=huji)
    assert sorted(line["code"] for line in huji_doc.lines) == sorted(s.code for s in huji_short)
    for officer in (hj_officer, other_officer):
        assert Notification.objects.filter(user=officer).count() == 1
