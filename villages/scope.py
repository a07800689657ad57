"""Who may see what: the one scoping mechanism every list, detail, action, export and API uses.

A user's Scope is the union of their memberships: county-wide (task force, or an inspector or
service worker without a town), some towns, some villages. Querysets narrow themselves with
`visible_to(user)`; views fetch single objects with `get_visible_or_404` (out of scope → 404, so
an officer cannot even learn that another town's object exists) and check actions with
`require_role` (a role that may not act → 403 with the reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q
from django.http import Http404
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from collections.abc import Iterable

COUNTY_WIDE_ROLES = frozenset({"task_force", "inspector", "service_worker"})


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
        return _scope_from([grant for grant in self.grants if grant[0] in roles])

    @property
    def is_empty(self) -> bool:
        return not (self.county_wide or self.town_codes or self.village_codes)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

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


def scope_of(user) -> Scope:
    """The user's scope, computed once per request (cached on the user object)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return NO_SCOPE
    cached = getattr(user, "_renju_scope", None)
    if cached is not None:
        return cached
    scope = _compute_scope(user)
    user._renju_scope = scope
    return scope


def _compute_scope(user) -> Scope:
    if user.is_superuser:
        return _scope_from([("task_force", None, None)])
    return _scope_from(list(user.memberships.values_list("role", "town_id", "village_id")))


def _scope_from(grants: list[tuple[str, str | None, str | None]]) -> Scope:
    county_wide = any(
        town is None and village is None and role in COUNTY_WIDE_ROLES
        for role, town, village in grants
    )
    return Scope(
        roles=frozenset(role for role, _town, _village in grants),
        county_wide=county_wide,
        town_codes=frozenset(town for _role, town, _village in grants if town),
        village_codes=frozenset(village for _role, _town, village in grants if village),
        grants=tuple(grants),
    )


class ScopedQuerySet(models.QuerySet):
    def scoped(
        self,
        user,
        *,
        town: str | None = None,
        village: str | Iterable[str] = (),
        roles: Iterable[str] | None = None,
    ):
        scope = scope_of(user)
        if roles is not None:
            scope = scope.for_roles(*roles)
        condition = scope.q(town=town, village=village)
        if condition is None:
            return self.none()
        if condition and _crosses_many(self.model, town, village):
            # A path across a to-many relation (town → villages) goes into a subquery, not a
            # join: a join repeats rows, and a later annotate(Count("villages")) would reuse the
            # filtered join and count only the villages in scope (a village admin's town showed
            # 1 village). The subquery also spares a DISTINCT over every column.
            return self.filter(pk__in=self.model._base_manager.filter(condition).values("pk"))
        return self.filter(condition)


def _crosses_many(model, town, village) -> bool:
    paths = [town] if town else []
    paths += [village] if isinstance(village, str) else list(village)
    for path in paths:
        current = model
        for part in path.split("__")[:-1]:
            field = current._meta.get_field(part)
            if field.one_to_many or field.many_to_many:
                return True
            current = field.related_model
    return False


def get_visible_or_404(queryset, user, **lookup):
    """The object if `user` may see it; 404 otherwise, whether it is missing or out of scope."""
    try:
        return queryset.visible_to(user).get(**lookup)
    except queryset.model.DoesNotExist:
        raise Http404(_("Not found, or outside your jurisdiction.")) from None


def require_role(user, *roles: str, action: str) -> Scope:
    """403 with a reason unless the user holds one of `roles`."""
    scope = scope_of(user)
    if not scope.has_role(*roles):
        raise PermissionDenied(_("Your role may not %(action)s.") % {"action": action})
    return scope
