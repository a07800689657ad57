"""Rounds and assessments through the pages: a phone assessment from village pick to publication,
the rounds × villages matrix with the missed villages, scope."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inspections.grading import services as svc
from inspections.models import Assessment, Deduction, Round
from tests.inspections.conftest import jpeg_upload


def post(client, name, *args, data=None):
    return client.post(reverse(name, args=args), data or {})


def test_an_inspector_assesses_a_village_and_the_task_force_publishes(
    client, active_round, checklist, huji_village, inspector, task_force
):
    client.force_login(inspector)
    start = client.get(reverse("assessment_start", args=[active_round.pk]))
    assert start.status_code == 200 and huji_village.code in start.content.decode()
    response = post(
        client, "assessment_start", active_round.pk, data={"village": huji_village.code}
    )
    assert response.status_code == 303
    assessment = Assessment.objects.get()
    assert response["Location"] == reverse("assessment_detail", args=[assessment.pk])

    g1 = checklist.items.get(code="G1")
    refused = post(client, "deduction_save", assessment.pk, g1.pk, data={"count": 2})
    assert refused.status_code == 400 and not Deduction.objects.exists()  # needs a photo
    saved = post(
        client,
        "deduction_save",
        assessment.pk,
        g1.pk,
        data={"count": 2, "note": "3处", "photos": [jpeg_upload()]},
    )
    assert saved.status_code == 303
    page = client.get(reverse("assessment_detail", args=[assessment.pk])).content.decode()
    assert "96.00" in page
    assert (
        post(client, "deduction_save", assessment.pk, g1.pk, data={"count": "x"}).status_code == 400
    )

    assert post(client, "assessment_action", assessment.pk, "submit").status_code == 303
    assert post(client, "assessment_action", assessment.pk, "approve").status_code == 403
    client.force_login(task_force)
    assert post(client, "assessment_action", assessment.pk, "approve").status_code == 303
    assert post(client, "round_action", active_round.pk, "publish").status_code == 400  # active
    assert post(client, "round_action", active_round.pk, "close").status_code == 303
    assert post(client, "round_action", active_round.pk, "publish").status_code == 303
    assessment.refresh_from_db()
    assert (assessment.state, assessment.grade, assessment.score) == ("published", "A", 96)


def test_only_the_task_force_runs_rounds_by_page(client, active_round, inspector):
    client.force_login(inspector)
    assert post(client, "round_action", active_round.pk, "close").status_code == 403
    assert post(client, "round_action", active_round.pk, "forged").status_code == 404


def test_a_deduction_opens_a_ticket_from_the_page(
    client, active_round, checklist, huji_village, inspector, huji
):
    assessment = svc.assessment_open(round=active_round, village=huji_village, by=inspector)
    deduction = svc.deduction_record(
        assessment=assessment, item=checklist.items.get(code="T1"), by=inspector, count=1
    )
    client.force_login(inspector)
    assert post(client, "deduction_ticket", deduction.pk).status_code == 303
    deduction.refresh_from_db()
    assert deduction.ticket.town == huji


@pytest.fixture
def closed_round(active_round, huji, inspector, task_force):
    villages = list(huji.villages.administrative().order_by("code")[:3])
    svc.assessment_open(round=active_round, village=villages[0], by=inspector)
    return svc.round_close(round=active_round, by=task_force), villages


def test_the_matrix_lists_missed_villages(client, campaign, closed_round, hj_officer, jishu):
    _round, villages = closed_round
    client.force_login(hj_officer)
    url = reverse("campaign_detail", args=[campaign.pk])
    page = client.get(url, {"missed": "1"}).content.decode()
    assert villages[0].short_name not in page  # assessed
    assert villages[1].short_name in page  # missed
    assert jishu.name not in page  # another town's villages never show
    assert client.get(url, {"town": "bad"}).status_code == 400


def test_the_matrix_costs_the_same_queries_for_more_assessments(
    client, campaign, active_round, huji, inspector, task_force
):
    client.force_login(task_force)
    url = reverse("campaign_detail", args=[campaign.pk])
    villages = list(huji.villages.administrative().order_by("code")[:25])
    for village in villages[:3]:
        svc.assessment_open(round=active_round, village=village, by=inspector)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for village in villages[3:]:
        svc.assessment_open(round=active_round, village=village, by=inspector)
    second = Round.objects.create(
        campaign=campaign,
        number=2,
        mode="sweep",
        starts_on=date(2024, 4, 1),
        ends_on=date(2024, 4, 30),
    )
    svc.round_start(round=second, by=task_force)
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)


def test_others_see_no_rounds(client, active_round, nobody, village_admin):
    for user in (nobody, village_admin):
        client.force_login(user)
        assert client.get(reverse("round_detail", args=[active_round.pk])).status_code == 403


def test_another_towns_officer_gets_404_for_an_assessment(
    client, active_round, huji_village, inspector, other_officer
):
    assessment = svc.assessment_open(round=active_round, village=huji_village, by=inspector)
    client.force_login(other_officer)
    assert client.get(reverse("assessment_detail", args=[assessment.pk])).status_code == 404


def test_the_gps_suggestion_page_takes_any_position(client, active_round, inspector):
    client.force_login(inspector)
    url = reverse("assessment_start", args=[active_round.pk])
    assert client.get(url, {"lat": "35.07", "lng": "116.31"}).status_code == 200
    assert client.get(url, {"lat": "abc", "lng": "999"}).status_code == 200
