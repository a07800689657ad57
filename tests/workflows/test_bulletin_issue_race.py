"""Two task-force members, each on the page of a different draft that says "将印发为 第1批",
issue at once: one gets 第1批; the other is not issued as 第2批 behind his back, but told the
number changed (409), with the new terms to confirm."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import make_user
from tests.workflows.test_concurrency import (
    logged_in,
    postgres_only,
    second_task_force,
    together,
)
from villages.models import City, Role
from workflows.bulletins import city_services as city_svc
from workflows.bulletins import services as svc
from workflows.models import Bulletin, CityBulletin, TicketCounter
from workflows.tickets import services

pytestmark = pytest.mark.django_db(transaction=True)


@postgres_only
def test_two_bulletins_confirmed_as_the_same_number_issued_at_once(
    huji, huji_village, inspector, task_force, make_photo, deadline
):
    bulletins = []
    for title in ("甲通报", "乙通报"):
        ticket = services.rectification_create(
            by=inspector, town=huji, village=huji_village, description=f"{title}的问题",
            source_kind="patrol", before_photos=[make_photo(inspector)],
        )  # fmt: skip
        bulletin = svc.bulletin_create(
            by=task_force, kind="problems", title=title, default_deadline=deadline
        )
        svc.bulletin_items_set(bulletin=bulletin, by=task_force, tickets=[ticket])
        bulletins.append(bulletin)
    terms = [svc.bulletin_issue_terms(b) for b in bulletins]
    assert [t.token for t in terms] == ["1:1", "1:1"]  # what both pages said
    browsers = logged_in(task_force, second_task_force())

    def issue(i):
        url = reverse("bulletin_issue", args=[bulletins[i].pk])
        return browsers[i].post(url, {"confirm": terms[i].token})

    responses = together(2, issue)

    assert sorted(r.status_code for r in responses) == [303, 409], responses
    won = next(i for i, r in enumerate(responses) if r.status_code == 303)
    lost = 1 - won
    assert Bulletin.objects.get(pk=bulletins[won].pk).batch == 1
    loser = Bulletin.objects.get(pk=bulletins[lost].pk)
    assert (loser.state, loser.batch) == ("draft", None)
    assert 'value="2:1"' in responses[lost].content.decode()  # confirm again, as 第2批
    assert TicketCounter.objects.get(prefix=svc.COUNTER).value == 1


@postgres_only
def test_two_city_bulletins_issued_at_once_get_consecutive_numbers(
    huji, huji_village, inspector, task_force, make_photo, deadline
):
    """Two supervisors of 济宁市 issue a draft each at once, without confirmation (the service
    call jobs make): 第1批 and 第2批 of the city's year, never the same number twice."""
    city = City.objects.create(code="370800000000", name="济宁市")
    supervisors = [
        make_user(f"city_{n}", {"role": Role.CITY_SUPERVISOR, "city": city, "county": None})
        for n in (1, 2)
    ]
    drafts = []
    for n, supervisor in enumerate(supervisors):
        ticket = services.rectification_create(
            by=inspector, town=huji, village=huji_village, description=f"市级问题{n}",
            source_kind="patrol", before_photos=[make_photo(inspector)],
        )  # fmt: skip
        ticket = services.rectification_assign(ticket=ticket, by=task_force, deadline=deadline)
        draft = city_svc.city_bulletin_create(by=supervisor, title=f"市级通报{n}")
        city_svc.city_bulletin_items_set(bulletin=draft, by=supervisor, tickets=[ticket])
        drafts.append(draft)

    def issue(i):
        return city_svc.city_bulletin_issue(bulletin=drafts[i], by=supervisors[i])

    results = together(2, issue)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(CityBulletin.objects.values_list("batch", flat=True)) == [1, 2]
    assert TicketCounter.objects.get(prefix=city_svc.COUNTER, county=city.code).value == 2
