from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from villages.models import Town, Village


class VillageFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    town_id = django_filters.ModelChoiceFilter(
        field_name="town", queryset=Town.objects.none(), label=_("Town")
    )
    level = django_filters.ChoiceFilter(choices=Village.Level.choices, label=_("Level"))
    committee_type = django_filters.ChoiceFilter(
        choices=Village.Committee.choices, label=_("Committee type")
    )

    class Meta:
        model = Village
        fields = ["q", "town_id", "level", "committee_type"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Only towns the user may see are offered (and accepted) as a filter value.
        self.filters["town_id"].queryset = Town.objects.visible_to(user)

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__contains=value) | Q(code__startswith=value))
