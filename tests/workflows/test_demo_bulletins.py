"""The demo year of bulletins: 18 issued in 2024 with 146 problems, numbered 1–18, mostly closed."""

from __future__ import annotations

import random

from tests.factories import make_user, membership
from villages.models import Role, Town
from workflows.demo import Staff, demo_photos
from workflows.demo_bulletins import demo_bulletins_seed
from workflows.models import Bulletin, BulletinItem


def test_the_demo_year_of_bulletins(divisions, task_force, inspector):
    officers = {
        town.code: make_user(f"officer{town.code}", membership(Role.TOWN_OFFICER, town))
        for town in Town.objects.all()
    }
    staff = Staff(task_force=task_force, inspector=inspector, officers=officers, workers={})
    rng = random.Random(18)
    photos = demo_photos(count=4, rng=rng, by=inspector)
    assert demo_bulletins_seed(staff=staff, rng=rng, photos=photos) == {
        "bulletins": 18,
        "problems": 146,
    }
    issued = Bulletin.objects.filter(year=2024, state="issued")
    assert sorted(issued.values_list("batch", flat=True)) == list(range(1, 19))
    assert BulletinItem.objects.filter(bulletin__year=2024).count() == 146
    assert all(b.issued_at.year == 2024 for b in issued)
    closed = BulletinItem.objects.filter(ticket__state="closed").count()
    assert 120 < closed < 146
    assert demo_bulletins_seed(staff=staff, rng=rng, photos=photos) == {}
