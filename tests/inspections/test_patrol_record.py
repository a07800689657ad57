"""Recording a patrol: proof of presence per county policy, idempotency, and consequences
(tickets for the site's town, the site's state)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import ApplicationError, Conflict, Forbidden
from inspections.models import (
    Patrol,
    PatrolPolicy,
    PatrolResult,
    Presence,
    RetiredToken,
    Rule,
    SiteState,
    TicketMode,
    WaterSite,
)
from inspections.sites import services
from inspections.sites.presence import Position
from inspections.sites.services import Observation, PatrolRefused
from tests.inspections.conftest import HUJI_SITE, make_site, moved
from workflows.models import EvidencePhoto, RectificationState, RectificationTicket
from workflows.tickets import services as tickets

NORMAL = Observation(result=PatrolResult.NORMAL)
PROBLEM = Observation(result=PatrolResult.PROBLEM, checks=frozenset({"bank_garbage", "odour"}))
REBOUND = Observation(result=PatrolResult.REBOUND, checks=frozenset({"color_abnormal"}))


def at(north_m: float = 0, accuracy: float | None = 10) -> Position:
    lat, lng = moved(HUJI_SITE, north_m=north_m)
    return Position(lat=lat, lng=lng, accuracy_m=accuracy)


@pytest.fixture
def policy(db) -> PatrolPolicy:
    return PatrolPolicy.current("370828000000")


@pytest.fixture
def record(huji_site, inspector, make_photo):
    def record(
        observation=NORMAL, *, position=None, photos=None, by=inspector, site=huji_site, key=None
    ):
        photos = [make_photo(by)] if photos is None else photos
        return services.patrol_record(
            by=by,
            site=site,
            key=key or uuid.uuid4(),
            observation=observation,
            position=at(50) if position is None else position,
            photos=photos,
        )

    return record


def codes(patrol: Patrol) -> list[str]:
    return [flag["code"] for flag in patrol.flags]


# --- proof of presence ------------------------------------------------------------------------


def test_a_patrol_50_m_from_the_site_is_accepted(record):
    patrol, created = record(position=at(50))
    assert created and not patrol.flagged and patrol.flags == []
    assert patrol.distance_m == pytest.approx(50, abs=0.5)
    assert patrol.local_date == timezone.localdate()


def test_2_km_away_is_flagged_when_the_county_flags(record, policy):
    patrol, _ = record(position=at(2000))
    assert patrol.flagged and codes(patrol) == [Presence.TOO_FAR]
    assert patrol.flags[0]["distance_m"] == 2000


def test_2_km_away_is_refused_when_the_county_refuses_and_nothing_is_stored(record, policy):
    policy.too_far = Rule.REFUSE
    policy.save()
    with pytest.raises(PatrolRefused) as refused:
        record(position=at(2000))
    assert [d.code for d in refused.value.doubts] == [Presence.TOO_FAR]
    assert "2.0" in refused.value.message
    assert not Patrol.objects.exists()


@pytest.mark.parametrize(
    ("north_m", "accuracy", "flagged"),
    [(199, 0, False), (201, 0, True), (250, 60, False), (250, 10, True), (390, 500, False)],
)
def test_gps_accuracy_widens_the_limit_up_to_the_limit_itself(record, north_m, accuracy, flagged):
    patrol, _ = record(position=at(north_m, accuracy))
    assert patrol.flagged is flagged


def test_a_vague_fix_counts_as_no_position(record):
    patrol, _ = record(position=at(30, accuracy=800))
    assert codes(patrol) == [Presence.IMPRECISE]


def test_no_position_refused_per_policy(huji_site, inspector, make_photo, policy):
    policy.no_position = Rule.REFUSE
    policy.save()
    with pytest.raises(PatrolRefused):
        services.patrol_record(
            by=inspector,
            site=huji_site,
            key=uuid.uuid4(),
            observation=NORMAL,
            position=None,
            photos=[make_photo(inspector)],
        )


def test_no_photo_is_refused_by_default(record):
    with pytest.raises(PatrolRefused) as refused:
        record(photos=[])
    assert [d.code for d in refused.value.doubts] == [Presence.NO_PHOTO]


def test_an_old_photo_is_flagged(record, make_photo, inspector):
    photo = make_photo(inspector, name="old.jpg")
    EvidencePhoto.objects.filter(pk=photo.pk).update(taken_at=timezone.now() - timedelta(days=3))
    photo.refresh_from_db()
    patrol, _ = record(photos=[photo])
    assert codes(patrol) == [Presence.OLD_PHOTO]
    assert patrol.flags[0]["photo"] == "old.jpg"


def test_a_photo_taken_far_away_is_flagged(record, make_photo, inspector):
    photo = make_photo(inspector)
    lat, lng = moved(HUJI_SITE, east_m=3000)
    EvidencePhoto.objects.filter(pk=photo.pk).update(gps_lat=lat, gps_lng=lng)
    photo.refresh_from_db()
    patrol, _ = record(photos=[photo])
    assert codes(patrol) == [Presence.PHOTO_FAR]


# --- idempotency ------------------------------------------------------------------------------


def test_a_retried_submission_returns_the_patrol_already_recorded(record):
    key = uuid.uuid4()
    first, created = record(PROBLEM, key=key)
    again, created_again = record(PROBLEM, key=key)
    assert created and not created_again and again.pk == first.pk
    assert Patrol.objects.count() == 1
    assert RectificationTicket.objects.count() == 1


# --- who may patrol ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["other_officer", "nobody", "village_admin", "service_worker"])
def test_only_finders_of_the_sites_town_may_patrol(record, request, who):
    with pytest.raises(Forbidden):
        record(by=request.getfixturevalue(who))
    assert not Patrol.objects.exists()


def test_the_towns_own_officer_and_inspector_may_patrol(record, hj_officer, town_inspector):
    assert record(by=hj_officer)[1]
    assert record(by=town_inspector)[1]


def test_a_delisted_site_is_not_patrolled(record, huji_site, task_force):
    services.site_transition(site=huji_site, by=task_force, action="delist")
    with pytest.raises(ApplicationError):
        record()


def test_a_problem_must_say_what_it_is(record):
    with pytest.raises(ApplicationError):
        record(Observation(result=PatrolResult.PROBLEM))


# --- consequences -----------------------------------------------------------------------------


def test_a_problem_opens_a_draft_ticket_for_the_sites_town(record, huji_site, huji):
    patrol, _ = record(PROBLEM)
    ticket = patrol.ticket
    assert ticket.state == RectificationState.DRAFT
    assert ticket.town == huji and ticket.village == huji_site.village
    assert ticket.source == patrol and ticket.source_kind == "patrol"
    assert ticket.category == "sewage"  # a water site's problem is black-odorous water
    assert huji_site.code in ticket.site_label
    assert list(ticket.before_photos.all()) == list(patrol.photos.all())
    assert "岸边垃圾" in ticket.description or "garbage" in ticket.description
    huji_site.refresh_from_db()
    assert huji_site.state == SiteState.MAINTAINED  # a problem is not a rebound


def test_per_policy_the_ticket_is_assigned_at_once(record, policy):
    policy.ticket_mode = TicketMode.ASSIGNED
    policy.ticket_days = 10
    policy.save()
    ticket = record(PROBLEM)[0].ticket
    assert ticket.state == RectificationState.ASSIGNED
    assert ticket.deadline == timezone.localdate() + timedelta(days=10)
    assert ticket.events.get(action="assign").data["standing_rule"] is True


def test_a_further_problem_joins_the_open_ticket(record):
    first = record(PROBLEM)[0]
    second = record(REBOUND)[0]
    assert second.ticket == first.ticket
    assert RectificationTicket.objects.count() == 1


def test_a_normal_patrol_opens_nothing(record):
    assert record()[0].ticket is None
    assert not RectificationTicket.objects.exists()


def test_a_rebound_moves_the_site_and_closing_its_ticket_moves_it_back(
    record, huji_site, task_force, hj_officer, make_photo, deadline
):
    ticket = record(REBOUND)[0].ticket
    huji_site.refresh_from_db()
    assert huji_site.state == SiteState.SUSPECTED
    services.site_transition(site=huji_site, by=task_force, action="confirm_rebound")
    assert huji_site.state == SiteState.REBOUND
    tickets.rectification_assign(ticket=ticket, by=task_force, deadline=deadline)
    tickets.rectification_submit(
        ticket=ticket, by=hj_officer, note="已清理", photos=[make_photo(hj_officer)]
    )
    tickets.rectification_close(ticket=ticket, by=task_force)
    huji_site.refresh_from_db()
    assert huji_site.state == SiteState.MAINTAINED


def test_a_rebound_after_a_closed_ticket_opens_a_new_linked_ticket(
    record, task_force, hj_officer, make_photo, deadline
):
    first = record(PROBLEM)[0].ticket
    tickets.rectification_assign(ticket=first, by=task_force, deadline=deadline)
    tickets.rectification_submit(
        ticket=first, by=hj_officer, note="已清理", photos=[make_photo(hj_officer)]
    )
    tickets.rectification_close(ticket=first, by=task_force)
    second = record(REBOUND)[0].ticket
    assert second != first and second.previous == first
    first.refresh_from_db()
    assert first.state == RectificationState.CLOSED


def test_a_rebound_at_a_site_under_treatment_leaves_its_state(record, huji, huji_village):
    site = make_site(huji, huji_village)  # 治理中
    record(REBOUND, site=site)
    site.refresh_from_db()
    assert site.state == SiteState.GOVERNING


# --- the register's own actions ---------------------------------------------------------------


def test_task_force_accepts_a_treated_site(huji, huji_village, task_force, hj_officer):
    site = make_site(huji, huji_village)
    with pytest.raises(Forbidden):
        services.site_transition(site=site, by=hj_officer, action="accept")
    services.site_transition(site=site, by=task_force, action="accept")
    assert site.state == SiteState.MAINTAINED
    with pytest.raises(ApplicationError):
        services.site_transition(site=site, by=task_force, action="accept")


def test_a_stale_copy_of_a_site_is_a_conflict(huji_site, task_force):
    stale = WaterSite.objects.get(pk=huji_site.pk)
    services.site_transition(site=huji_site, by=task_force, action="delist")
    with pytest.raises(Conflict):
        services.site_transition(site=stale, by=task_force, action="delist")


def test_rotating_the_token_retires_the_old_one(huji_site, hj_officer, other_officer):
    old = huji_site.token
    with pytest.raises(Forbidden):
        services.site_rotate_token(site=huji_site, by=other_officer)
    site = services.site_rotate_token(site=huji_site, by=hj_officer)
    assert site.token != old and len(site.token) >= 22
    assert RetiredToken.objects.get(token=old).site == site
