"""Bulletin pages: compose → preview → issue, the frozen document, PDFs, receipts, scope, refused
input, query counts."""

from __future__ import annotations

from datetime import timedelta

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from django.db import connection
from django.template import Context, Template
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from workflows.bulletins import services as svc
from workflows.bulletins.views import official_number
from workflows.models import Bulletin, BulletinItem, BulletinReceipt, RectificationTicket
from workflows.tickets import services


def shown(msgid: str) -> str:
    """A text as the pages show it (zh-hans, the default language)."""
    with translation.override("zh-hans"):
        return gettext(msgid)


def confirmed(bulletin) -> dict:
    """The issue form's confirmation, as its page states it (the number and the item count)."""
    return {"confirm": svc.bulletin_issue_terms(bulletin).token}


def _tickets(inspector, make_photo, places, n):
    return [
        services.rectification_create(
            by=inspector,
            town=places[i % len(places)][0],
            village=places[i % len(places)][1],
            description=f"坑塘漂浮物问题{i}",
            source_kind="patrol",
            site_label=f"坑塘{i}",
            before_photos=[make_photo(inspector), make_photo(inspector)],
        )
        for i in range(n)
    ]


@pytest.fixture
def huji_drafts(huji, huji_village, inspector, make_photo):
    return _tickets(inspector, make_photo, [(huji, huji_village)], 3)


@pytest.fixture
def bulletin(task_force, deadline):
    return svc.bulletin_create(
        by=task_force,
        kind="problems",
        title="关于第一批农村人居环境问题的通报",
        default_deadline=deadline,
    )


def _compose(bulletin, task_force, tickets):
    svc.bulletin_items_set(bulletin=bulletin, by=task_force, tickets=tickets)
    return bulletin


@pytest.fixture
def issued(bulletin, task_force, huji_drafts):
    _compose(bulletin, task_force, huji_drafts)
    return svc.bulletin_issue(bulletin=bulletin, by=task_force)


def _pdf_text(response) -> tuple[str, int]:
    document = pdfium.PdfDocument(b"".join(response.streaming_content))
    text = "".join(page.get_textpage().get_text_range() for page in document)
    images = sum(
        1 for page in document for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])
    )
    return text.replace("\ufffe", ""), images


# --- compose → preview → issue ----------------------------------------------------------------


def test_compose_preview_and_issue_through_the_pages(client, task_force, huji_drafts, deadline):
    client.force_login(task_force)
    response = client.post(
        reverse("bulletin_new"),
        {"kind": "problems", "title": "关于农村人居环境问题的通报", "default_deadline": deadline},
    )
    assert response.status_code == 303
    bulletin = Bulletin.objects.get()
    compose = reverse("bulletin_compose", args=[bulletin.pk])
    assert response["Location"] == compose

    page = client.get(compose)  # default filter: new findings
    for ticket in huji_drafts:
        assert ticket.number in page.content.decode()
    # The place column is 地点 (user testing: a translation collision made it 名次, "rank").
    assert "<th>地点</th>" in page.content.decode() and "名次" not in page.content.decode()

    a, b, c = (t.pk for t in huji_drafts)
    response = client.post(compose, {"add": [a, b, c], "op": "add"})
    assert response.status_code == 303
    assert list(bulletin.items.values_list("ticket_id", flat=True)) == [a, b, c]

    wordings = {f"wording_{a}": "河道岸边垃圾未清理", f"wording_{b}": "", f"wording_{c}": ""}
    response = client.post(compose, {"ticket": [a, b, c], "op": f"down:{a}", **wordings})
    assert response.status_code == 303
    items = list(bulletin.items.order_by("position").values_list("ticket_id", "wording"))
    assert items == [
        (b, huji_drafts[1].description),
        (a, "河道岸边垃圾未清理"),
        (c, huji_drafts[2].description),
    ]
    response = client.post(compose, {"ticket": [b, a, c], "op": f"remove:{c}", **wordings})
    assert list(bulletin.items.values_list("ticket_id", flat=True)) == [b, a]

    preview = client.get(reverse("bulletin_detail", args=[bulletin.pk])).content.decode()
    assert "河道岸边垃圾未清理" in preview and shown("Issue the bulletin") in preview

    response = client.post(reverse("bulletin_issue", args=[bulletin.pk]), confirmed(bulletin))
    assert response.status_code == 303
    bulletin.refresh_from_db()
    assert (bulletin.state, bulletin.batch) == ("issued", 1)
    states = dict(RectificationTicket.objects.values_list("pk", "state"))
    assert (states[a], states[b], states[c]) == ("assigned", "assigned", "draft")
    assert RectificationTicket.objects.get(pk=a).deadline == deadline
    page = client.get(reverse("bulletin_detail", args=[bulletin.pk])).content.decode()
    assert f"〔{bulletin.year}〕第1批" in page and shown("Issue the bulletin") not in page


