"""Filters of the site register (django-filter)."""

from __future__ import annotations

import django_filters
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from inspections.models import LISTED_STATES, ListLevel, SiteKind, SiteState
from workflows.tickets.filtersets import (
    SearchedListFilters,
    list_defaults,
    ordering_filter,
    state_filter,
)


class WaterSiteFilterSet(SearchedListFilters):
    state = state_filter(SiteState.choices)
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

    search_lookups = ("code__icontains", "name__contains", "village__name__contains")

    @staticmethod
    def defaults(*, user) -> QueryDict:
        """An empty query: the sites still on the list, in code order."""
        return list_defaults(LISTED_STATES, "code")
