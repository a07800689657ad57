"""The Django admin's view of people: a user's memberships and profile inline on the user (Django
admin → 认证和授权 → 用户), the memberships on their own (地理与人员 → 成员身份), and the audit
trail read-only. The people pages (/people/) are the everyday way; the admin is the system
administrator's. A change of roles or of the active state made here is audited too."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from villages.models import City, Membership, MembershipChange, Person
from villages.people import services

User = get_user_model()
Action, Via = MembershipChange.Action, MembershipChange.Via


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["role", "city", "county", "town", "village"]
    raw_id_fields = ["village"]  # a select of every village of the county would be unusable


class PersonInline(admin.StackedInline):
    model = Person
    can_delete = False
    fields = ["phone", "must_change_password"]


admin.site.unregister(User)


@admin.register(User)
class PeopleUserAdmin(UserAdmin):
    inlines = [PersonInline, MembershipInline]

    def save_model(self, request, obj, form, change):
        was_active = change and User.objects.filter(pk=obj.pk, is_active=True).exists()
        super().save_model(request, obj, form, change)
        if change and was_active != obj.is_active:
            services.audit(
                obj,
                by=request.user,
                action=Action.REACTIVATED if obj.is_active else Action.DEACTIVATED,
                before={"active": was_active},
                after={"active": obj.is_active},
                via=Via.ADMIN,
            )

    def save_related(self, request, form, formsets, change):
        # The admin's change view is one transaction: the audit row commits with the change.
        person = form.instance
        before = services.roles_of(person)
        super().save_related(request, form, formsets, change)
        after = services.roles_of(person)
        if before != after:
            action = Action.ROLES_CHANGED if change else Action.CREATED
            services.audit(
                person,
                by=request.user,
                action=action,
                before={"roles": before},
                after={"roles": after},
                via=Via.ADMIN,
            )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "city", "county", "town", "village"]
    list_filter = ["role", "city", "county", "town"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    raw_id_fields = ["user", "village"]
    list_select_related = ["user", "city", "county", "town", "village"]

    def save_model(self, request, obj, form, change):
        old_user = Membership.objects.filter(pk=obj.pk).values_list("user", flat=True).first()
        touched = {obj.user_id, old_user} - {None}
        before = {pk: services.roles_of(User(pk=pk)) for pk in touched}
        super().save_model(request, obj, form, change)
        self._audit(request, before)

    def delete_model(self, request, obj):
        before = {obj.user_id: services.roles_of(obj.user)}
        super().delete_model(request, obj)
        self._audit(request, before)

    def delete_queryset(self, request, queryset):
        users = set(queryset.values_list("user", flat=True))
        before = {pk: services.roles_of(User(pk=pk)) for pk in users}
        super().delete_queryset(request, queryset)
        self._audit(request, before)

    def _audit(self, request, before: dict) -> None:
        for pk, roles in before.items():
            after = services.roles_of(User(pk=pk))
            if after != roles:
                services.audit(
                    User(pk=pk),
                    by=request.user,
                    action=Action.ROLES_CHANGED,
                    before={"roles": roles},
                    after={"roles": after},
                    via=Via.ADMIN,
                )


@admin.register(MembershipChange)
class MembershipChangeAdmin(admin.ModelAdmin):
    """Read-only: the audit trail."""

    list_display = ["at", "user", "action", "actor", "via"]
    list_filter = ["action", "via"]
    search_fields = ["user__username", "user__first_name"]
    list_select_related = ["user", "actor"]
    date_hierarchy = "at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(City)
class CityAdmin(admin.ModelAdmin):
    """Cities (地级市) as the division list names them; a city supervisor's membership names one."""

    list_display = ["code", "name"]
    search_fields = ["code", "name"]
