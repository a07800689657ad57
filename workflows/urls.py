"""The workflows app's pages, one URL module per sub-package (docs/architecture.md)."""

from django.urls import include, path

from workflows import health

urlpatterns = [
    # Monitors: no login, no data (workflows/health.py).
    path("healthz", health.healthz, name="healthz"),
    path("healthz/jobs", health.health_jobs, name="health_jobs"),
    path("", include("workflows.tickets.urls")),
    path("", include("workflows.notices.urls")),
    path("", include("workflows.bulletins.urls")),
    path("", include("workflows.evidence.urls")),
    # Open311 GeoReport v2 for the 12345 hotline and other systems (workflows/open311).
    path("open311/v2/", include("workflows.open311.urls")),
]
