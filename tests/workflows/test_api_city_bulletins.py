"""The API's city bulletins (workflows/bulletins/city_api.py): what each role may read, as on the
pages (the city supervisor his city's, drafts too; the task force of a named county and the
officers of a named ticket's town the issued ones; nobody else: 404), the document's frozen text
beside its tickets' state now, and the named county's receipt: acknowledged through the page's
service, again harmlessly, refused with the reason to a role that does not acknowledge, nothing
stored on a refusal.

The worlds are tests/test_city.py's (`cities`: 金乡县 and 嘉祥县 of 济宁市, 三台县 of 绵阳市).
County users call with a personal access token and with the browser's session; a city
supervisor, whom no county's task force makes a token for, with his session.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.api_callers import VIAS, body, caller
from tests.test_city import cities  # noqa: F401 (the module fixture)
from tests.workflows.test_city_bulletins import _issued, _mianyang_supervisor
from workflows.bulletins import city_services as svc
from workflows.models import CityBulletinReceipt, RectificationState, RectificationTicket

pytestmark = pytest.mark.django_db


@pytest.fixture(params=VIAS)
def via(request):
    return request.param


@pytest.fixture
def api(via, cities):  # noqa: F811
    """The caller of a user: a token made by his county's task force, or his session."""
    managers = {
        "jinxiang": cities.jinxiang.users["task_force"],
        "jiaxiang": cities.jiaxiang.users["jiaxiang_tf"],
        "santai": cities.santai.users["santai_tf"],
    }

    def call(user, county: str | None = None):
        if county is None:  # the city supervisor: his session
            return caller("session", user, manager=None)
        return caller(via, user, manager=managers[county])

    return call


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in body(response)["results"]}


def _row(response, bulletin) -> dict:
    return next(row for row in body(response)["results"] if row["id"] == bulletin.pk)


@pytest.fixture
def jinxiang_only(cities):  # noqa: F811
    """An issued bulletin naming 金乡县's 胡集镇 ticket only, and a draft naming it too."""
    ticket = cities.jinxiang.ticket["huji"]
    issued = _issued(cities.supervisor, [ticket], title="金乡县问题市级通报")
    draft = svc.city_bulletin_create(by=cities.supervisor, title="市级通报草稿")
    svc.city_bulletin_items_set(bulletin=draft, by=cities.supervisor, tickets=[ticket])
    return issued, draft


# --- who reads what ---------------------------------------------------------------------------


def test_each_role_lists_what_it_may_read(api, cities, jinxiang_only):  # noqa: F811
    issued, draft = jinxiang_only
    mine = {issued.pk, draft.pk}
    supervisor = api(cities.supervisor).get("/city-bulletins")
    assert mine <= _ids(supervisor)
    row = _row(supervisor, issued)
    assert (row["number"], row["city_code"], row["state"]) == (
        issued.number_label,
        "370800000000",
        "issued",
    )
    assert (row["items"], row["closed"], row["receipts"], row["acknowledged"]) == (1, 0, 1, 0)
    assert row["issuer"] == "济宁市农村人居环境整治工作专班" and row["issued_at"]
    assert row["acknowledged_by_my_county"] is None and row["all_closed"] is False
    assert (_row(supervisor, draft)["number"], _row(supervisor, draft)["batch"]) == ("", None)
    # 金乡县's task force and 胡集镇's officer: the issued one, not the draft.
    task_force = api(cities.jinxiang.users["task_force"], "jinxiang").get("/city-bulletins")
    assert issued.pk in _ids(task_force) and draft.pk not in _ids(task_force)
    assert _row(task_force, issued)["acknowledged_by_my_county"] is False
    officer = api(cities.jinxiang.users["hj_officer"], "jinxiang").get("/city-bulletins")
    assert issued.pk in _ids(officer) and draft.pk not in _ids(officer)
    assert _row(officer, issued)["acknowledged_by_my_county"] is None  # not a county's reader
    # 嘉祥县 is not named; 绵阳市's supervisor and 三台县's task force are another city.
    assert not mine & _ids(
        api(cities.jiaxiang.users["jiaxiang_tf"], "jiaxiang").get("/city-bulletins")
    )
    assert not mine & _ids(api(cities.santai.users["santai_tf"], "santai").get("/city-bulletins"))
    assert not mine & _ids(api(_mianyang_supervisor()).get("/city-bulletins"))


