"""Overdue notices, the user's notifications, the scheduled job runs and the outbox."""

from django.urls import path

from workflows.notices import views

urlpatterns = [
    path("notices/<int:pk>/", views.notice_detail, name="notice_detail"),
    path("notices/<int:pk>.pdf", views.notice_pdf, name="notice_pdf"),
    path("notifications/", views.notification_list, name="notification_list"),
    path("jobs/", views.job_run_list, name="job_run_list"),
    path("outbox/", views.outbox_list, name="outbox_list"),
    path("outbox/requeue/", views.outbox_requeue, name="outbox_requeue"),
]
