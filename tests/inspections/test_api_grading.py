"""The API's rounds and grades (inspections/grading/api.py): read only, for the roles that see
grades on the pages (403 with the reason for the others); a round's published grades only,
each caller his jurisdiction's villages; the page's filters; constant queries. Each test runs
with a personal access token and with the browser's session."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from inspections.models import Assessment, Round
from tests.api_callers import VIAS, body, caller
from tests.inspections.test_grades import grade, make_round, villages_of


@pytest.fixture(params=VIAS)
def via(request):
    return request.param


@pytest.fixture
def api(via, task_force):
    return lambda user: caller(via, user, manager=task_force)


@pytest.fixture
def published(campaign, inspector, huji, jishu):
    """Round 1, published: 胡集镇 A, B, 薄弱 (a veto); 鸡黍镇 C. A 胡集镇 village's assessment
    still submitted (never published) and a closed round 2 with approved ones."""
    round = make_round(campaign, 1)
    huji3, jishu1 = villages_of(huji, 4), villages_of(jishu, 1)
    grade(
        round, inspector, dict(zip(huji3[:3], ["95", "85", "91"], strict=True)), vetoed={huji3[2]}
    )
    grade(round, inspector, {jishu1[0]: "65"})
    Assessment.objects.create(round=round, village=huji3[3], inspector=inspector, state="submitted")
    closed = make_round(campaign, 2, state="closed")
    Assessment.objects.create(
        round=closed, village=huji3[0], inspector=inspector, state="approved", score=Decimal(99)
    )
    return round


def villages(response) -> list[str]:
    return [row["village_code"] for row in body(response)["grades"]]


# --- rounds -----------------------------------------------------------------------------------


def test_rounds_are_listed_newest_first_for_who_sees_grades(api, hj_officer, published, campaign):
    response = api(hj_officer).get("/rounds")
    assert response.status_code == 200
    rows = body(response)["results"]
    assert [(row["number"], row["state"]) for row in rows] == [(2, "closed"), (1, "published")]
    assert rows[0]["campaign"] == campaign.name and rows[0]["year"] == campaign.year


def test_rounds_narrow_by_campaign_and_state(api, inspector, published, campaign):
    caller = api(inspector)
    states = caller.get("/rounds", {"state": "published"})
    assert [row["id"] for row in body(states)["results"]] == [published.pk]
    assert body(caller.get("/rounds", {"campaign": campaign.pk + 1}))["results"] == []


def test_one_round(api, town_inspector, published):
    response = api(town_inspector).get(f"/rounds/{published.pk}")
    assert response.status_code == 200
    round = body(response)
    assert (round["number"], round["mode"], round["starts_on"]) == (1, "sweep", "2024-01-01")
    assert round["published_at"]


@pytest.mark.parametrize("who", ["village_admin", "service_worker"])
def test_a_role_that_sees_no_grades_gets_403_with_the_reason(api, request, who, published):
    refused(api(request.getfixturevalue(who)), published)


def test_a_user_without_a_role_gets_403(nobody, task_force, published):
    refused(caller("session", nobody, manager=task_force), published)  # a token has a role


def refused(caller, published) -> None:
    for path in ("/rounds", f"/rounds/{published.pk}", f"/rounds/{published.pk}/grades"):
        response = caller.get(path)
        assert response.status_code == 403, path
        assert body(response)["detail"]
        assert "95" not in response.content.decode()


@pytest.mark.parametrize(
    "path, params",
    [("/rounds", {"cursor": "!!"}), ("/rounds", {"state": "finished"}),
     ("/rounds", {"campaign": "first"}), ("/rounds/one", {}),
     ("/rounds/{pk}/grades", {"town": "3708"}), ("/rounds/{pk}/grades", {"grade": "D"})],
)  # fmt: skip
def test_bad_input_is_400(api, task_force, published, path, params):
    response = api(task_force).get(path.format(pk=published.pk), params)
    assert response.status_code == 400
    assert body(response)["detail"]


def test_a_missing_round_is_404(api, task_force, published):
    for path in ("/rounds/999999", "/rounds/999999/grades", "/rounds/99999999999999999999999"):
        assert api(task_force).get(path).status_code == 404, path


@pytest.mark.parametrize("rows", [1, 20])
def test_the_rounds_cost_the_same_queries_for_1_and_20(
    api, task_force, campaign, rows, django_assert_max_num_queries
):
    Round.objects.bulk_create(
        Round(campaign=campaign, number=n, mode="sweep", starts_on=date(2024, 1, 1),
              ends_on=date(2024, 1, 2), template=campaign.template)
        for n in range(1, rows + 1)
    )  # fmt: skip
    caller = api(task_force)
    with django_assert_max_num_queries(4):
        response = caller.get("/rounds")
    assert len(body(response)["results"]) == rows


# --- grades -----------------------------------------------------------------------------------


def test_a_town_sees_its_villages_grades_only(
    api, hj_officer, other_officer, published, huji, jishu
):
    mine = api(hj_officer).get(f"/rounds/{published.pk}/grades")
    assert mine.status_code == 200
    grades = body(mine)["grades"]
    assert [row["grade"] for row in grades] == ["A", "B", "weak"]
    assert {row["town_code"] for row in grades} == {huji.code}
    assert grades[2]["veto"] and grades[2]["score"] == 91
    theirs = body(api(other_officer).get(f"/rounds/{published.pk}/grades"))["grades"]
    assert [(row["town_code"], row["grade"]) for row in theirs] == [(jishu.code, "C")]


def test_nothing_unpublished_is_shown(api, task_force, published, campaign, huji):
    grades = body(api(task_force).get(f"/rounds/{published.pk}/grades"))["grades"]
    submitted = Assessment.objects.get(round=published, state="submitted")
    assert submitted.village_id not in [row["village_code"] for row in grades]
    closed = Round.objects.get(campaign=campaign, number=2)
    response = api(task_force).get(f"/rounds/{closed.pk}/grades")
    assert response.status_code == 404  # approved, not yet published
    assert "99" not in response.content.decode()


def test_the_distribution_counts_what_the_caller_sees(api, task_force, hj_officer, published, huji):
    county = body(api(task_force).get(f"/rounds/{published.pk}/grades"))["distribution"]
    assert county[-1] | {"town_name": ""} == {
        "town_code": None, "town_name": "", "A": 1, "B": 1, "C": 1, "weak": 1, "total": 4
    }  # fmt: skip
    town = body(api(hj_officer).get(f"/rounds/{published.pk}/grades"))["distribution"]
    assert [(row["town_code"], row["total"]) for row in town] == [(huji.code, 3), (None, 3)]


def test_the_pages_filters(api, task_force, published, huji, jishu):
    caller = api(task_force)
    path = f"/rounds/{published.pk}/grades"
    assert [row["grade"] for row in body(caller.get(path, {"town": jishu.code}))["grades"]] == ["C"]
    weak = body(caller.get(path, {"grade": "weak"}))["grades"]
    assert [(row["town_code"], row["grade"]) for row in weak] == [(huji.code, "weak")]


def test_movement_since_the_previous_published_round(
    api, task_force, published, campaign, inspector, huji
):
    later = make_round(campaign, 3)
    first = villages_of(huji, 1)[0]
    grade(later, inspector, {first: "82"})
    row = body(api(task_force).get(f"/rounds/{later.pk}/grades"))["grades"][0]
    assert (row["grade"], row["previous_grade"], row["change"]) == ("B", "A", "down")


@pytest.mark.parametrize("rows", [1, 20])
def test_the_grades_cost_the_same_queries_for_1_and_20_villages(
    api, task_force, campaign, inspector, huji, rows, django_assert_max_num_queries
):
    round = make_round(campaign, 1)
    grade(round, inspector, dict.fromkeys(villages_of(huji, rows), "88"))
    caller = api(task_force)
    with django_assert_max_num_queries(8):
        response = caller.get(f"/rounds/{round.pk}/grades")
    assert len(body(response)["grades"]) == rows
