"""Issuing a bulletin cannot be undone: the page states the number it will get (第N批) and how
many items it lists, and the issue POST must carry that confirmation back. Without it the answer
is 400 and nothing happens; with terms that no longer hold (another bulletin took the number, the
items changed) it is 409 and nothing happens."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from core.errors import Conflict
from workflows.bulletins import services as svc
from workflows.models import Bulletin, BulletinReceipt, RectificationTicket, TicketCounter
from workflows.tickets import services

CONFIRMATION = "To be issued as %(number)s; items: %(count)d. Once issued, it cannot be withdrawn."
UNCONFIRMED = "Confirm the issue first: %(terms)s"
CONFIRM_BOX = re.compile(r'<input type="checkbox" name="confirm" value="([^"]*)" required>')


def shown(msgid: str, **values) -> str:
    """A text as the pages show it (zh-hans, the default language), HTML-escaped."""
    with translation.override("zh-hans"):
        return html.escape(gettext(msgid) % values if values else gettext(msgid), quote=False)


def confirmation(year: int, batch: int, count: int) -> str:
    return shown(CONFIRMATION, number=f"〔{year}〕第{batch}批", count=count)


@pytest.fixture
def drafts(huji, huji_village, inspector, make_photo):
    return [
        services.rectification_create(
            by=inspector,
            town=huji,
            village=huji_village,
            description=f"坑塘漂浮物问题{i}",
            source_kind="patrol",
            before_photos=[make_photo(inspector)],
        )
        for i in range(4)
    ]


def _bulletin(task_force, deadline, tickets, title="关于农村人居环境问题的通报") -> Bulletin:
    bulletin = svc.bulletin_create(
        by=task_force, kind="problems", title=title, default_deadline=deadline
    )
    svc.bulletin_items_set(bulletin=bulletin, by=task_force, tickets=tickets)
    return bulletin


@pytest.fixture
def bulletin(task_force, deadline, drafts):
    return _bulletin(task_force, deadline, drafts[:3])


def assert_nothing_issued(bulletin: Bulletin, tickets) -> None:
    bulletin.refresh_from_db()
    assert (bulletin.state, bulletin.batch, bulletin.snapshot) == ("draft", None, {})
    assert not BulletinReceipt.objects.filter(bulletin=bulletin).exists()
    states = RectificationTicket.objects.filter(pk__in=[t.pk for t in tickets])
    assert set(states.values_list("state", flat=True)) == {"draft"}
    assert not TicketCounter.objects.filter(prefix="TB", value__gt=0).exists()


def offered_confirmation(client, bulletin) -> str:
    page = client.get(reverse("bulletin_detail", args=[bulletin.pk])).content.decode()
    [token] = CONFIRM_BOX.findall(page)
    return token


# --- the page states the terms ----------------------------------------------------------------


def test_the_page_states_the_number_and_the_item_count(client, task_force, bulletin):
    client.force_login(task_force)
    page = client.get(reverse("bulletin_detail", args=[bulletin.pk])).content.decode()

    sentence = confirmation(bulletin.year, 1, 3)
    assert "第1批" in sentence and "3" in sentence
    assert sentence in page
    assert CONFIRM_BOX.findall(page) == ["1:3"]
    # The dialog's script comes from static/js (the CSP allows no inline script) and reads the
    # sentence from the form.
    assert 'src="/static/js/bulletin_issue.js"' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert f'data-confirm="{sentence}"' in page


def test_the_number_stated_is_the_next_of_the_year(client, task_force, deadline, drafts):
    first = _bulletin(task_force, deadline, drafts[:1], title="第一份")
    svc.bulletin_issue(bulletin=first, by=task_force)
    second = _bulletin(task_force, deadline, drafts[1:4], title="第二份")
    client.force_login(task_force)

    page = client.get(reverse("bulletin_detail", args=[second.pk])).content.decode()

    assert confirmation(second.year, 2, 3) in page
    assert CONFIRM_BOX.findall(page) == ["2:3"]


# --- without the confirmation: 400, nothing happens -------------------------------------------


@pytest.mark.parametrize("data", [{}, {"confirm": ""}, {"confirm": "on"}, {"confirm": "1"}])
def test_an_issue_without_confirmation_is_refused_and_changes_nothing(
    client, task_force, bulletin, drafts, data
):
    client.force_login(task_force)

    response = client.post(reverse("bulletin_issue", args=[bulletin.pk]), data)

    assert response.status_code == 400
    said = response.content.decode()
    sentence = confirmation(bulletin.year, 1, 3)
    assert shown(UNCONFIRMED, terms=sentence) in said
    assert CONFIRM_BOX.findall(said) == ["1:3"]  # confirm it right there
    assert_nothing_issued(bulletin, drafts[:3])


def test_with_the_confirmation_of_its_page_it_is_issued(client, task_force, bulletin, drafts):
    client.force_login(task_force)
    token = offered_confirmation(client, bulletin)

    response = client.post(reverse("bulletin_issue", args=[bulletin.pk]), {"confirm": token})

    assert response.status_code == 303
    bulletin.refresh_from_db()
    assert (bulletin.state, bulletin.batch) == ("issued", 1)
    assert bulletin.snapshot["number"] == f"{bulletin.year}年第1批"
    assert len(bulletin.snapshot["items"]) == 3
    states = RectificationTicket.objects.filter(pk__in=[t.pk for t in drafts[:3]])
    assert set(states.values_list("state", flat=True)) == {"assigned"}
    # Posted again (a second click, the back button): already issued, nothing more happens.
    again = client.post(reverse("bulletin_issue", args=[bulletin.pk]), {"confirm": token})
    assert again.status_code == 409
    assert Bulletin.objects.get(pk=bulletin.pk).batch == 1


# --- terms that no longer hold: 409, nothing happens ------------------------------------------


def test_a_number_taken_meanwhile_by_another_bulletin_refuses_the_issue(
    client, task_force, deadline, bulletin, drafts
):
    client.force_login(task_force)
    token = offered_confirmation(client, bulletin)  # "1:3"
    other = _bulletin(task_force, deadline, drafts[3:], title="另一份")
    svc.bulletin_issue(bulletin=other, by=task_force)  # takes 第1批

    response = client.post(reverse("bulletin_issue", args=[bulletin.pk]), {"confirm": token})

    assert response.status_code == 409
    said = response.content.decode()
    assert confirmation(bulletin.year, 2, 3) in said  # the new terms, to confirm again
    assert CONFIRM_BOX.findall(said) == ["2:3"]
    bulletin.refresh_from_db()
    assert (bulletin.state, bulletin.batch) == ("draft", None)
    assert TicketCounter.objects.get(prefix="TB").value == 1  # the number taken was given back
    assert set(bulletin.items.values_list("ticket__state", flat=True)) == {"draft"}


def test_items_changed_meanwhile_refuse_the_issue(client, task_force, bulletin, drafts):
    client.force_login(task_force)
    token = offered_confirmation(client, bulletin)  # "1:3"
    svc.bulletin_items_set(bulletin=bulletin, by=task_force, tickets=drafts)  # now 4

    response = client.post(reverse("bulletin_issue", args=[bulletin.pk]), {"confirm": token})

    assert response.status_code == 409
    assert confirmation(bulletin.year, 1, 4) in response.content.decode()
    assert_nothing_issued(bulletin, drafts)


def test_the_service_issues_only_on_the_terms_confirmed(task_force, bulletin, drafts):
    stale = svc.IssueTerms(year=bulletin.year, batch=1, count=2)
    with pytest.raises(Conflict):
        svc.bulletin_issue(bulletin=bulletin, by=task_force, confirmed=stale)
    assert_nothing_issued(bulletin, drafts[:3])

    terms = svc.bulletin_issue_terms(bulletin)
    assert terms == svc.IssueTerms(year=bulletin.year, batch=1, count=3)
    issued = svc.bulletin_issue(bulletin=bulletin, by=task_force, confirmed=terms)
    assert (issued.state, issued.batch) == ("issued", 1)


def test_confirmation_tokens():
    assert svc.IssueTerms(year=2025, batch=3, count=12).token == "3:12"
    assert svc.IssueTerms.from_token("3:12", year=2025) == svc.IssueTerms(2025, 3, 12)
    for bad in ("", "on", "3", "3:", ":3", "a:b", "-1:2", "3:1:2", None):
        assert svc.IssueTerms.from_token(bad, year=2025) is None
