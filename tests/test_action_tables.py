"""Every action table against its page and its POST, generated from the tables themselves
(docs/architecture.md §2: "which actions an object offers now").

For each stateful model, each state of its `state` choices, each named user of tests/conftest.py
and each action of its table (`table.values()`):

- a page the user may not see (404/403) means every POST is refused too (404/403), the state
  unchanged;
- otherwise the forms the page's HTML offers (`action="…/do/<name>/"`) are exactly
  `table.offered(user, obj)`;
- each action POSTed on a fresh object in that state succeeds (303 back to the page, the state
  moved to the transition's target) when it is offered, and is refused with a 4xx, the state
  unchanged, when it is not (for tickets, whose refusals tests/workflows/test_pages_actions.py
  already POSTs one by one, only the offered actions are POSTed here).

Water sites, rounds and assessments are written straight into each state (cheap; their
fields as the services would leave them); bulletins and tickets are built through their services
(tickets by tests/workflows/pages.py). Nothing here names who may do what: a change of a table,
a permission, a view or a template that makes a page offer what its POST refuses (or the
reverse) fails here.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from inspections.grading.actions import ASSESSMENT_ACTIONS, ROUND_ACTIONS
from inspections.models import (
    Assessment,
    AssessmentState,
    Campaign,
    ChecklistItem,
    ChecklistTemplate,
    Round,
    RoundState,
    WaterSite,
)
from inspections.sites.actions import SITE_ACTIONS
from tests.factories import make_household, make_user, membership
from tests.inspections.conftest import make_site
from tests.workflows import pages
from villages.actions import ActionTable
from villages.models import Role
from workflows.bulletins import services as bulletins
from workflows.bulletins.actions import BULLETIN_ACTIONS
from workflows.models import (
    Bulletin,
    BulletinState,
    RectificationState,
    RectificationTicket,
    ToiletState,
    ToiletTicket,
)
from workflows.tickets import services as tickets
from workflows.tickets.actions import RECTIFICATION_ACTIONS, TOILET_ACTIONS

pytestmark = pytest.mark.django_db

USERS = [
    "task_force",
    "hj_officer",
    "other_officer",
    "inspector",
    "town_inspector",
    "service_worker",
    "village_admin",
    "nobody",
]
# A toilet job names its worker (the table's `holder`): he is one more user of those pages.
TOILET_USERS = [*USERS, "huji_worker"]

FORM_ACTION = re.compile(r"<form\b[^>]*?\baction=\"([^\"]*)\"")
HIDDEN = (403, 404)


@dataclass
class Subject:
    """How to build a model's object in a state, reach its page and POST its actions."""

    table: ActionTable
    model: type
    make: Callable[[str], object]  # a new object in the given state
    page: Callable[[object], str]
    # The URL of action `name` is prefix + name + suffix: the page's forms are read back by it.
    url_parts: Callable[[object], tuple[str, str]]
    data: Callable[[object, str], dict] = lambda obj, name: {}
    # Forms of the page that are not the table's actions (each checked by its own tests).
    other_forms: frozenset[str] = frozenset()
    # POST the actions a user is not offered too (and those of a page he may not see). Off for
    # tickets: tests/workflows/test_pages_actions.py POSTs every one of those, for every user and
    # state, and a refused ticket POST renders the whole ticket page (doing it twice would double
    # this file's time); here their pages are checked against the tables and every offered
    # action is POSTed.
    refusals: bool = True

    def url(self, obj, name: str) -> str:
        prefix, suffix = self.url_parts(obj)
        return prefix + name + suffix

    def shown(self, obj, content: str) -> set[str]:
        prefix, suffix = self.url_parts(obj)
        pattern = re.compile(re.escape(prefix) + r"([^/\"?#]+)" + re.escape(suffix))
        names = set()
        for url in FORM_ACTION.findall(content):
            match = pattern.fullmatch(html.unescape(url))
            if match:
                names.add(match[1])
        return names - self.other_forms

    def reload(self, obj):
        return self.model.objects.get(pk=obj.pk)

    def target(self, obj, name: str) -> str:
        transition = getattr(self.model, self.table[name].transition)
        return transition._django_fsm.next_state(obj.state)


def states(model) -> list[str]:
    """Every state the model's `state` field may hold, in the order of its choices."""
    return [value for value, _label in model._meta.get_field("state").choices]


