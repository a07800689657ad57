"""County dashboard and town rankings: numbers match the data, links lead to the lists behind
them, scope (胡集镇's officer sees 胡集镇 only; anyone else 403), the median for odd and even
counts, a constant query count, and the Excel export.

Tickets, sites and assessments are stored directly (bulk_create) in the states the services
would leave them in: what is tested here is reading them back.
"""

from __future__ import annotations

import io
import itertools
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inspections.grading.scoring import grade_of
from inspections.models import Assessment, GradingPolicy, Round
from inspections.reporting import dashboard as selectors
from inspections.reporting.views import all_states, tickets_url
from tests.factories import make_household
from tests.inspections.conftest import make_patrol, make_site
from tests.inspections.raw_dashboard import MEDIAN_TOLERANCE
from villages.models import Town
from workflows.models import RectificationTicket, ToiletTicket

pytestmark = pytest.mark.django_db

_numbers = itertools.count(1)


# --- builders ---------------------------------------------------------------------------------


def at(day: date, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def today() -> date:
    return timezone.localdate()


def ticket(town, state="assigned", *, source="patrol", created=None, closed=None, deadline=None):
    created = created or at(today() - timedelta(days=20))
    if deadline is None and state not in ("draft", "cancelled"):
        deadline = today() + timedelta(days=10)
    return RectificationTicket(
        number=f"ZG-T-{next(_numbers):06d}",
        town=town,
        description="河道岸边堆放生活垃圾",
        state=state,
        source_kind=source,
        created_at=created,
        closed_at=closed,
        deadline=deadline,
    )


def store(*tickets) -> list[RectificationTicket]:
    return RectificationTicket.objects.bulk_create(tickets)


def overdue(town, days=3, **fields):
    return ticket(town, "assigned", deadline=today() - timedelta(days=days), **fields)


def closed_after(town, days: float, *, closed_on=None):
    """A ticket closed `days` after it was opened, closed on `closed_on` (default: 2 days ago)."""
    closed = at(closed_on or today() - timedelta(days=2))
    return ticket(town, "closed", created=closed - timedelta(days=days), closed=closed)


def toilet(village, kind="pumping", state="reported"):
    household = make_household(village)
    return ToiletTicket(
        number=f"GH-T-{next(_numbers):06d}",
        town_id=village.town_id,
        village=village,
        household=household,
        description="化粪池满",
        kind=kind,
        channel="phone",
        state=state,
        sla_due_at=timezone.now() + timedelta(days=2),
    )


def published_round(campaign, number=1, mode="acceptance") -> Round:
    return Round.objects.create(
        campaign=campaign,
        number=number,
        mode=mode,
        starts_on=date(2024, number, 1),
        ends_on=date(2024, number, 20),
        state="published",
        template=campaign.template,
        published_at=timezone.now() - timedelta(days=30 - number),
    )


def grade(round, inspector, scores: dict) -> list[Assessment]:
    policy = GradingPolicy.current("370828000000")
    return Assessment.objects.bulk_create(
        Assessment(
            round=round,
            village=village,
            inspector=inspector,
            state="published",
            score=Decimal(score),
            grade=grade_of(score=Decimal(score), veto=False, policy=policy),
            graded_by=policy.bands(),
        )
        for village, score in scores.items()
    )


def villages_of(town, n):
    return list(town.villages.administrative().order_by("code")[:n])


def get(client, user, name="dashboard", **params):
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client.get(reverse(name), params)


def town_stats(response, code) -> selectors.TownStats:
    return next(t for t in response.context["data"].towns if t.town.code == code)


def counts(buckets) -> dict[str, int]:
    return {b.key: b.count for b in buckets if b.count}


@pytest.fixture
def data(huji, jishu, huji_village, jishu_village):
    """胡集镇: 2 overdue, 1 running, 1 submitted, 1 draft (from an assessment), 1 closed;
    鸡黍镇: 1 overdue, 1 closed, 1 cancelled. Toilet: 2 in 胡集镇, 1 in 鸡黍镇."""
    store(
        overdue(huji),
        overdue(huji, days=30),
        ticket(huji),
        ticket(huji, "submitted"),
        ticket(huji, "draft", source="assessment"),
        closed_after(huji, 4),
        overdue(jishu, source="report"),
        closed_after(jishu, 6),
        ticket(jishu, "cancelled", source="report"),
    )
    ToiletTicket.objects.bulk_create(
        [
            toilet(huji_village),
            toilet(huji_village, "repair", "done"),
            toilet(jishu_village, "unblocking", "dispatched"),
        ]
    )


# --- numbers ----------------------------------------------------------------------------------


def test_counts_match_the_data(client, task_force, data, huji, jishu):
    response = get(client, task_force)
    assert response.status_code == 200
    board = response.context["data"]
    assert board.rect_total == 9 == RectificationTicket.objects.count()
    assert counts(board.rect_by_state) == {
        "assigned": 4,
        "submitted": 1,
        "draft": 1,
        "closed": 2,
        "cancelled": 1,
    }
    assert counts(board.rect_by_source) == {"patrol": 6, "assessment": 1, "report": 2}
    assert counts(board.toilet_by_state) == {"reported": 1, "done": 1, "dispatched": 1}
    assert counts(board.toilet_by_kind) == {"pumping": 1, "repair": 1, "unblocking": 1}
    assert board.overdue == 3 == RectificationTicket.objects.overdue(as_of=today()).count()
    hj, js = town_stats(response, huji.code), town_stats(response, jishu.code)
    assert (hj.overdue, js.overdue) == (2, 1)
    assert (hj.open, js.open) == (5, 1)
    # Closure: 胡集镇 1 closed of 6 counted; 鸡黍镇 1 of 2 (the cancelled one counts in neither).
    assert hj.closure_rate == pytest.approx(1 / 6)
    assert js.closure_rate == pytest.approx(1 / 2)
    assert board.closure_rate == pytest.approx(2 / 8)
    assert hj.median_days == pytest.approx(4, abs=MEDIAN_TOLERANCE)
    assert js.median_days == pytest.approx(6, abs=MEDIAN_TOLERANCE)
    assert len(board.towns) == 13  # every town of the county, zeros included


def test_the_trend_counts_opened_and_closed_by_month(client, task_force, huji):
    months = selectors.window_months(today())
    first, last = months[0], months[-1]
    store(
        ticket(huji, created=at(first, 1)),  # 01:00 Beijing on the 1st: still that month
        ticket(huji, created=at(first - timedelta(days=1))),  # before the 12 months
        ticket(huji, "closed", created=at(first), closed=at(last)),
        ticket(huji, "closed", created=at(last), closed=at(last)),
    )
    board = get(client, task_force).context["data"]
    assert [p.month for p in board.trend] == months
    assert (board.trend[0].opened, board.trend[0].closed) == (2, 0)
    assert (board.trend[-1].opened, board.trend[-1].closed) == (1, 2)
    assert sum(p.opened for p in board.trend) == 3


# --- the median -------------------------------------------------------------------------------
# To the minute (the middle minute's midpoint): whole days, give or take half a minute.


def test_median_of_an_odd_count(huji, jishu):
    store(*(closed_after(huji, d) for d in (10, 1, 2)), closed_after(jishu, 5))
    medians = selectors.median_days_by_town(selectors.COUNTY, selectors.window_months(today()))
    assert medians[huji.code] == (pytest.approx(2, abs=MEDIAN_TOLERANCE), 3)
    assert medians[jishu.code] == (pytest.approx(5, abs=MEDIAN_TOLERANCE), 1)


def test_median_of_an_even_count(huji):
    store(*(closed_after(huji, d) for d in (10, 1, 4, 3)))
    medians = selectors.median_days_by_town(selectors.COUNTY, selectors.window_months(today()))
    assert medians[huji.code] == (pytest.approx(3.5, abs=MEDIAN_TOLERANCE), 4)
    assert selectors.median([10, 1, 4, 3]) == 3.5
    assert selectors.median([10, 1, 4]) == 4


def test_median_counts_only_tickets_closed_in_the_12_months(huji):
    long_ago = selectors.window_months(today())[0] - timedelta(days=5)
    store(closed_after(huji, 2), closed_after(huji, 100, closed_on=long_ago))
    medians = selectors.median_days_by_town(selectors.COUNTY, selectors.window_months(today()))
    assert medians[huji.code] == (pytest.approx(2, abs=MEDIAN_TOLERANCE), 1)


# --- coverage and grades ----------------------------------------------------------------------


def test_this_months_coverage(client, task_force, huji, jishu, huji_village, inspector):
    long_ago = timezone.make_aware(datetime(2023, 1, 1))
    patrolled = make_site(huji, huji_village, state="maintained", created_at=long_ago)
    make_site(huji, huji_village, state="maintained", created_at=long_ago)
    make_site(jishu, state="maintained", created_at=long_ago)
    make_patrol(patrolled, inspector, on=today())
    response = get(client, task_force)
    assert town_stats(response, huji.code).sites_done == 1
    assert town_stats(response, huji.code).sites_listed == 2
    coverage = response.context["coverage"]
    assert (coverage["done"], coverage["listed"]) == (1, 3)
    assert coverage["url"] == reverse("site_coverage")
    html = response.content.decode()
    assert f'href="{reverse("site_coverage")}?town={huji.code}"' in html
    # The same totals as the coverage page itself.
    page = get(client, task_force, "site_coverage").context["coverage"].county
    assert (page.done, page.listed) == (1, 3)


def test_grades_of_the_latest_published_round(client, task_force, campaign, inspector, huji, jishu):
    old = published_round(campaign, 1, mode="sweep")
    grade(old, inspector, {v: 50 for v in villages_of(huji, 3)})
    latest = published_round(campaign, 2, mode="sweep")
    hj = villages_of(huji, 3)
    grade(latest, inspector, {hj[0]: 95, hj[1]: 85, hj[2]: 70, villages_of(jishu, 1)[0]: 50})
    response = get(client, task_force)
    grades = response.context["grades"]
    assert grades["round"] == latest
    assert response.context["data"].grade_county.counts == {"A": 1, "B": 1, "C": 1, "weak": 1}
    html = response.content.decode()
    url = reverse("round_grades", args=[latest.pk])
    assert f'href="{url}?town={huji.code}&amp;grade=A"' in html
    assert f'href="{url}?grade=weak"' in html
    # The link leads to the same numbers.
    graded = client.get(url, {"town": huji.code, "grade": "A"})
    assert [r.village_code for r in graded.context["results"].shown] == [hj[0].code]


# --- links ------------------------------------------------------------------------------------


def listed(client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.context["page"].paginator.count


def test_numbers_link_to_the_lists_behind_them(client, task_force, data, huji):
    response = get(client, task_force)
    html = response.content.decode()
    board = response.context["data"]
    hj = town_stats(response, huji.code)
    overdue_url = tickets_url(town_id=huji.code, overdue="true")
    assert f'href="{overdue_url.replace("&", "&amp;")}"' in html
    assert listed(client, overdue_url) == hj.overdue == 2
    for bucket in board.rect_by_state:
        url = tickets_url(state=bucket.key)
        assert f'href="{url}"' in html
        assert listed(client, url) == bucket.count, bucket.key
    for bucket in board.rect_by_source:
        assert listed(client, tickets_url(state=all_states(), source_kind=bucket.key)) == (
            bucket.count
        )
    open_url = response.context["towns"][0].open_url
    assert listed(client, open_url) == board.towns[0].open
    assert listed(client, response.context["links"]["all"]) == board.rect_total
    assert listed(client, response.context["links"]["overdue"]) == board.overdue
    for bucket in board.toilet_by_state:
        url = reverse("toilet_list") + f"?state={bucket.key}"
        assert f'href="{url}"' in html
        assert listed(client, url) == bucket.count


# --- scope ------------------------------------------------------------------------------------


def test_a_town_officer_sees_his_town_only(client, hj_officer, data, huji):
    response = get(client, hj_officer)
    assert response.status_code == 200
    board = response.context["data"]
    assert [t.town.code for t in board.towns] == [huji.code]
    assert board.rect_total == 6
    assert board.overdue == 2
    assert counts(board.rect_by_source) == {"patrol": 5, "assessment": 1}
    assert counts(board.toilet_by_kind) == {"pumping": 1, "repair": 1}
    assert "鸡黍镇" not in response.content.decode()


def test_another_officer_sees_none_of_hujis_numbers(client, other_officer, data, jishu):
    board = get(client, other_officer).context["data"]
    assert [t.town.code for t in board.towns] == [jishu.code]
    assert (board.rect_total, board.overdue) == (3, 1)


@pytest.mark.parametrize("name", ["dashboard", "town_rankings", "town_rankings_xlsx"])
def test_others_are_refused(client, nobody, inspector, name):
    assert get(client, nobody, name).status_code == 403
    assert get(client, inspector, name).status_code == 403


def test_anonymous_users_log_in_first(client, divisions):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


# --- query count ------------------------------------------------------------------------------


def fill(n: int, *, huji, jishu, inspector, round):
    towns = [huji, jishu]
    store(*(ticket(towns[i % 2], "closed", closed=timezone.now()) for i in range(n)))
    store(*(overdue(towns[i % 2]) for i in range(n)))
    villages = villages_of(huji, n // 2) + villages_of(jishu, n - n // 2)
    ToiletTicket.objects.bulk_create(toilet(v) for v in villages)
    for village in villages:
        site = make_site(village.town, village, state="maintained")
        make_patrol(site, inspector, on=today())
    grade(round, inspector, {v: 60 + i for i, v in enumerate(villages)})


@pytest.mark.parametrize("who", ["task_force", "hj_officer"])
@pytest.mark.parametrize("name", ["dashboard", "town_rankings"])
def test_the_query_count_does_not_grow(
    request, client, huji, jishu, inspector, campaign, name, who
):
    round = published_round(campaign)
    GradingPolicy.current("370828000000")
    client.force_login(request.getfixturevalue(who))
    url = reverse(name)
    fill(3, huji=huji, jishu=jishu, inspector=inspector, round=round)
    client.get(url)  # session, caches
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    Assessment.objects.all().delete()
    fill(30, huji=huji, jishu=jishu, inspector=inspector, round=round)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
    assert len(few) <= 16
    if name == "dashboard" and who == "task_force":
        assert response.context["data"].rect_total == 66


# --- rankings ---------------------------------------------------------------------------------


@pytest.fixture
def ranked(huji, jishu, campaign, inspector, divisions):
    """胡集镇: all closed, no overdue, grades all A → first. 鸡黍镇: 3 overdue, nothing closed,
    grades all weak → last. Every other town: 1 closed, 1 overdue, one village graded B."""
    store(*(closed_after(huji, 3) for _ in range(3)))
    store(*(overdue(jishu) for _ in range(3)))
    others = Town.objects.exclude(code__in=[huji.code, jishu.code])
    store(*(t for town in others for t in (closed_after(town, 5), overdue(town))))
    sweep = published_round(campaign, 2, mode="sweep")  # later, but not an acceptance round
    acceptance = published_round(campaign, 1, mode="acceptance")
    grade(acceptance, inspector, {villages_of(town, 1)[0]: 85 for town in others})
    grade(acceptance, inspector, {v: 95 for v in villages_of(huji, 2)})
    grade(acceptance, inspector, {v: 40 for v in villages_of(jishu, 2)})
    grade(sweep, inspector, {v: 40 for v in villages_of(huji, 2)})
    return acceptance


def test_towns_are_ranked_in_the_combined_order(client, task_force, ranked, huji, jishu):
    response = get(client, task_force, "town_rankings")
    assert response.status_code == 200
    rankings = response.context["rankings"]
    assert rankings.round == ranked  # the acceptance round, though the sweep is later
    rows = rankings.rows
    assert len(rows) == 13
    first, last = rows[0], rows[-1]
    assert first.stats.town.code == huji.code
    assert (first.closure_rank, first.overdue_rank, first.grade_rank) == (1, 1, 1)
    assert last.stats.town.code == jishu.code
    assert last.stats.overdue == 3 and last.stats.good_share == 0
    assert [r.position for r in rows] == list(range(1, 14))
    assert [r.rank_sum for r in rows] == sorted(r.rank_sum for r in rows)
    html = response.content.decode()
    assert f'data-red="{huji.code}"' in html
    assert f'data-black="{jishu.code}"' in html
    assert "sum of their three ranks" in html
    overdue_url = tickets_url(town_id=jishu.code, overdue="true").replace("&", "&amp;")
    assert f'href="{overdue_url}"' in html


def test_ranks_share_equal_values_and_missing_data_ranks_last(huji, jishu, divisions):
    towns = {t.code: selectors.TownStats(t) for t in Town.objects.all()}
    towns[huji.code].window_closed = 1
    towns[jishu.code].window_closed = 1
    rows = {r.stats.town.code: r for r in selectors.rank_towns(list(towns.values()))}
    assert rows[huji.code].closure_rank == rows[jishu.code].closure_rank == 1
    others = [r for code, r in rows.items() if code not in (huji.code, jishu.code)]
    assert {r.closure_rank for r in others} == {13}  # no data: the last place
    assert {r.overdue_rank for r in rows.values()} == {1}


def test_a_town_officer_sees_his_row_and_place(client, hj_officer, ranked, huji):
    response = get(client, hj_officer, "town_rankings")
    lines = response.context["rows"]
    assert [line.row.stats.town.code for line in lines] == [huji.code]
    assert lines[0].row.position == 1
    assert "鸡黍镇" not in response.content.decode()


def test_the_rankings_export(client, task_force, ranked, huji, jishu):
    response = get(client, task_force, "town_rankings_xlsx")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    title, *rows = book.worksheets[0].iter_rows(values_only=True)  # rows[0]: the header
    assert title[0].startswith("Town rankings — filter: All — exported at ")
    assert rows[0][:3] == ("Place", "Town", "Closure rate (%)")
    assert len(rows) == 14
    assert rows[1][:3] == (1, huji.name, 100.0)
    assert rows[-1][1] == jishu.name
    assert rows[-1][4] == 3  # overdue


def test_the_export_of_a_town_officer_has_his_row_only(client, hj_officer, ranked, huji):
    response = get(client, hj_officer, "town_rankings_xlsx")
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert [row[1] for row in rows[2:]] == [huji.name]  # below the title and the header


def test_the_page_draws_its_charts_inline(client, task_force, data):
    html = get(client, task_force).content.decode()
    assert html.count("<svg") >= 8
    # No chart script: the only scripts are the field queue's, on every page of a user who
    # may record work in the field (the task force may patrol too), and the tables' cards.
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert html.count("<script") == len(scripts)
    assert {s.rsplit("/", 1)[1] for s in scripts} == {
        "field_store.js",
        "photo_shrink.js",
        "field_queue.js",
        "photo_buttons.js",
        "table_cards.js",
    }
    assert 'class="trend-chart"' in html
