"""The API's bulletins and notices (workflows/bulletins/api.py, workflows/notices/api.py): what
the caller may read, as on their pages (a town the documents addressed to it; the task force
every bulletin, drafts included), the document's items with their tickets' state now, and the
receipt: acknowledged through the page's service, again harmlessly, refused with the reason to a
role that does not acknowledge, nothing stored on a refusal. Each test runs with a personal
access token and with the browser's session."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.api_callers import VIAS, body, caller
from tests.workflows.ladder import ladder  # noqa: F401 (autouse fixture)
from tests.workflows.pages import photo, toilet_in
from workflows.bulletins import services as bulletins
from workflows.models import (
    Bulletin,
    BulletinReceipt,
    NoticeDocument,
    NoticeKind,
    Notification,
    RectificationTicket,
    ToiletTicket,
)
from workflows.notices import services as notices
from workflows.tickets import services as tickets


@pytest.fixture(params=VIAS)
def via(request):
    return request.param


@pytest.fixture
def api(via, task_force):
    return lambda user: caller(via, user, manager=task_force)


def finding(town, village, inspector, text="坑塘漂浮物"):
    return tickets.rectification_create(
        by=inspector,
        town=town,
        village=village,
        description=text,
        site_label="东沟",
        source_kind="patrol",
        before_photos=[photo(inspector)],
    )


def issue(task_force, title, found, deadline):
    bulletin = bulletins.bulletin_create(
        by=task_force, kind="problems", title=title, default_deadline=deadline
    )
    bulletins.bulletin_items_set(bulletin=bulletin, by=task_force, tickets=found)
    return bulletins.bulletin_issue(bulletin=bulletin, by=task_force)


@pytest.fixture
def documents(task_force, inspector, huji, huji_village, jishu, jishu_village, deadline):
    """An issued bulletin to both towns, one to 胡集镇 only, and a draft."""
    both = issue(
        task_force,
        "第一批问题通报",
        [finding(huji, huji_village, inspector), finding(jishu, jishu_village, inspector)],
        deadline,
    )
    huji_only = issue(
        task_force, "胡集镇问题通报", [finding(huji, huji_village, inspector)], deadline
    )
    draft = bulletins.bulletin_create(by=task_force, kind="problems", title="草稿通报")
    return both, huji_only, draft


def titles(response) -> list[str]:
    return [row["title"] for row in body(response)["results"]]


# --- bulletins --------------------------------------------------------------------------------


def test_a_town_lists_the_issued_bulletins_addressed_to_it(
    api, hj_officer, other_officer, task_force, documents
):
    both, huji_only, draft = documents
    response = api(hj_officer).get("/bulletins")
    assert response.status_code == 200
    assert sorted(titles(response)) == sorted([both.title, huji_only.title])
    row = next(r for r in body(response)["results"] if r["id"] == both.pk)
    assert (row["number"], row["items"], row["receipts"]) == (both.number_label, 2, 2)
    assert row["acknowledged_by_my_towns"] is False and row["all_closed"] is False
    assert row["county_code"] == "370828000000"
    assert titles(api(other_officer).get("/bulletins")) == [both.title]
    assert sorted(titles(api(task_force).get("/bulletins"))) == sorted(
        [both.title, huji_only.title, draft.title]
    )


def test_a_role_without_bulletins_lists_none(api, village_admin, documents):
    response = api(village_admin).get("/bulletins")
    assert response.status_code == 200 and body(response)["results"] == []


def test_a_bulletin_prints_every_item_and_the_state_of_the_callers(
    api, hj_officer, documents, huji
):
    both, _huji_only, _draft = documents
    response = api(hj_officer).get(f"/bulletins/{both.pk}")
    assert response.status_code == 200
    doc = body(response)
    assert doc["number"] == both.number_label and doc["official_number"]
    assert [item["town"] for item in doc["items"]] == [huji.name, "鸡黍镇"]
    mine, theirs = doc["items"]
    assert (mine["state"], mine["follow_up"]) == ("assigned", "in_progress")
    assert theirs["state"] is theirs["follow_up"] is None
    assert mine["photos"] and mine["photos"][0]["thumbnail_url"].startswith("http")
    assert [r["town_code"] for r in doc["receipts"]] == sorted([huji.code, "370828104000"])
    assert doc["may_acknowledge"] is True


def test_a_draft_is_the_task_forces_preview(api, task_force, hj_officer, documents):
    _both, _huji_only, draft = documents
    preview = body(api(task_force).get(f"/bulletins/{draft.pk}"))
    assert (preview["state"], preview["number"], preview["items"]) == ("draft", "", [])
    assert api(hj_officer).get(f"/bulletins/{draft.pk}").status_code == 404


def test_another_towns_bulletin_is_404_like_a_missing_one(api, other_officer, documents):
    _both, huji_only, _draft = documents
    caller = api(other_officer)
    for path in (f"/bulletins/{huji_only.pk}", "/bulletins/999999"):
        response = caller.get(path)
        assert response.status_code == 404, path
        assert huji_only.title not in response.content.decode()
    assert caller.post(f"/bulletins/{huji_only.pk}/acknowledge").status_code == 404
    assert not BulletinReceipt.objects.exclude(acknowledged_at=None).exists()


def test_a_town_acknowledges_once_and_again_changes_nothing(api, hj_officer, documents, huji):
    both, _huji_only, _draft = documents
    caller = api(hj_officer)
    first = caller.post(f"/bulletins/{both.pk}/acknowledge")
    assert first.status_code == 200
    receipt = body(first)["receipts"]
    assert body(first)["acknowledged"] == 1
    assert [r["town_code"] for r in receipt] == [huji.code] and receipt[0]["acknowledged_at"]
    again = caller.post(f"/bulletins/{both.pk}/acknowledge")
    assert again.status_code == 200
    assert body(again) == {"acknowledged": 0, "receipts": receipt}
    acknowledged = BulletinReceipt.objects.exclude(acknowledged_at=None)
    assert list(acknowledged.values_list("bulletin_id", "town_id")) == [(both.pk, huji.code)]
    row = next(r for r in body(caller.get("/bulletins"))["results"] if r["id"] == both.pk)
    assert row["acknowledged_by_my_towns"] is True and row["acknowledged"] == 1


@pytest.mark.parametrize("who", ["task_force", "inspector"])
def test_a_role_that_does_not_acknowledge_gets_403_and_nothing_changes(
    api, request, documents, who
):
    both, _huji_only, _draft = documents
    response = api(request.getfixturevalue(who)).post(f"/bulletins/{both.pk}/acknowledge")
    assert response.status_code == 403
    assert body(response)["detail"]
    assert not BulletinReceipt.objects.exclude(acknowledged_at=None).exists()


@pytest.mark.parametrize(
    "path", ["/bulletins?cursor=!!", "/bulletins?page_size=x", "/bulletins/first",
             "/notices?cursor=-", "/notices/first"],
)  # fmt: skip
def test_bad_input_is_400(api, task_force, path):
    response = api(task_force).get(path)
    assert response.status_code == 400
    assert body(response)["detail"]


@pytest.mark.parametrize("rows", [1, 20])
def test_the_bulletin_list_costs_the_same_queries_for_1_and_20(
    api, task_force, hj_officer, inspector, huji, huji_village, rows, django_assert_max_num_queries
):
    found = finding(huji, huji_village, inspector)
    for n in range(rows):
        bulletin = bulletins.bulletin_create(by=task_force, kind="problems", title=f"通报{n}")
        bulletins.bulletin_items_set(bulletin=bulletin, by=task_force, tickets=[found])
        Bulletin.objects.filter(pk=bulletin.pk).update(state="issued", batch=n + 1)
        bulletin.recipients.add(huji)
        BulletinReceipt.objects.create(bulletin=bulletin, town=huji)
    for user, queries in ((task_force, 4), (hj_officer, 5)):  # + his towns' receipts
        caller = api(user)
        with django_assert_max_num_queries(queries):
            response = caller.get("/bulletins")
        assert len(body(response)["results"]) == rows


# --- notices ----------------------------------------------------------------------------------


@pytest.fixture
def overdue(task_force, inspector, huji, huji_village, jishu, jishu_village, deadline):
    """Make the notices: one ticket of each town overdue by a day. Called after the callers
    are made, so that a token's account is among the town officers they are sent to."""

    def issue_notices():
        found = [finding(huji, huji_village, inspector), finding(jishu, jishu_village, inspector)]
        for ticket in found:
            tickets.rectification_assign(ticket=ticket, by=task_force, deadline=deadline)
        past = timezone.localdate() - timedelta(days=1)
        RectificationTicket.objects.filter(pk__in=[t.pk for t in found]).update(deadline=past)
        notices.overdue_notices_issue(as_of=timezone.localdate())
        found = [RectificationTicket.objects.get(pk=t.pk) for t in found]
        return {doc.town_id: doc for doc in NoticeDocument.objects.all()}, found

    return issue_notices


