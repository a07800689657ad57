"""Reads across relations for the geography pages. Scope is applied here, once."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from villages import access
from villages.models import City, County, Household, Town, Village


def town_list(*, user) -> QuerySet[Town]:
    return (
        Town.objects.visible_to(user)
        .select_related("county")
        .annotate(
            village_count=Count(
                "villages", filter=Q(villages__level=Village.Level.ADMINISTRATIVE), distinct=True
            ),
            residents_count=Count(
                "villages",
                filter=Q(villages__committee_type=Village.Committee.RESIDENTS),
                distinct=True,
            ),
        )
        .order_by("code")
    )


def village_list(*, user) -> QuerySet[Village]:
    return Village.objects.visible_to(user).select_related("town", "parent").order_by("code")


def village_detail_queryset(*, user) -> QuerySet[Village]:
    return village_list(user=user).annotate(
        household_count=Count("households", distinct=True),
        natural_count=Count("natural_villages", distinct=True),
    )


def household_list(*, user) -> QuerySet[Household]:
    return Household.objects.visible_to(user).select_related("village", "village__town")


def supervised_cities(*, user) -> list[City]:
    """The cities `user` supervises (市级督导 memberships), by code."""
    if not user.is_authenticated:
        return []
    return list(City.objects.filter(memberships__user=user).distinct().order_by("code"))


def county_overview(*, user) -> QuerySet[County]:
    """The counties `user` holds county-wide (a superuser: every county), with their sizes."""
    scope = access.scope_of(user)
    counties = County.objects.all()
    if not scope.everywhere:
        counties = counties.filter(code__in=sorted(scope.county_codes))
    return counties.annotate(
        town_count=Count("towns", distinct=True),
        village_count=Count(
            "towns__villages",
            filter=Q(towns__villages__level=Village.Level.ADMINISTRATIVE),
            distinct=True,
        ),
    )
