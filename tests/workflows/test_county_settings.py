"""The county's configuration page (villages.configuration): the defaults it shows, an override
used by the toilet SLA at report time, by the missed-patrol reminder job and by a bulletin's
header, bad input refused with 400 and nothing stored, who changed it last and when."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from inspections.sites.misses import missed_patrols_issue
from tests.factories import make_household
from tests.inspections.conftest import make_site
from tests.workflows.conftest import jpeg_upload
from villages.configuration import county_config
from villages.models import CountySettings
from workflows.bulletins import services as bulletins
from workflows.evidence.services import evidence_photo_create
from workflows.models import NoticeDocument, NoticeKind
from workflows.tickets import services

URL = reverse("county_settings")
JINXIANG = "370828000000"


def save(client, **values):
    return client.post(URL, {name: str(value) for name, value in values.items()})


@pytest.fixture
def tf_client(client, task_force):
    client.force_login(task_force)
    return client


def test_the_page_shows_each_default_and_never_changed(tf_client, settings):
    settings.PATROL_REMINDER_DAY = 17
    settings.TOILET_SLA_HOURS = {**settings.TOILET_SLA_HOURS, "pumping": 61}
    page = tf_client.get(URL).content.decode()
    assert "金乡县农村人居环境整治工作专班" in page  # the issuer by default names the county
    assert "17" in page and "61" in page
    assert settings.BULLETIN_CC in page
    assert gettext("Never changed: every setting is the default.") in page


def test_an_override_is_stored_and_shows_who_changed_it(tf_client, task_force):
    response = save(tf_client, patrol_reminder_day=12, bulletin_issuer="金乡县人居办")
    assert response.status_code == 303
    row = CountySettings.objects.get(county_id=JINXIANG)
    assert (row.patrol_reminder_day, row.updated_by) == (12, task_force)
    assert row.sla_pumping_hours is None  # left empty: the default
    page = tf_client.get(URL).content.decode()
    assert (
        task_force.username in page
        and timezone.localtime(row.updated_at).strftime("%Y-%m-%d") in page
    )
    config = county_config(JINXIANG)
    assert (config.patrol_reminder_day, config.bulletin_issuer) == (12, "金乡县人居办")


@pytest.mark.parametrize(
    "values",
    [
        {"patrol_reminder_day": 29},
        {"patrol_reminder_day": 0},
        {"sla_repair_hours": 0},
        {"sla_repair_hours": "-3"},
        {"extension_hold_days": "五"},
        {"sla_pumping_hours": "9" * 12},
        {"sla_pumping_hours": "８"},  # a full-width digit
        {"extension_hold_days": 40000},  # past a small integer column
        {"bulletin_issuer": "专" * 101},
    ],
)
def test_bad_input_is_refused_with_400_and_nothing_stored(tf_client, values):
    response = save(tf_client, sla_other_hours=10, **values)
    assert response.status_code == 400
    assert gettext("Nothing was saved.") in response.content.decode()
    assert not CountySettings.objects.exists()


def test_another_role_may_not_see_nor_change_it(client, hj_officer, inspector):
    for user in (hj_officer, inspector):
        client.force_login(user)
        assert client.get(URL).status_code == 403
        assert save(client, patrol_reminder_day=5).status_code == 403
    assert not CountySettings.objects.exists()


def test_a_county_outside_ones_reach_is_not_found(tf_client):
    assert tf_client.get(URL, {"county": "510722000000"}).status_code == 404


def test_the_sla_at_report_time_follows_the_county(tf_client, task_force, huji_village):
    household = make_household(huji_village)
    save(tf_client, sla_pumping_hours=5)
    ticket = services.toilet_report(
        by=task_force,
        household=household,
        kind="pumping",
        channel="phone",
        photos=[evidence_photo_create(file=jpeg_upload(), uploaded_by=task_force)],
    )
    assert ticket.sla_due_at - ticket.created_at == timedelta(hours=5)
    save(tf_client)  # every field empty again: the environment's default
    again = services.toilet_report(
        by=task_force,
        household=household,
        kind="pumping",
        channel="phone",
        photos=[evidence_photo_create(file=jpeg_upload(), uploaded_by=task_force)],
    )
    assert again.sla_due_at - again.created_at == timedelta(hours=72)


def test_the_reminder_job_reminds_from_the_countys_day(tf_client, settings, huji, huji_village):
    settings.PATROL_REMINDER_DAY = 20
    make_site(huji, huji_village, created_at=timezone.make_aware(datetime(2025, 1, 1)))
    assert missed_patrols_issue(as_of=date(2026, 10, 10))["reminded"] == 0
    save(tf_client, patrol_reminder_day=10)
    assert missed_patrols_issue(as_of=date(2026, 10, 10))["reminded"] == 1
    assert NoticeDocument.objects.filter(kind=NoticeKind.PATROL, town=huji).exists()


def test_the_bulletin_header_is_the_countys_frozen_at_issue(
    tf_client, task_force, inspector, huji, huji_village, deadline
):
    save(
        tf_client, bulletin_issuer="金乡县农村人居环境整治领导小组办公室", bulletin_cc="县委办公室"
    )
    ticket = services.rectification_create(
        by=inspector,
        town=huji,
        village=huji_village,
        description="坑塘漂浮物",
        source_kind="patrol",
        before_photos=[evidence_photo_create(file=jpeg_upload(), uploaded_by=inspector)],
    )
    bulletin = bulletins.bulletin_create(
        by=task_force, kind="problems", title="通报", default_deadline=deadline
    )
    bulletins.bulletin_items_set(bulletin=bulletin, by=task_force, tickets=[ticket])
    bulletin = bulletins.bulletin_issue(bulletin=bulletin, by=task_force)
    save(tf_client, bulletin_issuer="改了以后", bulletin_cc="县纪委监委")
    page = tf_client.get(reverse("bulletin_detail", args=[bulletin.pk])).content.decode()
    assert "金乡县农村人居环境整治领导小组办公室" in page and "改了以后" not in page
    assert bulletin.snapshot["cc"] == "县委办公室" and "县纪委监委" not in page