def test_a_town_reads_its_notices_sent_to_it(api, hj_officer, other_officer, overdue, huji):
    mine, theirs = api(hj_officer), api(other_officer)
    documents, found = overdue()
    response = mine.get("/notices")
    assert response.status_code == 200
    [row] = body(response)["results"]
    assert (row["id"], row["kind"], row["town_code"]) == (
        documents[huji.code].pk,
        "reminder",
        huji.code,
    )
    assert row["sent_to_me"] is True and row["acknowledged_at"] is None
    detail = body(mine.get(f"/notices/{row['id']}"))
    [item] = detail["items"]
    assert (item["ticket"], item["step"], item["days_overdue"]) == (found[0].number, 1, 1)
    assert item["deadline"] == found[0].deadline.isoformat()
    assert [r["id"] for r in body(theirs.get("/notices"))["results"]] == [
        documents[found[1].town_id].pk
    ]
    assert theirs.get(f"/notices/{row['id']}").status_code == 404


def test_reading_a_notice_is_not_acknowledging_it_and_acknowledging_keeps_the_first_time(
    api, hj_officer, overdue, huji
):
    caller = api(hj_officer)
    documents, _found = overdue()
    pk = documents[huji.code].pk
    assert body(caller.get(f"/notices/{pk}"))["acknowledged_at"] is None
    first = caller.post(f"/notices/{pk}/acknowledge")
    assert first.status_code == 200
    at = body(first)["acknowledged_at"]
    again = caller.post(f"/notices/{pk}/acknowledge")
    assert again.status_code == 200 and body(again)["acknowledged_at"] == at
    assert body(caller.get(f"/notices/{pk}"))["acknowledged_at"] == at
    assert Notification.objects.filter(document_id=pk).exclude(read_at=None).count() == 1


