"""Who may do what, and where: every permission by name, the roles that hold it, and its reach.

This is the one place that spells a role. Services, selectors, views, querysets and templates ask
by permission name ("ticket.close", "site.delist", "bulletin.issue"):

- `allows(user, perm)` — holds the permission somewhere (menus, buttons, 403 before a form);
- `allows(user, perm, obj)` — holds it with a jurisdiction covering `obj` (anything with a town
  code and a village: tickets, sites, households' villages);
- `scope(user, perm)` — the part of the user's jurisdiction that carries the permission, for
  querysets (`ScopedQuerySet.scoped(user, perm=...)`) and town/village pickers;
- `names(user, obj, field=…, perm=…)` — `obj` names `user` (the worker a job is dispatched to)
  and he holds `perm` where `obj` is now: being named alone grants nothing;
- `require(user, perm)` — 403 with the reason unless `allows`;
- `{% if can.ticket.close %}` in templates (the `can` context processor).

A city supervisor's membership names a city, not a county: it counts as a county-wide membership
in each county of the city (`scope_of`), of a role that holds view permissions only, and the
city's own bulletins (city_bulletin.compose).

A permission marked `county` holds only with a county-wide membership (the task force's rounds,
bulletins and job runs): a town-level grant of the same role would not do. A jurisdiction is
the union of a user's memberships (see `villages.scope.Scope`); every membership names its
county, and a county-wide one reaches that county only (the tenant). A superuser (Django admin)
acts as the task force of every county in the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from villages.scope import NO_SCOPE, Grant, Scope, scope_from

# A city's code is its first 4 digits and 8 zeros (villages.models.city_code_of).
CITY_DIGITS = 4


class Role(models.TextChoices):
    INSPECTOR = "inspector", gettext_lazy("inspector (巡查员)")
    TOWN_OFFICER = "town_officer", gettext_lazy("town officer (乡镇专干)")
    TASK_FORCE = "task_force", gettext_lazy("county task force (县专班)")
    SERVICE_WORKER = "service_worker", gettext_lazy("service worker (管护员)")
    VILLAGE_ADMIN = "village_admin", gettext_lazy("village admin (村管员)")
    CITY_SUPERVISOR = "city_supervisor", gettext_lazy("city supervisor (市级督导)")


TF, INSP, TOWN, WORKER, VADMIN, CITY = (
    Role.TASK_FORCE,
    Role.INSPECTOR,
    Role.TOWN_OFFICER,
    Role.SERVICE_WORKER,
    Role.VILLAGE_ADMIN,
    Role.CITY_SUPERVISOR,
)

# The jurisdiction a membership of each role must name (docs/architecture.md §5), enforced by
# Membership's check constraints (named here, as the migrations know them); a role not listed
# may name a town, a village, or neither (county-wide).
MEMBERSHIP_JURISDICTION: dict[Role, tuple[str, Q]] = {
    TOWN: ("membership_town_officer_has_town", Q(town__isnull=False, village__isnull=True)),
    VADMIN: ("membership_village_admin_has_village", Q(village__isnull=False)),
    TF: ("membership_task_force_county_wide", Q(town__isnull=True, village__isnull=True)),
    # A city's membership names the city alone; every other names its county
    # (Membership's membership_has_county).
    CITY: (
        "membership_city_supervisor_has_city",
        Q(city__isnull=False, county__isnull=True, town__isnull=True, village__isnull=True),
    ),
}

# A superuser (Django admin) acts as the task force of every county (villages.scope: everywhere),
# and as the city supervisor of every city (the city dashboard).
SUPERUSER_ROLES = (TF, CITY)
# A county's first account, made at go-live (manage.py init_county): it adds everyone else.
FIRST_ACCOUNT_ROLE = TF


@dataclass(frozen=True)
class Permission:
    name: str
    roles: tuple[str, ...]
    county: bool = False  # holds only with a county-wide membership of one of `roles`


# Shorthands for the role sets several permissions share.
FINDERS = (TF, INSP, TOWN)  # who opens tickets and patrols sites in their jurisdiction
OFFICES = (TOWN, TF)  # the town and the county desks
# Bulletins, notices, rounds, grades, coverage. The city supervisor reads (only) in every
# county of his city: he holds the *.view permissions and city.dashboard, and writes nothing in
# a county but through his city's bulletins (city_bulletin.compose).
READERS = (TF, INSP, TOWN, CITY)

PERMISSIONS: dict[str, Permission] = {
    p.name: p
    for p in (
        # 整改单 (rectification tickets)
        Permission("ticket.view", (TF, INSP, TOWN, VADMIN, CITY)),
        Permission("ticket.open", FINDERS),
        Permission("ticket.assign", (TF,)),
        Permission("ticket.submit", (TOWN,)),
        Permission("ticket.reject", (TF,)),
        Permission("ticket.close", (TF,)),
        Permission("ticket.request_extension", (TOWN,)),
        Permission("ticket.approve_extension", (TF,)),
        Permission("ticket.refuse_extension", (TF,)),
        Permission("ticket.cancel", (TF,)),
        # 管护工单 (toilet service tickets); the assigned worker's own steps are `toilet.work`
        Permission("toilet.view", (TF, TOWN, VADMIN, CITY)),
        Permission("toilet.report", (VADMIN, TOWN, TF)),
        Permission("toilet.channel", OFFICES),  # say how a request came in (phone, patrol…)
        Permission("toilet.dispatch", OFFICES),
        Permission("toilet.work", (WORKER,)),  # be dispatched to, accept, start, complete
        Permission("toilet.confirm", OFFICES),
        Permission("toilet.reopen", OFFICES),
        Permission("toilet.return", OFFICES),
        Permission("toilet.cancel", OFFICES),
        Permission("toilet.full_phone", OFFICES),  # call the household back (回访)
        # 黑臭水体 (water sites)
        Permission("site.view", (TF, INSP, TOWN, VADMIN, CITY)),
        Permission("site.patrol", FINDERS),
        Permission("site.accept", (TF,)),
        Permission("site.confirm_rebound", (TF,)),
        Permission("site.dismiss_rebound", (TF,)),
        Permission("site.delist", (TF,)),
        Permission("site.labels", (TF, TOWN)),  # print QR labels, rotate a site's token
        Permission("coverage.view", READERS),  # coverage, the site and village maps
        # rounds and grades
        Permission("grade.view", READERS),
        Permission("round.manage", (TF,), county=True),  # start, close, publish
        Permission("assessment.make", (TF, INSP)),
        Permission("assessment.review", (TF,), county=True),  # approve, send back
        # documents
        Permission("bulletin.view", READERS),
        Permission("bulletin.view_all", (TF,), county=True),  # drafts and every town's
        Permission("bulletin.compose", (TF,), county=True),  # compose, edit, issue
        Permission("bulletin.acknowledge", (TOWN,)),
        Permission("notice.view", READERS),
        Permission("notice.receive", (TOWN,)),  # overdue notices are addressed to the town
        # the county's desk
        Permission("dashboard.view", (*OFFICES, CITY)),
        # the city's desk (市级督导): its counties side by side
        Permission("city.dashboard", (CITY,)),
        # 市级通报: the city supervisor composes and issues his city's (county-wide grants in
        # each county of it: the city's bulletins are those of the counties' city); the
        # task force and town officers read the issued ones naming a ticket of theirs, and the
        # task force of a named county acknowledges it (回执). Naming a ticket is the city's only
        # write into a county: an event row on the ticket (workflows/bulletins/city.py).
        Permission("city_bulletin.compose", (CITY,), county=True),
        Permission("city_bulletin.view", OFFICES),
        Permission("city_bulletin.acknowledge", (TF,), county=True),
        Permission("jobs.view", (TF,)),
        # registers in and out of Excel: download the import templates (导入模板)
        Permission("imports.run", (TF,), county=True),
        # people (villages/people): add people, give and take roles, deactivate, reset passwords
        Permission("people.manage", (TF,), county=True),
        # the county's configuration (SLA hours, reminder day, bulletin issuer…): its own page
        Permission("county.configure", (TF,), county=True),
    )
}


def roles(perm: str) -> tuple[str, ...]:
    return PERMISSIONS[perm].roles


# --- who may give whom a role ------------------------------------------------------------------

# The order of the roles (villages/people): a role is given, taken away, or its holder's account
# managed only by someone who holds people.manage through a role of at least the same rank, in a
# jurisdiction covering the membership's. Today only the county-wide task force holds
# people.manage, so it gives every county role; were a town's officers given people rights
# later, they could give the town's roles of their rank and below (a village admin), never the
# task force.
# The city supervisor ranks above the task force: no county gives it; a superuser does (the
# Django admin) and manage.py init_city, both audited.
ROLE_RANK: dict[Role, int] = {CITY: 4, TF: 3, INSP: 2, TOWN: 2, WORKER: 2, VADMIN: 1}

# What the people pages say when a membership's jurisdiction does not fit its role
# (MEMBERSHIP_JURISDICTION above; a role not listed may name a town, a village or neither).
JURISDICTION_HINTS = {
    TOWN: gettext_lazy("A town officer works for one town: choose the town and no village."),
    VADMIN: gettext_lazy("A village admin works for one village: choose the village."),
    TF: gettext_lazy("The task force works for the whole county: choose no town and no village."),
    CITY: gettext_lazy(
        "A city supervisor's role is given by the system administrator (Django admin, or "
        "manage.py init_city), not in a county."
    ),
}
# The roles a membership in a county holds: every role but the city's (the roster's choices).
COUNTY_ROLES = tuple(role for role in Role if role != CITY)
JURISDICTION_HINT_ANY = gettext_lazy("Choose a town, a village, or neither for the whole county.")


def jurisdiction_fits(role: str, *, town: bool, village: bool) -> bool:
    """A membership of `role` naming a town (`town`) or a village (`village`) satisfies
    Membership's check constraints, which are built from the same MEMBERSHIP_JURISDICTION."""
    if town and village:
        return False  # membership_one_jurisdiction
    rule = MEMBERSHIP_JURISDICTION.get(Role(role))
    if rule is None:
        return True
    # The people pages and the roster give memberships in a county, never a city's.
    facts = {
        "town__isnull": not town,
        "village__isnull": not village,
        "county__isnull": False,
        "city__isnull": True,
    }
    # Each condition is an AND of `<field>__isnull` lookups (tests/villages/test_people.py
    # checks this reading against the database's constraints).
    return all(facts[lookup] == value for lookup, value in rule[1].children)