def test_ladder_tickets_are_offered_and_filters_narrow(client, task_force, issued, huji_drafts):
    from workflows.models import NoticeDocument, OverdueNotice

    ticket = RectificationTicket.objects.get(pk=huji_drafts[0].pk)
    past = timezone.localdate() - timedelta(days=8)
    RectificationTicket.objects.filter(pk=ticket.pk).update(deadline=past)
    document = NoticeDocument.objects.create(
        number="TB-1",
        kind="bulletin",
        town=ticket.town,
        county_id=ticket.town.county_id,
        issued_on=timezone.localdate(),
    )
    OverdueNotice.objects.create(
        ticket=ticket, step=3, deadline=past, kind="bulletin",
        issued_on=timezone.localdate(), document=document,
    )  # fmt: skip
    second = svc.bulletin_create(by=task_force, kind="supervision", title="督办通报")
    client.force_login(task_force)
    compose = reverse("bulletin_compose", args=[second.pk])
    assert ticket.number in client.get(compose).content.decode()
    assert huji_drafts[1].number not in client.get(compose).content.decode()  # assigned, on time
    assert ticket.number not in client.get(compose, {"source_kind": "report"}).content.decode()
    assert client.get(compose, {"town": "nope"}).status_code == 400
    svc.bulletin_items_set(bulletin=second, by=task_force, tickets=[ticket])
    svc.bulletin_issue(bulletin=second, by=task_force)
    third = svc.bulletin_create(by=task_force, kind="supervision", title="督办通报二")
    page = client.get(reverse("bulletin_compose", args=[third.pk])).content.decode()
    assert ticket.number not in page  # carried by the second: once per notice
    every_open = client.get(reverse("bulletin_compose", args=[third.pk]), {"pool": "open"})
    assert ticket.number in every_open.content.decode()


