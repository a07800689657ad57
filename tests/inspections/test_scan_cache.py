"""The scan page from cached parts (inspections/sites/scan_page.py): a fixed number of queries
however long the site's history, every write that changes what it shows shown at once, and the
per-request values (CSRF token, submission key, who is logged in) of each request alone."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inspections.models import Patrol, PatrolPolicy, SiteState
from inspections.sites import scan_page, services
from tests.inspections.conftest import make_patrol
from tests.inspections.test_scan import patrol_data, scan_url
from workflows.models import RectificationTicket
from workflows.tickets import services as tickets

# session, user, membership (scope), the site with its versions, the layout's unread count
WARM_QUERIES = 5
# … and what is not cached yet: the patrol policy, the open tickets, the last patrols
COLD_QUERIES = WARM_QUERIES + 3
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
KEY_FIELD = re.compile(r'name="key" value="([^"]+)"')


@pytest.fixture
def policy(db) -> PatrolPolicy:
    return PatrolPolicy.current("370828000000")


def page(client, site) -> str:
    response = client.get(scan_url(site))
    assert response.status_code == 200
    return response.content.decode()


def open_ticket(site, task_force, n: int) -> RectificationTicket:
    return tickets.rectification_create(
        by=task_force,
        town=site.town,
        village=site.village,
        description=f"岸边垃圾 {n}",
        deadline=timezone.localdate() + timedelta(days=10),
    )


def rendered(response) -> list[str]:
    return [template.name for template in response.templates]


@pytest.mark.parametrize("history", [1, 20])
def test_the_scan_page_costs_a_fixed_number_of_queries(
    client, huji_site, inspector, task_force, policy, history, django_assert_num_queries
):
    today = timezone.localdate()
    for n in range(history):
        ticket = open_ticket(huji_site, task_force, n)
        make_patrol(huji_site, inspector, on=today - timedelta(days=n), ticket=ticket)
    client.force_login(inspector)
    with django_assert_num_queries(COLD_QUERIES):
        cold = client.get(scan_url(huji_site))
    with django_assert_num_queries(WARM_QUERIES):
        warm = client.get(scan_url(huji_site))
    assert warm.content.count(b'class="badge state-assigned"') == history  # every open ticket
    assert warm.content.count(b'href="/patrols/') == min(history, 5)  # the last five patrols
    for response in (cold, warm):
        assert (
            b'name="key"' in response.content and b'name="csrfmiddlewaretoken"' in response.content
        )
    # The warm page renders none of the cached parts, the form neither.
    assert not {*scan_page.PARTS.values(), scan_page.FIELDS_TEMPLATE} & set(rendered(warm))


def test_a_recorded_patrol_shows_at_once(client, huji_site, inspector, policy):
    client.force_login(inspector)
    assert 'href="/patrols/' not in page(client, huji_site)
    assert client.post(scan_url(huji_site), patrol_data()).status_code == 303
    patrol = Patrol.objects.get()
    response = client.get(scan_url(huji_site))
    assert f'href="{reverse("patrol_detail", args=[patrol.pk])}"' in response.content.decode()
    # Only what the patrol changed is rendered again: its site's tickets and header are not.
    assert set(scan_page.PARTS.values()) & set(rendered(response)) == {
        "inspections/scan_patrols.html"
    }


def test_a_ticket_opened_at_the_site_shows_at_once(client, huji_site, inspector, policy):
    client.force_login(inspector)
    assert "state-draft" not in page(client, huji_site)
    assert client.post(scan_url(huji_site), patrol_data(result="problem")).status_code == 303
    ticket = RectificationTicket.objects.get()
    shown = page(client, huji_site)
    assert 'class="badge state-draft"' in shown and ticket.number in shown


def test_a_ticket_of_the_site_moved_or_closed_shows_at_once(
    client, huji_site, inspector, task_force, hj_officer, make_photo, policy
):
    client.force_login(inspector)
    client.post(scan_url(huji_site), patrol_data(result="problem"))
    ticket = RectificationTicket.objects.get()
    assert 'class="badge state-draft"' in page(client, huji_site)
    deadline = timezone.localdate() + timedelta(days=7)
    tickets.rectification_assign(ticket=ticket, by=task_force, deadline=deadline)
    shown = page(client, huji_site)
    assert 'class="badge state-assigned"' in shown and deadline.isoformat() in shown
    tickets.rectification_submit(
        ticket=ticket, by=hj_officer, note="已清理", photos=[make_photo(hj_officer)]
    )
    assert 'class="badge state-submitted"' in page(client, huji_site)
    tickets.rectification_close(ticket=ticket, by=task_force)
    shown = page(client, huji_site)
    assert 'class="badge state-' not in shown  # no open ticket left
    assert ticket.number in shown  # still named by the patrol that opened it


def test_an_edited_site_shows_at_once(client, huji_site, inspector, task_force, policy):
    client.force_login(inspector)
    assert huji_site.name in page(client, huji_site)
    huji_site.name = "王庄坑塘（改名）"
    huji_site.village_person = "赵主任"
    huji_site.save()
    shown = page(client, huji_site)
    assert "王庄坑塘（改名）" in shown and "赵主任" in shown
    assert 'data-title="王庄坑塘（改名）"' in shown  # the cached form is the site's new one too
    services.site_transition(site=huji_site, by=task_force, action="delist")
    shown = page(client, huji_site)
    assert f"site-{SiteState.DELISTED}" in shown and 'name="key"' not in shown


def test_a_saved_policy_shows_at_once(client, huji_site, inspector, policy):
    client.force_login(inspector)
    assert 'data-limit="200"' in page(client, huji_site)
    policy.max_distance_m = 150
    policy.save()
    assert 'data-limit="150"' in page(client, huji_site)


def test_each_language_has_its_own_parts(client, huji_site, inspector, policy):
    client.force_login(inspector)
    shown = page(client, huji_site)
    assert "最近巡查" in shown and "提交巡查" in shown
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    shown = page(client, huji_site)
    assert "Last patrols" in shown and "Record the patrol" in shown and "最近巡查" not in shown


def test_two_inspectors_never_see_each_others_values(huji_site, inspector, town_inspector, policy):
    """The same cached parts, each page with its own user's token, key and name: a token of one
    is refused in the other's session."""
    inspector.first_name, town_inspector.first_name = "甲巡查员", "乙巡查员"
    inspector.save()
    town_inspector.save()
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    first.force_login(inspector)
    second.force_login(town_inspector)
    pages = [page(first, huji_site), page(second, huji_site), page(first, huji_site)]
    tokens = [CSRF_FIELD.search(shown).group(1) for shown in pages]
    keys = [KEY_FIELD.search(shown).group(1) for shown in pages]
    assert len(set(keys)) == 3 and all(uuid.UUID(key) for key in keys)
    assert len(set(tokens)) == 3  # masked afresh on every page
    assert "甲巡查员" in pages[0] and "乙巡查员" not in pages[0]
    assert "乙巡查员" in pages[1] and "甲巡查员" not in pages[1]
    for shown in pages:
        assert scan_page.CSRF_SLOT not in shown and scan_page.KEY_SLOT not in shown
    # The second inspector's token does not pass in the first one's session; his own does.
    crossed = first.post(scan_url(huji_site), patrol_data(csrfmiddlewaretoken=tokens[1]))
    assert crossed.status_code == 403
    own = patrol_data(csrfmiddlewaretoken=tokens[2], key=keys[2])
    assert first.post(scan_url(huji_site), own).status_code == 303
    assert str(Patrol.objects.get(inspector=inspector).key) == keys[2]