def jurisdiction_hint(role: str) -> str:
    return str(JURISDICTION_HINTS.get(Role(role), JURISDICTION_HINT_ANY))


def may_grant(user, membership) -> bool:
    """`user` may give (or take away) `membership` (saved or not; its role, county_id, town_id,
    village): he holds people.manage through a role ranked at least as high as the
    membership's, with a jurisdiction that covers the membership's — a county-wide membership
    needs a county-wide grant in its county; a village is covered by its town, or by itself or
    its administrative village."""
    rank = ROLE_RANK[Role(membership.role)]
    for role, county, town, village in scope(user, "people.manage").grants:
        if ROLE_RANK[Role(role)] < rank:
            continue
        if town is None and village is None:
            if county is None or county == membership.county_id:
                return True
            continue
        if membership.village_id:
            place = membership.village
            if town == place.town_id or village in {place.pk, place.parent_id} - {None}:
                return True
        elif membership.town_id and town == membership.town_id:
            return True
    return False


def grantable_roles(user) -> list[Role]:
    """The roles `user` may give somewhere, in the order of `Role`."""
    held = [ROLE_RANK[Role(role)] for role, *_place in scope(user, "people.manage").grants]
    top = max(held, default=0)
    return [role for role in Role if ROLE_RANK[role] <= top]