def check(client, request, subject: Subject, state: str, users=USERS) -> int:
    """All (user, action) cases of one state; returns how many actions were POSTed."""
    cases = 0
    for name in users:
        user = request.getfixturevalue(name)
        client.force_login(user)
        obj = subject.reload(subject.make(state))
        assert obj.state == state, (subject.model.__name__, state, obj.state)
        response = client.get(subject.page(obj))
        where = (subject.model.__name__, state, name)
        if response.status_code in HIDDEN:
            for action in subject.table.values() if subject.refusals else ():
                refused = client.post(subject.url(obj, action.name), subject.data(obj, action.name))
                assert refused.status_code in HIDDEN, (*where, action.name, refused.status_code)
                assert subject.reload(obj).state == state, (*where, action.name)
                cases += 1
            continue
        assert response.status_code == 200, (*where, response.status_code)
        offered = {action.name for action in subject.table.offered(user, obj)}
        shown = subject.shown(obj, response.content.decode())
        assert shown == offered, (*where, "page shows", shown, "table offers", offered)
        for action in subject.table.values():
            if action.name not in offered and not subject.refusals:
                continue
            fresh = subject.reload(subject.make(state))
            page = subject.page(fresh)
            answer = client.post(subject.url(fresh, action.name), subject.data(fresh, action.name))
            now = subject.reload(fresh).state
            if action.name in offered:
                assert answer.status_code == 303, (*where, action.name, answer.status_code)
                assert answer["Location"] == page, (*where, action.name)
                assert now == subject.target(fresh, action.name), (*where, action.name, now)
            else:
                assert 400 <= answer.status_code < 500, (*where, action.name, answer.status_code)
                assert now == state, (*where, action.name, now)
            cases += 1
    return cases


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


# --- water sites --------------------------------------------------------------------------------


@pytest.fixture
def sites(huji, huji_village) -> Subject:
    return Subject(
        table=SITE_ACTIONS,
        model=WaterSite,
        make=lambda state: make_site(huji, huji_village, state=state),
        page=lambda site: reverse("site_detail", args=[site.code]),
        url_parts=lambda site: _parts("site_action", site.code),
        data=lambda site, name: {"state": site.state},  # the state the page was rendered in
        other_forms=frozenset({"rotate_token"}),  # a new QR label: not a state change
    )


def _parts(route: str, *args) -> tuple[str, str]:
    prefix, _marker, suffix = reverse(route, args=[*args, "NAME"]).rpartition("NAME")
    return prefix, suffix


@pytest.mark.parametrize("state", states(WaterSite))
def test_site_actions(state, client, request, sites):
    assert check(client, request, sites, state) == len(USERS) * len(SITE_ACTIONS.actions)


# --- rounds and assessments ---------------------------------------------------------------------

_numbers = itertools.count(1)


def make_round(campaign, state: str) -> Round:
    """A round of `campaign` in `state`, as its services would leave it."""
    number = next(_numbers)
    round = Round.objects.create(
        campaign=campaign,
        number=number,
        mode="sweep",
        starts_on=date(2024, 3, 1),
        ends_on=date(2024, 3, 31),
        template=None if state == RoundState.PLANNED else campaign.template,
    )
    published_at = timezone.now() if state == RoundState.PUBLISHED else None
    Round.objects.filter(pk=round.pk).update(state=state, published_at=published_at)
    return round


@pytest.fixture
def campaign(db) -> Campaign:
    template = ChecklistTemplate.objects.create(
        county_id="370828000000", name="村村到检查表", version=1
    )
    ChecklistItem.objects.create(
        template=template,
        order=0,
        code="G1",
        dimension="garbage",
        title="垃圾桶满溢",
        max_points=100,
        deduction=2,
        cap=100,
    )
    return Campaign.objects.create(
        county_id="370828000000", name="2024年村村到", year=2024, template=template
    )


@pytest.fixture
def rounds(campaign) -> Subject:
    return Subject(
        table=ROUND_ACTIONS,
        model=Round,
        make=lambda state: make_round(campaign, state),
        page=lambda round: reverse("round_detail", args=[round.pk]),
        url_parts=lambda round: _parts("round_action", round.pk),
    )


@pytest.mark.parametrize("state", states(Round))
def test_round_actions(state, client, request, rounds):
    assert check(client, request, rounds, state) == len(USERS) * len(ROUND_ACTIONS.actions)


def make_assessment(campaign, village, inspector, task_force, state: str) -> Assessment:
    """An assessment of `village` by `inspector` in its own round (one per round and village),
    the round active, or published with it."""
    published = state == AssessmentState.PUBLISHED
    round = make_round(campaign, RoundState.PUBLISHED if published else RoundState.ACTIVE)
    assessment = Assessment.objects.create(round=round, village=village, inspector=inspector)
    fields = {"state": state}
    if state != AssessmentState.DRAFT:
        fields["submitted_at"] = timezone.now()
    if state in (AssessmentState.APPROVED, AssessmentState.PUBLISHED):
        fields["approved_by"] = task_force
    if published:
        fields["grade"] = "A"
    Assessment.objects.filter(pk=assessment.pk).update(**fields)
    return assessment


@pytest.fixture
def assessments(campaign, huji_village, inspector, task_force) -> Subject:
    return Subject(
        table=ASSESSMENT_ACTIONS,
        model=Assessment,
        make=lambda state: make_assessment(campaign, huji_village, inspector, task_force, state),
        page=lambda assessment: reverse("assessment_detail", args=[assessment.pk]),
        url_parts=lambda assessment: _parts("assessment_action", assessment.pk),
    )


