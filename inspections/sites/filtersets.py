"""Filters of the site register (django-filter)."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from inspections.models import LISTED_STATES, ListLevel, SiteKind, SiteState
from workflows.tickets.filtersets import ScopedPlaceFilters, ordering_filter


class WaterSiteFilterSet(ScopedPlaceFilters):
    q = django_filters.CharFilter(method="search", label=_("Search"), max_length=100)
    state = django_filters.MultipleChoiceFilter(
        choices=SiteState.choices,
        widget=forms.CheckboxSelectMultiple,
        label=_("State"),
        distinct=False,
    )
    kind = django_filters.ChoiceFilter(
        choices=SiteKind.choices, label=_("Type"), empty_label=_("Any type")
    )
    list_level = django_filters.ChoiceFilter(
        choices=ListLevel.choices, label=_("List level"), empty_label=_("Any level")
    )
    o = ordering_filter(
        [
            ("code", "code", _("Code, ascending"), _("Code, descending")),
            ("name", "name", _("Name, ascending"), _("Name, descending")),
            ("town_id", "town", _("Town, ascending"), _("Town, descending")),
        ],
        tiebreak="code",
    )

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(code__icontains=value) | Q(name__contains=value) | Q(village__name__contains=value)
        )

    @staticmethod
    def defaults(*, user) -> QueryDict:
        """An empty query: the sites still on the list, in code order."""
        data = QueryDict(mutable=True)
        data.setlist("state", list(LISTED_STATES))
        data["o"] = "code"
        return data
