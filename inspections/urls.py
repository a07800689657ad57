"""The inspections app's pages, one URL module per sub-package (docs/architecture.md)."""

from django.urls import include, path

urlpatterns = [
    path("", include("inspections.sites.urls")),
    path("", include("inspections.field.urls")),
    path("", include("inspections.grading.urls")),
    path("", include("inspections.reporting.urls")),
]