@pytest.mark.parametrize("state", states(Assessment))
def test_assessment_actions(state, client, request, assessments):
    expected = len(USERS) * len(ASSESSMENT_ACTIONS.actions)
    assert check(client, request, assessments, state) == expected


# --- bulletins ----------------------------------------------------------------------------------


def make_bulletin(town, village, inspector, task_force, state: str) -> Bulletin:
    """A bulletin naming one new finding of `town` (issuing assigns it), in `state`."""
    ticket = tickets.rectification_create(
        by=inspector,
        town=town,
        village=village,
        description="坑塘漂浮物",
        source_kind="patrol",
    )
    bulletin = bulletins.bulletin_create(
        by=task_force,
        kind="problems",
        title="关于农村人居环境问题的通报",
        default_deadline=timezone.localdate() + timedelta(days=10),
    )
    bulletins.bulletin_items_set(bulletin=bulletin, by=task_force, tickets=[ticket])
    if state == BulletinState.ISSUED:
        bulletins.bulletin_issue(bulletin=bulletin, by=task_force)
    return bulletin


@pytest.fixture
def bulletin_subject(huji, huji_village, inspector, task_force) -> Subject:
    def url_parts(bulletin):
        # Issuing has its own route, /bulletins/<pk>/issue/, beside /acknowledge/.
        prefix, suffix = reverse("bulletin_detail", args=[bulletin.pk]), "/"
        assert prefix + "issue" + suffix == reverse("bulletin_issue", args=[bulletin.pk])
        return prefix, suffix

    return Subject(
        table=BULLETIN_ACTIONS,
        model=Bulletin,
        make=lambda state: make_bulletin(huji, huji_village, inspector, task_force, state),
        page=lambda bulletin: reverse("bulletin_detail", args=[bulletin.pk]),
        url_parts=url_parts,
        # Issuing is confirmed: the number and the item count the page states.
        data=lambda bulletin, name: {"confirm": bulletins.bulletin_issue_terms(bulletin).token},
        other_forms=frozenset({"acknowledge"}),  # a town's receipt: not a state change
    )


@pytest.mark.parametrize("state", states(Bulletin))
def test_bulletin_actions(state, client, request, bulletin_subject):
    expected = len(USERS) * len(BULLETIN_ACTIONS.actions)
    assert check(client, request, bulletin_subject, state) == expected


# --- tickets (built by tests/workflows/pages.py) --------------------------------------------------


def test_the_ticket_helpers_build_every_state():
    assert states(RectificationTicket) == pages.RECTIFICATION_STATES
    assert states(ToiletTicket) == pages.TOILET_STATES
    assert set(pages.RECTIFICATION_STATES) == set(RectificationState.values)
    assert set(pages.TOILET_STATES) == set(ToiletState.values)


def _ticket_parts(ticket) -> tuple[str, str]:
    route = "toilet_action" if isinstance(ticket, ToiletTicket) else "ticket_action"
    return _parts(route, ticket.number)


@pytest.fixture
def rectifications(huji, huji_village, inspector, task_force, hj_officer) -> Subject:
    return Subject(
        table=RECTIFICATION_ACTIONS,
        model=RectificationTicket,
        make=lambda state: pages.rectification_in(
            state,
            town=huji,
            village=huji_village,
            inspector=inspector,
            task_force=task_force,
            officer=hj_officer,
        ),
        page=pages.page_url,
        url_parts=_ticket_parts,
        data=lambda ticket, name: {
            "state": ticket.state,
            **pages.rectification_post_data(name, ticket),
        },
        refusals=False,
    )


@pytest.mark.parametrize("state", states(RectificationTicket))
def test_rectification_actions(state, client, request, rectifications):
    check(client, request, rectifications, state)


@pytest.fixture
def huji_worker(huji):
    """The service worker the toilet jobs are dispatched to (the table's `holder`)."""
    return make_user("huji_worker", membership(Role.SERVICE_WORKER, huji))


@pytest.fixture
def toilets(huji_village, hj_officer, huji_worker) -> Subject:
    household = make_household(
        huji_village, number="HJ-001", head_name="王建国", phone="13800001234"
    )
    return Subject(
        table=TOILET_ACTIONS,
        model=ToiletTicket,
        make=lambda state: pages.toilet_in(
            state, household=household, officer=hj_officer, worker=huji_worker
        ),
        page=pages.page_url,
        url_parts=_ticket_parts,
        data=lambda ticket, name: {
            "state": ticket.state,
            **pages.toilet_post_data(name, ticket, worker=huji_worker),
        },
        refusals=False,
    )


@pytest.mark.parametrize("state", states(ToiletTicket))
def test_toilet_actions(state, client, request, toilets):
    check(client, request, toilets, state, users=TOILET_USERS)
