"""Who sees what (docs/architecture.md §5): the named users' scopes over the real 金乡县."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404

from tests.factories import (
    COUNTY_CODE,
    HUJI_CODE,
    JISHU_CODE,
    make_household,
    make_user,
    membership,
)
from villages import access, selectors
from villages.access import scope_of
from villages.models import Household, Membership, Role, Town, Village
from villages.scope import get_visible_or_404

ALL = "all"
NAMED_USERS = [
    "task_force",
    "inspector",
    "service_worker",
    "hj_officer",
    "town_inspector",
    "other_officer",
    "village_admin",
    "nobody",
]


@pytest.fixture
def huji_natural(huji_village) -> Village:
    """A natural village (自然村) under 胡集村: its village admin sees it too."""
    return Village.objects.create(
        code=f"{huji_village.code}001",
        name="胡集东村",
        town_id=huji_village.town_id,
        level=Village.Level.NATURAL,
        parent=huji_village,
    )


@pytest.fixture
def households(huji_village, huji_natural, jishu_village) -> dict[str, Household]:
    """Households in two towns: 胡集镇 (its first village, a natural village of it, another
    village) and 鸡黍镇."""
    other_huji = huji_village.town.villages.administrative().exclude(code=huji_village.code)[0]
    return {
        "huji_1": make_household(huji_village, phone="13812345678"),
        "huji_2": make_household(huji_village),
        "huji_natural": make_household(huji_natural),
        "huji_other_village": make_household(other_huji),
        "jishu_1": make_household(jishu_village),
        "jishu_2": make_household(jishu_village),
    }


def expected_scope(name: str, huji_village: Village) -> dict:
    """Town codes, village codes and household keys each named user must see, worked out from
    the geography directly, not through visible_to."""
    villages_of = {
        code: set(Village.objects.filter(town_id=code).values_list("code", flat=True))
        for code in (HUJI_CODE, JISHU_CODE)
    }
    huji = {
        "towns": {HUJI_CODE},
        "villages": villages_of[HUJI_CODE],
        "households": {"huji_1", "huji_2", "huji_natural", "huji_other_village"},
    }
    everything = {"towns": ALL, "villages": ALL, "households": ALL}
    return {
        "task_force": everything,
        "inspector": everything,
        "service_worker": everything,
        "hj_officer": huji,
        "town_inspector": huji,
        "other_officer": {
            "towns": {JISHU_CODE},
            "villages": villages_of[JISHU_CODE],
            "households": {"jishu_1", "jishu_2"},
        },
        "village_admin": {
            "towns": {HUJI_CODE},
            "villages": {huji_village.code, f"{huji_village.code}001"},
            "households": {"huji_1", "huji_2", "huji_natural"},
        },
        "nobody": {"towns": set(), "villages": set(), "households": set()},
    }[name]


@pytest.mark.parametrize("name", NAMED_USERS)
def test_the_scope_matrix(request, name, households, huji_village):
    user = request.getfixturevalue(name)
    expected = expected_scope(name, huji_village)
    all_towns = set(Town.objects.values_list("code", flat=True))
    all_villages = set(Village.objects.values_list("code", flat=True))
    assert len(all_towns) == 13
    assert len(all_villages) == 559  # 558 administrative + the natural one

    towns = list(Town.objects.visible_to(user).values_list("code", flat=True))
    villages = list(Village.objects.visible_to(user).values_list("code", flat=True))
    seen_households = set(Household.objects.visible_to(user).values_list("pk", flat=True))

    assert len(towns) == len(set(towns)), "a town is listed twice"
    assert set(towns) == (all_towns if expected["towns"] == ALL else expected["towns"])
    assert set(villages) == (all_villages if expected["villages"] == ALL else expected["villages"])
    keys = households.keys() if expected["households"] == ALL else expected["households"]
    assert seen_households == {households[key].pk for key in keys}


def test_the_other_officer_sees_nothing_of_huji(other_officer, households, huji, huji_village):
    assert not Town.objects.visible_to(other_officer).filter(code=HUJI_CODE).exists()
    assert not Village.objects.visible_to(other_officer).filter(town=huji).exists()
    assert not Household.objects.visible_to(other_officer).filter(village__town=huji).exists()
    with pytest.raises(Http404):
        get_visible_or_404(Town.objects, other_officer, code=HUJI_CODE)
    with pytest.raises(Http404):
        get_visible_or_404(Village.objects, other_officer, code=huji_village.code)
    with pytest.raises(Http404):
        get_visible_or_404(Household.objects, other_officer, pk=households["huji_1"].pk)


def test_get_visible_or_404_returns_what_is_in_scope(hj_officer, households, huji_village):
    assert get_visible_or_404(Village.objects, hj_officer, code=huji_village.code) == huji_village
    town = get_visible_or_404(Town.objects.select_related("county"), hj_officer, code=HUJI_CODE)
    assert town.county.name == "金乡县"
    household = households["huji_1"]
    assert get_visible_or_404(Household.objects, hj_officer, pk=household.pk) == household


def test_out_of_scope_and_missing_answer_the_same_404(hj_officer, jishu_village):
    with pytest.raises(Http404) as out_of_scope:
        get_visible_or_404(Village.objects, hj_officer, code=jishu_village.code)
    with pytest.raises(Http404) as missing:
        get_visible_or_404(Village.objects, hj_officer, code="370828999999")

    # Same answer: an officer cannot learn that another town's village exists.
    assert str(out_of_scope.value) == str(missing.value)


def test_a_village_admin_cannot_reach_a_neighbouring_village(village_admin, huji_village):
    neighbour = huji_village.town.villages.administrative().exclude(code=huji_village.code)[0]

    with pytest.raises(Http404):
        get_visible_or_404(Village.objects, village_admin, code=neighbour.code)


def test_require_refuses_with_the_reason(hj_officer):
    with pytest.raises(PermissionDenied) as refused:
        access.require(hj_officer, "jobs.view", action="close a ticket")

    assert "close a ticket" in str(refused.value)


def test_require_returns_the_scope_where_the_permission_holds(hj_officer, task_force):
    scope = access.require(hj_officer, "dashboard.view", action="rectify")

    assert scope.town_codes == {HUJI_CODE}
    assert not scope.county_wide
    assert access.require(task_force, "jobs.view", action="close").county_wide


@pytest.mark.parametrize("name", ["nobody", "village_admin", "service_worker"])
def test_require_refuses_roles_the_permission_does_not_name(request, name):
    user = request.getfixturevalue(name)

    with pytest.raises(PermissionDenied):
        access.require(user, "dashboard.view", action="issue a bulletin")


def test_two_memberships_see_the_union(huji, jishu_village, households):
    user = make_user(
        "two_hats",
        membership(Role.TOWN_OFFICER, huji),
        membership(Role.VILLAGE_ADMIN, jishu_village),
    )

    towns = set(Town.objects.visible_to(user).values_list("code", flat=True))
    villages = set(Village.objects.visible_to(user).values_list("code", flat=True))
    seen = set(Household.objects.visible_to(user).values_list("pk", flat=True))

    assert towns == {HUJI_CODE, JISHU_CODE}
    assert villages == set(huji.villages.values_list("code", flat=True)) | {jishu_village.code}
    assert seen == {h.pk for h in households.values()}
    assert access.held_roles(user) == [Role.TOWN_OFFICER, Role.VILLAGE_ADMIN]


def test_a_superuser_sees_everything(divisions, households):
    admin = get_user_model().objects.create_superuser("root", password="x" * 12)

    assert Town.objects.visible_to(admin).count() == 13
    assert Village.objects.visible_to(admin).count() == Village.objects.count()
    assert Household.objects.visible_to(admin).count() == len(households)


def test_anonymous_and_inactive_users_see_nothing(task_force, households):
    task_force.is_active = False
    task_force.save()
    inactive = type(task_force).objects.get(pk=task_force.pk)

    for user in (AnonymousUser(), inactive, None):
        assert scope_of(user).is_empty
        assert not Town.objects.visible_to(user).exists()
        assert not Village.objects.visible_to(user).exists()
        assert not Household.objects.visible_to(user).exists()
        with pytest.raises(PermissionDenied):
            access.require(user, "jobs.view", action="close a ticket")


# --- a to-many scope path does not distort what is built on it ---------------------------------


def test_a_village_admin_of_two_villages_sees_their_town_once(huji):
    first, second = huji.villages.order_by("code")[:2]
    user = make_user(
        "two_villages",
        membership(Role.VILLAGE_ADMIN, first),
        membership(Role.VILLAGE_ADMIN, second),
    )

    assert list(Town.objects.visible_to(user).values_list("code", flat=True)) == [HUJI_CODE]
    assert Town.objects.visible_to(user).count() == 1


def test_a_village_admins_town_list_counts_all_the_towns_villages(village_admin, huji):
    towns = list(selectors.town_list(user=village_admin))

    assert [t.code for t in towns] == [HUJI_CODE]
    assert towns[0].village_count == huji.villages.administrative().count() == 77


# --- membership constraints ------------------------------------------------------------------


@pytest.mark.parametrize(
    "role,where",
    [
        (Role.TOWN_OFFICER, {}),
        (Role.TOWN_OFFICER, {"village": "huji_village"}),
        (Role.TASK_FORCE, {"town": "huji"}),
        (Role.TASK_FORCE, {"village": "huji_village"}),
        (Role.VILLAGE_ADMIN, {}),
        (Role.VILLAGE_ADMIN, {"town": "huji"}),
        (Role.INSPECTOR, {"town": "huji", "village": "huji_village"}),
    ],
    ids=[
        "town officer without a town",
        "town officer of a village",
        "task force with a town",
        "task force with a village",
        "village admin without a village",
        "village admin of a town",
        "town and village at once",
    ],
)
def test_a_membership_without_its_jurisdiction_is_refused(request, nobody, role, where):
    fields = {key: request.getfixturevalue(value) for key, value in where.items()}

    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=nobody, role=role, county_id=COUNTY_CODE, **fields)

    assert not Membership.objects.filter(user=nobody).exists()


def test_the_same_membership_twice_is_refused(task_force, hj_officer, huji):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=task_force, role=Role.TASK_FORCE, county_id=COUNTY_CODE)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(
            user=hj_officer, role=Role.TOWN_OFFICER, county_id=COUNTY_CODE, town=huji
        )


# --- masked personal data --------------------------------------------------------------------

ID_NUMBER = "37082819800101123X"


def test_the_phone_is_shown_masked(huji_village):
    household = make_household(huji_village, phone="13812345678")

    assert household.phone_masked == "138****5678"
    assert make_household(huji_village, phone="").phone_masked == ""


def test_the_full_id_number_is_stored_nowhere_on_the_row(huji_village):
    household = make_household(huji_village, id_number=ID_NUMBER.lower())

    row = Household.objects.filter(pk=household.pk).values().get()
    stored = " ".join(str(value) for value in row.values())
    assert ID_NUMBER not in stored.upper()
    assert "19800101" not in stored  # the date of birth is masked too
    assert row["id_number_masked"] == "370828********123X"
    # The digest is keyed: a plain hash of the number could be brute-forced from the row.
    assert row["id_number_digest"]
    assert row["id_number_digest"] != hashlib.sha256(ID_NUMBER.encode()).hexdigest()


def test_the_id_digest_finds_the_same_household_again(huji_village):
    household = make_household(huji_village, id_number=ID_NUMBER)
    again = Household(village=huji_village)
    again.set_id_number(f" {ID_NUMBER.lower()} ")
    other = Household(village=huji_village)
    other.set_id_number("370828198001011234")

    assert again.id_number_digest == household.id_number_digest
    assert other.id_number_digest != household.id_number_digest


# --- query counts ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["hj_officer", "village_admin", "task_force"])
def test_a_scoped_village_list_is_one_query_once_the_scope_is_cached(
    request, name, django_assert_num_queries
):
    user = request.getfixturevalue(name)
    with django_assert_num_queries(1):
        scope_of(user)  # the memberships, read once per request

    with django_assert_num_queries(1):
        villages = list(Village.objects.visible_to(user))
    with django_assert_num_queries(1):
        towns = list(Town.objects.visible_to(user))

    assert villages
    assert towns


def test_a_superuser_scope_needs_no_query(divisions, django_assert_num_queries):
    admin = get_user_model().objects.create_superuser("root", password="x" * 12)

    with django_assert_num_queries(0):
        assert scope_of(admin).county_wide


def test_a_county_wide_scope_is_a_range_of_town_codes_not_a_join(task_force, households):
    """The task force's tickets are those whose town code lies in its county's range (codes
    nest: town_code_in_county), read on the ticket's own column: no join to the towns, which
    made SQLite sort a whole county's tickets for one page."""
    from workflows.models import RectificationTicket

    visible = RectificationTicket.objects.visible_to(task_force)
    sql = str(visible.query)
    assert "villages_town" not in sql
    assert f"{COUNTY_CODE[:6]}000000" in sql and f"{COUNTY_CODE[:6]}999999" in sql
    # The range is exactly the county's towns: every town of the county and no other.
    towns = Town.objects.scoped(task_force, town="code", perm="ticket.view")
    assert set(towns.values_list("code", flat=True)) == set(
        Town.objects.filter(county_id=COUNTY_CODE).values_list("code", flat=True)
    )
