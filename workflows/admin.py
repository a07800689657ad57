"""Admin: the overdue ladder is county configuration; the rest is read for support."""

from __future__ import annotations

from django.contrib import admin

from workflows.models import JobRun, NoticeDocument, Outbox, OverdueStep


@admin.register(OverdueStep)
class OverdueStepAdmin(admin.ModelAdmin):
    list_display = ("county", "number", "days_past", "kind")
    list_editable = ("days_past", "kind")
    list_filter = ("county",)
    ordering = ("county", "number")


@admin.register(NoticeDocument)
class NoticeDocumentAdmin(admin.ModelAdmin):
    list_display = ("number", "kind", "town", "issued_on")
    list_filter = ("kind", "issued_on")
    list_select_related = ("town",)
    readonly_fields = ("number", "kind", "town", "issued_on", "created_at")


@admin.register(Outbox)
class OutboxAdmin(admin.ModelAdmin):
    list_display = ("id", "document", "channel", "recipient", "claimed_at", "sent_at", "attempts")
    list_filter = ("channel", ("sent_at", admin.EmptyFieldListFilter))
    list_select_related = ("document",)
    readonly_fields = ("document", "channel", "recipient", "created_at", "sent_at", "last_error")


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ("name", "as_of", "started_at", "finished_at")
    list_filter = ("name",)
    readonly_fields = ("name", "as_of", "started_at", "finished_at", "counts", "error")
