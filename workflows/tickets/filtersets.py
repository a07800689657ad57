"""Filters of the ticket lists (django-filter), one FilterSet per list.

Choices that name places (towns, villages) are limited to what the user may see, so a filter
can neither offer nor accept another town's code. Sorting takes whitelisted names only (`?o=`).
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import F, Q
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from villages import access
from villages.models import Town, Village
from workflows.models import (
    RECTIFICATION_OPEN_STATES,
    TOILET_OPEN_STATES,
    RectificationState,
    Source,
    ToiletState,
    ToiletTicket,
)

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
        if value in django_filters.constants.EMPTY_VALUES:
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
    """town_id and village_id limited to the user's scope; villages to the chosen town."""

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
        # Only what a choice shows: boundaries are large GeoJSON documents.
        self.filters["town_id"].queryset = Town.objects.visible_to(user).only("code", "name")
        villages = Village.objects.visible_to(user).only("code", "name")
        town = (data or {}).get("town_id")
        if town:
            villages = villages.filter(town_id=town)
        self.filters["village_id"].queryset = villages
        # A county-wide user would get a select of every village in the county: offered only
        # once a town is chosen (a village_id in the URL is still accepted and checked).
        self.show_village = bool(town) or not access.scope_of(user).county_wide


class RectificationFilterSet(ScopedPlaceFilters):
    q = django_filters.CharFilter(method="search", label=_("Search"), max_length=100)
    state = django_filters.MultipleChoiceFilter(
        choices=RectificationState.choices,
        widget=forms.CheckboxSelectMultiple,
        label=_("State"),
        distinct=False,  # a column of the ticket itself: no join, no duplicates
    )
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
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(number__icontains=value)
            | Q(description__contains=value)
            | Q(site_label__contains=value)
            | Q(village__name__contains=value)
        )

    def filter_overdue(self, queryset, name, value):
        # Derived, never stored: deadline passed in local (Beijing) dates, work still owed.
        overdue = queryset.overdue(as_of=timezone.localdate())
        return overdue if value else queryset.exclude(pk__in=overdue.values("pk"))

    @staticmethod
    def defaults(*, user) -> QueryDict:
        """An empty query: the open tickets by deadline — a town officer's inbox."""
        data = QueryDict(mutable=True)
        data.setlist("state", list(RECTIFICATION_OPEN_STATES))
        data["o"] = "deadline"
        return data


class ToiletFilterSet(ScopedPlaceFilters):
    q = django_filters.CharFilter(method="search", label=_("Search"), max_length=100)
    state = django_filters.MultipleChoiceFilter(
        choices=ToiletState.choices,
        widget=forms.CheckboxSelectMultiple,
        label=_("State"),
        distinct=False,
    )
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

    def __init__(self, data=None, *args, user=None, **kwargs):
        super().__init__(data, *args, user=user, **kwargs)
        self.user = user

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(number__icontains=value)
            | Q(household__head_name__contains=value)
            | Q(household__number__icontains=value)
        )

    def filter_sla_breached(self, queryset, name, value):
        late = queryset.sla_breached(now=timezone.now())
        return late if value else queryset.exclude(pk__in=late.values("pk"))

    def filter_mine(self, queryset, name, value):
        mine = Q(assigned_worker_id=self.user.pk)
        return queryset.filter(mine) if value else queryset.exclude(mine)

    @staticmethod
    def defaults(*, user) -> QueryDict:
        """Open jobs by due time; a service worker's default is "my jobs" on his phone."""
        data = QueryDict(mutable=True)
        data.setlist("state", list(TOILET_OPEN_STATES))
        data["o"] = "due"
        if access.allows(user, "toilet.work"):
            data["mine"] = "true"
        return data
