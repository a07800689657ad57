"""Monthly patrol coverage: statuses per site and month, totals per town and county, scope,
input checks, and a query count that does not grow with the number of sites.

"Today" is frozen at 2025-06-15 (Asia/Shanghai): June is the current month (not over), May and
earlier are over. Sites are registered long before unless a test says otherwise.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.dates import months_ending
from inspections.models import PatrolMiss
from inspections.reporting import dashboard
from inspections.sites import coverage as selectors
from inspections.sites.coverage import CellStatus
from inspections.sites.misses import missed_patrols_issue
from tests.inspections.conftest import HUJI_SITE, JISHU_SITE, make_patrol, make_site

TODAY = date(2025, 6, 15)
LONG_AGO = timezone.make_aware(datetime(2023, 1, 1))


@pytest.fixture(autouse=True)
def frozen_today(monkeypatch):
    real = timezone.localdate

    def localdate(value=None, timezone=None):
        # Only "today" is frozen; converting a stored time (value given) stays real.
        return TODAY if value is None else real(value, timezone)

    monkeypatch.setattr(timezone, "localdate", localdate)


def site(town, village=None, **fields):
    fields.setdefault("created_at", LONG_AGO)
    fields.setdefault("state", "maintained")
    return make_site(town, village, **fields)


def get(client, user, **params):
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the msgids, whatever the catalogue
    return client.get(reverse("site_coverage"), params)


def cells(response, code: str) -> dict[str, selectors.Cell]:
    """month "YYYY-MM" → cell of the site `code` on the page."""
    for line in response.context["coverage"].page.object_list:
        if line.site.code == code:
            return {f"{cell.month:%Y-%m}": cell for cell in line.cells}
    raise AssertionError(f"{code} not on the page")


# --- statuses ---------------------------------------------------------------------------------


def test_it_shows_done_partial_flagged_missed_and_due(client, task_force, inspector, huji):
    pond = site(huji, patrols_per_month=2)
    make_patrol(pond, inspector, on=date(2025, 5, 3))
    make_patrol(pond, inspector, on=date(2025, 5, 31))  # last day still counts for May
    make_patrol(pond, inspector, on=date(2025, 4, 10))
    make_patrol(pond, inspector, on=date(2025, 4, 12), flagged=True)  # not valid
    make_patrol(pond, inspector, on=date(2025, 3, 1), flagged=True)

    by_month = cells(get(client, task_force), pond.code)

    assert list(by_month)[:1] == ["2024-07"] and len(by_month) == 12
    assert by_month["2025-06"].status == CellStatus.DUE
    assert by_month["2025-05"].status == CellStatus.DONE
    assert by_month["2025-04"].status == CellStatus.PARTIAL
    assert by_month["2025-03"].status == CellStatus.FLAGGED
    assert by_month["2025-02"].status == CellStatus.MISSED
    assert by_month["2025-04"].counts == selectors.Counts(valid=1, flagged=1, problems=0)


def test_the_current_month_is_done_or_partial_as_soon_as_patrolled(
    client, task_force, inspector, huji
):
    once = site(huji)
    twice = site(huji, patrols_per_month=2)
    flagged = site(huji)
    for pond in (once, twice):
        make_patrol(pond, inspector, on=date(2025, 6, 1))
    make_patrol(flagged, inspector, on=date(2025, 6, 2), flagged=True)

    response = get(client, task_force)

    assert cells(response, once.code)["2025-06"].status == CellStatus.DONE
    assert cells(response, twice.code)["2025-06"].status == CellStatus.PARTIAL
    assert cells(response, flagged.code)["2025-06"].status == CellStatus.FLAGGED


def test_a_problem_or_rebound_is_marked_in_its_month(client, task_force, inspector, huji):
    pond = site(huji)
    make_patrol(pond, inspector, on=date(2025, 5, 9), result="problem")
    make_patrol(pond, inspector, on=date(2025, 4, 9), result="rebound", flagged=True)
    make_patrol(pond, inspector, on=date(2025, 3, 9))

    response = get(client, task_force)
    by_month = cells(response, pond.code)

    assert by_month["2025-05"].problem and by_month["2025-05"].status == CellStatus.DONE
    assert by_month["2025-04"].problem and by_month["2025-04"].status == CellStatus.FLAGGED
    assert not by_month["2025-03"].problem
    body = response.content.decode()
    assert body.count('<b class="cov-problem">!</b>') == 2  # the cells, not the legend
    assert 'title="2025-05 patrolled · valid 1/1 · problem reported"' in body
    assert 'title="2025-04 flagged patrols only · valid 0/1 · flagged 1 · problem reported"' in body


def test_cells_say_their_status_in_words_not_only_colour(client, task_force, inspector, huji):
    pond = site(huji)
    make_patrol(pond, inspector, on=date(2025, 5, 9))

    body = get(client, task_force).content.decode()

    assert 'title="2025-05 patrolled · valid 1/1">✓</td>' in body
    assert 'title="2025-04 missed">✗</td>' in body
    assert "✓" in body and "✗" in body  # symbols beside the colours
    for status in CellStatus.LEGEND:  # the legend names every status
        assert f'class="cov cov-{status}" aria-hidden="true">{CellStatus.SYMBOLS[status]}' in body
        assert str(CellStatus.LABELS[status]) in body


def test_patrols_outside_the_twelve_months_are_not_counted(client, task_force, inspector, huji):
    pond = site(huji)
    make_patrol(pond, inspector, on=date(2024, 6, 30))  # 13 months back
    make_patrol(pond, inspector, on=date(2024, 7, 1))

    by_month = cells(get(client, task_force), pond.code)

    assert by_month["2024-07"].status == CellStatus.DONE
    assert sum(cell.counts.valid for cell in by_month.values()) == 1


def test_a_past_month_can_be_chosen(client, task_force, inspector, huji):
    pond = site(huji)
    make_patrol(pond, inspector, on=date(2025, 6, 3))  # after the chosen month: not shown
    make_patrol(pond, inspector, on=date(2025, 1, 3))

    response = get(client, task_force, month="2025-02")
    by_month = cells(response, pond.code)

    assert list(by_month)[-1] == "2025-02" and "2025-06" not in by_month
    assert by_month["2025-02"].status == CellStatus.MISSED  # February is over
    assert by_month["2025-01"].status == CellStatus.DONE
    assert response.context["coverage"].month_over


# --- totals -----------------------------------------------------------------------------------


def test_totals_per_town_and_for_the_county(client, task_force, inspector, huji, jishu):
    done = [site(huji), site(huji)]
    partial = site(huji, patrols_per_month=3)
    missed = site(jishu, position=JISHU_SITE)
    for pond in [*done, partial]:
        make_patrol(pond, inspector, on=date(2025, 5, 20))
    make_patrol(missed, inspector, on=date(2025, 4, 20))  # another month

    response = get(client, task_force, month="2025-05")
    result = response.context["coverage"]

    assert (result.county.listed, result.county.done) == (4, 2)
    assert (result.county.partial, result.county.missed, result.county.due) == (1, 1, 0)
    towns = {row.town.code: row.tally for row in result.towns}
    assert (towns[huji.code].listed, towns[huji.code].done, towns[huji.code].partial) == (3, 2, 1)
    assert (towns[jishu.code].listed, towns[jishu.code].missed) == (1, 1)
    assert len(towns) == 13  # every town of 金乡县 has a row, even without sites
    body = response.content.decode()
    assert "<strong data-total>2/4</strong>" in body
    assert "Patrolled in 2025-05" in body
    assert f"?month=2025-05&amp;town={huji.code}" in body  # the town links to its own view


def test_the_towns_totals_counted_by_the_database_equal_the_pages(
    task_force, hj_officer, inspector, huji, jishu
):
    """coverage.town_tallies (the dashboard's) writes cell_status as SQL: on sites of every
    status — done, partial, flagged, missed or due, not owing yet, delisted — in the current
    month and in past ones, for the county and for a town officer, its totals are the page's."""
    rng = random.Random(7)
    for n in range(40):
        town, position = (huji, HUJI_SITE) if n % 3 else (jishu, JISHU_SITE)
        registered = rng.choice([LONG_AGO, timezone.make_aware(datetime(2025, 5, 10))])
        pond = site(
            town,
            position=position,
            patrols_per_month=rng.choice([1, 2, 3]),
            state=rng.choice(["maintained"] * 5 + ["delisted"]),
            created_at=registered,
        )
        for _patrol in range(rng.randint(0, 4)):
            on = date(2025, rng.choice([4, 5, 6]), rng.randint(1, 15))
            make_patrol(pond, inspector, on=on, flagged=rng.random() < 0.3)

    statuses = set()
    for user in (task_force, hj_officer):
        towns = selectors.coverage_towns(user=user)
        for month in (date(2025, 4, 1), date(2025, 5, 1), date(2025, 6, 1)):
            page = selectors.site_coverage(user=user, month=month, today=TODAY, towns=towns)
            counted = selectors.town_tallies(user=user, month=month, today=TODAY, towns=towns)
            assert counted == page.towns, (user, month)
            statuses |= {
                status
                for line in page.towns
                for status in ("done", "partial", "flagged", "missed", "due")
                if getattr(line.tally, status)
            }
    # Every status was met, so the comparison covered each branch of the CASE.
    assert {"done", "partial", "flagged", "missed", "due"} <= statuses


def test_the_current_month_counts_not_yet_patrolled_sites_as_due(
    client, task_force, inspector, huji
):
    site(huji)
    patrolled = site(huji)
    make_patrol(patrolled, inspector, on=date(2025, 6, 1))

    response = get(client, task_force)
    total = response.context["coverage"].county

    assert (total.listed, total.done, total.due, total.missed) == (2, 1, 1, 0)
    body = response.content.decode()
    assert "Patrolled this month" in body and "<strong data-total>1/2</strong>" in body


def test_a_site_owes_patrols_from_the_first_full_month_after_its_registration(
    client, task_force, huji
):
    # Registered half an hour before May ends: May is not missed, June is the first month due.
    new = site(huji, created_at=timezone.make_aware(datetime(2025, 5, 31, 23, 30)))
    site(huji)

    may = get(client, task_force, month="2025-05")
    june = get(client, task_force)

    assert cells(may, new.code)["2025-05"].status == CellStatus.UNLISTED
    assert cells(may, new.code)["2025-04"].status == CellStatus.UNLISTED
    assert (may.context["coverage"].county.listed, may.context["coverage"].county.missed) == (1, 1)
    assert cells(june, new.code)["2025-06"].status == CellStatus.DUE
    assert (june.context["coverage"].county.listed, june.context["coverage"].county.due) == (2, 2)


def test_patrols_before_registration_still_show(client, task_force, inspector, huji):
    late = site(huji, created_at=timezone.make_aware(datetime(2025, 5, 10)))
    make_patrol(late, inspector, on=date(2025, 3, 2))

    response = get(client, task_force, month="2025-05")
    by_month = cells(response, late.code)

    assert by_month["2025-03"].status == CellStatus.DONE
    assert by_month["2025-04"].status == CellStatus.UNLISTED
    assert by_month["2025-05"].status == CellStatus.UNLISTED  # registered during May
    assert response.context["coverage"].county.listed == 0


def test_registration_month_is_the_local_one(client, task_force, huji):
    # 2025-04-30 17:00 UTC is already 1 May in 金乡: registered in May, first due in June.
    new = site(huji, created_at=datetime(2025, 4, 30, 17, 0, tzinfo=UTC))

    by_month = cells(get(client, task_force), new.code)

    assert by_month["2025-05"].status == CellStatus.UNLISTED
    assert by_month["2025-06"].status == CellStatus.DUE


def test_delisted_sites_are_left_out(client, task_force, inspector, huji):
    kept = site(huji)
    gone = site(huji, state="delisted")
    make_patrol(gone, inspector, on=date(2025, 5, 2))

    response = get(client, task_force, month="2025-05")

    codes = [line.site.code for line in response.context["coverage"].page.object_list]
    assert codes == [kept.code]
    assert response.context["coverage"].county.listed == 1


# --- one rule: the page, the 漏巡 job and the dashboard -----------------------------------------


@override_settings(PATROL_REMINDER_DAY=20)
def test_the_page_the_missed_patrol_job_and_the_dashboard_agree_on_who_owes_a_month(
    client, task_force, huji
):
    """inspections.sites.rules.owes_patrols everywhere: a site registered on 20 May owes nothing in
    May and owes June; a delisted site owes nothing. None of them is patrolled, so every site
    that owes a month is missed (or due) in it. (The rankings have no patrol measure.)"""
    new = site(huji, created_at=timezone.make_aware(datetime(2025, 5, 20, 9, 0)))
    old = site(huji)
    site(huji, state="delisted")
    months = {"2025-05": date(2025, 5, 31), "2025-06": TODAY}

    def on_the_page(month: str) -> set[str]:
        result = get(client, task_force, month=month).context["coverage"]
        owing = {
            line.site.code
            for line in result.page.object_list
            if line.cells[-1].status != CellStatus.UNLISTED
        }
        assert result.county.listed == len(owing)
        return owing

    def on_the_dashboard(month: str) -> int:
        board = dashboard.county_dashboard(
            user=task_force, scope=dashboard.COUNTY, as_of=months[month]
        )
        return board.sites_listed

    # The job: the reminder on the 20th, the misses recorded on the 1st of the next month.
    for as_of in (date(2025, 5, 20), date(2025, 6, 1), date(2025, 6, 20), date(2025, 7, 1)):
        missed_patrols_issue(as_of=as_of)

    def by_the_job(month: str, stage: str) -> set[str]:
        first_day = months[month].replace(day=1)
        misses = PatrolMiss.objects.filter(month=first_day, stage=stage)
        return set(misses.values_list("site__code", flat=True))

    expected = {"2025-05": {old.code}, "2025-06": {old.code, new.code}}
    for month, owing in expected.items():
        assert on_the_page(month) == owing, month
        assert by_the_job(month, PatrolMiss.Stage.REMINDER) == owing, month
        assert by_the_job(month, PatrolMiss.Stage.MISSED) == owing, month
        assert on_the_dashboard(month) == len(owing), month


def test_the_totals_cover_every_site_while_the_matrix_is_paged(
    client, task_force, inspector, huji, monkeypatch
):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    ponds = [site(huji) for _ in range(5)]
    for pond in ponds:
        make_patrol(pond, inspector, on=date(2025, 5, 2))
        make_patrol(pond, inspector, on=date(2025, 4, 2))

    first = get(client, task_force, month="2025-05")
    last = get(client, task_force, month="2025-05", page=3)

    assert [len(line.cells) for line in first.context["coverage"].page.object_list] == [12, 12]
    assert first.context["coverage"].county.done == 5
    (line,) = last.context["coverage"].page.object_list
    assert line.site.code == ponds[-1].code
    # Earlier months are counted for the page's sites too, not only the chosen month.
    assert {c.status for c in line.cells if c.month.month == 4} == {CellStatus.DONE}
    assert "page=2" in first.content.decode() and "month=2025-05" in first.content.decode()


# --- town filter and scope --------------------------------------------------------------------


def test_the_town_filter_shows_one_town(client, task_force, inspector, huji, jishu):
    ours = site(huji)
    theirs = site(jishu, position=JISHU_SITE)

    response = get(client, task_force, town=huji.code)
    result = response.context["coverage"]

    assert [line.site.code for line in result.page.object_list] == [ours.code]
    assert [row.town.code for row in result.towns] == [huji.code]
    assert result.county.listed == 1
    assert theirs.name not in response.content.decode()


def test_a_town_officer_sees_his_town_only(client, hj_officer, other_officer, huji, jishu):
    ours = site(huji)
    theirs = site(jishu, position=JISHU_SITE)

    mine = get(client, hj_officer)
    other = get(client, other_officer)

    assert [line.site.code for line in mine.context["coverage"].page.object_list] == [ours.code]
    assert [row.town.code for row in mine.context["coverage"].towns] == [huji.code]
    assert [line.site.code for line in other.context["coverage"].page.object_list] == [theirs.code]
    body = other.content.decode()
    assert ours.name not in body and huji.name not in body
    assert other.context["coverage"].county.listed == 1


def test_another_towns_filter_is_refused(client, other_officer, huji):
    site(huji)

    response = get(client, other_officer, town=huji.code)

    assert response.status_code == 400
    assert f"Unknown town: {huji.code}." in response.content.decode()
    assert "coverage" not in response.context


def test_an_unknown_town_is_refused(client, task_force):
    response = get(client, task_force, town="999999999999")

    assert response.status_code == 400
    assert "Unknown town: 999999999999." in response.content.decode()


@pytest.mark.parametrize("month", ["2025-13", "2025-00", "2025-6", "June", "1999-12", "2025-05x"])
def test_a_malformed_month_is_refused(client, task_force, month):
    response = get(client, task_force, month=month)

    assert response.status_code == 400
    assert "Give the month as YYYY-MM, for example 2025-06." in response.content.decode()


def test_a_future_month_is_refused(client, task_force):
    response = get(client, task_force, month="2025-07")

    assert response.status_code == 400
    assert "2025-07 has not begun yet" in response.content.decode()


def test_inspectors_see_the_county(client, inspector, huji, jishu):
    site(huji)
    site(jishu, position=JISHU_SITE)

    assert get(client, inspector).context["coverage"].county.listed == 2


def test_a_user_without_a_role_is_refused(client, nobody):
    response = get(client, nobody)

    assert response.status_code == 403


def test_a_village_admin_is_refused(client, village_admin):
    assert get(client, village_admin).status_code == 403


def test_it_needs_login(client, divisions):
    response = client.get(reverse("site_coverage"))

    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_no_sites_says_so(client, task_force):
    response = get(client, task_force)

    assert response.status_code == 200
    assert "No listed water sites in your jurisdiction." in response.content.decode()
    assert "<strong data-total>0/0</strong>" in response.content.decode()


# --- queries ----------------------------------------------------------------------------------


def _sites_with_a_year_of_patrols(n, towns, villages, inspector):
    for i in range(n):
        pond = site(towns[i % 2], villages[i % 2])
        for month in months_ending(TODAY, selectors.MONTHS):
            make_patrol(pond, inspector, on=month.replace(day=5))


def test_the_query_count_does_not_grow_with_sites(
    client,
    task_force,
    inspector,
    huji,
    jishu,
    huji_village,
    jishu_village,
    django_assert_num_queries,
):
    towns, villages = (huji, jishu), (huji_village, jishu_village)
    _sites_with_a_year_of_patrols(3, towns, villages, inspector)
    client.force_login(task_force)
    url = reverse("site_coverage")
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    # session, user, memberships (scope), unread notices, towns, sites, patrols, doubts
    assert len(few) <= 9, [q["sql"] for q in few]

    _sites_with_a_year_of_patrols(27, towns, villages, inspector)
    with django_assert_num_queries(len(few)):
        response = client.get(url)
    assert response.context["coverage"].county.listed == 30
    assert response.context["coverage"].county.done == 30


def test_one_aggregate_query_serves_every_month(task_force, inspector, huji):
    pond = site(huji)
    make_patrol(pond, inspector, on=date(2025, 6, 2))
    make_patrol(pond, inspector, on=date(2024, 7, 2))
    towns = selectors.coverage_towns(user=task_force)

    with CaptureQueriesContext(connection) as queries:
        result = selectors.site_coverage(user=task_force, month=TODAY, today=TODAY, towns=towns)

    assert len(queries) == 2  # the sites, the patrols grouped by (site, month)
    (line,) = result.page.object_list
    assert [c.status for c in line.cells][::11] == [CellStatus.DONE, CellStatus.DONE]
