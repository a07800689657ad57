"""A query compiled once and run with new values (core.prepared), as the scan page reads its site:
the same objects as the queryset gives, field by field, related objects and annotations included,
on SQLite and PostgreSQL; one query a run; the value only ever a parameter."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q
from django.utils import timezone

from core.prepared import Prepared
from inspections.models import WaterSite
from inspections.sites import selectors
from tests.inspections.conftest import make_patrol, make_site

pytestmark = pytest.mark.django_db


def with_versions(token: str):
    return (
        selectors.site_page_queryset()
        .filter(token=token)
        .annotate(
            patrols_version=selectors.RawSQL(selectors._PATROLS_VERSION, ()),
            tickets_version=selectors.RawSQL(selectors._TICKETS_VERSION, ()),
        )
    )


def fields(obj) -> dict:
    deferred = obj.get_deferred_fields()
    return {
        f.attname: getattr(obj, f.attname)
        for f in obj._meta.concrete_fields
        if f.attname not in deferred
    }


def assert_same(prepared, orm) -> None:
    assert type(prepared) is type(orm)
    assert fields(prepared) == fields(orm)
    assert prepared.get_deferred_fields() == orm.get_deferred_fields()
    assert (prepared.patrols_version, prepared.tickets_version) == (
        orm.patrols_version,
        orm.tickets_version,
    )
    for relation in ("town", "village"):
        ours, theirs = getattr(prepared, relation), getattr(orm, relation)
        assert (ours is None) is (theirs is None)
        if theirs is not None:
            assert fields(ours) == fields(theirs)
            assert ours.get_deferred_fields() == theirs.get_deferred_fields() == {"boundary"}


def test_the_same_site_as_the_queryset_gives(
    huji, huji_village, inspector, django_assert_num_queries
):
    in_village = make_site(huji, huji_village, state="maintained", area_m2=1234.5)
    no_village = make_site(huji, state="suspected")
    today = timezone.localdate()
    for n in range(3):
        make_patrol(in_village, inspector, on=today - timedelta(days=n))
    prepared = Prepared(with_versions)
    for site in (in_village, no_village):
        with django_assert_num_queries(1):
            ours = prepared.first(site.token)
        with django_assert_num_queries(0):  # town and village came with it
            assert ours.town.name and (ours.village is None) is (site.village_id is None)
        assert_same(ours, with_versions(site.token).get())
    assert prepared.first(in_village.token).patrols_version.startswith("3.")
    assert prepared.first(no_village.token).patrols_version.startswith("0.")


def test_a_value_of_no_row_is_none_and_stays_a_value(huji_site):
    prepared = Prepared(with_versions)
    assert prepared.first(huji_site.token) is not None
    for value in ("no-such-token", "' OR 1=1 --", f"{huji_site.token}%", huji_site.token[:-1]):
        assert prepared.first(value) is None, value
    assert prepared.first(huji_site.token).pk == huji_site.pk  # the compiled query is unchanged


def test_a_query_must_take_its_value_exactly_once(huji_site):
    twice = Prepared(lambda value: WaterSite.objects.filter(Q(token=value) | Q(code=value)))
    with pytest.raises(ImproperlyConfigured):
        twice.first(huji_site.token)
    never = Prepared(lambda value: WaterSite.objects.filter(code=huji_site.code))
    with pytest.raises(ImproperlyConfigured):
        never.first(huji_site.token)


def test_the_scan_site_is_the_users_to_see_only(huji_site, inspector, other_officer):
    assert selectors.scan_site(user=inspector, token=huji_site.token).pk == huji_site.pk
    assert selectors.scan_site(user=other_officer, token=huji_site.token) is None


@pytest.mark.parametrize("token", ["%00", "abc%00def", "%E5%9D%91%E5%A1%98"])
def test_a_token_no_label_has_is_404(client, inspector, huji_site, token):
    client.force_login(inspector)
    response = client.get(f"/s/{token}")
    assert response.status_code == 404
    assert huji_site.name not in response.content.decode()