def test_the_bulletin_answers_its_readers_and_404_to_everyone_else(api, cities, jinxiang_only):  # noqa: F811
    issued, _draft = jinxiang_only
    path = f"/city-bulletins/{issued.pk}"
    readers = [
        api(cities.supervisor),
        api(cities.jinxiang.users["task_force"], "jinxiang"),
        api(cities.jinxiang.users["hj_officer"], "jinxiang"),
    ]
    for reader in readers:
        response = reader.get(path)
        assert response.status_code == 200
        assert body(response)["title"] == issued.title
    others = [
        api(cities.jiaxiang.users["jiaxiang_tf"], "jiaxiang"),  # a county of the city, unnamed
        api(cities.santai.users["santai_tf"], "santai"),
        api(_mianyang_supervisor()),  # another city's supervisor
    ]
    for other in others:
        for where in (path, "/city-bulletins/999999"):
            response = other.get(where)
            assert response.status_code == 404, where
            assert body(response)["detail"] and issued.title not in response.content.decode()


def test_a_draft_is_the_citys_preview_only(api, cities, jinxiang_only):  # noqa: F811
    _issued_one, draft = jinxiang_only
    ticket = cities.jinxiang.ticket["huji"]
    preview = body(api(cities.supervisor).get(f"/city-bulletins/{draft.pk}"))
    assert (preview["state"], preview["number"], preview["official_number"]) == ("draft", "", "")
    assert (preview["batch"], preview["issued_on"], preview["receipts"]) == (None, None, [])
    [item] = preview["items"]
    assert (item["ticket"], item["county"], item["town"]) == (ticket.number, "金乡县", "胡集镇")
    assert (item["state"], item["follow_up"]) == ("assigned", "in_progress")
    assert preview["counties"] == ["金乡县"] and preview["may_acknowledge"] is False
    for user in ("task_force", "hj_officer"):
        response = api(cities.jinxiang.users[user], "jinxiang").get(f"/city-bulletins/{draft.pk}")
        assert response.status_code == 404, user
    acknowledge = api(cities.jinxiang.users["task_force"], "jinxiang").post(
        f"/city-bulletins/{draft.pk}/acknowledge"
    )
    assert acknowledge.status_code == 404


# --- the document -----------------------------------------------------------------------------


def test_the_issued_text_is_frozen_and_the_state_is_live(api, cities):  # noqa: F811
    jinxiang, jiaxiang = cities.jinxiang.ticket["huji"], cities.jiaxiang.ticket["huji"]
    issued = _issued(cities.supervisor, [jinxiang, jiaxiang], title="两县问题市级通报")
    draft = svc.city_bulletin_create(by=cities.supervisor, title="草稿")
    svc.city_bulletin_items_set(bulletin=draft, by=cities.supervisor, tickets=[jinxiang])
    printed_deadline = jinxiang.deadline.isoformat()
    # After issue 金乡县 moves its ticket's deadline, renames its place and closes it.
    later = jinxiang.deadline + timedelta(days=30)
    RectificationTicket.objects.filter(pk=jinxiang.pk).update(
        deadline=later,
        site_label="改过的位置",
        description="改过的描述",
        state=RectificationState.CLOSED,
        closed_at=timezone.now(),
    )
    city = api(cities.supervisor)
    doc = body(city.get(f"/city-bulletins/{issued.pk}"))
    assert doc["number"] == issued.number_label and doc["official_number"].startswith("〔")
    assert doc["counties"] == ["金乡县", "嘉祥县"] and doc["issued_on"]
    first, second = doc["items"]
    assert (first["ticket"], first["deadline"]) == (jinxiang.number, printed_deadline)
    assert (first["text"], first["site"]) == (jinxiang.description, jinxiang.site_label)
    assert (first["state"], first["follow_up"]) == ("closed", "closed")
    assert (second["county"], second["state"]) == ("嘉祥县", jiaxiang.state)
    assert doc["all_closed"] is False  # 嘉祥县's is open
    # The draft's preview reads the ticket now (its wording stays the item's own).
    [preview] = body(city.get(f"/city-bulletins/{draft.pk}"))["items"]
    assert (preview["deadline"], preview["site"]) == (later.isoformat(), "改过的位置")
    # 金乡县's task force follows its own county's item; 嘉祥县's shows as printed only.
    county = body(
        api(cities.jinxiang.users["task_force"], "jinxiang").get(f"/city-bulletins/{issued.pk}")
    )
    mine, theirs = county["items"]
    assert (mine["state"], mine["follow_up"]) == ("closed", "closed")
    assert (theirs["text"], theirs["state"], theirs["follow_up"]) == (
        jiaxiang.description,
        None,
        None,
    )
    assert county["all_closed"] is True  # every problem it follows
    assert [r["county_code"] for r in county["receipts"]] == ["370828000000", "370829000000"]
    assert county["may_acknowledge"] is True