def may_manage(user, person, memberships: Iterable) -> bool:
    """`user` may change `person`'s account (roles, active state, password): he may give every
    role `person` holds where he holds it. An administrator's account (Django admin staff) only
    a superuser may change: its password would open the admin to whoever reset it."""
    if person.is_superuser or person.is_staff:
        return bool(user.is_superuser)
    return all(may_grant(user, membership) for membership in memberships)


# --- a user's jurisdiction --------------------------------------------------------------------


def scope_of(user) -> Scope:
    """The user's whole jurisdiction, computed once per request (cached on the user object)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return NO_SCOPE
    cached = getattr(user, "_renju_scope", None)
    if cached is not None:
        return cached
    if user.is_superuser:
        # A superuser acts everywhere: every county of the deployment (no county named).
        grants = [(role, None, None, None) for role in SUPERUSER_ROLES]
    else:
        rows = user.memberships.values_list("role", "county_id", "town_id", "village_id", "city_id")
        grants = _city_grants(list(rows))
    user._renju_scope = scope_from(grants)
    return user._renju_scope


def _city_grants(rows: list[tuple]) -> list[Grant]:
    """Memberships as grants: a city's membership becomes a county-wide grant of its role in
    each county of the city stored now (its code's first 4 digits are the city's), so every
    rule of a county-wide grant applies to it, county by county; one query, for city
    supervisors only."""
    grants = [(role, county, town, place) for role, county, town, place, city in rows if not city]
    prefixes = {city[:CITY_DIGITS]: role for role, _c, _t, _v, city in rows if city}
    if prefixes:
        from villages.models import County  # the models import this module

        condition = Q()
        for prefix in prefixes:
            condition |= Q(code__startswith=prefix)
        for code in County.objects.filter(condition).values_list("code", flat=True):
            grants.append((prefixes[code[:CITY_DIGITS]], code, None, None))
    return grants


def held_roles(user) -> list[Role]:
    """The roles the user holds, in the order of `Role` (his start page shows one card each)."""
    held = scope_of(user).roles
    return [role for role in Role if role in held]


def scope(user, perm: str) -> Scope:
    """Where `user` holds `perm`: the part of his jurisdiction from the roles that carry it."""
    permission = PERMISSIONS[perm]
    granted = scope_of(user).for_roles(*permission.roles)
    if permission.county:
        return granted.county_only() if granted.county_wide else NO_SCOPE
    return granted


def allows(user, perm: str, obj=None) -> bool:
    """`user` holds `perm` somewhere, or, given `obj`, where `obj` is (its town, village, or
    the village's administrative village)."""
    granted = scope(user, perm)
    if obj is None:
        return not granted.is_empty
    return covers(granted, obj)


def covers(granted: Scope, obj) -> bool:
    """`granted` reaches `obj`: a village, or anything with a town and a village (a county-wide
    grant reaches its county's towns only)."""
    if granted.covers_town(obj.town_id):
        return True
    return bool(_village_codes(obj) & granted.village_codes)


def county_code(user, perm: str) -> str | None:
    """The county where `user` holds `perm` county-wide, when there is exactly one (the county
    a county-wide membership he gives is made in); None otherwise."""
    counties = scope(user, perm).county_codes
    return next(iter(counties)) if len(counties) == 1 else None


def _village_codes(obj) -> set[str]:
    # A village admin of an administrative village also acts for its natural villages.
    if hasattr(obj, "village_id"):  # a ticket, a site: its village and that one's parent
        village = obj.village if obj.village_id else None
        return {obj.village_id, getattr(village, "parent_id", None)} - {None}
    return {obj.pk, obj.parent_id} - {None}  # a village itself


def names(user, obj, *, field: str, perm: str, place=None) -> bool:
    """`obj` names `user` in `field` (an id attribute: the worker a job is dispatched to) and he
    holds `perm` where `place` (default `obj`) is now.

    Being named grants nothing by itself: what a person may see or do as the one an object names
    ends with his membership there. A service worker moved to another town, or whose role was
    taken away, keeps none of his old town's jobs (nor their households' phone numbers). The
    same rule for querysets is `ScopedQuerySet.named`."""
    pk = getattr(user, "pk", None)
    return pk is not None and getattr(obj, field) == pk and allows(user, perm, place or obj)


def require(user, perm: str, *, action: str) -> Scope:
    """403 with a reason unless the user holds `perm` somewhere; the scope where he does."""
    granted = scope(user, perm)
    if granted.is_empty:
        raise PermissionDenied(_("Your role may not %(action)s.") % {"action": action})
    return granted


def holders(perm: str) -> Q:
    """Memberships that carry `perm` (for "who may this ticket be dispatched to"); the caller
    narrows them to the place (a county-wide membership reaches only its own county)."""
    permission = PERMISSIONS[perm]
    condition = Q(role__in=permission.roles)
    if permission.county:
        condition &= Q(town__isnull=True, village__isnull=True)
    return condition


# --- querysets --------------------------------------------------------------------------------


class ScopedQuerySet(models.QuerySet):
    def scoped(
        self,
        user,
        *,
        perm: str | None = None,
        town: str | None = None,
        village: str | Iterable[str] = (),
        county: str | None = None,
    ):
        """Rows inside the part of `user`'s jurisdiction that carries `perm` (his whole
        jurisdiction without one: the geography every role works in); `town` and `village` are
        the lookups from this model to a town code and to village codes, `county` to its county
        code (without it, a county-wide grant is a range of town codes on `town`:
        villages.scope.town_code_ranges)."""
        granted = scope(user, perm) if perm else scope_of(user)
        condition = granted.q(town=town, village=village, county=county)
        if condition is None:
            return self.none()
        if condition and _crosses_many(self.model, town, village, county):
            # A path across a to-many relation (town → villages) goes into a subquery, not a
            # join: a join repeats rows, and a later annotate(Count("villages")) would reuse the
            # filtered join and count only the villages in scope (a village admin's town showed
            # 1 village). The subquery also spares a DISTINCT over every column.
            return self.filter(pk__in=self.model._base_manager.filter(condition).values("pk"))
        return self.filter(condition)

    def named(
        self,
        user,
        *,
        field: str,
        perm: str,
        town: str | None = None,
        village: str | Iterable[str] = (),
    ):
        """Rows naming `user` in `field` (e.g. "assigned_worker_id") inside the part of his
        jurisdiction that carries `perm`: `names()` for a queryset."""
        if getattr(user, "pk", None) is None:
            return self.none()
        return self.scoped(user, perm=perm, town=town, village=village).filter(**{field: user.pk})


def _crosses_many(model, town, village, county=None) -> bool:
    paths = [town] if town else []
    paths += [county] if county else []
    paths += [village] if isinstance(village, str) else list(village)
    for path in paths:
        current = model
        for part in path.split("__")[:-1]:
            field = current._meta.get_field(part)
            if field.one_to_many or field.many_to_many:
                return True
            current = field.related_model
    return False


# --- templates --------------------------------------------------------------------------------


class Can:
    """`{% if can.ticket.close %}`: a template's question, answered by `allows(user, perm)`.
    An unknown name raises (a typo must not silently hide a menu); a test checks every
    template's `can.*` names against PERMISSIONS."""

    def __init__(self, user, prefix: str = ""):
        self._user, self._prefix = user, prefix

    def __getitem__(self, part: str):
        name = f"{self._prefix}.{part}" if self._prefix else part
        if name in PERMISSIONS:
            return allows(self._user, name)
        if any(perm.startswith(f"{name}.") for perm in PERMISSIONS):
            return Can(self._user, name)
        raise KeyError(name)
