"""Demo households for `make demo`: synthetic people (no real names or numbers) in every
administrative village, written with one bulk insert. Idempotent: existing numbers are skipped."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from villages.models import Household, Village

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "建国玉兰秀英桂芝志强海燕春梅德华明亮文杰丽娟金凤红霞永刚玉珍保国淑芬"
TOILETS = ["three_compartment"] * 6 + ["double_urn"] * 3 + ["flush", "biogas"]


def demo_households_seed(*, per_village: int, rng: random.Random) -> int:
    existing = set(Household.objects.values_list("village_id", "number"))
    rows = []
    for village in Village.objects.administrative().only("code"):
        for n in range(1, per_village + 1):
            number = f"{village.code[-3:]}-{n:03d}"
            if (village.code, number) not in existing:
                rows.append(_household(village, number, rng))
    Household.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def _household(village: Village, number: str, rng: random.Random) -> Household:
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2])))
    household = Household(
        village=village,
        number=number,
        head_name=name,
        # 1xx-0000-xxxx: the 0000 block marks the number as made up.
        phone=f"1{rng.choice('3578')}{rng.randint(0, 9)}0000{rng.randint(0, 9999):04d}",
        toilet_type=rng.choice(TOILETS),
        tank_volume_m3=Decimal(rng.choice([15, 20, 25, 30])) / 10,
        last_pumped_on=timezone.localdate() - timedelta(days=rng.randint(20, 400)),
        problem=rng.choice([""] * 12 + ["poor", "unusable", "unwilling"]),
    )
    return household
