from django.contrib import admin

from inspections.models import Patrol, PatrolPolicy, WaterSite


@admin.register(WaterSite)
class WaterSiteAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "town", "village", "kind", "list_level", "state"]
    list_filter = ["state", "kind", "list_level", "town"]
    search_fields = ["code", "name"]
    # State changes go through the site page (FSM, task force only); the token through
    # "issue a new QR label", which keeps the old one as retired.
    readonly_fields = ["state", "token", "token_issued_at"]
    raw_id_fields = ["village"]


@admin.register(PatrolPolicy)
class PatrolPolicyAdmin(admin.ModelAdmin):
    """One row, the county's settings: it can be edited, not added twice or deleted."""

    def has_add_permission(self, request) -> bool:
        return not PatrolPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Patrol)
class PatrolAdmin(admin.ModelAdmin):
    """Read-only: a patrol is evidence."""

    list_display = ["site", "inspector", "created_at", "result", "flagged"]
    list_filter = ["result", "flagged"]
    date_hierarchy = "local_date"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
