"""Filters of the ticket lists (django-filter), one FilterSet per list.

Choices that name places (towns, villages) are limited to what the user may see, so a filter
can neither offer nor accept another town's code. Sorting takes whitelisted names only (`?o=`).
"""

from __future__ import annotations

import operator
from functools import reduce

import django_filters
from django import forms
from django.db.models import F, Q
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters.constants import EMPTY_VALUES

from villages import access
from villages.models import County, Town, Village
from workflows.models import (
    RECTIFICATION_OPEN_STATES,
    TOILET_OPEN_STATES,
    RectificationState,
    Source,
    ToiletState,
    ToiletTicket,
)
from workflows.tickets.search import ticket_search
from workflows.tickets.selectors import inbox_states

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _yes_no(any_label, yes_label, no_label) -> forms.Select:
    # NullBooleanField reads "true"/"false"/"" from a plain select; Django's default widget
    # would call the empty choice "Unknown".
    return forms.Select(choices=[("", any_label), ("true", yes_label), ("false", no_label)])


class NullsLastOrdering(django_filters.OrderingFilter):
    """Whitelisted ordering with empty values (a draft has no deadline) last on every database,
    and a unique tie-breaker (the number) so that pages do not shuffle rows between them."""

    def __init__(self, *args, tiebreak: str = "number", **kwargs):
        self.tiebreak = tiebreak
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value in EMPTY_VALUES:
            return qs
        ordering = []
        for param in value:
            name = self.get_ordering_value(param)
            expression = F(name.lstrip("-"))
            ordering.append(
                expression.desc(nulls_last=True)
                if name.startswith("-")
                else expression.asc(nulls_last=True)
            )
        return qs.order_by(*ordering, self.tiebreak)


def ordering_filter(
    fields: list[tuple[str, str, object, object]], *, tiebreak: str = "number"
) -> NullsLastOrdering:
    """(model field, parameter, ascending label, descending label) → ?o= filter."""
    labels = {}
    for field, param, ascending, descending in fields:
        labels[field] = ascending
        labels[f"-{param}"] = descending
    return NullsLastOrdering(
        fields=[(field, param) for field, param, _a, _d in fields],
        field_labels=labels,
        label=_("Sort by"),
        empty_label=None,
        tiebreak=tiebreak,
    )


class ScopedPlaceFilters(django_filters.FilterSet):
    """county, town_id and village_id limited to the user's scope; towns to the chosen county,
    villages to the chosen town. The county is offered only to a user of several counties (a
    city supervisor, a superuser): everyone else's list is one county's anyway."""

    county = django_filters.ModelChoiceFilter(
        field_name="town__county",
        queryset=County.objects.none(),
        label=_("County"),
        empty_label=_("All counties"),
    )
    town_id = django_filters.ModelChoiceFilter(
        field_name="town",
        queryset=Town.objects.none(),
        label=_("Town"),
        empty_label=_("All towns"),
    )
    village_id = django_filters.ModelChoiceFilter(
        field_name="village",
        queryset=Village.objects.none(),
        label=_("Village"),
        empty_label=_("All villages"),
    )

    def __init__(self, data=None, *args, user=None, **kwargs):
        super().__init__(data, *args, **kwargs)
        scope = access.scope_of(user)
        if scope.everywhere or len(scope.tenant_codes) > 1:
            counties = County.objects.only("code", "name").order_by("code")
            if not scope.everywhere:
                counties = counties.filter(code__in=sorted(scope.tenant_codes))
            self.filters["county"].queryset = counties
        else:
            del self.filters["county"]
        # Only what a choice shows: boundaries are large GeoJSON documents.
        towns = Town.objects.visible_to(user).only("code", "name")
        county = (data or {}).get("county") if "county" in self.filters else None
        if county:
            towns = towns.filter(county_id=county)
        self.filters["town_id"].queryset = towns
        villages = Village.objects.visible_to(user).only("code", "name")
        town = (data or {}).get("town_id")
        if town:
            villages = villages.filter(town_id=town)
        self.filters["village_id"].queryset = villages
        # A county-wide user would get a select of every village in the county: offered only
        # once a town is chosen (a village_id in the URL is still accepted and checked).
        self.show_village = bool(town) or not scope.county_wide


class SearchedListFilters(ScopedPlaceFilters):
    """A list's `?q=`: the rows whose `search_lookups` (each a lookup taking the text) match."""

    q = django_filters.CharFilter(method="search", label=_("Search"), max_length=100)
    search_lookups: tuple[str, ...] = ()

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        matches = (Q(**{lookup: value}) for lookup in self.search_lookups)
        return queryset.filter(reduce(operator.or_, matches))


class InChoicesFilter(django_filters.MultipleChoiceFilter):
    """The chosen values as one `column IN (…)`, in a stable order. django-filter's own builds
    `column = a OR column = b OR …`, which PostgreSQL planned as parallel scans of the whole
    ticket table at 10M tickets (137 ms a query, issue 19) where an IN list reads the index.
    For a column without NULLs (a state): no "null" choice."""

    def filter(self, qs, value):
        if not value or self.is_noop(qs, value):
            return qs
        qs = self.get_method(qs)(**{f"{self.field_name}__in": sorted(set(value))})
        return qs.distinct() if self.distinct else qs


def state_filter(choices) -> django_filters.MultipleChoiceFilter:
    """A list's states, as check boxes."""
    return InChoicesFilter(
        choices=choices,
        widget=forms.CheckboxSelectMultiple,
        label=_("State"),
        distinct=False,  # a column of the row itself: no join, no duplicates
    )