@pytest.mark.parametrize("who", ["task_force", "inspector", "town_inspector"])
def test_who_reads_a_notice_not_sent_to_him_may_not_acknowledge_it(
    api, request, hj_officer, overdue, huji, who
):
    reader = api(request.getfixturevalue(who))
    documents, _found = overdue()
    pk = documents[huji.code].pk
    assert reader.get(f"/notices/{pk}").status_code == 200
    response = reader.post(f"/notices/{pk}/acknowledge")
    assert response.status_code == 403
    assert body(response)["detail"]
    assert not Notification.objects.exclude(read_at=None).exists()
    assert Notification.objects.filter(user__username=who).count() == 0


def test_a_missed_patrol_notice_lists_its_sites(api, hj_officer, huji):
    caller = api(hj_officer)
    line = {"code": "HC-001", "name": "胡集坑塘", "place": "胡集村", "detail": "0/1"}
    notices.documents_with_lines_issue(
        kind=NoticeKind.PATROL, as_of=timezone.localdate(), lines_by_town={huji.code: [line]}
    )
    [row] = body(caller.get("/notices"))["results"]
    [item] = body(caller.get(f"/notices/{row['id']}"))["items"]
    assert (item["site_code"], item["text"], item["village"], item["detail"]) == (
        "HC-001", "胡集坑塘", "胡集村", "0/1"
    )  # fmt: skip
    assert item["ticket"] is None


def test_a_worker_acknowledges_the_sla_notice_naming_his_job(
    task_force, hj_officer, huji_worker, household
):
    ticket = toilet_in("dispatched", household=household, officer=hj_officer, worker=huji_worker)
    ToiletTicket.objects.filter(pk=ticket.pk).update(sla_due_at=timezone.now() - timedelta(hours=2))
    notices.sla_notices_issue(as_of=timezone.localdate())
    worker = caller("session", huji_worker, manager=task_force)
    [row] = body(worker.get("/notices"))["results"]
    [item] = body(worker.get(f"/notices/{row['id']}"))["items"]
    assert item["ticket"] == ticket.number and item["worker"] and item["due_at"]
    assert worker.post(f"/notices/{row['id']}/acknowledge").status_code == 200


@pytest.mark.parametrize("rows", [1, 20])
def test_the_notice_list_costs_the_same_queries_for_1_and_20(
    api, hj_officer, huji, rows, django_assert_max_num_queries
):
    caller = api(hj_officer)
    today = timezone.localdate()
    for n in range(rows):
        line = {"code": f"HC-{n}", "name": "坑塘", "place": "", "detail": "0/1"}
        notices.documents_with_lines_issue(
            kind=NoticeKind.PATROL,
            as_of=today - timedelta(days=n),
            lines_by_town={huji.code: [line]},
        )
    with django_assert_max_num_queries(4):
        response = caller.get("/notices")
    assert len(body(response)["results"]) == rows
