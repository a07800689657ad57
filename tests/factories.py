"""Builders for test data shared by every app's tests: users with memberships, households.

Plain functions rather than a factory library: each takes the few fields a test cares about and
fills the rest with valid values, so a test reads as the situation it sets up.
"""

from __future__ import annotations

import itertools

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Model

from villages.models import County, Household, Membership, Role, Town, Village

PASSWORD = "correct horse battery staple"
DIVISIONS_CSV = "villages/fixtures/jinxiang/divisions_2023.csv"

# The real 2023 list of 金乡县: the codes tests refer to by name.
COUNTY_CODE = "370828000000"
HUJI_CODE = "370828102000"  # 胡集镇
JISHU_CODE = "370828104000"  # 鸡黍镇

_numbers = itertools.count(1)


def load_divisions() -> None:
    call_command("import_divisions", settings.BASE_DIR / DIVISIONS_CSV, verbosity=0)


def make_user(username: str, *memberships: dict, **fields):
    """An active user holding `memberships`, each a dict like {"role": Role.INSPECTOR,
    "town": town}. No membership at all is a user who must see nothing. A membership's county
    is its town's; a county-wide one's the dict's "county" (a County), else the only county."""
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, **fields)
    Membership.objects.bulk_create(Membership(user=user, **with_county(m)) for m in memberships)
    return user


def with_county(fields: dict) -> dict:
    """`fields` of a membership with its county: the town's or village's, else the only one."""
    if "county" in fields or "county_id" in fields:
        return fields
    if fields.get("village") is not None:
        return fields | {"county_id": fields["village"].town.county_id}
    if fields.get("town") is not None:
        return fields | {"county_id": fields["town"].county_id}
    return fields | {"county": County.objects.get()}


def membership(role: Role | str, where: Model | None = None) -> dict:
    """{"role": role, "town"|"village"|"county": where} — the jurisdiction's kind follows the
    object (a County: county-wide there; None: county-wide in the only county)."""
    if where is None:
        return {"role": role}
    if isinstance(where, County):
        return {"role": role, "county": where}
    if isinstance(where, Village):
        return {"role": role, "village": where}
    assert isinstance(where, Town), where
    return {"role": role, "town": where}


def make_household(village: Village, **fields) -> Household:
    n = next(_numbers)
    id_number = fields.pop("id_number", "")
    household = Household(
        village=village,
        number=fields.pop("number", f"H{n:05d}"),
        head_name=fields.pop("head_name", f"户主{n}"),
        **fields,
    )
    if id_number:
        household.set_id_number(id_number)
    household.save()
    return household
