"""City bulletins (市级通报, issue 20 §2): 济宁市's supervisor names tickets of 金乡县 and 嘉祥县 in
his city's numbered series; issuing writes an event on each named ticket (the city's only write
into a county) and a receipt per named county; the named counties' task forces and the
tickets' towns read it, nobody else; the follow-up reads the tickets live.

The worlds are tests/test_city.py's (`cities`: 金乡县 with the scope matrix's objects, 嘉祥县's
TEST DATA town, 三台县 of 绵阳市); each test runs in a savepoint rolled back after it.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.errors import ApplicationError, Conflict, Forbidden, NotFound
from tests.factories import make_user
from tests.test_city import MIANYANG, cities  # noqa: F401 (the module fixture)
from villages.models import City, Membership, Role
from workflows.bulletins import city_services as svc
from workflows.bulletins.services import IssueTerms
from workflows.models import (
    CityBulletin,
    RectificationState,
    RectificationTicket,
    TicketCounter,
    TicketEvent,
)
from workflows.tickets import services as tickets

pytestmark = pytest.mark.django_db


def _mianyang_supervisor():
    city, _ = City.objects.get_or_create(code=MIANYANG, defaults={"name": "绵阳市"})
    user = make_user("mianyang_city")
    Membership.objects.create(user=user, role=Role.CITY_SUPERVISOR, city=city)
    return user


def _issued(by, ticket_list, *, title="关于农村人居环境问题的市级通报", **fields) -> CityBulletin:
    bulletin = svc.city_bulletin_create(by=by, title=title, **fields)
    svc.city_bulletin_items_set(bulletin=bulletin, by=by, tickets=ticket_list)
    return svc.city_bulletin_issue(bulletin=bulletin, by=by)


def _named(cities):  # noqa: F811
    """One assigned ticket of each county of 济宁市: 金乡县's 胡集镇, 嘉祥县's 测试镇."""
    return [cities.jinxiang.ticket["huji"], cities.jiaxiang.ticket["huji"]]


# --- numbering ----------------------------------------------------------------------------------


def test_each_city_numbers_its_own_series_per_year(cities):  # noqa: F811
    jining, mianyang = cities.supervisor, _mianyang_supervisor()
    counter = TicketCounter.objects.filter(prefix=svc.COUNTER, county="370800000000")
    taken = counter.values_list("value", flat=True).first() or 0  # the matrix world's issues
    first = _issued(jining, [cities.jinxiang.ticket["jishu"]])
    santai = _issued(mianyang, [cities.santai.ticket["huji"]])
    second = _issued(jining, [cities.jiaxiang.ticket["huji"]])
    assert (first.batch, second.batch) == (taken + 1, taken + 2)
    assert santai.batch == 1  # 绵阳市's series starts at 第1批
    assert santai.snapshot["number"] == f"{santai.year}年第1批"
    assert santai.snapshot["issuer"] == "绵阳市农村人居环境整治工作专班"
    # Next year 济宁市 starts again at 第1批; a county's bulletins keep their own counter.
    next_year = _issued(jining, [cities.jinxiang.ticket["huji"]], year=first.year + 1)
    assert next_year.batch == 1
    assert not TicketCounter.objects.filter(prefix="TB", county="370800000000").exists()


def test_a_refused_issue_takes_no_number_and_writes_nothing(cities):  # noqa: F811
    jining = cities.supervisor
    bulletin = svc.city_bulletin_create(by=jining, title="市级通报")
    svc.city_bulletin_items_set(bulletin=bulletin, by=jining, tickets=_named(cities))
    terms = svc.city_bulletin_issue_terms(bulletin)
    events = TicketEvent.objects.count()
    wrong = IssueTerms(year=terms.year, batch=terms.batch, count=terms.count + 1)
    with pytest.raises(Conflict):
        svc.city_bulletin_issue(bulletin=bulletin, by=jining, confirmed=wrong)
    assert svc.city_bulletin_issue_terms(bulletin) == terms  # the number went back
    assert TicketEvent.objects.count() == events
    bulletin.refresh_from_db()
    assert (bulletin.state, bulletin.batch, bulletin.receipts.count()) == ("draft", None, 0)
    issued = svc.city_bulletin_issue(bulletin=bulletin, by=jining, confirmed=terms)
    assert issued.batch == terms.batch


# --- what may be named --------------------------------------------------------------------------


def test_a_ticket_of_another_city_is_refused(client, cities):  # noqa: F811
    jining = cities.supervisor
    bulletin = svc.city_bulletin_create(by=jining, title="市级通报")
    santai = cities.santai.ticket["huji"]
    # The page: 三台县's ticket is not his to see (400, said, nothing saved).
    client.force_login(jining)
    url = reverse("city_bulletin_compose", args=[bulletin.pk])
    response = client.post(url, {"add": [santai.pk], "op": "add"})
    assert response.status_code == 400
    assert "未知整改单，或不在您的辖区内。" in response.content.decode()
    assert bulletin.items.count() == 0
    # The service, even for a superuser who sees every ticket: its own city's only.
    root = make_user("root", is_superuser=True, is_staff=True)
    with pytest.raises(ApplicationError, match=santai.number):
        svc.city_bulletin_items_set(bulletin=bulletin, by=root, tickets=[santai])
    assert bulletin.items.count() == 0


def test_drafts_closed_and_cancelled_tickets_are_refused(cities):  # noqa: F811
    jining = cities.supervisor
    bulletin = svc.city_bulletin_create(by=jining, title="市级通报")
    draft = tickets.rectification_create(
        by=cities.jinxiang.users["inspector"],
        town=cities.jinxiang.town["huji"],
        description="新发现",
    )
    with pytest.raises(ApplicationError, match=draft.number):
        svc.city_bulletin_items_set(bulletin=bulletin, by=jining, tickets=[draft])
    # A ticket closed between composing and issuing refuses the issue (409), nothing issued.
    ticket = cities.jinxiang.ticket["huji"]
    svc.city_bulletin_items_set(bulletin=bulletin, by=jining, tickets=[ticket])
    RectificationTicket.objects.filter(pk=ticket.pk).update(state=RectificationState.CLOSED)
    with pytest.raises(Conflict, match=ticket.number):
        svc.city_bulletin_issue(bulletin=bulletin, by=jining)
    bulletin.refresh_from_db()
    assert bulletin.state == "draft"


def test_a_county_task_force_cannot_compose_a_city_bulletin(client, cities):  # noqa: F811
    task_force = cities.jinxiang.users["task_force"]
    with pytest.raises(Forbidden):
        svc.city_bulletin_create(by=task_force, title="市级通报")
    client.force_login(task_force)
    assert client.get(reverse("city_bulletin_new")).status_code == 403
    response = client.post(reverse("city_bulletin_new"), {"title": "市级通报"})
    assert response.status_code == 403
    # Another city's supervisor: 济宁市's draft is not found.
    draft = svc.city_bulletin_create(by=cities.supervisor, title="市级通报")
    with pytest.raises(NotFound):
        svc.city_bulletin_items_set(bulletin=draft, by=_mianyang_supervisor(), tickets=[])


# --- issuing ------------------------------------------------------------------------------------


def test_issuing_notes_it_on_each_ticket_and_changes_nothing_else(client, cities):  # noqa: F811
    named = _named(cities)
    before = {
        t.pk: (t.state, t.deadline)
        for t in RectificationTicket.objects.filter(pk__in=[t.pk for t in named])
    }
    client.force_login(cities.supervisor)
    response = client.post(
        reverse("city_bulletin_new"),
        {"title": "关于部分县农村人居环境问题的市级通报", "intro": "现将督导发现的问题通报如下。"},
    )
    assert response.status_code == 303
    bulletin = CityBulletin.objects.latest("pk")
    assert bulletin.issuer == "济宁市农村人居环境整治工作专班"  # the default
    compose = reverse("city_bulletin_compose", args=[bulletin.pk])
    # The compose page: the city's links, each candidate's county before its town, its deadline.
    page = client.get(compose).content.decode()
    assert "编排市级通报" in page and reverse("city_bulletin_detail", args=[bulletin.pk]) in page
    assert f'action="{compose}"' in page and "金乡县 · 胡集镇" in page and "嘉祥县 · " in page
    body = {"add": [t.pk for t in named], "op": "add", f"wording_{named[0].pk}": "河道垃圾未清"}
    assert client.post(compose, body).status_code == 303
    chosen = client.get(compose).content.decode()
    assert chosen.count("金乡县 · 胡集镇") >= 1 and 'name="wording_' in chosen
    terms = svc.city_bulletin_issue_terms(bulletin)
    issue = reverse("city_bulletin_issue", args=[bulletin.pk])
    assert client.post(issue).status_code == 400  # no confirmation: nothing issued
    assert client.post(issue, {"confirm": terms.token}).status_code == 303
    bulletin.refresh_from_db()
    number = f"{bulletin.year}年第{bulletin.batch}批"
    assert (bulletin.state, bulletin.snapshot["number"]) == ("issued", number)
    assert [i["county"] for i in bulletin.snapshot["items"]] == ["金乡县", "嘉祥县"]
    for ticket in named:
        event = TicketEvent.objects.filter(rectification=ticket).latest("pk")
        assert event.action == "city_bulletin"
        assert number in event.note and event.actor == cities.supervisor
        assert event.data["city_bulletin"] == bulletin.pk
        ticket.refresh_from_db()
        assert (ticket.state, ticket.deadline) == before[ticket.pk]
        assert event.from_state == event.to_state == ticket.state
    assert sorted(bulletin.receipts.values_list("county_id", flat=True)) == [
        "370828000000",
        "370829000000",
    ]
    # The ticket's history shows it, labelled.
    client.force_login(cities.jinxiang.users["task_force"])
    page = client.get(reverse("ticket_detail", args=[named[0].number])).content.decode()
    assert "列入市级通报" in page and number in page


# --- who reads it -------------------------------------------------------------------------------


def test_the_named_counties_read_it_nobody_else(client, cities):  # noqa: F811
    jinxiang_ticket = cities.jinxiang.ticket["huji"]
    bulletin = _issued(cities.supervisor, [jinxiang_ticket])  # names 金乡县's 胡集镇 only
    detail = reverse("city_bulletin_detail", args=[bulletin.pk])
    readers = [cities.jinxiang.users["task_force"], cities.jinxiang.users["hj_officer"]]
    readers.append(cities.supervisor)
    for user in readers:
        client.force_login(user)
        assert client.get(detail).status_code == 200, user
        assert detail in client.get(reverse("city_bulletin_list")).content.decode(), user
    others = [
        cities.jiaxiang.users["jiaxiang_tf"],  # 嘉祥县: a county of the city, not named
        cities.jinxiang.users["inspector"],
        _mianyang_supervisor(),  # another city's supervisor
        cities.santai.users["santai_tf"],
    ]
    for user in others:
        client.force_login(user)
        assert client.get(detail).status_code == 404, user
        assert detail not in client.get(reverse("city_bulletin_list")).content.decode(), user
    # A draft is the city's only.
    draft = svc.city_bulletin_create(by=cities.supervisor, title="草稿")
    svc.city_bulletin_items_set(bulletin=draft, by=cities.supervisor, tickets=[jinxiang_ticket])
    client.force_login(cities.jinxiang.users["task_force"])
    assert client.get(reverse("city_bulletin_detail", args=[draft.pk])).status_code == 404


def test_a_named_county_acknowledges_its_receipt(client, cities):  # noqa: F811
    bulletin = _issued(cities.supervisor, _named(cities))
    task_force = cities.jinxiang.users["task_force"]
    client.force_login(task_force)
    detail = client.get(reverse("city_bulletin_detail", args=[bulletin.pk])).content.decode()
    assert "本县确认收到" in detail
    url = reverse("city_bulletin_acknowledge", args=[bulletin.pk])
    assert client.post(url).status_code == 303
    receipts = dict(bulletin.receipts.values_list("county_id", "acknowledged_by"))
    assert receipts == {"370828000000": task_force.pk, "370829000000": None}
    # The list: the city's name, and the county's own receipt, acknowledged.
    listed = client.get(reverse("city_bulletin_list")).content.decode()
    assert "济宁市" in listed and "金乡县:" in listed and "已确认" in listed
    client.force_login(cities.supervisor)
    listed = client.get(reverse("city_bulletin_list")).content.decode()
    assert "1/2 个县" in listed
    client.force_login(cities.jinxiang.users["hj_officer"])
    assert client.post(url).status_code == 403


# --- following up -------------------------------------------------------------------------------


def _totals(client, bulletin) -> str:
    page = client.get(reverse("city_bulletin_detail", args=[bulletin.pk])).content.decode()
    return " ".join(re.search(r"<p data-totals>(.*?)</p>", page, re.S)[1].split())


def test_the_follow_up_reads_the_tickets_live(client, cities):  # noqa: F811
    named = _named(cities)
    bulletin = _issued(cities.supervisor, named)
    jiaxiang = named[1]
    RectificationTicket.objects.filter(pk=jiaxiang.pk).update(
        deadline=timezone.localdate() - timedelta(days=3)
    )
    follow_up = svc.city_bulletin_follow_up(bulletin=bulletin, user=cities.supervisor)
    assert (follow_up.totals["closed"], follow_up.totals["overdue"]) == (0, 1)
    client.force_login(cities.supervisor)
    before = _totals(client, bulletin)
    # 嘉祥县 closes its ticket: the city's page follows.
    RectificationTicket.objects.filter(pk=jiaxiang.pk).update(
        state=RectificationState.CLOSED, closed_at=timezone.now()
    )
    follow_up = svc.city_bulletin_follow_up(bulletin=bulletin, user=cities.supervisor)
    assert (follow_up.totals["closed"], follow_up.totals["overdue"]) == (1, 0)
    assert [(r.county.code, r.closed) for r in follow_up.counties] == [
        ("370828000000", 0),
        ("370829000000", 1),
    ]
    assert _totals(client, bulletin) != before
    # The frozen text does not change; 金乡县's task force follows its own county's item only.
    assert CityBulletin.objects.get(pk=bulletin.pk).snapshot == bulletin.snapshot
    mine = svc.city_bulletin_follow_up(bulletin=bulletin, user=cities.jinxiang.users["task_force"])
    assert [item.ticket.pk for item in mine.items] == [named[0].pk]


def test_the_list_costs_the_same_for_more_bulletins(client, cities):  # noqa: F811
    url = reverse("city_bulletin_list")

    def queries(user) -> int:
        client.force_login(user)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    task_force = cities.jinxiang.users["task_force"]
    few = (queries(cities.supervisor), queries(task_force))
    for _ in range(3):
        _issued(cities.supervisor, _named(cities))
    assert (queries(cities.supervisor), queries(task_force)) == few


# --- the PDF --------------------------------------------------------------------------------------


def test_the_pdf_prints_the_issued_text_with_the_county_of_each_problem(client, cities):  # noqa: F811
    import pypdfium2 as pdfium

    ticket = cities.jinxiang.ticket["huji"]
    bulletin = _issued(cities.supervisor, _named(cities), issuer="济宁市督导组")
    RectificationTicket.objects.filter(pk=ticket.pk).update(description="改过的描述")
    client.force_login(cities.jinxiang.users["task_force"])
    response = client.get(reverse("city_bulletin_pdf", args=[bulletin.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    document = pdfium.PdfDocument(b"".join(response.streaming_content))
    text = "".join(page.get_textpage().get_text_range() for page in document)
    text = text.replace("\ufffe", "")
    assert "济宁市督导组" in text and bulletin.number_label.split("年")[1] in text
    assert "金乡县胡集镇" in text and "嘉祥县" in text
    assert ticket.description in text and "改过的描述" not in text
    assert ticket.number in text


def test_the_header_badge_counts_the_countys_unacknowledged_city_bulletins(client, cities):  # noqa: F811
    task_force = cities.jinxiang.users["task_force"]
    client.force_login(task_force)

    def badge() -> int:
        page = client.get(reverse("bulletin_list")).content.decode()
        found = re.search(r'data-unacknowledged="(\d+)"', page)
        return int(found[1]) if found else 0

    before = badge()
    client.force_login(cities.jiaxiang.users["jiaxiang_tf"])
    jiaxiang_before = badge()
    bulletin = _issued(cities.supervisor, _named(cities))
    assert badge() == jiaxiang_before + 1  # 嘉祥县 is named too
    client.force_login(task_force)
    assert badge() == before + 1
    client.post(reverse("city_bulletin_acknowledge", args=[bulletin.pk]))
    assert badge() == before
    client.force_login(cities.jiaxiang.users["jiaxiang_tf"])
    assert badge() == jiaxiang_before + 1  # its own receipt is still open