# --- the receipt ------------------------------------------------------------------------------


def test_a_named_county_acknowledges_once_and_again_changes_nothing(api, cities):  # noqa: F811
    jinxiang, jiaxiang = cities.jinxiang.ticket["huji"], cities.jiaxiang.ticket["huji"]
    issued = _issued(cities.supervisor, [jinxiang, jiaxiang])
    task_force = cities.jinxiang.users["task_force"]
    county = api(task_force, "jinxiang")
    path = f"/city-bulletins/{issued.pk}/acknowledge"
    first = county.post(path)
    assert first.status_code == 200
    [receipt] = body(first)["receipts"]
    assert body(first)["acknowledged"] == 1
    assert (receipt["county_code"], receipt["county_name"]) == ("370828000000", "金乡县")
    assert receipt["acknowledged_at"] and receipt["acknowledged_by"]
    again = county.post(path)
    assert again.status_code == 200
    assert body(again) == {"acknowledged": 0, "receipts": [receipt]}
    stored = dict(issued.receipts.values_list("county_id", "acknowledged_at"))
    assert stored["370828000000"] is not None and stored["370829000000"] is None  # 嘉祥县's own
    row = _row(county.get("/city-bulletins"), issued)
    assert (row["acknowledged_by_my_county"], row["acknowledged"]) == (True, 1)
    detail = body(county.get(f"/city-bulletins/{issued.pk}"))
    assert detail["may_acknowledge"] is False
    assert [r["acknowledged_at"] is not None for r in detail["receipts"]] == [True, False]


def test_a_role_that_does_not_acknowledge_gets_403_and_nothing_changes(api, cities):  # noqa: F811
    issued = _issued(cities.supervisor, [cities.jinxiang.ticket["huji"]])
    path = f"/city-bulletins/{issued.pk}/acknowledge"
    for caller_of in (api(cities.jinxiang.users["hj_officer"], "jinxiang"), api(cities.supervisor)):
        response = caller_of.post(path)
        assert response.status_code == 403
        refusal = body(response)
        assert refusal["detail"] and set(refusal) == {"detail", "errors", "state"}
    unnamed = api(cities.jiaxiang.users["jiaxiang_tf"], "jiaxiang").post(path)
    assert unnamed.status_code == 404
    assert not CityBulletinReceipt.objects.filter(bulletin=issued).exclude(acknowledged_at=None)


# --- the list ---------------------------------------------------------------------------------


def test_the_list_costs_the_same_queries_for_more_bulletins(api, cities):  # noqa: F811
    named = [cities.jinxiang.ticket["huji"], cities.jiaxiang.ticket["huji"]]
    callers = [api(cities.supervisor), api(cities.jinxiang.users["task_force"], "jinxiang")]
    callers.append(api(cities.jinxiang.users["hj_officer"], "jinxiang"))

    def queries(reader) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            response = reader.get("/city-bulletins")
        return len(captured), len(body(response)["results"])

    for reader in callers:  # a token's first call notes its use (once a minute): not the list's
        reader.get("/city-bulletins")
    few = [queries(reader) for reader in callers]
    for _ in range(4):
        _issued(cities.supervisor, named)
    many = [queries(reader) for reader in callers]
    assert [count for count, _rows in many] == [count for count, _rows in few]
    assert [rows for _count, rows in many] == [rows + 4 for _count, rows in few]
    # The caller (his session and account, or the token), his memberships, then the page and,
    # for a supervisor his city's counties, for a county's task force its receipts.
    assert max(count for count, _rows in many) <= 5


def test_bad_input_is_400(api, cities):  # noqa: F811
    reader = api(cities.jinxiang.users["task_force"], "jinxiang")
    for path in ("/city-bulletins?cursor=!!", "/city-bulletins?page_size=x", "/city-bulletins/x"):
        response = reader.get(path)
        assert response.status_code == 400, path
        assert body(response)["detail"]
