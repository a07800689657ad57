"""The project's URLs plus the floors of bench_scan (bench/settings_bench.py selects it)."""

from __future__ import annotations

from django.urls import path

from bench.floor_views import layout_floor, logged_in_floor, upload_floor
from config.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    path("bench/floor", logged_in_floor),
    path("bench/layout", layout_floor),
    path("bench/floor-upload", upload_floor),
    *project_urlpatterns,
]
