"""The workflows app's pages, one URL module per sub-package (docs/architecture.md)."""

from django.urls import include, path

urlpatterns = [
    path("", include("workflows.tickets.urls")),
    path("", include("workflows.notices.urls")),
    path("", include("workflows.bulletins.urls")),
    path("", include("workflows.evidence.urls")),
]
