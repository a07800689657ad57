"""The tickets' text search on the bigram index (workflows/tickets/search.py): what it finds
equals substring search on the same normalised text, for any term of one or more characters;
the index follows every write path (services, bulk and queryset writes, renames, deletes) on
both databases; the list page answers a search with a capped count."""

from __future__ import annotations

import random
from itertools import count

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from villages.models import Town, Village
from workflows.models import RectificationTicket, TicketSearch
from workflows.tickets import selectors
from workflows.tickets.search import bigrams, grams, runs, ticket_search

_numbers = count(1)

DESCRIPTIONS = [
    "河道岸边堆放生活垃圾约两方",
    "黑臭水体，水面有漂浮物",
    "坑塘漂浮物未清理，岸坡杂草丛生",
    "厕所粪污满溢，需抽运",
    "Ｎｏ．３ 排污口 PVC管破损",  # full-width letters and digits
    "柴草乱堆乱放；垃圾桶破损",
    "村东头 2 号坑塘 水面发黑",
    "垃",  # a single character
]


def make(town, village=None, description="河道岸边堆放生活垃圾", site_label="", number=None):
    return RectificationTicket(
        number=number or f"ZG-2024-{next(_numbers):06d}",
        town=town,
        village=village,
        description=description,
        site_label=site_label,
        state="draft",
        source_kind="patrol",
    )


def found(q: str) -> set[str]:
    return set(ticket_search(RectificationTicket.objects.all(), q).values_list("number", flat=True))


def text_of(ticket: RectificationTicket) -> str:
    village = ticket.village.name if ticket.village_id else ""
    return " ".join(
        [ticket.number, ticket.description, ticket.site_label, village, ticket.town.name]
    )


def substring_reference(tickets, q: str) -> set[str]:
    """What substring search finds: every run of the query inside one run of the text."""
    terms = runs(q)
    return {
        t.number
        for t in tickets
        if all(any(term in run for run in runs(text_of(t))) for term in terms)
    }


def test_the_tokens_of_a_text():
    assert grams("河道垃圾") == ["河道", "道垃", "垃圾", "圾"]
    assert grams("ZG-2024-000123") == ["zg", "g", "20", "02", "24", "4", *grams("000123")]
    assert grams("Ｎｏ．３") == ["no", "o", "3"]  # NFKC: full-width → ASCII, lower case
    assert bigrams("，。 !?") == "" and grams("垃") == ["垃"]


@pytest.fixture
def tickets(huji, jishu, huji_village):
    rows = [
        make(huji if i % 2 else jishu, huji_village if i % 2 else None, text, site_label=f"坑塘{i}")
        for i, text in enumerate(DESCRIPTIONS)
    ]
    return RectificationTicket.objects.bulk_create(rows)  # bulk: no save(), the triggers index


@pytest.mark.django_db
def test_search_finds_what_substring_search_finds_for_any_term(tickets):
    texts = [text_of(t) for t in RectificationTicket.objects.select_related("village", "town")]
    terms = {"垃圾", "黑臭", "垃", "圾", "生活垃圾", "活垃", "垃圾桶", "no3", "pvc", "胡集"}
    terms.add("坑塘7")
    rng = random.Random(20261205)
    for _ in range(150):  # random substrings of the tickets' own runs, 1–6 characters
        run = rng.choice([r for text in texts for r in runs(text)])
        start = rng.randrange(len(run))
        terms.add(run[start : start + rng.randint(1, 6)])
    terms |= {"乱放 垃圾", "水面 漂浮", "不存在的词", "qq"}  # several runs; nothing
    everything = list(RectificationTicket.objects.select_related("village", "town"))
    hits = 0
    for term in sorted(terms):
        assert found(term) == substring_reference(everything, term), term
        hits += bool(found(term))
    assert len(found("垃圾")) == 2 and len(found("垃")) == 3 and hits > 80


@pytest.mark.django_db
def test_a_whole_ticket_number_goes_by_the_number_and_a_part_by_the_index(tickets):
    number = tickets[3].number
    assert found(number) == {number} and found(number.lower()) == {number}
    assert found(number[-6:]) == {number}
    assert found("ZG-2024") == {t.number for t in tickets}
    assert found("，。") == set()  # nothing to search for: nothing found, no error


