"""Grade pages: published grades only, the campaign rule (the latest acceptance round decides),
distribution, 红黑榜, movement, scope, a constant query count, the PDF and the Excel ledger.

Most tests store published rounds and assessments directly (bulk_create, as publishing would
leave them); the end-to-end test and the policy test go through the services.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import openpyxl
import pypdfium2
import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inspections.grading import services as svc
from inspections.grading.grades import Change
from inspections.grading.scoring import grade_of
from inspections.models import Assessment, GradingPolicy, Round

pytestmark = pytest.mark.django_db


# --- builders ---------------------------------------------------------------------------------


def make_round(campaign, number, mode="sweep", state="published") -> Round:
    published = state == "published"
    return Round.objects.create(
        campaign=campaign,
        number=number,
        mode=mode,
        starts_on=date(2024, number, 1),
        ends_on=date(2024, number, 20),
        state=state,
        template=campaign.template,
        published_at=timezone.now() if published else None,
    )


def grade(round, inspector, scores: dict, *, vetoed=()) -> list[Assessment]:
    """Published assessments of `round`: {village: score}; villages in `vetoed` hit a veto."""
    policy = GradingPolicy.current("370828000000")
    return Assessment.objects.bulk_create(
        Assessment(
            round=round,
            village=village,
            inspector=inspector,
            state="published",
            score=Decimal(score),
            veto=village in vetoed,
            grade=grade_of(score=Decimal(score), veto=village in vetoed, policy=policy),
            graded_by=policy.bands(),
        )
        for village, score in scores.items()
    )


def villages_of(town, n):
    return list(town.villages.administrative().order_by("code")[:n])


def get(client, user, name, *args, **params):
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the msgids, whatever the catalogue
    return client.get(reverse(name, args=args), params)


def codes(rows) -> list[str]:
    return [row.village_code for row in rows]


@pytest.fixture
def huji5(huji):
    return villages_of(huji, 5)


@pytest.fixture
def jishu3(jishu):
    return villages_of(jishu, 3)


@pytest.fixture
def round1(campaign, inspector, huji5, jishu3):
    """Round 1 (sweep), published: 胡集镇 A, A, B, C, 薄弱; 鸡黍镇 B, B, 薄弱 (veto at 92)."""
    round = make_round(campaign, 1)
    scores = dict(zip(huji5, ["95", "91", "85", "70", "50"], strict=True))
    scores |= dict(zip(jishu3, ["82", "88", "92"], strict=True))
    grade(round, inspector, scores, vetoed={jishu3[2]})
    return round


# --- a round ------------------------------------------------------------------------------------


def test_it_counts_grades_per_town_and_county(client, task_force, round1, huji, jishu):
    response = get(client, task_force, "round_grades", round1.pk)

    assert response.status_code == 200
    results = response.context["results"]
    towns = {t.town_code: t.counts for t in results.towns}
    assert towns[huji.code] == {"A": 2, "B": 1, "C": 1, "weak": 1}
    assert towns[jishu.code] == {"A": 0, "B": 2, "C": 0, "weak": 1}
    assert results.county.counts == {"A": 2, "B": 3, "C": 1, "weak": 2}
    html = response.content.decode()
    assert "<svg" in html and "cdn" not in html.lower()
    # Every number links to the filtered list.
    assert f'href="?town={huji.code}&amp;grade=B#villages"' in html
    assert 'href="?grade=weak#villages"' in html


def test_a_number_links_to_the_villages_it_counts(client, task_force, round1, huji, huji5):
    response = get(client, task_force, "round_grades", round1.pk, town=huji.code, grade="A")

    assert codes(response.context["results"].shown) == [huji5[0].code, huji5[1].code]
    assert response.context["results"].county.total == 8  # the distribution stays whole


@pytest.mark.parametrize("params", [{"town": "胡集"}, {"grade": "D"}])
def test_a_malformed_filter_is_400(client, task_force, round1, params):
    assert get(client, task_force, "round_grades", round1.pk, **params).status_code == 400


@pytest.mark.parametrize("state", ["planned", "active", "closed"])
def test_a_round_not_published_is_404(client, task_force, campaign, state):
    round = make_round(campaign, 2, state=state)
    for name in ("round_grades", "round_grades_pdf", "round_grades_xlsx"):
        assert get(client, task_force, name, round.pk).status_code == 404


def test_the_home_lists_only_published_rounds(client, task_force, round1, campaign):
    hidden = make_round(campaign, 2, state="closed")
    response = get(client, task_force, "grades_home")

    [listed] = response.context["campaigns"]
    assert listed.published == [round1]
    html = response.content.decode()
    assert reverse("round_grades", args=[round1.pk]) in html
    assert reverse("round_grades", args=[hidden.pk]) not in html


def test_red_and_black_lists_order_and_ties(client, task_force, campaign, inspector, huji):
    policy = GradingPolicy.current("370828000000")
    policy.top_n, policy.bottom_n = 2, 2
    policy.save()
    v = villages_of(huji, 7)
    round = make_round(campaign, 1)
    # v[3] and v[1] tie at 93 (lower code first); v[0] scores best but hit a veto.
    scores = {v[0]: "99", v[1]: "93", v[2]: "88", v[3]: "93", v[4]: "61", v[5]: "61", v[6]: "75"}
    grade(round, inspector, scores, vetoed={v[0]})

    [ranking] = get(client, task_force, "round_grades", round.pk).context["results"].rankings

    assert codes(ranking.red) == [v[1].code, v[3].code]
    # A veto hit heads the black list; then the lowest scores, a tie to the lower code.
    assert codes(ranking.black) == [v[0].code, v[4].code]


def test_a_small_town_has_no_village_on_both_lists(client, task_force, campaign, inspector, huji):
    v = villages_of(huji, 4)  # policy: 3 and 3
    round = make_round(campaign, 1)
    grade(round, inspector, dict(zip(v, ["90", "80", "70", "60"], strict=True)))

    [ranking] = get(client, task_force, "round_grades", round.pk).context["results"].rankings

    assert codes(ranking.red) == [v[0].code, v[1].code, v[2].code]
    assert codes(ranking.black) == [v[3].code]


def test_movement_since_the_previous_published_round(
    client, task_force, campaign, inspector, round1, huji5, jishu3
):
    make_round(campaign, 2, state="closed")  # not published: skipped
    round3 = make_round(campaign, 3)
    # A→B (down), A→A, B→A (up), new village; 薄弱 (veto)→B.
    newcomer = villages_of(huji5[0].town, 6)[5]
    scores = {huji5[0]: "85", huji5[1]: "96", huji5[2]: "90", newcomer: "70", jishu3[2]: "80"}
    grade(round3, inspector, scores)

    response = get(client, task_force, "round_grades", round3.pk)

    results = response.context["results"]
    assert results.previous_round == round1
    moved = {row.village_code: (row.previous, row.change) for row in results.rows}
    assert moved[huji5[0].code] == ("A", Change.DOWN)
    assert moved[huji5[1].code] == ("A", Change.SAME)
    assert moved[huji5[2].code] == ("B", Change.UP)
    assert moved[newcomer.code] == (None, Change.NEW)
    assert moved[jishu3[2].code] == ("weak", Change.UP)
    assert 'data-change="down"' in response.content.decode()


# --- a campaign ---------------------------------------------------------------------------------


def test_the_latest_acceptance_round_decides(client, task_force, campaign, inspector, huji5):
    a, b, c = huji5[:3]
    grade(make_round(campaign, 1, "acceptance"), inspector, {a: "95", b: "95", c: "95"})
    grade(make_round(campaign, 2, "sweep"), inspector, {a: "40", b: "40", c: "40"})
    grade(make_round(campaign, 3, "acceptance"), inspector, {a: "85", b: "65"})  # c not assessed
    unpublished = make_round(campaign, 4, "acceptance", state="closed")
    Assessment.objects.create(
        round=unpublished, village=a, inspector=inspector, state="approved", score=10
    )
    grade(make_round(campaign, 5, "sweep"), inspector, {a: "30", b: "30", c: "30"})

    response = get(client, task_force, "campaign_grades", campaign.pk)

    rows = {
        row.village_code: (row.grade, row.round_number) for row in response.context["results"].rows
    }
    assert rows == {a.code: ("B", 3), b.code: ("C", 3), c.code: ("A", 1)}
    html = response.content.decode()
    assert "The latest acceptance round decides" in html


def test_no_acceptance_round_means_no_campaign_grade_yet(client, task_force, round1, campaign):
    response = get(client, task_force, "campaign_grades", campaign.pk)

    assert response.context["results"].rows == []
    assert "there is no campaign grade yet" in response.content.decode()


# --- a village ----------------------------------------------------------------------------------


def test_a_village_history_lists_every_published_round(
    client, task_force, campaign, inspector, round1, huji5
):
    village = huji5[0]
    make_round(campaign, 2, state="closed")
    round3 = make_round(campaign, 3, "acceptance")
    [assessment] = grade(round3, inspector, {village: "78"})
    assessment.deductions.create(item=campaign.template.items.get(code="T1"), count=2)

    response = get(client, task_force, "village_grades", village.code)

    history = response.context["history"]
    assert [(a.round.number, a.score, a.grade, a.deduction_count) for a in history] == [
        (3, Decimal("78.00"), "C", 1),
        (1, Decimal("95.00"), "A", 0),
    ]
    [(_campaign, decisive)] = response.context["campaign_grades"]
    assert decisive.round == round3


# --- scope --------------------------------------------------------------------------------------


def test_a_town_officer_sees_his_town_only(client, hj_officer, round1, huji, jishu3, campaign):
    response = get(client, hj_officer, "round_grades", round1.pk)

    results = response.context["results"]
    assert {row.town_code for row in results.rows} == {huji.code}
    assert [t.town_code for t in results.towns] == [huji.code]
    html = response.content.decode()
    assert jishu3[0].short_name not in html and jishu3[0].code not in html
    assert get(client, hj_officer, "village_grades", jishu3[0].code).status_code == 404
    campaign_page = get(client, hj_officer, "campaign_grades", campaign.pk)
    assert jishu3[0].code not in campaign_page.content.decode()


def test_another_town_officer_sees_nothing_of_huji(client, other_officer, round1, huji5):
    response = get(client, other_officer, "round_grades", round1.pk)

    assert huji5[0].code not in response.content.decode()
    assert get(client, other_officer, "village_grades", huji5[0].code).status_code == 404


def test_an_inspector_of_a_town_sees_its_grades(client, town_inspector, round1, huji, jishu3):
    rows = get(client, town_inspector, "round_grades", round1.pk).context["results"].rows
    assert {row.town_code for row in rows} == {huji.code}
    assert get(client, town_inspector, "village_grades", jishu3[0].code).status_code == 404


@pytest.mark.parametrize("who", ["nobody", "village_admin", "service_worker"])
def test_other_roles_get_403(client, request, round1, campaign, huji5, who):
    user = request.getfixturevalue(who)
    for name, args in [
        ("grades_home", ()),
        ("campaign_grades", (campaign.pk,)),
        ("round_grades", (round1.pk,)),
        ("round_grades_pdf", (round1.pk,)),
        ("round_grades_xlsx", (round1.pk,)),
        ("village_grades", (huji5[0].code,)),
    ]:
        assert get(client, user, name, *args).status_code == 403, name


# --- queries ------------------------------------------------------------------------------------


def _queries(client, user, name, *args) -> int:
    client.force_login(user)
    client.get(reverse(name, args=args))  # warm: session, language, policy row
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse(name, args=args)).status_code == 200
    return len(captured)


@pytest.mark.parametrize("user_name", ["task_force", "hj_officer"])
def test_the_query_count_does_not_grow_with_villages(
    client, request, campaign, inspector, huji, jishu, user_name
):
    user = request.getfixturevalue(user_name)
    counts = {}
    for number, (n_huji, n_jishu) in ((1, (3, 2)), (3, (20, 10))):
        before, after = make_round(campaign, number), make_round(campaign, number + 1, "acceptance")
        villages = villages_of(huji, n_huji) + villages_of(jishu, n_jishu)
        grade(before, inspector, dict.fromkeys(villages, "85"))
        assessments = grade(after, inspector, dict.fromkeys(villages, "75"))
        for assessment in assessments:
            assessment.deductions.create(item=campaign.template.items.get(code="T1"), count=1)
        counts[len(villages)] = (
            _queries(client, user, "round_grades", after.pk),
            _queries(client, user, "campaign_grades", campaign.pk),
            _queries(client, user, "village_grades", villages[0].code),
        )
        Assessment.objects.all().delete()
    assert counts[5] == counts[30]


# --- documents ----------------------------------------------------------------------------------


def pdf_text(content: bytes) -> str:
    document = pypdfium2.PdfDocument(content)
    try:
        pages = [page.get_textpage().get_text_range() for page in document]
    finally:
        document.close()
    # pdfium reports a line-broken hyphen as U+FFFE; lines break anywhere in Chinese.
    return "".join(pages).replace("\ufffe", "").replace("\r", "").replace("\n", "")


def test_the_pdf_has_the_results_in_chinese(client, task_force, round1, huji5, jishu3):
    client.force_login(task_force)  # Chinese, the default language
    response = client.get(reverse("round_grades_pdf", args=[round1.pk]))

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = pdf_text(b"".join(response.streaming_content))
    assert "2024年村村到" in text
    assert "县农村人居环境整治工作专班" in text
    assert f"{timezone.localdate(round1.published_at):%Y-%m-%d}" in text
    for town in ("胡集镇", "鸡黍镇"):
        assert town in text
    for village in huji5 + jishu3:
        assert village.short_name in text
    assert "95.00" in text


def test_the_town_officers_pdf_has_only_his_town(client, hj_officer, round1, jishu3):
    client.force_login(hj_officer)
    response = client.get(reverse("round_grades_pdf", args=[round1.pk]))

    text = pdf_text(b"".join(response.streaming_content))
    assert "胡集镇" in text and "鸡黍镇" not in text


def test_the_excel_ledger_has_one_row_per_village(
    client, task_force, campaign, inspector, round1, huji5, jishu3
):
    round2 = make_round(campaign, 2)
    grade(round2, inspector, {huji5[0]: "85", jishu3[2]: "80"}, vetoed={huji5[0]})

    response = get(client, task_force, "round_grades_xlsx", round2.pk)

    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    title, *rows = workbook.active.iter_rows(values_only=True)
    assert title[0].startswith(f"{campaign.name} ")  # the round's title, then filter and time
    assert rows[0] == (
        "Town",
        "Village",
        "Code",
        "Score",
        "Grade",
        "Veto hit",
        "Previous grade",
        "Movement",
    )
    assert rows[1:] == [
        ("胡集镇", huji5[0].short_name, huji5[0].code, 85, "weak (薄弱)", "yes", "A", "↓"),
        ("鸡黍镇", jishu3[2].short_name, jishu3[2].code, 80, "B", None, "weak (薄弱)", "↑"),
    ]


# --- end to end, and a policy changed later ------------------------------------------------------


def test_a_policy_change_after_publishing_changes_no_grade_shown(
    client, task_force, inspector, active_round, huji_village, checklist
):
    assessment = svc.assessment_open(round=active_round, village=huji_village, by=inspector)
    svc.deduction_record(
        assessment=assessment, item=checklist.items.get(code="T1"), by=inspector, count=2
    )  # 90.00: an A under the default bands
    svc.assessment_submit(assessment=assessment, by=inspector)
    svc.assessment_approve(assessment=assessment, by=task_force)
    svc.round_close(round=active_round, by=task_force)
    svc.round_publish(round=active_round, by=task_force)

    policy = GradingPolicy.current("370828000000")
    policy.a_min, policy.b_min = Decimal(95), Decimal(92)  # 90 would now be a C
    policy.save()

    [row] = get(client, task_force, "round_grades", active_round.pk).context["results"].rows
    assert (row.score, row.grade, row.deductions) == (Decimal("90.00"), "A", 1)
    [history] = get(client, task_force, "village_grades", huji_village.code).context["history"]
    assert history.grade == "A"
