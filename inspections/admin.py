from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, Exists, OuterRef, Sum
from django.http import HttpResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.xlsx import XLSX
from inspections.grading.checklists import checklist_copy, checklist_export, points_text
from inspections.models import (
    Campaign,
    ChecklistItem,
    ChecklistTemplate,
    GradingPolicy,
    Patrol,
    PatrolPolicy,
    Round,
    WaterSite,
)
from villages.models import County


@admin.register(WaterSite)
class WaterSiteAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "town", "village", "kind", "list_level", "state"]
    list_filter = ["state", "kind", "list_level", "town"]
    search_fields = ["code", "name"]
    # State changes go through the site page (FSM, task force only); the token through
    # "issue a new QR label", which keeps the old one as retired.
    readonly_fields = ["state", "token", "token_issued_at"]
    raw_id_fields = ["village"]


class PerCountyAdmin(admin.ModelAdmin):
    """A policy: one row per county, edited per county; added for a county that has none yet
    (each county gets its defaults when first used), never deleted."""

    list_display = ["county"]
    list_select_related = ["county"]

    def get_readonly_fields(self, request, obj=None):
        return ["county"] if obj else []

    def has_add_permission(self, request) -> bool:
        return County.objects.exclude(code__in=self.model.objects.values("county_id")).exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PatrolPolicy)
class PatrolPolicyAdmin(PerCountyAdmin):
    """A county's settings. Every proof-of-presence check is one refuse-or-flag switch
    (inspections/sites/presence.py)."""

    list_display = ["county", "max_distance_m", "no_photo", "too_far", "ticket_mode"]
    fieldsets = [
        (None, {"fields": ["county"]}),
        (
            gettext_lazy("GPS position"),
            {
                "fields": [
                    "max_distance_m",
                    "max_accuracy_m",
                    "too_far",
                    "no_position",
                    "desktop_fix",
                    "copied_position",
                ]
            },
        ),
        (
            gettext_lazy("Photos"),
            {"fields": ["no_photo", "photo_max_age_hours", "old_photo", "no_exif", "photo_reused"]},
        ),
        (
            gettext_lazy("Sent later from the phone"),
            {"fields": ["max_offline_hours", "late_upload"]},
        ),
        (gettext_lazy("Tickets"), {"fields": ["ticket_mode", "ticket_days"]}),
    ]


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


# --- checklists, grading, campaigns and rounds ------------------------------------------------


def _in_use(template: ChecklistTemplate | None) -> bool:
    return template is not None and template.pk is not None and template.in_use


class ChecklistItemInline(admin.TabularInline):
    """Editable while no round uses the version; then only shown (copy it to change it)."""

    model = ChecklistItem
    extra = 0
    fields = [
        "order",
        "code",
        "dimension",
        "title",
        "max_points",
        "deduction",
        "cap",
        "photos_required",
        "veto",
    ]

    def has_add_permission(self, request, obj=None) -> bool:
        return not _in_use(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return not _in_use(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return not _in_use(obj) and super().has_delete_permission(request, obj)


@admin.register(ChecklistTemplate)
class ChecklistTemplateAdmin(admin.ModelAdmin):
    """A version used by a round is read-only: "copy as new version" makes the one to edit.
    New versions also come from `manage.py import_checklist`."""

    list_display = ["name", "version", "county", "created_at", "item_count", "points", "used"]
    list_filter = ["county", "name"]
    list_select_related = ["county"]
    search_fields = ["name"]
    inlines = [ChecklistItemInline]
    actions = ["copy_as_new_version", "export_xlsx"]

    def get_queryset(self, request):
        used = Round.objects.filter(template=OuterRef("pk"))
        return (
            super()
            .get_queryset(request)
            .annotate(n_items=Count("items"), total=Sum("items__max_points"), is_used=Exists(used))
        )

    @admin.display(description=gettext_lazy("items"), ordering="n_items")
    def item_count(self, obj) -> int:
        return obj.n_items

    @admin.display(description=gettext_lazy("total points"), ordering="total")
    def points(self, obj) -> str:
        return points_text(obj.total) if obj.total is not None else "0"

    @admin.display(description=gettext_lazy("used by a round"), boolean=True)
    def used(self, obj) -> bool:
        return obj.is_used

    def get_readonly_fields(self, request, obj=None):
        # The version number is assigned, and a version keeps its name.
        return ["county", "name", "version", "created_at"] if obj else ["version", "created_at"]

    def has_change_permission(self, request, obj=None) -> bool:
        return not _in_use(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return not _in_use(obj) and super().has_delete_permission(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if request.method == "GET" and _in_use(obj):
            messages.info(
                request,
                _(
                    "Rounds are scored by this version, so it cannot be changed. Use “copy as "
                    "new version” in the list and edit the copy."
                ),
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            latest = ChecklistTemplate.objects.filter(county=obj.county, name=obj.name).first()
            obj.version = latest.version + 1 if latest else 1
        super().save_model(request, obj, form, change)

    @admin.action(description=gettext_lazy("Copy as new version"))
    def copy_as_new_version(self, request, queryset) -> None:
        for template in queryset.order_by("name", "version"):
            copy = checklist_copy(template=template)
            messages.success(
                request,
                _("%(copy)s created from %(template)s.") % {"copy": copy, "template": template},
            )

    @admin.action(description=gettext_lazy("Export to Excel"))
    def export_xlsx(self, request, queryset):
        if queryset.count() != 1:
            messages.warning(request, _("Select one checklist version to export."))
            return None
        template = queryset.get()
        response = HttpResponse(checklist_export(template=template), content_type=XLSX)
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=f"{template.name}-v{template.version}.xlsx"
        )
        return response


@admin.register(GradingPolicy)
class GradingPolicyAdmin(PerCountyAdmin):
    """A county's grading bands."""

    list_display = ["county", "a_min", "b_min", "c_min", "top_n", "bottom_n"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "county", "year", "template", "created_at"]
    list_filter = ["county", "year"]
    list_select_related = ["county", "template"]
    search_fields = ["name"]


@admin.register(Round)
class RoundAdmin(admin.ModelAdmin):
    """The state moves only by its transitions (the rounds pages); the checklist version is
    frozen when the round starts."""

    list_display = ["campaign", "number", "mode", "starts_on", "ends_on", "state", "template"]
    list_filter = ["campaign__county", "state", "mode", "campaign"]
    list_select_related = ["campaign", "template"]
    readonly_fields = ["state", "template", "published_at"]