@pytest.mark.django_db
def test_the_index_follows_every_write(tickets, huji, huji_village):
    first = tickets[0]
    RectificationTicket.objects.filter(pk=first.pk).update(description="排水沟淤堵")
    assert first.number in found("淤堵") and first.number not in found("两方")

    one = make(huji, huji_village, "新发现的违建")
    one.save()
    assert found("违建") == {one.number}

    village = Village.objects.get(pk=huji_village.pk)
    village.name = "新名字村民委员会"
    village.save()
    on_village = {t.number for t in RectificationTicket.objects.filter(village=village)}
    assert found("新名字") == on_village and on_village

    Town.objects.filter(pk=huji.pk).update(name="改名镇")
    assert found("改名镇") == {
        t.number for t in RectificationTicket.objects.filter(town_id=huji.pk)
    }

    one.delete()
    assert found("违建") == set()
    assert not TicketSearch.objects.filter(ticket_id=one.pk).exists()
    assert TicketSearch.objects.count() == RectificationTicket.objects.count()


@pytest.mark.django_db
def test_the_database_function_cuts_text_as_python_does():
    samples = [
        *DESCRIPTIONS,
        "",
        "ＡＢＣ１２３　全角",
        "mixed中文and English 2024年",
        "①②③ ㈠ ﹏ ～ —— 《通报》",
        "𠀀扩展B字 㐀扩展A",  # outside and inside the CJK class
        "a",
        "Ünïcödé café",
    ]
    with connection.cursor() as cursor:
        for text in samples:
            cursor.execute("SELECT renju_bigrams(%s)", [text])
            assert cursor.fetchone()[0] == bigrams(text), text


@pytest.mark.django_db
def test_the_list_searches_and_caps_its_count(client, task_force, tickets, monkeypatch):
    client.force_login(task_force)
    monkeypatch.setattr("workflows.tickets.views.SEARCH_COUNT_CAP", 2)
    capped = client.get(reverse("ticket_list"), {"q": "垃"}).content.decode()  # 3 match
    assert "超过2件，请缩小搜索范围" in capped
    monkeypatch.setattr("workflows.tickets.views.SEARCH_COUNT_CAP", 3)
    assert "3件" in client.get(reverse("ticket_list"), {"q": "垃"}).content.decode()

    page = client.get(reverse("ticket_list"), {"q": "垃圾"}).content.decode()
    for number in substring_reference(list(RectificationTicket.objects.all()), "垃圾"):
        assert number in page
    assert tickets[1].number not in page  # 黑臭水体
    response = client.get(reverse("ticket_list"), {"q": "，，"})
    assert response.status_code == 200


@pytest.mark.django_db
def test_the_newest_matches_come_first(client, task_force, tickets):
    client.force_login(task_force)
    page = client.get(reverse("ticket_list"), {"q": "坑塘"}).content.decode()
    numbers = [t.number for t in tickets]
    positions = [page.index(number) for number in numbers]
    assert positions == sorted(positions, reverse=True)  # the last made is shown first
    # A sort chosen on the page still applies.
    page = client.get(reverse("ticket_list"), {"q": "坑塘", "o": "number"}).content.decode()
    positions = [page.index(number) for number in numbers]
    assert positions == sorted(positions)


@pytest.mark.django_db
def test_a_lost_trigger_comes_back_with_a_full_index(tickets):
    from workflows.tickets import search_sql

    # What SQLite does to a table's triggers when a migration rebuilds the table to alter it.
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER workflows_rectificationticket_search_ai")
        else:
            cursor.execute(
                "DROP TRIGGER workflows_rectificationticket_search ON workflows_rectificationticket"
            )
    missed = RectificationTicket.objects.bulk_create([make(tickets[0].town, description="违建")])
    assert found("违建") == set()

    assert search_sql.ensure_installed() is True
    assert found("违建") == {missed[0].number}
    assert found("垃圾") == substring_reference(list(RectificationTicket.objects.all()), "垃圾")
    assert search_sql.ensure_installed() is False  # nothing missing: nothing done


def words_in_towns(town, *, elsewhere: int, here: int, common_here: int):
    """违建 in `elsewhere` tickets of another town and `here` of `town`, 垃圾 in `common_here` of
    `town`'s; `town`'s tickets."""
    other = Town.objects.exclude(pk=town.pk).first()
    RectificationTicket.objects.bulk_create(
        [make(other, description="村口违建未拆除") for _ in range(elsewhere)]
        + [make(town, description="村口违建未拆除") for _ in range(here)]
        + [make(town, description="河道垃圾") for _ in range(common_here)]
    )
    return RectificationTicket.objects.filter(town=town)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL plan choice")
