"""The demo register looks like a county's: 133 sites inside the outline, a year of patrols
with some missed, tickets where the latest patrol found a problem; loading twice adds nothing."""

from __future__ import annotations

import random

import pytest
from django.conf import settings
from django.core.management import call_command
from shapely.geometry import Point, shape

from inspections.demo import demo_patrols_seed, demo_site_tickets_seed, demo_sites_seed
from inspections.models import Patrol, PatrolResult, SiteState, WaterSite
from villages.models import County

OUTLINE = settings.BASE_DIR / "villages/fixtures/jinxiang/county_boundary_gcj02.geojson"


@pytest.fixture
def outline(divisions):
    call_command("import_boundaries", OUTLINE, crs="gcj02", level="county", verbosity=0)
    return shape(County.objects.get().boundary)


def test_the_demo_register(outline, inspector, hj_officer, make_photo):
    rng = random.Random(133)
    assert demo_sites_seed(county="370828000000", rng=rng) == 133
    sites = list(WaterSite.objects.all())
    assert all(outline.contains(Point(site.lng, site.lat)) for site in sites)
    assert len({site.town_id for site in sites}) >= 10
    assert len({site.token for site in sites}) == 133

    photos = [make_photo(inspector) for _ in range(3)]
    patrols = demo_patrols_seed(
        rng=rng,
        inspector=inspector,
        officers={hj_officer.memberships.get().town_id: hj_officer},
        photos=photos,
    )
    listed = WaterSite.objects.listed().count()
    assert listed * 9 < patrols < listed * 12  # some months missed
    assert Patrol.objects.filter(flagged=True).exists()
    assert Patrol.objects.exclude(result=PatrolResult.NORMAL).exists()

    opened = demo_site_tickets_seed()
    assert opened == Patrol.objects.exclude(ticket=None).count() > 0
    for site in WaterSite.objects.filter(state=SiteState.REBOUND):
        assert site.patrols.exclude(ticket=None).exists()

    assert demo_sites_seed(county="370828000000", rng=rng) == 0
    assert demo_patrols_seed(rng=rng, inspector=inspector, officers={}, photos=photos) == 0