def list_defaults(states, order: str) -> QueryDict:
    """An empty query's filters (a list's defaults, shown in the form like any other): these
    states, in this `?o=` order."""
    data = QueryDict(mutable=True)
    data.setlist("state", list(states))
    data["o"] = order
    return data


def _subset_or_rest(queryset, subset, value: bool):
    """A yes/no filter on a derived condition (`subset`): yes keeps it, no all the other rows."""
    return subset if value else queryset.exclude(pk__in=subset.values("pk"))


# A list narrowed by these alone is the sum of its states (only_states).
STATES_AND_ORDER = frozenset({"state", "o"})


class RectificationFilterSet(SearchedListFilters):
    default_order = "deadline"  # the list's own order: its sort select's first choice
    state = state_filter(RectificationState.choices)
    source_kind = django_filters.ChoiceFilter(
        choices=Source.choices, label=_("Source"), empty_label=_("Any source")
    )
    overdue = django_filters.BooleanFilter(
        method="filter_overdue",
        label=_("Overdue"),
        widget=_yes_no(_("Any"), _("Overdue only"), _("Not overdue")),
    )
    deadline_after = django_filters.DateFilter(
        field_name="deadline", lookup_expr="gte", label=_("Deadline from"), widget=DATE_INPUT
    )
    deadline_before = django_filters.DateFilter(
        field_name="deadline", lookup_expr="lte", label=_("Deadline to"), widget=DATE_INPUT
    )
    o = ordering_filter(
        [
            ("deadline", "deadline", _("Deadline, earliest first"), _("Deadline, latest first")),
            ("created_at", "created", _("Newest last"), _("Newest first")),
            ("number", "number", _("Number, ascending"), _("Number, descending")),
            ("town_id", "town", _("Town, ascending"), _("Town, descending")),
        ]
    )

    def search(self, queryset, name, value):
        # The bigram index over number, description, site, village and town (search.py).
        return ticket_search(queryset, value)

    def only_states(self) -> tuple[str, ...] | None:
        """The states the list shows (every state when none is chosen) when nothing else
        narrows it — the order is no filter; None when another filter is set or one is bad."""
        if self.errors:
            return None
        data = self.form.cleaned_data
        others = (value for name, value in data.items() if name not in STATES_AND_ORDER)
        if any(value not in EMPTY_VALUES for value in others):
            return None
        return tuple(data.get("state") or RectificationState.values)

    def sorted_by(self) -> list[str] | None:
        """The `?o=` sort asked for, as its parameters (["deadline"]); None when bad."""
        return None if self.errors else self.form.cleaned_data.get("o")

    def filter_overdue(self, queryset, name, value):
        # Derived, never stored: deadline passed in local (Beijing) dates, work still owed.
        return _subset_or_rest(queryset, queryset.overdue(as_of=timezone.localdate()), value)

    @staticmethod
    def defaults(*, user) -> QueryDict:
        """An empty query: what is the user's to do (selectors.inbox_states) by deadline — a
        town officer's inbox; every open ticket for a user who acts on none (an inspector)."""
        mine, _waiting = inbox_states(user=user)
        return list_defaults(
            mine or RECTIFICATION_OPEN_STATES, RectificationFilterSet.default_order
        )


class ToiletFilterSet(SearchedListFilters):
    default_order = "due"
    state = state_filter(ToiletState.choices)
    kind = django_filters.ChoiceFilter(
        choices=ToiletTicket.Kind.choices, label=_("Kind"), empty_label=_("Any kind")
    )
    channel = django_filters.ChoiceFilter(
        choices=ToiletTicket.Channel.choices, label=_("Channel"), empty_label=_("Any channel")
    )
    sla_breached = django_filters.BooleanFilter(
        method="filter_sla_breached",
        label=_("Past the service deadline"),
        widget=_yes_no(_("Any"), _("Late only"), _("On time")),
    )
    mine = django_filters.BooleanFilter(
        method="filter_mine",
        label=_("Dispatched to me"),
        widget=_yes_no(_("Any"), _("My jobs only"), _("Others' jobs")),
    )
    o = ordering_filter(
        [
            ("sla_due_at", "due", _("Due soonest first"), _("Due latest first")),
            ("created_at", "created", _("Newest last"), _("Newest first")),
            ("number", "number", _("Number, ascending"), _("Number, descending")),
            ("town_id", "town", _("Town, ascending"), _("Town, descending")),
        ]
    )

    search_lookups = (
        "number__icontains",
        "household__head_name__contains",
        "household__number__icontains",
    )

    def __init__(self, data=None, *args, user=None, **kwargs):
        super().__init__(data, *args, user=user, **kwargs)
        self.user = user

    def filter_sla_breached(self, queryset, name, value):
        return _subset_or_rest(queryset, queryset.sla_breached(now=timezone.now()), value)

    def filter_mine(self, queryset, name, value):
        mine = Q(assigned_worker_id=self.user.pk)
        return queryset.filter(mine) if value else queryset.exclude(mine)

    @staticmethod
    def defaults(*, user) -> QueryDict:
        """Open jobs by due time; a service worker's default is "my jobs" on his phone."""
        data = list_defaults(TOILET_OPEN_STATES, ToiletFilterSet.default_order)
        if access.allows(user, "toilet.work"):
            data["mine"] = "true"
        return data