def test_a_word_rare_in_the_list_is_gathered_first_however_common_elsewhere(huji, monkeypatch):
    """Rare is told within the rows searched: a word in many tickets of another town but two
    of this town's is this town's two ids (no walk of the town's list for a page it never
    fills); common in the town too, it stays the index's subquery. Both find the same rows."""
    from workflows.tickets import search

    monkeypatch.setattr(search, "RARE_MATCHES", 3)
    monkeypatch.setattr(search, "RARE_IN_INDEX", 3)  # both words are common in the index
    town = words_in_towns(huji, elsewhere=6, here=2, common_here=5)
    rare = ticket_search(town, "违建")
    assert "workflows_ticketsearch" not in str(rare.query)  # the ids, gathered
    assert rare.count() == 2
    common = ticket_search(town, "垃圾")
    assert "workflows_ticketsearch" in str(common.query)  # the subquery
    assert common.count() == 5


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL plan choice")
def test_a_word_rare_in_the_whole_index_filters_the_list_by_an_array_of_its_matches(
    huji, monkeypatch
):
    """Rare in the whole index (≤ RARE_IN_INDEX matches): one query on the index alone gathers
    them, and the list is filtered by them as one array parameter — exact under any other
    filter, no walk of the list; the page does not apply that array again to its 50 rows."""
    from workflows.tickets import search

    monkeypatch.setattr(search, "RARE_IN_INDEX", 10)
    town = words_in_towns(huji, elsewhere=6, here=3, common_here=12)
    cancelled = town.filter(description="村口违建未拆除").values_list("pk", flat=True)[:2]
    RectificationTicket.objects.filter(pk__in=list(cancelled)).update(state="cancelled")
    rare = ticket_search(town, "违建")
    assert "workflows_ticketsearch" not in str(rare.query) and "ANY" in str(rare.query)
    assert rare.count() == 3
    assert ticket_search(town.exclude(state="cancelled"), "违建").count() == 1
    assert set(rare.values_list("number", flat=True)) == substring_reference(list(town), "违建")
    common = ticket_search(town, "垃圾")  # 12 > 10 in the index: as before
    assert "ANY" not in str(common.query)
    assert common.count() == 12

    with CaptureQueriesContext(connection) as captured:
        page = selectors.paginate(rare.order_by("-id"), 1, per_page=2)
    assert [t.number for t in page] == sorted(
        substring_reference(list(town), "违建"), reverse=True
    )[:2]
    rows = [q["sql"] for q in captured if '"workflows_rectificationticket"."number"' in q["sql"]]
    assert len(rows) == 1 and "ANY" not in rows[0], rows

    # A word the planner estimates surely common is not gathered from the index: the list's
    # own gathering finds the same rows.
    monkeypatch.setattr(search, "COMMON_ESTIMATE", -1)
    with CaptureQueriesContext(connection) as captured:
        estimated = ticket_search(town, "违建")
    assert "ANY" not in str(estimated.query) and estimated.count() == 3
    assert not [q for q in captured if q["sql"].startswith("SELECT ticket_id")], captured


@pytest.mark.django_db
def test_a_search_page_reads_its_rows_by_their_ids_alone(huji):
    """The page's 50 rows are read by primary key with their joins: not through the search
    again (SQLite's MATCH drove that read through every match of the word, a third of a
    million tickets for 垃圾), yet the rows and their order are the search's."""
    town = words_in_towns(huji, elsewhere=2, here=3, common_here=4)
    searched = ticket_search(town, "垃圾")
    with CaptureQueriesContext(connection) as captured:
        page = selectors.paginate(searched, 1, per_page=3)
    expected = sorted(substring_reference(list(town), "垃圾"), reverse=True)[:3]
    assert [t.number for t in page] == expected  # newest match first, as the search orders
    assert [t.town.name for t in page] == [huji.name] * 3  # the joins kept
    rows = [q["sql"] for q in captured if '"workflows_rectificationticket"."number"' in q["sql"]]
    assert len(rows) == 1, rows
    assert "MATCH" not in rows[0] and "workflows_ticketsearch" not in rows[0], rows[0]
