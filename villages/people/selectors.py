"""Reads of the people pages: the people a manager may see, one person with his memberships and
their history. A person is visible where the manager holds people.manage: county-wide, whoever
holds a membership in that county (and whoever holds none, such as a person whose last role was
taken away: he belongs to no county yet); with a town or village grant (none today), whoever
holds a membership there. A superuser sees everyone."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from villages import access
from villages.models import Membership, MembershipChange, Person

# What a membership shows (its role and place), without the places' boundaries.
MEMBERSHIP_COLUMNS = (
    "id",
    "user_id",
    "role",
    "county_id",
    "city__code",
    "city__name",
    "town__code",
    "town__name",
    "village__code",
    "village__name",
    "village__parent_id",
    "village__town_id",
    "village__town__name",
)


def memberships_shown() -> QuerySet[Membership]:
    return (
        Membership.objects.select_related("city", "town", "village__town")
        .only(*MEMBERSHIP_COLUMNS)
        .order_by("role", "town_id", "village_id", "id")
    )


def people_visible_to(user) -> QuerySet:
    """The users whose accounts `user` may see on the people pages."""
    granted = access.scope(user, "people.manage")
    users = get_user_model().objects.all()
    if granted.everywhere:
        return users
    # A membership names its county itself: a county-wide grant finds its county's by it.
    in_villages = granted.q(
        town="village__town_id", village=("village_id", "village__parent_id"), county="county_id"
    )
    in_towns = granted.q(town="town_id", county="county_id")
    conditions = [c for c in (in_villages, in_towns) if c is not None]
    if not conditions:
        return users.none()
    condition = Q()
    for clause in conditions:
        condition |= clause
    visible = Q(pk__in=Membership.objects.filter(condition).values("user_id"))
    if granted.county_wide:
        visible |= ~Q(pk__in=Membership.objects.values("user_id"))
    return users.filter(visible)


def person_list(*, user) -> QuerySet:
    """Everyone `user` may see, with his profile and memberships in two more queries at most."""
    return (
        people_visible_to(user)
        .filter(access_token__isnull=True)  # other systems' accounts: on the tokens page
        .select_related("person")
        .prefetch_related(Prefetch("memberships", queryset=memberships_shown()))
        .order_by("-is_active", "username")
    )


def person_or_404(*, user, pk) -> object:
    """The person `pk` if `user` may see him: 404 when missing or out of his jurisdiction."""
    try:
        return person_list(user=user).get(pk=pk)
    except (get_user_model().DoesNotExist, ValueError, TypeError):
        raise Http404(_("Not found, or outside your jurisdiction.")) from None


def membership_history(person) -> QuerySet[MembershipChange]:
    return MembershipChange.objects.filter(user=person).select_related("actor")


def profile_of(person) -> Person | None:
    """The person's profile if he has one (select_related by person_list), else None."""
    try:
        return person.person
    except Person.DoesNotExist:
        return None


def must_change_password(user) -> bool:
    return Person.objects.filter(user=user, must_change_password=True).exists()
