"""The province generator of bench_province (bench/province.py) at its tiny size, on PostgreSQL:
the counts it promises, codes that nest (villages in their towns, towns in their counties, all
under the made-up province 99), tickets, sites and patrols placed consistently, and the rollups
it rebuilt equal to the tickets."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count, F, Q
from django.db.models.functions import Left
from django.utils import timezone

BENCH = Path(__file__).resolve().parent.parent / "bench"

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the province generator is PostgreSQL-only"
    ),
]


@pytest.fixture
def province():
    # The bench modules import each other (and `common`) as top-level modules, as run.py runs
    # them.
    sys.path.insert(0, str(BENCH))
    try:
        import province

        yield province
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture
def loaded(province):
    return province.generate(province.SIZES["tiny"], vacuum=False)


def test_counts_are_the_size(loaded):
    from inspections.models import Assessment, Patrol, WaterSite
    from villages.models import County, Household, Town, Village
    from workflows.models import RectificationTicket, ToiletTicket

    size = loaded.size
    assert County.objects.count() == size.counties == loaded.counts["counties"]
    assert Town.objects.count() == size.towns
    assert Village.objects.count() == size.villages
    assert Household.objects.count() == size.villages * size.households_per_village
    assert WaterSite.objects.count() == size.sites
    assert RectificationTicket.objects.count() == size.tickets
    assert ToiletTicket.objects.count() == size.toilet_tickets
    assert Patrol.objects.count() == loaded.counts["patrols"] > size.patrols // 2
    assert Assessment.objects.count() == 2 * size.villages
    # Towns differ in size (villages per town), as counties do (towns per county).
    per_town = Village.objects.values("town_id").annotate(n=Count("code")).values_list("n")
    assert len(set(per_town)) > 1


def test_codes_nest_under_a_made_up_province(loaded):
    from villages.models import City, County, Membership, Role, Town, Village

    counties = list(County.objects.values_list("code", "parent_code"))
    assert all(len(code) == 12 and code.startswith("99") for code, _parent in counties)
    assert all(code.endswith("000000") for code, _parent in counties)
    assert all(parent == code[:4] + "00000000" for code, parent in counties)
    # Each county's city is a stored city with its supervisor.
    cities = set(City.objects.values_list("code", flat=True))
    assert cities == {parent for _code, parent in counties}
    supervised = Membership.objects.filter(role=Role.CITY_SUPERVISOR)
    assert set(supervised.values_list("city_id", flat=True)) == cities
    assert not Town.objects.exclude(code__regex=r"^99\d{7}000$").exists()
    assert not Town.objects.exclude(code__startswith=Left("county_id", 6)).exists()
    assert not Village.objects.exclude(code__regex=r"^99\d{10}$").exists()
    assert not Village.objects.exclude(code__startswith=Left("town_id", 9)).exists()
    assert all("县" in name for name in County.objects.values_list("name", flat=True))
    assert not Village.objects.exclude(name__endswith="委员会").exists()


def test_tickets_sites_and_patrols_lie_where_they_say(loaded):
    from inspections.models import Patrol, WaterSite
    from villages.models import Membership, Role
    from workflows.models import RectificationTicket, ToiletTicket

    assert not RectificationTicket.objects.exclude(village__town_id=F("town_id")).exists()
    assert not ToiletTicket.objects.exclude(household__village_id=F("village_id")).exists()
    assert not ToiletTicket.objects.exclude(village__town_id=F("town_id")).exists()
    assert not WaterSite.objects.exclude(village__town_id=F("town_id")).exists()
    today = timezone.localdate()
    assert not Patrol.objects.filter(local_date__gt=today).exists()
    assert not Patrol.objects.filter(site__state="delisted").exists()
    # Each patrol by the inspector of the site's county, from its registration month on.
    inspectors = dict(
        Membership.objects.filter(role=Role.INSPECTOR).values_list("county_id", "user_id")
    )
    for county, inspector in Patrol.objects.values_list(
        "site__town__county_id", "inspector_id"
    ).distinct():
        assert inspectors[county] == inspector
    assert not Patrol.objects.filter(
        local_date__lt=F("site__created_at") - timedelta(days=31)
    ).exists()
    # Every membership names its county; a town officer's town lies in it.
    assert (
        not Membership.objects.filter(town__isnull=False)
        .exclude(town__county_id=F("county_id"))
        .exists()
    )
    assert Membership.objects.filter(role=Role.TOWN_OFFICER).count() == loaded.size.towns


def test_ticket_lives_have_a_county_mix(loaded):
    from workflows.models import RECTIFICATION_RUNNING_STATES, RectificationTicket, TicketCounter

    now = timezone.now()
    old = RectificationTicket.objects.filter(created_at__lt=now - timedelta(days=90))
    assert old.filter(state="closed").count() / old.count() > 0.9
    recent = RectificationTicket.objects.filter(created_at__gte=now - timedelta(days=90))
    assert recent.filter(state__in=RECTIFICATION_RUNNING_STATES).exists()
    assert recent.filter(state="closed").exists()
    first = RectificationTicket.objects.order_by("created_at").first().created_at
    assert now - first > timedelta(days=4 * 365)
    closed = RectificationTicket.objects.filter(state="closed")
    assert not closed.filter(Q(closed_at__isnull=True) | Q(closed_at__lt=F("created_at"))).exists()
    assert not RectificationTicket.objects.filter(closed_at__gt=now).exists()
    assert not closed.filter(deadline__isnull=True).exists()
    # The counters stand past the generated numbers: the next ticket of a year is a new number.
    for counter in TicketCounter.objects.filter(prefix="ZG"):
        numbers = RectificationTicket.objects.filter(number__startswith=f"ZG-{counter.year}-")
        assert int(numbers.order_by("-number").first().number[8:]) == counter.value


def test_rollups_equal_the_tickets(loaded):
    from inspections.reporting.models import RectificationMonthCount, ToiletCount
    from workflows.models import RectificationTicket, ToiletTicket

    toilet = sum(ToiletCount.objects.values_list("n", flat=True))
    assert toilet == ToiletTicket.objects.count()
    opened = sum(RectificationMonthCount.objects.values_list("n", flat=True))
    assert opened == RectificationTicket.objects.count()


def test_search_finds_the_tickets_by_their_words(loaded):
    from workflows.models import RectificationTicket
    from workflows.tickets.search import ticket_search

    tickets = RectificationTicket.objects.all()
    ticket = tickets.order_by("pk").select_related("village").first()
    assert (
        ticket_search(tickets, "违建").count()
        == tickets.filter(description__contains="违建").count()
        > 0
    )
    found = ticket_search(tickets, ticket.village.name)
    assert ticket in found
    assert set(found) == set(tickets.filter(village__name__contains=ticket.village.name)) | set(
        tickets.filter(town__name__contains=ticket.village.name)
    )