def test_the_issued_page_and_pdf_show_the_frozen_text(client, task_force, issued, huji_drafts):
    RectificationTicket.objects.filter(pk=huji_drafts[0].pk).update(description="改过的描述")
    BulletinItem.objects.filter(ticket=huji_drafts[0]).update(wording="改过的措辞")
    client.force_login(task_force)
    page = client.get(reverse("bulletin_detail", args=[issued.pk])).content.decode()
    assert huji_drafts[0].description in page
    assert "改过的描述" not in page and "改过的措辞" not in page

    response = client.get(reverse("bulletin_pdf", args=[issued.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text, images = _pdf_text(response)
    assert "关于第一批农村人居环境问题的通报" in text
    assert f"〔{issued.year}〕第1批" in text
    assert "金乡县农村人居环境整治工作专班" in text
    assert huji_drafts[0].description in text and "改过的" not in text
    assert images == 6  # two photos for each of the three problems


def test_the_follow_up_pdf_has_the_after_photo_and_the_state(
    client, task_force, hj_officer, issued, huji_drafts, make_photo
):
    ticket = RectificationTicket.objects.get(pk=huji_drafts[0].pk)
    services.rectification_submit(
        ticket=ticket, by=hj_officer, note="已打捞清理", photos=[make_photo(hj_officer)]
    )
    services.rectification_close(ticket=ticket, by=task_force)
    client.force_login(hj_officer)
    response = client.get(reverse("bulletin_follow_up_pdf", args=[issued.pk]))
    assert response.status_code == 200
    text, images = _pdf_text(response)
    assert "已打捞清理" in text and "胡集镇" in text
    assert images == 1  # only the submitted ticket has an after-photo


def test_the_follow_up_shows_all_closed(client, task_force, hj_officer, issued, huji_drafts):
    for ticket in RectificationTicket.objects.filter(pk__in=[t.pk for t in huji_drafts]):
        services.rectification_cancel(ticket=ticket, by=task_force, reason="重复")
    client.force_login(hj_officer)
    page = client.get(reverse("bulletin_detail", args=[issued.pk])).content.decode()
    assert "已全部销号" in page
    # The follow-up's count column says 已销号, not 销号时间 (the ledger's column of a time).
    assert '<th class="num">已销号</th>' in page and "销号时间" not in page


# --- scope, receipts --------------------------------------------------------------------------


def test_a_town_sees_only_bulletins_addressed_to_it(
    client, hj_officer, other_officer, issued, bulletin, task_force, deadline
):
    draft = svc.bulletin_create(by=task_force, kind="problems", title="草稿通报")
    client.force_login(hj_officer)
    listing = client.get(reverse("bulletin_list")).content.decode()
    assert issued.title in listing and "草稿通报" not in listing
    assert client.get(reverse("bulletin_detail", args=[issued.pk])).status_code == 200
    assert client.get(reverse("bulletin_detail", args=[draft.pk])).status_code == 404
    assert client.get(reverse("bulletin_pdf", args=[draft.pk])).status_code == 404
    client.force_login(other_officer)
    assert issued.title not in client.get(reverse("bulletin_list")).content.decode()
    for name in ("bulletin_detail", "bulletin_pdf", "bulletin_follow_up_pdf"):
        assert client.get(reverse(name, args=[issued.pk])).status_code == 404
    assert client.post(reverse("bulletin_acknowledge", args=[issued.pk])).status_code == 404


def test_acknowledging_is_for_the_officers_town_only(
    client, task_force, hj_officer, other_officer, huji, jishu, jishu_village, inspector,
    make_photo, bulletin, huji_drafts,
):  # fmt: skip
    jishu_ticket = _tickets(inspector, make_photo, [(jishu, jishu_village)], 1)
    _compose(bulletin, task_force, huji_drafts[:1] + jishu_ticket)
    svc.bulletin_issue(bulletin=bulletin, by=task_force)
    url = reverse("bulletin_acknowledge", args=[bulletin.pk])
    client.force_login(task_force)
    assert client.post(url).status_code == 403
    client.force_login(hj_officer)
    assert (
        shown("Acknowledge receipt for my town")
        in client.get(reverse("bulletin_detail", args=[bulletin.pk])).content.decode()
    )
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 303
    receipts = dict(BulletinReceipt.objects.values_list("town_id", "acknowledged_by"))
    assert receipts == {huji.code: hj_officer.pk, jishu.code: None}
    listing = client.get(reverse("bulletin_list")).content.decode()
    assert shown("acknowledged") in listing and jishu.name not in listing
    assert client.post(url).status_code == 303  # again: nothing changes
    assert _badge(other_officer) == "1" and _badge(hj_officer) == "0" and _badge(task_force) == "0"


def _badge(user) -> str:
    request = RequestFactory().get("/")
    request.user = user
    template = Template("{% load bulletins %}{% unacknowledged_bulletins as n %}{{ n }}")
    return template.render(Context({"request": request}))


# --- refused input: 4xx, nothing stored -------------------------------------------------------


def test_a_bulletin_needs_a_title(client, task_force):
    client.force_login(task_force)
    response = client.post(reverse("bulletin_new"), {"kind": "problems", "title": "  "})
    assert response.status_code == 400 and not Bulletin.objects.exists()
    past = timezone.localdate() - timedelta(days=1)
    response = client.post(
        reverse("bulletin_new"), {"kind": "problems", "title": "通报", "default_deadline": past}
    )
    assert response.status_code == 400 and not Bulletin.objects.exists()


def test_only_the_task_force_composes(client, hj_officer, inspector, bulletin):
    client.force_login(inspector)
    assert client.get(reverse("bulletin_new")).status_code == 403
    assert client.get(reverse("bulletin_compose", args=[bulletin.pk])).status_code == 404
    client.force_login(hj_officer)
    assert client.post(reverse("bulletin_issue", args=[bulletin.pk])).status_code == 404


@pytest.mark.parametrize(
    "data",
    [
        {"add": ["999999"], "op": "add"},
        {"add": ["abc"], "op": "add"},
        {"ticket": ["FIRST"], "op": "up:999999"},
        {"ticket": ["FIRST"], "op": "explode"},
        {"ticket": ["FIRST"], "wording_FIRST": "长" * 2001},
    ],
)
def test_unknown_tickets_and_bad_buttons_store_nothing(
    client, task_force, bulletin, huji_drafts, data
):
    _compose(bulletin, task_force, huji_drafts[:1])
    first = str(huji_drafts[0].pk)
    data = {
        key.replace("FIRST", first): [v.replace("FIRST", first) for v in value]
        if isinstance(value, list)
        else value.replace("FIRST", first)
        for key, value in data.items()
    }
    client.force_login(task_force)
    response = client.post(reverse("bulletin_compose", args=[bulletin.pk]), data)
    assert response.status_code == 400
    assert list(bulletin.items.values_list("ticket_id", "wording")) == [
        (huji_drafts[0].pk, huji_drafts[0].description)
    ]


def test_a_forged_closed_ticket_is_refused(client, task_force, bulletin, huji_drafts):
    _compose(bulletin, task_force, huji_drafts[:1])
    closed = huji_drafts[1]
    services.rectification_cancel(ticket=closed, by=task_force, reason="重复")
    client.force_login(task_force)
    response = client.post(
        reverse("bulletin_compose", args=[bulletin.pk]),
        {"ticket": [huji_drafts[0].pk], "add": [closed.pk], "op": "add"},
    )
    assert response.status_code == 400 and closed.number in response.content.decode()
    assert list(bulletin.items.values_list("ticket_id", flat=True)) == [huji_drafts[0].pk]


def test_tampered_or_stale_bulletins_are_refused(client, task_force, issued, bulletin):
    client.force_login(task_force)
    assert client.get(reverse("bulletin_compose", args=[999999])).status_code == 404
    assert client.post(reverse("bulletin_issue", args=[999999])).status_code == 404
    assert client.get(reverse("bulletin_compose", args=[issued.pk])).status_code == 409
    response = client.post(reverse("bulletin_compose", args=[issued.pk]), {"op": "save"})
    assert response.status_code == 409
    assert client.post(reverse("bulletin_issue", args=[issued.pk])).status_code == 409
    assert Bulletin.objects.get(pk=issued.pk).batch == 1


def test_issuing_without_a_deadline_is_refused_and_nothing_changes(client, task_force, huji_drafts):
    undated = svc.bulletin_create(by=task_force, kind="problems", title="无时限")
    _compose(undated, task_force, huji_drafts)
    client.force_login(task_force)
    response = client.post(reverse("bulletin_issue", args=[undated.pk]), confirmed(undated))
    refusal = shown("Set the deadline: the bulletin assigns its draft tickets.")
    assert response.status_code == 400 and refusal in response.content.decode()
    undated.refresh_from_db()
    assert undated.state == "draft" and not BulletinReceipt.objects.exists()
    assert set(RectificationTicket.objects.values_list("state", flat=True)) == {"draft"}


# --- query counts -----------------------------------------------------------------------------


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_list_costs_the_same_for_3_and_15_bulletins(
    client, task_force, hj_officer, huji_drafts
):
    def make(n):
        for i in range(n):
            b = svc.bulletin_create(by=task_force, kind="problems", title=f"通报{i}")
            _compose(b, task_force, huji_drafts[:1])
            Bulletin.objects.filter(pk=b.pk).update(state="issued", batch=100 + i + n)
            b.recipients.add(huji_drafts[0].town)
            BulletinReceipt.objects.create(bulletin=b, town=huji_drafts[0].town)

    counts = {}
    for n in (3, 15):
        Bulletin.objects.all().delete()
        make(n)
        for user in (task_force, hj_officer):
            client.force_login(user)
            client.get(reverse("bulletin_list"))  # session, scope: warm
            counts[n, user.username] = _queries(client, reverse("bulletin_list"))
    assert counts[3, "task_force"] == counts[15, "task_force"]
    assert counts[3, "hj_officer"] == counts[15, "hj_officer"]


@pytest.mark.parametrize("issue", [False, True])
def test_the_detail_costs_the_same_for_3_and_15_items(
    client, task_force, hj_officer, huji, huji_village, inspector, make_photo, deadline, issue
):
    tickets = _tickets(inspector, make_photo, [(huji, huji_village)], 15)
    counts = []
    for n in (3, 15):
        b = svc.bulletin_create(
            by=task_force, kind="problems", title=f"通报{n}", default_deadline=deadline
        )
        _compose(b, task_force, tickets[:n])
        if issue:
            svc.bulletin_issue(bulletin=b, by=task_force)
        client.force_login(hj_officer if issue else task_force)
        url = reverse("bulletin_detail", args=[b.pk])
        client.get(url)
        counts.append(_queries(client, url))
    assert counts[0] == counts[1]


def test_official_number():
    assert official_number("2024年第12批") == "〔2024〕第12批"
    assert official_number("") == ""
