"""Where a user may act: a jurisdiction as a value, and the 404 for objects outside it.

A user's Scope is the union of their memberships: county-wide (a membership naming no town and
no village), some towns, some villages. Which roles carry which permission is
`villages.access`; this module knows no role. Querysets narrow themselves with
`visible_to(user)` (built on `access.ScopedQuerySet`); views fetch single objects with
`get_visible_or_404` (out of scope → 404, so an officer cannot even learn that another town's
object exists).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Q
from django.http import Http404
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from collections.abc import Iterable


@dataclass(frozen=True)
class Scope:
    roles: frozenset[str]
    county_wide: bool
    town_codes: frozenset[str]
    village_codes: frozenset[str]
    # (role, town code, village code) per membership, so a scope can be cut down to the roles
    # that may see a kind of object (a service worker sees toilet tickets, not rectifications).
    grants: tuple[tuple[str, str | None, str | None], ...] = ()

    def for_roles(self, *roles: str) -> Scope:
        """The part of this scope that comes from memberships with one of `roles`."""
        return scope_from([grant for grant in self.grants if grant[0] in roles])

    @property
    def is_empty(self) -> bool:
        return not (self.county_wide or self.town_codes or self.village_codes)

    def q(self, *, town: str | None = None, village: str | Iterable[str] = ()) -> Q | None:
        """A filter for a model whose town code is reached by the lookup `town` and whose village
        code by the lookup(s) `village`. None means "nothing at all" (callers use .none())."""
        if self.county_wide:
            return Q()
        villages = (village,) if isinstance(village, str) else tuple(village)
        clauses = []
        if town and self.town_codes:
            clauses.append(Q(**{f"{town}__in": sorted(self.town_codes)}))
        if self.village_codes:
            clauses.extend(Q(**{f"{path}__in": sorted(self.village_codes)}) for path in villages)
        if not clauses:
            return None
        combined = clauses[0]
        for clause in clauses[1:]:
            combined |= clause
        return combined


NO_SCOPE = Scope(frozenset(), False, frozenset(), frozenset())


def scope_from(grants: list[tuple[str, str | None, str | None]]) -> Scope:
    # A membership naming neither town nor village is county-wide; Membership's constraints
    # allow that only to the roles that may hold it (villages.access.MEMBERSHIP_JURISDICTION).
    county_wide = any(town is None and village is None for _role, town, village in grants)
    return Scope(
        roles=frozenset(role for role, _town, _village in grants),
        county_wide=county_wide,
        town_codes=frozenset(town for _role, town, _village in grants if town),
        village_codes=frozenset(village for _role, _town, village in grants if village),
        grants=tuple(grants),
    )


def get_visible_or_404(queryset, user, **lookup):
    """The object if `user` may see it; 404 otherwise, whether it is missing or out of scope."""
    if any("\x00" in value for value in lookup.values() if isinstance(value, str)):
        # No key holds NUL, and PostgreSQL refuses it in a query: not found, not a 500.
        raise Http404(_("Not found, or outside your jurisdiction."))
    try:
        return queryset.visible_to(user).get(**lookup)
    except queryset.model.DoesNotExist:
        raise Http404(_("Not found, or outside your jurisdiction.")) from None
