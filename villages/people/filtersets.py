"""Filters of the people list: role, town, active, and a search over name, user name and phone.
Towns offered (and accepted) are those of the user's people.manage jurisdiction."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from villages.access import Role
from villages.models import Membership, Town


class PersonFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"), max_length=100)
    role = django_filters.ChoiceFilter(
        choices=Role.choices, method="in_memberships", label=_("Role"), empty_label=_("Any role")
    )
    town = django_filters.ModelChoiceFilter(
        queryset=Town.objects.none(),
        to_field_name="code",
        method="in_memberships",
        label=_("Town"),
        empty_label=_("All towns"),
    )
    active = django_filters.BooleanFilter(
        field_name="is_active",
        label=_("Account"),
        widget=forms.Select(
            choices=[("", _("Any")), ("true", _("Active")), ("false", _("Deactivated"))]
        ),
    )

    def __init__(self, data=None, *args, user=None, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.filters["town"].queryset = (
            Town.objects.scoped(user, perm="people.manage", town="code", village="villages__code")
            .only("code", "name")
            .order_by("code")
        )

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(first_name__contains=value)
            | Q(last_name__contains=value)
            | Q(username__icontains=value)
            | Q(person__phone__contains=value)
        )

    def in_memberships(self, queryset, name, value):
        return queryset  # role and town: one subquery in filter_queryset

    def filter_queryset(self, queryset):
        """Role and town ask of one membership: "town officers of 胡集镇" is not "a town officer
        somewhere who also inspects 胡集镇". A subquery, not a join: one row a person."""
        queryset = super().filter_queryset(queryset)
        role = self.form.cleaned_data.get("role")
        town = self.form.cleaned_data.get("town")
        if not role and not town:
            return queryset
        memberships = Membership.objects.all()
        if role:
            memberships = memberships.filter(role=role)
        if town:
            memberships = memberships.filter(Q(town=town) | Q(village__town=town))
        return queryset.filter(pk__in=memberships.values("user_id"))