def test_every_site_takes_the_same_cached_form_fields(
    client, huji_site, jishu_site, inspector, policy
):
    """A site's page is opened a few times a month, the form is on every one: its fields are
    rendered once for all sites, in each process; the form's own tag, naming the site, for
    each page."""
    scan_page._FIELDS.clear()  # this process has shown the form before: as when it started
    client.force_login(inspector)
    first = client.get(scan_url(huji_site))
    assert scan_page.FIELDS_TEMPLATE in rendered(first)
    other = client.get(scan_url(jishu_site))
    assert scan_page.FIELDS_TEMPLATE not in rendered(other)
    assert "inspections/scan_header.html" in rendered(other)  # its own header, not cached yet
    shown = other.content.decode()
    assert f'action="{scan_url(jishu_site)}"' in shown
    assert f'data-title="{jishu_site.name}"' in shown and 'name="photos"' in shown
    cache.clear()  # the shared cache emptied (a Redis restart): the process still has them
    assert scan_page.FIELDS_TEMPLATE not in rendered(client.get(scan_url(huji_site)))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # another language: its own fields
    english = client.get(scan_url(huji_site))
    assert (
        scan_page.FIELDS_TEMPLATE in rendered(english)
        and "Record a patrol" in english.content.decode()
    )


def test_a_refused_patrol_keeps_what_was_typed(client, huji_site, inspector, policy):
    """The bound form with its errors is the request's own, not the cached empty one."""
    client.force_login(inspector)
    page(client, huji_site)
    response = client.post(scan_url(huji_site), patrol_data(photos=0, note="水面有油污"))
    assert response.status_code == 400
    assert "水面有油污" in response.content.decode()
    assert scan_page.FIELDS_TEMPLATE in rendered(response)


def test_the_page_fetches_no_photo(client, huji_site, inspector, policy):
    """The last patrols' lines show no photo: a patrol with photos costs the page no query."""
    client.force_login(inspector)
    assert client.post(scan_url(huji_site), patrol_data(photos=2)).status_code == 303
    with CaptureQueriesContext(connection) as queries:
        shown = page(client, huji_site)
    assert reverse("patrol_detail", args=[Patrol.objects.get().pk]) in shown
    assert "inspections_patrol" in " ".join(q["sql"] for q in queries.captured_queries)
    assert not [q for q in queries.captured_queries if "evidencephoto" in q["sql"]]


def test_a_site_without_tickets_needs_no_ticket_query(
    client, huji_site, inspector, policy, django_assert_num_queries
):
    client.force_login(inspector)
    with django_assert_num_queries(COLD_QUERIES - 1):
        page(client, huji_site)
